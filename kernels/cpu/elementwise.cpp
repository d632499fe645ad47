// minidp/kernels/cpu/elementwise.cpp — pointwise kernels, copies, fills and Philox random numbers.
//
// The reference every CUDA kernel is compared with: plain loops, math in the
// element type, one element at a time. The formulas themselves are in
// kernels/pointwise.h, shared with the CUDA kernels. Large loops run in chunks
// on the CPU's threads; an element's result never depends on its chunk.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "minidp/core/rng.h"
#include "minidp/kernels/cpu/parallel.h"
#include "minidp/kernels/cpu/strided.h"
#include "minidp/kernels/kernels.h"

namespace minidp::kernels::cpu {

namespace {

// Call f(std::integral_constant<Op, op>{}) with the runtime `op` turned into a
// template argument, so each element loop is specialised (and vectorised) for one op.
template <typename F>
void with_unary_op(UnaryOp op, F&& f) {
#define MINIDP_U(name) case UnaryOp::name: return f(std::integral_constant<UnaryOp, UnaryOp::name>{});
  switch (op) {
    MINIDP_U(Neg) MINIDP_U(Exp) MINIDP_U(Log) MINIDP_U(Sqrt) MINIDP_U(Abs) MINIDP_U(Relu) MINIDP_U(LeakyRelu)
    MINIDP_U(Sigmoid) MINIDP_U(Tanh) MINIDP_U(Gelu) MINIDP_U(Affine) MINIDP_U(Pow) MINIDP_U(Clamp)
    MINIDP_U(LeakyReluGrad) MINIDP_U(AbsGrad) MINIDP_U(GeluGrad) MINIDP_U(ClampGrad)
    MINIDP_U(GtScalar) MINIDP_U(PowGrad)
  }
#undef MINIDP_U
}

template <typename F>
void with_binary_op(BinaryOp op, F&& f) {
#define MINIDP_B(name) case BinaryOp::name: return f(std::integral_constant<BinaryOp, BinaryOp::name>{});
  switch (op) { MINIDP_B(Add) MINIDP_B(Sub) MINIDP_B(Mul) MINIDP_B(Div) MINIDP_B(Pow) MINIDP_B(Max) MINIDP_B(Min) MINIDP_B(Eq) MINIDP_B(ReluBackward) }
#undef MINIDP_B
}

}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) {
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const T* px = static_cast<const T*>(x.raw_data());
      T* po = static_cast<T*>(out.raw_data());
      const std::int64_t n = x.numel();
      const T ta = static_cast<T>(a), tb = static_cast<T>(b);
      with_unary_op(op, [&](auto op_c) {
        parallel_for(n, kGrain, [&](std::int64_t lo, std::int64_t hi) {
          for (std::int64_t i = lo; i < hi; ++i) po[i] = unary_op<decltype(op_c)::value>(px[i], ta, tb);
        });
      });
    } else {
      MINIDP_FAIL("unary kernel: expected a float tensor, got ", x.describe());
    }
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const Walk<3> walk = coalesce<3>(out.shape(), {&a.strides(), &b.strides(), &out.strides()});
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = static_cast<const T*>(a.storage()->data());
    const T* pb = static_cast<const T*>(b.storage()->data());
    T* po = static_cast<T*>(out.storage()->data());
    with_binary_op(op, [&](auto op_c) {
      constexpr BinaryOp kOp = decltype(op_c)::value;
      parallel_rows<3>(walk, {a.offset(), b.offset(), out.offset()},
                      [&](const std::array<std::int64_t, 3>& off, std::int64_t n, const std::array<std::int64_t, 3>& st) {
                        const T* ra = pa + off[0];
                        const T* rb = pb + off[1];
                        T* ro = po + off[2];
                        if (st[0] == 1 && st[1] == 1 && st[2] == 1) {  // the common, vectorisable case
                          for (std::int64_t i = 0; i < n; ++i) ro[i] = binary_op<kOp>(ra[i], rb[i]);
                        } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {  // a row and a broadcast scalar
                          const T bv = rb[0];
                          for (std::int64_t i = 0; i < n; ++i) ro[i] = binary_op<kOp>(ra[i], bv);
                        } else {
                          for (std::int64_t i = 0; i < n; ++i)
                            ro[i * st[2]] = binary_op<kOp>(ra[i * st[0]], rb[i * st[1]]);
                        }
                      });
    });
  });
}

void copy(const Tensor& src, const Tensor& dst) {
  const Walk<2> walk = coalesce<2>(dst.shape(), {&src.strides(), &dst.strides()});
  visit_dtype(src.dtype(), [&](auto stag) {
    using S = decltype(stag);
    visit_dtype(dst.dtype(), [&](auto dtag) {
      using D = decltype(dtag);
      const S* ps = static_cast<const S*>(src.storage()->data());
      D* pd = static_cast<D*>(dst.storage()->data());
      parallel_rows<2>(walk, {src.offset(), dst.offset()},
                      [&](const std::array<std::int64_t, 2>& off, std::int64_t n, const std::array<std::int64_t, 2>& st) {
                        const S* rs = ps + off[0];
                        D* rd = pd + off[1];
                        if (st[0] == 1 && st[1] == 1) {
                          for (std::int64_t i = 0; i < n; ++i) rd[i] = static_cast<D>(rs[i]);
                        } else {
                          for (std::int64_t i = 0; i < n; ++i) rd[i * st[1]] = static_cast<D>(rs[i * st[0]]);
                        }
                      });
    });
  });
}

void fill(const Tensor& dst, double value) {
  visit_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(dst.raw_data());
    const T v = static_cast<T>(value);
    parallel_for(dst.numel(), kGrain, [&](std::int64_t lo, std::int64_t hi) { std::fill(p + lo, p + hi, v); });
  });
}

// Element i takes word i%4 of Philox block (offset + i/4).
void random_uniform(const Tensor& out, std::uint64_t seed, std::uint64_t offset) {
  const std::int64_t n = out.numel();
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      T* p = static_cast<T*>(out.raw_data());
      for (std::int64_t i = 0; i < n; i += 4) {
        const PhiloxBlock r = philox4x32_10(offset + static_cast<std::uint64_t>(i / 4), 0, seed);
        for (int k = 0; k < 4 && i + k < n; ++k) {
          if constexpr (std::is_same_v<T, float>) {
            p[i + k] = philox_uniform_f32(r.v[k]);
          } else {
            p[i + k] = philox_uniform_f64(r.v[k], r.v[(k + 2) % 4]);
          }
        }
      }
    } else {
      MINIDP_FAIL("random_uniform: expected a float tensor, got ", out.describe());
    }
  });
}

// Box-Muller on word pairs (0,1) and (2,3) of each block: elements 4j..4j+3.
void random_normal(const Tensor& out, std::uint64_t seed, std::uint64_t offset) {
  const std::int64_t n = out.numel();
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      T* p = static_cast<T*>(out.raw_data());
      constexpr double kTwoPi = 6.283185307179586476925;
      for (std::int64_t i = 0; i < n; i += 4) {
        const PhiloxBlock r = philox4x32_10(offset + static_cast<std::uint64_t>(i / 4), 0, seed);
        for (int pair = 0; pair < 2; ++pair) {
          const double u1 = 1.0 - philox_uniform_f64(r.v[2 * pair], r.v[2 * pair + 1]);  // (0, 1]
          const double u2 = philox_uniform_f32(r.v[2 * pair + 1]);
          const double radius = std::sqrt(-2.0 * std::log(u1));
          if (i + 2 * pair < n) p[i + 2 * pair] = static_cast<T>(radius * std::cos(kTwoPi * u2));
          if (i + 2 * pair + 1 < n) p[i + 2 * pair + 1] = static_cast<T>(radius * std::sin(kTwoPi * u2));
        }
      }
    } else {
      MINIDP_FAIL("random_normal: expected a float tensor, got ", out.describe());
    }
  });
}

}  // namespace minidp::kernels::cpu
