// minidp/kernels/pointwise.h — the scalar formulas of the pointwise ops, written
// once for both backends, so that the CPU reference and the GPU kernel cannot
// disagree about a formula.
//
// Every function is MINIDP_HD: __host__ __device__ under nvcc, a plain inline
// function for the C++ compiler. kernels/cpu/elementwise.cpp calls
// unary_op<Op> (the op a template argument, so each loop is specialised and
// vectorised); kernels/cuda/elementwise.cu calls unary(op, ...) (one kernel,
// the op a runtime value). Each derivative sits on the line after its forward.
// The math functions (exp, log, ...) are the C++ library's on the host and
// CUDA's on the device: those two may differ in the last bits, which the GPU
// tests allow for; + - * / and sqrt are correctly rounded on both.
//
//   unary_op<UnaryOp::Gelu>(0.5f, 0.f, 0.f)   // 0.3457...
//   binary(BinaryOp::Pow, int64_t{3}, int64_t{39})  // 4052555153018976267, exactly
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#if defined(__CUDACC__)
#define MINIDP_HD __host__ __device__
#else
#define MINIDP_HD
#endif

namespace minidp::kernels {

enum class UnaryOp {
  Neg, Exp, Log, Sqrt, Abs, Relu, LeakyRelu /* slope a */, Sigmoid, Tanh, Gelu,
  Affine /* a*x + b */, Pow /* x^a */, Clamp /* to [a, b] */,
  // derivatives with respect to x, used by backward passes
  LeakyReluGrad /* x>0 ? 1 : a */, AbsGrad /* sign(x) */, GeluGrad,
  ClampGrad /* a<=x<=b */, GtScalar /* x>a */, PowGrad /* a*x^(a-1) */
};
enum class BinaryOp {
  Add, Sub, Mul, Div, Pow, Max, Min, Eq,
  ReluBackward /* (g, x): x > 0 ? g : 0 — ReLU's backward in one pass, as PyTorch's threshold_backward */
};
enum class ReduceOp { Sum, Max, Min };

namespace math {
// The float or double function of the backend compiling this: CUDA's device
// functions in a kernel, the C++ library's on the host.
#if defined(__CUDA_ARCH__)
#define MINIDP_MATH1(name, f32, f64) \
  template <typename T> __device__ inline T name(T x) { if constexpr (std::is_same_v<T, float>) return f32(x); else return f64(x); }
#define MINIDP_MATH2(name, f32, f64) \
  template <typename T> __device__ inline T name(T x, T y) { if constexpr (std::is_same_v<T, float>) return f32(x, y); else return f64(x, y); }
MINIDP_MATH1(exp, expf, ::exp) MINIDP_MATH1(log, logf, ::log) MINIDP_MATH1(sqrt, sqrtf, ::sqrt)
MINIDP_MATH1(abs, fabsf, ::fabs) MINIDP_MATH1(tanh, tanhf, ::tanh) MINIDP_MATH1(erf, erff, ::erf)
MINIDP_MATH2(pow, powf, ::pow)
#undef MINIDP_MATH1
#undef MINIDP_MATH2
#else
template <typename T> inline T exp(T x) { return std::exp(x); }
template <typename T> inline T log(T x) { return std::log(x); }
template <typename T> inline T sqrt(T x) { return std::sqrt(x); }
template <typename T> inline T abs(T x) { return std::abs(x); }
template <typename T> inline T tanh(T x) { return std::tanh(x); }
template <typename T> inline T erf(T x) { return std::erf(x); }
template <typename T> inline T pow(T x, T y) { return std::pow(x, y); }
#endif
}  // namespace math

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

// y = op(x) with the op's parameters a and b (float types).
template <UnaryOp op, typename T>
MINIDP_HD inline T unary_op(T x, T a, T b) {
  constexpr T kInvSqrt2 = T(0.70710678118654752440), kInvSqrt2Pi = T(0.39894228040143267794);
  if constexpr (op == UnaryOp::Neg) return -x;
  if constexpr (op == UnaryOp::Exp) return math::exp(x);
  if constexpr (op == UnaryOp::Log) return math::log(x);
  if constexpr (op == UnaryOp::Sqrt) return math::sqrt(x);
  if constexpr (op == UnaryOp::Abs) return math::abs(x);
  if constexpr (op == UnaryOp::AbsGrad) return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
  if constexpr (op == UnaryOp::Relu) return x > T(0) ? x : T(0);
  if constexpr (op == UnaryOp::LeakyRelu) return x > T(0) ? x : a * x;
  if constexpr (op == UnaryOp::LeakyReluGrad) return x > T(0) ? T(1) : a;
  // Sigmoid in the form that cannot overflow: exp of a non-positive number only.
  if constexpr (op == UnaryOp::Sigmoid) return x >= T(0) ? T(1) / (T(1) + math::exp(-x)) : math::exp(x) / (T(1) + math::exp(x));
  if constexpr (op == UnaryOp::Tanh) return math::tanh(x);
  if constexpr (op == UnaryOp::Gelu) return T(0.5) * x * (T(1) + math::erf(x * kInvSqrt2));  // exact (erf) GELU
  if constexpr (op == UnaryOp::GeluGrad) return T(0.5) * (T(1) + math::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * math::exp(T(-0.5) * x * x);
  if constexpr (op == UnaryOp::Affine) return a * x + b;
  if constexpr (op == UnaryOp::Pow) return math::pow(x, a);
  if constexpr (op == UnaryOp::PowGrad) return a * math::pow(x, a - T(1));
  if constexpr (op == UnaryOp::Clamp) return x < a ? a : (x > b ? b : x);
  if constexpr (op == UnaryOp::ClampGrad) return (x >= a && x <= b) ? T(1) : T(0);
  if constexpr (op == UnaryOp::GtScalar) return x > a ? T(1) : T(0);
  return x;
}

// y = op(a, b), any element type.
template <BinaryOp op, typename T>
MINIDP_HD inline T binary_op(T a, T b) {
  if constexpr (op == BinaryOp::Add) return a + b;
  if constexpr (op == BinaryOp::Sub) return a - b;
  if constexpr (op == BinaryOp::Mul) return a * b;
  if constexpr (op == BinaryOp::Div) return a / b;
  if constexpr (op == BinaryOp::Pow) {
    if constexpr (std::is_floating_point_v<T>) return math::pow(a, b);
    else return ipow(a, b);
  }
  if constexpr (op == BinaryOp::Max) return a > b ? a : b;
  if constexpr (op == BinaryOp::Min) return a < b ? a : b;
  if constexpr (op == BinaryOp::Eq) return a == b ? T(1) : T(0);
  if constexpr (op == BinaryOp::ReluBackward) return b > T(0) ? a : T(0);
  return a;
}

// The same with the op as a runtime value (one GPU kernel for all ops).
template <typename T>
MINIDP_HD inline T unary(UnaryOp op, T x, T a, T b) {
#define MINIDP_CASE(name) case UnaryOp::name: return unary_op<UnaryOp::name>(x, a, b);
  switch (op) {
    MINIDP_CASE(Neg) MINIDP_CASE(Exp) MINIDP_CASE(Log) MINIDP_CASE(Sqrt) MINIDP_CASE(Abs) MINIDP_CASE(AbsGrad)
    MINIDP_CASE(Relu) MINIDP_CASE(LeakyRelu) MINIDP_CASE(LeakyReluGrad) MINIDP_CASE(Sigmoid)
    MINIDP_CASE(Tanh) MINIDP_CASE(Gelu) MINIDP_CASE(GeluGrad) MINIDP_CASE(Affine) MINIDP_CASE(Pow)
    MINIDP_CASE(PowGrad) MINIDP_CASE(Clamp) MINIDP_CASE(ClampGrad) MINIDP_CASE(GtScalar)
  }
#undef MINIDP_CASE
  return x;
}

template <typename T>
MINIDP_HD inline T binary(BinaryOp op, T a, T b) {
#define MINIDP_CASE(name) case BinaryOp::name: return binary_op<BinaryOp::name>(a, b);
  switch (op) { MINIDP_CASE(Add) MINIDP_CASE(Sub) MINIDP_CASE(Mul) MINIDP_CASE(Div) MINIDP_CASE(Pow) MINIDP_CASE(Max) MINIDP_CASE(Min) MINIDP_CASE(Eq)
              MINIDP_CASE(ReluBackward) }
#undef MINIDP_CASE
  return a;
}

// The value a Sum/Max/Min reduction starts from. For floating types the
// extremes are -inf / +inf, not the largest finite numbers: the max of
// {-inf, -inf} is -inf, and an identity of -DBL_MAX would return -DBL_MAX.
template <typename Acc>
MINIDP_HD inline Acc reduce_identity(ReduceOp op) {
  if (op == ReduceOp::Sum) return Acc(0);
  if constexpr (std::is_floating_point_v<Acc>) {
    return op == ReduceOp::Max ? -std::numeric_limits<Acc>::infinity() : std::numeric_limits<Acc>::infinity();
  } else {
    return op == ReduceOp::Max ? std::numeric_limits<Acc>::lowest() : std::numeric_limits<Acc>::max();
  }
}

}  // namespace minidp::kernels
