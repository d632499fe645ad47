// tests/fuzz/fuzz_input.h — what every fuzz harness shares: the fuzzer's bytes
// as a file (the readers take paths), and the rule that decides a failure.
//
// The rule: a reader given any bytes either returns or raises minidp::Error
// with a message. Anything else — a crash, a sanitizer report, another
// exception (std::invalid_argument from a stray std::stoll, std::bad_alloc
// from a size taken on trust), a hang, gigabytes of memory — is a bug, and
// libFuzzer stops with the input that caused it.
//
//   extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
//     static fuzz::InputFile file;
//     return fuzz::expect_clean([&] { nn::load_safetensors(file.write(data, size)); });
//   }
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "minidp/minidp.h"

namespace minidp::fuzz {

// An anonymous in-memory file (memfd), reached by path through /proc/self/fd:
// each input costs a write to memory, not to a disk.
class InputFile {
 public:
  InputFile() : fd_(::memfd_create("minidp-fuzz", 0)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile() { ::close(fd_); }

  // Replaces the file's content with these bytes and returns its path.
  const std::string& write(const void* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0 || (size > 0 && ::pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size))) {
      std::perror("minidp-fuzz: writing the input file");
      std::abort();
    }
    return path_;
  }
  const std::string& write(std::string_view s) { return write(s.data(), s.size()); }

 private:
  int fd_;
  std::string path_;
};

// Runs one input: a minidp::Error is the clear refusal bad input should get;
// every other exception escapes, and libFuzzer reports it as a crash.
template <typename F>
int expect_clean(F&& f) {
  try {
    f();
  } catch (const minidp::Error&) {
  }
  return 0;
}

// The model of the safetensors seeds (fuzz_seeds.cpp) and of the harness
// that resumes them: small, with a Dropout so the generator state is read too.
inline nn::ModulePtr tiny_model() {
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.5),
      std::make_shared<nn::Linear>(3, 2)});
}

}  // namespace minidp::fuzz
