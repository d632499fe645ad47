// The fused kernels against their op-by-op references (kernels/cpu/reference.h).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "minidp/kernels/cpu/reference.h"
#include "minidp/kernels/kernels.h"
#include "minidp/minidp.h"

using namespace minidp;
namespace kc = minidp::kernels::cpu;
namespace ref = minidp::kernels::reference;

namespace {
bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.shape() == cb.shape() && ca.dtype() == cb.dtype() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<std::size_t>(ca.numel()) * dtype_size(ca.dtype())) == 0;
}
// The largest distance in units in the last place between two float64 tensors.
std::int64_t max_ulps(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  std::int64_t worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::int64_t ix, iy;
    std::memcpy(&ix, &x[i], 8);
    std::memcpy(&iy, &y[i], 8);
    if (ix < 0) ix = INT64_MIN - ix;  // ordered like the doubles they stand for
    if (iy < 0) iy = INT64_MIN - iy;
    worst = std::max(worst, ix > iy ? ix - iy : iy - ix);
  }
  return worst;
}
}  // namespace

TEST_CASE("reference: the fused SGD-momentum kernel equals its op-by-op reference bit for bit") {
  for (DType t : {kFloat32, kFloat64}) {
    CAPTURE(dtype_name(t));
    Generator gen(3);
    Tensor p1 = uniform({1000}, -1, 1, TensorOptions(t), &gen), p2 = p1.clone();
    Tensor b1 = Tensor::empty({1000}, TensorOptions(t)), b2 = Tensor::empty({1000}, TensorOptions(t));
    for (int step = 0; step < 3; ++step) {
      const Tensor g = uniform({1000}, -1, 1, TensorOptions(t), &gen);
      kc::sgd_step({p1}, {g}, {b1}, kernels::SgdStep{0.1, 0.9, 0.0, 0.0, false, step == 0});
      ref::sgd_momentum_step(p2, g, b2, 0.1, 0.9, step == 0);
      CHECK(same_bits(p1, p2));
      CHECK(same_bits(b1, b2));
    }
  }
}

TEST_CASE("reference: the fused cross-entropy backward equals softmax - one-hot, op by op (float64, to rounding)") {
  // Not bit for bit: the kernel keeps the row's sum of exponentials in double
  // and divides once per element, the ops round softmax first; and for the
  // true class, softmax - 1 cancels, so a difference of one rounding of a
  // value near 1 is many ulps of the small result. The yardstick is that one
  // rounding: |fused - reference| <= 2 eps * |upstream gradient| per element.
  Generator gen(7);
  const Tensor x = uniform({33, 10}, -4, 4, TensorOptions(kFloat64), &gen);
  const Tensor y = randint(0, 10, {33}, TensorOptions(kInt64), &gen);
  const Tensor gloss = uniform({33}, 0.5, 2, TensorOptions(kFloat64), &gen);
  Tensor fused = Tensor::empty({33, 10}, TensorOptions(kFloat64));
  kc::cross_entropy_backward(x, y, /*ignore=*/-100, /*smoothing=*/0.0, gloss, fused);
  const Tensor reference = ref::cross_entropy_backward(x, y, gloss);
  auto worst_in_eps = [&](const Tensor& a, const Tensor& b) {
    const auto va = a.to_vector<double>(), vb = b.to_vector<double>(), g = gloss.to_vector<double>();
    double worst = 0;
    for (std::size_t i = 0; i < va.size(); ++i)
      worst = std::max(worst, std::fabs(va[i] - vb[i]) / (g[i / 10] * 2.220446049250313e-16));
    return worst;
  };
  const double e = worst_in_eps(fused, reference);
  MESSAGE("cross-entropy backward: fused vs op by op, at most ", e, " eps x |upstream| apart (",
          max_ulps(fused, reference), " ulp of the smallest results)");
  CHECK(e <= 2.0);
  // And both are the gradient autograd gives for the per-sample losses weighted by gloss.
  Tensor xg = x.clone().requires_grad_();
  sum(mul(cross_entropy(xg, y, {.reduction = Reduction::None}), gloss)).backward();
  CHECK(worst_in_eps(xg.grad(), fused) <= 2.0);
}
