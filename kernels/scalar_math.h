// minidp/kernels/scalar_math.h — scalar formulas shared by the CPU and the CUDA
// kernels, written once so that the reference and the GPU cannot disagree.
//
// Everything here is `MINIDP_HD`: __host__ __device__ under nvcc, plain inline
// functions for the C++ compiler. No allocation, no library calls whose
// results differ between the C library and CUDA's math library.
//
//   ipow(int64_t{3}, int64_t{4}) == 81          // exact, whatever the size
//   reduce_identity<double>(ReduceOp::Max)     // -infinity
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#if defined(__CUDACC__)
#define MINIDP_HD __host__ __device__
#else
#define MINIDP_HD
#endif

namespace minidp::kernels {

// a^b for integers, exact, with PyTorch's rules: repeated squaring in the
// type's own arithmetic (wrapping on overflow, as integer tensors do), and
// for b < 0 the integer quotient 1 / a^|b|: 1 for a = 1, +-1 for a = -1, 0
// otherwise. (Going through double pow loses integers above 2^53.)
template <typename T>
MINIDP_HD inline T ipow(T a, T b) {
  static_assert(std::is_integral_v<T>, "ipow is for integer types");
  if constexpr (std::is_signed_v<T>) {
    if (b < 0) {
      if (a == 1) return T(1);
      if (a == -1) return (b % 2 == 0) ? T(1) : T(-1);
      return T(0);
    }
  }
  // Unsigned arithmetic wraps without undefined behaviour; the bits are the same.
  using U = std::make_unsigned_t<T>;
  U base = static_cast<U>(a), result = 1;
  for (U e = static_cast<U>(b); e != 0; e >>= 1) {
    if (e & 1u) result = static_cast<U>(result * base);
    base = static_cast<U>(base * base);
  }
  return static_cast<T>(result);
}

// The value a Sum/Max/Min reduction starts from. For floating types the
// extremes are -inf / +inf, not the largest finite numbers: the max of
// {-inf, -inf} is -inf, and an identity of -DBL_MAX would return -DBL_MAX.
// `Op` is kernels::ReduceOp (a template parameter so this header needs no other).
template <typename Acc, typename Op>
MINIDP_HD inline Acc reduce_identity(Op op) {
  if (op == Op::Sum) return Acc(0);
  if constexpr (std::is_floating_point_v<Acc>) {
    return op == Op::Max ? -std::numeric_limits<Acc>::infinity() : std::numeric_limits<Acc>::infinity();
  } else {
    return op == Op::Max ? std::numeric_limits<Acc>::lowest() : std::numeric_limits<Acc>::max();
  }
}

}  // namespace minidp::kernels
