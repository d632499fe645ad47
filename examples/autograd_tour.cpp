// examples/autograd_tour.cpp — minidp's autograd engine, one small graph at a time.
//
// Builds  loss = s * sum(tanh(w * x) * w)  with two leaves that require
// gradients (w, used twice, and the scalar s) and one input that does not (x).
// It prints the forward values and the gradients, checks d loss / d w three
// ways (autograd, the hand-derived formula, central finite differences), and
// registers a hook on each leaf to show *when* a leaf's gradient is complete
// during backward — the moment a distributed trainer can start summing it.
// A custom identity op written with record() logs where backward is.
//
//   ./autograd_tour          (exits 1 if the finite-difference check fails)
//
// See docs/core.md for the engine behind each step.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "minidp/minidp.h"
#include "guarded_main.h"  // one clear line and exit status 1 for any error

using namespace minidp;

namespace {

void print_vec(const char* label, const Tensor& t) {
  std::printf("  %-26s [", label);
  const auto v = t.detach().to_vector<double>();
  for (std::size_t i = 0; i < v.size(); ++i) std::printf("%s% .6f", i ? ", " : "", v[i]);
  std::printf("]\n");
}

// An identity op written the way every op in core/ops/ is: forward, then
// record() with the backward closure beside it. Its backward only announces
// that the backward pass has reached this point of the graph.
Tensor probe(const std::string& label, const Tensor& x) {
  Tensor y = x.detach();  // forward: the same values (record gives the result its own handle)
  return record("probe", y, {x}, [label](const Tensor& g) {
    std::printf("    backward reaches the probe after '%s'\n", label.c_str());
    return std::vector<Tensor>{g};  // d y / d x = identity
  });
}

// The computation as a function of the leaves' values (for finite differences).
double loss_value(const std::vector<double>& wv, double sv, const Tensor& x) {
  NoGradGuard no_grad;  // plain evaluation: nothing is recorded
  Tensor w = from_vector(wv, {static_cast<std::int64_t>(wv.size())});
  return (sum(mul(tanh(mul(w, x)), w)) * sv).item();
}

}  // namespace

int run() {
  try {
    std::printf("== 1. leaves, an input, and the forward pass\n");
    // float64 so that finite differences can be accurate to ~1e-9.
    Tensor w = from_vector<double>({0.5, -1.0, 2.0}, {3}).requires_grad_();
    w.set_name("w");
    Tensor s = scalar_tensor(1.5, TensorOptions(kFloat64).with_requires_grad(true));
    s.set_name("s");
    Tensor x = from_vector<double>({1.5, 0.25, -0.75}, {3});  // data: no gradient wanted

    Tensor h = probe("h = tanh(w * x)", tanh(mul(w, x)));
    Tensor loss = mul(s, sum(mul(h, w)));
    print_vec("w (leaf, requires grad)", w);
    print_vec("x (input)", x);
    print_vec("h = tanh(w * x)", h);
    std::printf("  loss = s * sum(h * w)      %.9f   (s = %.1f)\n", loss.item(), s.item());
    std::printf("  loss is %s; its grad_fn is the op '%s'; w is a leaf: %s\n",
                loss.requires_grad() ? "tracked" : "not tracked", loss.grad_fn()->name.c_str(),
                w.is_leaf() ? "yes" : "no");

    std::printf("\n== 2. hooks: a leaf's hook fires once its gradient is complete\n");
    int fired = 0;
    for (const Tensor* leaf : {&w, &s}) {
      const std::string name = leaf->name();
      leaf->register_hook([name, &fired](const Tensor& grad) {
        ++fired;
        std::printf("    hook: gradient of '%s' is complete (%lld value(s), first %.6f)\n", name.c_str(),
                    static_cast<long long>(grad.numel()), grad.to_vector<double>()[0]);
      });
    }
    std::printf("  loss.backward():\n");
    loss.backward();
    std::printf("  's' is used once, next to the output: its hook fires first, while backward goes on.\n"
                "  'w' is used twice (in w * x and in h * w): its hook fires once, after both\n"
                "  contributions were summed — after backward has passed the probe.\n");

    std::printf("\n== 3. gradients, three ways\n");
    const auto gw = w.grad().to_vector<double>();
    const auto wv = w.to_vector<double>();
    const auto xv = x.to_vector<double>();
    const auto hv = h.to_vector<double>();
    const double sv = s.item();
    // by hand: d/dw_i [s tanh(w_i x_i) w_i] = s (h_i + w_i x_i (1 - h_i^2))
    const double eps = 1e-6;
    double max_rel = 0.0;
    std::printf("  %5s %16s %16s %16s\n", "i", "autograd", "by hand", "finite diff.");
    for (std::size_t i = 0; i < wv.size(); ++i) {
      const double hand = sv * (hv[i] + wv[i] * xv[i] * (1.0 - hv[i] * hv[i]));
      std::vector<double> up = wv, down = wv;
      up[i] += eps;
      down[i] -= eps;
      const double fd = (loss_value(up, sv, x) - loss_value(down, sv, x)) / (2.0 * eps);
      std::printf("  %5zu %16.10f %16.10f %16.10f\n", i, gw[i], hand, fd);
      max_rel = std::max(max_rel, std::abs(gw[i] - fd) / std::max(std::abs(fd), 1e-12));
      max_rel = std::max(max_rel, std::abs(gw[i] - hand) / std::max(std::abs(hand), 1e-12));
    }
    // d loss / d s = sum(h * w): the value the output node multiplied s by
    const double fd_s = (loss_value(wv, sv + eps, x) - loss_value(wv, sv - eps, x)) / (2.0 * eps);
    std::printf("  %5s %16.10f %16s %16.10f\n", "s", s.grad().item(), "", fd_s);
    max_rel = std::max(max_rel, std::abs(s.grad().item() - fd_s) / std::max(std::abs(fd_s), 1e-12));

    std::printf("\n== 4. the graph is freed after backward; retain_graph keeps it\n");
    try {
      loss.backward();
    } catch (const Error& e) {
      std::printf("  a second backward raises minidp::Error:\n    %s\n", e.what());
    }
    Tensor loss2 = mul(s, sum(mul(tanh(mul(w, x)), w)));  // the same computation, a new graph
    std::printf("  loss2.backward(Tensor(), /*retain_graph=*/true):\n");
    loss2.backward(Tensor(), /*retain_graph=*/true);
    std::printf("  loss2.backward():  (allowed: the graph was kept)\n");
    loss2.backward();
    std::printf("  after three backward passes w.grad[0] = %.6f = 3 x %.6f (gradients accumulate\n"
                "  until zeroed; the hooks fired %d times: once per leaf per pass)\n",
                w.grad().to_vector<double>()[0], gw[0], fired);

    std::printf("\n== 5. NoGradGuard and error messages\n");
    {
      NoGradGuard no_grad;
      Tensor y = mul(w, 2.0);
      std::printf("  inside NoGradGuard, w * 2 requires grad: %s (nothing recorded)\n",
                  y.requires_grad() ? "yes" : "no");
    }
    try {
      add(w, ones({2}));  // float64 [3] + float32 [2]
    } catch (const Error& e) {
      std::printf("  add(w, ones({2})) raises:\n    %s\n", e.what());
    }

    const double tol = 1e-6;
    std::printf("\nmax relative difference, autograd vs hand formula and finite differences: %.2e (tolerance %.0e)\n",
                max_rel, tol);
    if (!(max_rel <= tol) || fired != 6) {
      std::printf("GRADIENT CHECK FAILED\n");
      return 1;
    }
    std::printf("finite-difference check passed\n");
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

int main() { return minidp::examples::guarded_main("autograd_tour", run); }
