// minidp/tests/gpu/gpu_test.h — helpers of the GPU test suite.
//
// Every CUDA kernel is checked against its CPU twin (kernels/cpu/, the
// reference) on the same random inputs. Closeness is the normwise relative
// error, as for BLAS results:
//   max_i |gpu_i - cpu_i| / max_i |cpu_i|
// Per-element relative error would be the wrong yardstick: a dot product that
// cancels to ~0 has an absolute error set by its terms, not by its result, and
// two correct GEMMs (or an FMA against a multiply-then-add) differ there in
// every digit. Where the order of operations is the CPU's, tests demand
// bitwise equality instead.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "minidp/kernels/kernels.h"
#include "minidp/minidp.h"

namespace minidp::test {

// Counts the GPU test cases at start-up, so that main() can say how many it skips.
int& test_count();
struct CountTest {
  CountTest() { ++test_count(); }
};
#define MINIDP_GPU_CAT2(a, b) a##b
#define MINIDP_GPU_CAT(a, b) MINIDP_GPU_CAT2(a, b)
#define GPU_TEST_CASE(name)                                                                 \
  static ::minidp::test::CountTest MINIDP_GPU_CAT(minidp_gpu_count_, __LINE__);          \
  TEST_CASE(name)

inline Device gpu() { return Device::cuda(0); }

inline TensorOptions on(DType t, Device d) { return TensorOptions(t).with_device(d); }

// Uniform values in [lo, hi) (integers: randint) as a CPU tensor; fixed seed per call site.
inline Tensor random_cpu(const Shape& s, DType t, double lo, double hi, std::uint64_t seed) {
  Generator g(seed);
  if (is_floating(t)) return uniform(s, lo, hi, TensorOptions(t), &g);
  return randint(static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi), s, TensorOptions(kInt64), &g).to(t);
}

inline Tensor empty_like_on(const Tensor& t, Device d) { return Tensor::empty(t.shape(), on(t.dtype(), d)); }

// See the file comment. NaN equals NaN; a NaN on one side only is an infinite error.
inline double rel_err(const Tensor& gpu_t, const Tensor& cpu_t) {
  REQUIRE(gpu_t.shape() == cpu_t.shape());
  const auto g = gpu_t.to_vector<double>();
  const auto c = cpu_t.to_vector<double>();
  double scale = 0, err = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (std::isnan(c[i]) && std::isnan(g[i])) continue;
    if (std::isinf(c[i]) && g[i] == c[i]) continue;
    const double d = std::fabs(g[i] - c[i]);
    if (!std::isfinite(d)) return std::numeric_limits<double>::infinity();
    scale = std::max(scale, std::fabs(c[i]));
    err = std::max(err, d);
  }
  return err == 0 ? 0.0 : err / scale;
}

// Tolerances: float32 with TF32 off, float64.
inline double tol(DType t) { return t == kFloat64 ? 1e-12 : 1e-5; }

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.to(Device::cpu()).contiguous(), cb = b.to(Device::cpu()).contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), ca.numel() * dtype_size(ca.dtype())) == 0;
}

#define CHECK_CLOSE_TO_CPU(gpu_t, cpu_t, tolerance)                                                       \
  do {                                                                                                    \
    const double e_ = ::minidp::test::rel_err((gpu_t), (cpu_t));                                       \
    INFO("relative error ", e_, " (tolerance ", (tolerance), ") for ", (cpu_t).describe());                \
    CHECK(e_ <= (tolerance));                                                                             \
  } while (0)

}  // namespace minidp::test
