// minidp/core/error.h — the one exception type of minidp and the checks that raise it.
//
// Every failure a user can cause (wrong shapes, dtypes, devices, bad files,
// impossible configurations) is reported as a minidp::Error whose message names
// the operation, what it got and what it expected. Library calls (CUDA, cuBLAS,
// cuDNN, NCCL, MPI, zlib) are checked with the file:line of the call site.
//
//   MINIDP_CHECK(a.dim() == 2, "matmul: expected a 2-D tensor, got ", a.shape_str());
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace minidp {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void throw_error(const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace minidp

// Raise minidp::Error with the concatenation of the arguments when `cond` is false.
#define MINIDP_CHECK(cond, ...)                                                        \
  do {                                                                                 \
    if (!(cond)) ::minidp::detail::throw_error(__FILE__, __LINE__,                     \
                                               ::minidp::detail::str_cat(__VA_ARGS__)); \
  } while (0)

// Unconditional failure with a message.
#define MINIDP_FAIL(...) \
  ::minidp::detail::throw_error(__FILE__, __LINE__, ::minidp::detail::str_cat(__VA_ARGS__))
