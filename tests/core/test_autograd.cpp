// The autograd engine: leaves and graph nodes, accumulation, retain_graph,
// NoGradGuard, detach, hooks, explicit output gradients.
#include <doctest/doctest.h>
#include <pthread.h>

#include "gradcheck.h"
#include "minidp/minidp.h"
#include "test_util.h"

using namespace minidp;
using namespace minidp::test;

TEST_CASE("autograd: leaves, non-leaves, requires_grad propagation") {
  Tensor x = from_vector<double>({1, 2, 3}, {3}).requires_grad_();
  const Tensor c = from_vector<double>({4, 5, 6}, {3});
  CHECK(x.is_leaf());
  CHECK(x.requires_grad());
  CHECK(x.grad_fn() == nullptr);
  const Tensor y = mul(x, c);
  CHECK_FALSE(y.is_leaf());
  CHECK(y.requires_grad());
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->name == "mul");
  CHECK(y.grad_fn()->inputs.size() == 2);
  // ops on tensors that do not require grad make leaves without a graph
  const Tensor z = mul(c, c);
  CHECK(z.is_leaf());
  CHECK_FALSE(z.requires_grad());
  // a view of a leaf is a graph node; the leaf keeps its own identity
  const Tensor v = x.reshape({3, 1});
  CHECK_FALSE(v.is_leaf());
  CHECK(x.is_leaf());
  CHECK(v.grad_fn()->name == "reshape");
  // comparisons and integer results are not differentiable
  CHECK_FALSE(eq(x, x).requires_grad());
  CHECK_FALSE(gt(x, 1.0).requires_grad());
  CHECK_FALSE(argmax(x, 0).requires_grad());
  // requires_grad_(false) on a leaf turns tracking off
  Tensor w = ones({2}).requires_grad_();
  w.requires_grad_(false);
  CHECK_FALSE(mul(w, 2.0).requires_grad());
}

TEST_CASE("autograd: gradients accumulate over two backward calls, and set_grad resets them") {
  Tensor x = from_vector<double>({1, -2, 3}, {3}).requires_grad_();
  sum(mul(x, x)).backward();  // d/dx = 2x
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, -4, 6});
  sum(mul(x, 3.0)).backward();  // a second graph adds 3
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, -1, 9});
  x.set_grad(Tensor());
  CHECK_FALSE(x.grad().defined());
  sum(x).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 1, 1});
  // the gradient is its own tensor, not an alias of anything in the graph
  Tensor y = from_vector<double>({1, 2}, {2}).requires_grad_();
  const Tensor seed = from_vector<double>({7, 8}, {2});
  y.backward(seed);
  CHECK(y.grad().to_vector<double>() == std::vector<double>{7, 8});
  CHECK(y.grad().storage().get() != seed.storage().get());
  // intermediate (non-leaf) tensors do not keep a .grad
  Tensor a = from_vector<double>({1}, {1}).requires_grad_();
  Tensor b = mul(a, 2.0);
  sum(b).backward();
  CHECK_FALSE(b.grad().defined());
  CHECK(a.grad().item() == 2.0);
}

TEST_CASE("autograd: retain_graph allows a second backward, without it the second one raises") {
  Tensor x = from_vector<double>({1, 2}, {2}).requires_grad_();
  Tensor loss = sum(exp(x));
  loss.backward(Tensor(), /*retain_graph=*/true);
  const auto g1 = x.grad().to_vector<double>();
  CHECK(g1[0] == doctest::Approx(std::exp(1.0)));
  loss.backward();  // the graph was retained: works, and accumulates
  CHECK(x.grad().to_vector<double>()[1] == doctest::Approx(2 * std::exp(2.0)));
  // now the graph is freed
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("retain_graph"), Error);
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("backward"), Error);
  CHECK(x.grad().to_vector<double>()[1] == doctest::Approx(2 * std::exp(2.0)));  // unchanged by the failure
}

TEST_CASE("autograd: NoGradGuard turns recording off for a scope, nests, and restores") {
  Tensor x = ones({2}, kFloat64).requires_grad_();
  CHECK(grad_enabled());
  {
    NoGradGuard ng;
    CHECK_FALSE(grad_enabled());
    const Tensor y = mul(x, 2.0);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    CHECK_FALSE(needs_grad(x));
    {
      NoGradGuard inner;
      CHECK_FALSE(grad_enabled());
    }
    CHECK_FALSE(grad_enabled());  // the inner guard restored "off", not "on"
  }
  CHECK(grad_enabled());
  CHECK(needs_grad(x));
  CHECK(mul(x, 2.0).requires_grad());
}

TEST_CASE("autograd: detach cuts the graph") {
  Tensor x = from_vector<double>({2, 3}, {2}).requires_grad_();
  // y = x * stop_gradient(x): dy/dx = x.detach() only
  sum(mul(x, x.detach())).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 3});
  const Tensor d = mul(x, 2.0).detach();
  CHECK(d.is_leaf());
  CHECK_FALSE(d.requires_grad());
  CHECK(d.to_vector<double>() == std::vector<double>{4, 6});
}

TEST_CASE("autograd: hooks fire once per leaf per backward, with the complete gradient") {
  Tensor x = from_vector<double>({1, 2, 3}, {3}).requires_grad_();
  Tensor w = from_vector<double>({0.5, 0.5, 0.5}, {3}).requires_grad_();
  int x_calls = 0, w_calls = 0;
  std::vector<double> x_seen, w_seen;
  x.register_hook([&](const Tensor& g) {
    ++x_calls;
    x_seen = g.to_vector<double>();
  });
  w.register_hook([&](const Tensor& g) {
    ++w_calls;
    w_seen = g.to_vector<double>();
  });
  // x is used three times (in two different nodes): x*x + w*x  -> dx = 2x + w, dw = x
  Tensor loss = sum(add(mul(x, x), mul(w, x)));
  loss.backward();
  CHECK(x_calls == 1);
  CHECK(w_calls == 1);
  CHECK(x_seen == std::vector<double>{2.5, 4.5, 6.5});
  CHECK(w_seen == std::vector<double>{1, 2, 3});
  // the hook saw what ended up in .grad
  CHECK(x.grad().to_vector<double>() == x_seen);
  // a second backward fires each hook once more
  sum(mul(x, 10.0)).backward();
  CHECK(x_calls == 2);
  CHECK(w_calls == 1);  // w was not in that graph
  // a leaf that is itself the root
  Tensor r = scalar_tensor(1.0, kFloat64).requires_grad_();
  int r_calls = 0;
  r.register_hook([&](const Tensor&) { ++r_calls; });
  r.backward();
  CHECK(r_calls == 1);
  CHECK(r.grad().item() == 1.0);
}

TEST_CASE("autograd: hooks see every contribution of a deep diamond before firing") {
  // x feeds four branches that rejoin at different depths
  Tensor x = from_vector<double>({0.5}, {1}).requires_grad_();
  std::vector<double> seen;
  int calls = 0;
  x.register_hook([&](const Tensor& g) {
    ++calls;
    seen = g.to_vector<double>();
  });
  Tensor a = mul(x, 2.0);                 // 2x
  Tensor b = exp(a);                      // e^{2x}
  Tensor c = add(mul(b, x), tanh(a));     // x e^{2x} + tanh(2x)
  Tensor loss = sum(add(c, mul(x, x)));   // + x^2
  loss.backward();
  const double xv = 0.5;
  const double expect = std::exp(2 * xv) + 2 * xv * std::exp(2 * xv) + 2 * (1 - std::pow(std::tanh(2 * xv), 2)) + 2 * xv;
  CHECK(calls == 1);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == doctest::Approx(expect).epsilon(1e-12));
}

TEST_CASE("autograd: backward of a non-scalar needs an explicit gradient of matching shape") {
  Tensor x = from_vector<double>({1, 2, 3}, {3}).requires_grad_();
  Tensor y = mul(x, x);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("backward"), Error);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("[3]"), Error);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("not a scalar"), Error);
  CHECK_THROWS_WITH_AS(y.backward(ones({2}, kFloat64)), doctest::Contains("[2]"), Error);
  y.backward(from_vector<double>({1, 0, -1}, {3}));  // vector-Jacobian product: g * 2x
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 0, -6});
  // a one-element non-0-d output is fine without a gradient
  Tensor z = from_vector<double>({3}, {1, 1}).requires_grad_();
  mul(z, z).backward();
  CHECK(z.grad().item() == 6.0);
}

TEST_CASE("autograd: gradients cross dtype conversions and views back to the leaf") {
  Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  // float64 -> float32 -> float64: the gradient arrives as float64
  sum(mul(x.to(kFloat32), 2.0)).backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == kFloat64);
  CHECK(x.grad().to_vector<double>() == std::vector<double>(6, 2.0));
  x.set_grad(Tensor());
  // through a transposed, narrowed, contiguous'd view
  sum(mul(x.t().narrow(0, 1, 2).contiguous(), from_vector<double>({1, 2, 3, 4}, {2, 2}))).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 3, 0, 2, 4});
}

TEST_CASE("autograd: a float32 model trains: loss decreases under plain gradient descent") {
  // y = 3x - 1 with noise-free data; one linear unit must fit it
  const Tensor xs = arange(-1.0, 1.0, 0.25).reshape({8, 1});
  const Tensor ys = add(mul(xs, 3.0), -1.0);
  Tensor w = zeros({1, 1}).requires_grad_(), b = zeros({1}).requires_grad_();
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    w.set_grad(Tensor());
    b.set_grad(Tensor());
    Tensor loss = mse_loss(linear(xs, w, b), ys);
    if (step == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    NoGradGuard ng;
    w.add_(w.grad(), -0.3);
    b.add_(b.grad(), -0.3);
  }
  CHECK(first > 1.0);
  CHECK(last < 1e-6);
  CHECK(w.item() == doctest::Approx(3.0).epsilon(1e-3));
  CHECK(b.item() == doctest::Approx(-1.0).epsilon(1e-3));
}

namespace {
// Build, differentiate and free a chain of `depth` ops on the calling thread.
struct Chain {
  int depth = 0;
  double grad = 0;
  std::string error;
  bool freed = false;
};
void* run_chain(void* arg) {
  auto* c = static_cast<Chain*>(arg);
  try {
    {
      Tensor x = from_vector<double>({1.0}, {1}).requires_grad_();
      Tensor y = x;
      for (int i = 0; i < c->depth; ++i) y = add(y, 0.001);
      sum(mul(y, y)).backward();
      c->grad = x.grad().item();
    }  // the whole graph is released here
    c->freed = true;
  } catch (const std::exception& e) {
    c->error = e.what();
  }
  return nullptr;
}
}  // namespace

TEST_CASE("autograd: a long chain of ops back-propagates and is freed without deep recursion") {
  // On a thread with a 512 KiB stack: 50000 nodes released one destructor
  // inside the other would need several MiB and crash.
  Chain c;
  c.depth = 50000;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 512 * 1024);
  pthread_t th;
  REQUIRE(pthread_create(&th, &attr, run_chain, &c) == 0);
  pthread_join(th, nullptr);
  pthread_attr_destroy(&attr);
  CHECK(c.error == "");
  CHECK(c.freed);
  CHECK(c.grad == doctest::Approx(2 * (1.0 + c.depth * 0.001)).epsilon(1e-12));
}
