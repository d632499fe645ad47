// tests/core/gradcheck.h — finite-difference gradient checking and input makers
// shared by the core test files.
//
// The check: the op's output `out` is turned into a scalar L = sum(out * W)
// with fixed random weights W (so every output element matters, each with its
// own weight, and a gradient that mixes up output positions is caught). The
// analytic gradient dL/dx comes from backward(); the numeric one from central
// differences, (L(x + h e_j) - L(x - h e_j)) / 2h for every element j of every
// input, in float64 with h = 1e-6. The reported error of one input is
//
//   max_j |analytic_j - numeric_j| / max(max_j |analytic_j|, max_j |numeric_j|, 1e-2)
//
// i.e. the largest deviation relative to the gradient's own scale (floored so
// that an all-zero gradient is compared absolutely). Inputs must stay away
// from kinks (relu and abs at 0, ties of max): the makers below help.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "minidp/minidp.h"

namespace minidp::test {

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckResult {
  double max_error = 0;     // over all inputs
  std::string detail;       // per input: error and the worst element
  bool grads_defined = true;
};

// Compare analytic and numeric gradients of `f` at `inputs` (each converted to
// a contiguous float64 leaf that requires grad). `f` must be deterministic:
// an op drawing random numbers has to be given a fresh copy of one Generator
// on every call.
inline GradcheckResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs, double h = 1e-6,
                                 std::uint64_t weight_seed = 2024) {
  std::vector<Tensor> leaves;
  for (const auto& x : inputs) {
    Tensor l = x.to(kFloat64).clone().detach();
    l.requires_grad_(true);
    leaves.push_back(l);
  }
  Tensor out = f(leaves);
  Generator g(weight_seed);
  const Tensor w = randn(out.shape(), kFloat64, &g);
  sum(mul(out, w)).backward();

  auto loss_at = [&]() {
    NoGradGuard ng;
    return sum(mul(f(leaves), w)).item();
  };

  GradcheckResult r;
  std::ostringstream os;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    Tensor ga = leaves[i].grad();
    if (!ga.defined()) {
      r.grads_defined = false;
      ga = zeros_like(leaves[i]);
    }
    const std::vector<double> a = ga.to_vector<double>();
    double* p = leaves[i].data<double>();
    std::vector<double> num(a.size());
    for (std::size_t j = 0; j < a.size(); ++j) {
      const double orig = p[j];
      p[j] = orig + h;
      const double lp = loss_at();
      p[j] = orig - h;
      const double lm = loss_at();
      p[j] = orig;
      num[j] = (lp - lm) / (2 * h);
    }
    double scale = 1e-2, worst = 0;
    std::size_t worst_j = 0;
    for (std::size_t j = 0; j < a.size(); ++j) scale = std::max({scale, std::abs(a[j]), std::abs(num[j])});
    for (std::size_t j = 0; j < a.size(); ++j) {
      const double e = std::abs(a[j] - num[j]);
      if (e > worst) {
        worst = e;
        worst_j = j;
      }
    }
    const double err = worst / scale;
    r.max_error = std::max(r.max_error, err);
    os << "input " << i << " " << leaves[i].shape_str() << ": error " << err;
    if (!a.empty()) os << " (element " << worst_j << ": analytic " << a[worst_j] << ", numeric " << num[worst_j] << ")";
    os << "; ";
  }
  r.detail = os.str();
  return r;
}

// Gradient check as a doctest assertion, reported under `name`.
inline void check_grad(const std::string& name, const GradFn& f, const std::vector<Tensor>& inputs,
                       double tol = 1e-6) {
  const GradcheckResult r = gradcheck(f, inputs);
  INFO(name << ": " << r.detail);
  CHECK(r.grads_defined);
  CHECK(r.max_error < tol);
}

// ---------------------------------------------------------------- input makers (float64)
// Uniform in [lo, hi).
inline Tensor uniform64(const Shape& s, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator g(seed);
  return uniform(s, lo, hi, kFloat64, &g);
}
// |x| in [margin, margin + 1), random signs: safe for relu, abs, leaky_relu.
inline Tensor away_from_zero(const Shape& s, std::uint64_t seed, double margin = 0.2) {
  Generator g(seed);
  std::vector<double> u = rand(s, kFloat64, &g).to_vector<double>();
  std::vector<double> v(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) {
    const double mag = margin + std::fmod(u[i] * 2.0, 1.0);
    v[i] = u[i] < 0.5 ? -mag : mag;
  }
  return from_vector(v, s);
}
// A random arrangement of the values start, start + gap, start + 2 gap, ...:
// all distinct by `gap`, so max/min picks never flip under a +-h perturbation.
inline Tensor distinct(const Shape& s, std::uint64_t seed, double gap = 0.1, double start = -1.0) {
  Generator g(seed);
  const std::vector<double> key = rand(s, kFloat64, &g).to_vector<double>();
  std::vector<std::size_t> order(key.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key[a] < key[b]; });
  std::vector<double> v(key.size());
  for (std::size_t r = 0; r < order.size(); ++r) v[order[r]] = start + gap * static_cast<double>(r);
  return from_vector(v, s);
}

// Element-wise closeness of two tensors' values (as float64).
inline bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-12, double atol = 1e-12) {
  if (a.shape() != b.shape()) return false;
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::abs(x[i] - y[i]) <= atol + rtol * std::abs(y[i]))) return false;
  return true;
}
inline bool allclose(const Tensor& a, const std::vector<double>& b, double rtol = 1e-12, double atol = 1e-12) {
  const auto x = a.to_vector<double>();
  if (x.size() != b.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::abs(x[i] - b[i]) <= atol + rtol * std::abs(b[i]))) return false;
  return true;
}

}  // namespace minidp::test
