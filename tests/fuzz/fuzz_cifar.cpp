// tests/fuzz/fuzz_cifar.cpp — any bytes as a CIFAR-10 binary batch (records of
// one label byte and 3072 pixel bytes): the record size and the labels' range.
#include "fuzz_input.h"

using namespace minidp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile file;
  const std::string& path = file.write(data, size);
  return fuzz::expect_clean([&] { nn::data::read_cifar10_batch(path); });
}
