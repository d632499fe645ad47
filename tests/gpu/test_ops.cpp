// The differentiable ops on the GPU, forward and backward through autograd,
// against the same graph on the CPU; and determinism: two GPU runs of a
// training step give bitwise the same gradients.
#include <algorithm>
#include <cmath>

#include "gpu_test.h"

using namespace minidp;
using namespace minidp::test;

namespace {

// max |t| (t on the CPU).
double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

// A small network touching most ops: conv, batch norm, relu, both poolings,
// gelu, embedding, sigmoid, dropout, linear, tanh, cross-entropy with label
// smoothing, log_softmax, pow, mean, max, sum_to (broadcast backward),
// index_select. Returns the loss and every gradient, on the CPU.
std::vector<Tensor> train_step(Device d, DType t) {
  auto param = [&](const Shape& s, double lo, double hi, std::uint64_t seed) {
    return random_cpu(s, t, lo, hi, seed).to(d).requires_grad_();
  };
  Tensor x = param({4, 2, 10, 10}, -1, 1, 1);
  Tensor cw = param({6, 2, 3, 3}, -0.4, 0.4, 2), cb = param({6}, -0.1, 0.1, 3);
  Tensor bw = param({6}, 0.5, 1.5, 4), bb = param({6}, -0.2, 0.2, 5);
  Tensor emb = param({7, 150}, -1, 1, 6);
  Tensor w1 = param({20, 150}, -0.1, 0.1, 7), b1 = param({20}, -0.1, 0.1, 8);
  Tensor w2 = param({5, 20}, -0.3, 0.3, 9), b2 = param({5}, -0.1, 0.1, 10);
  const Tensor idx = from_vector<std::int64_t>({3, 0, 6, 3}, {4}).to(d);   // rows of emb [7, 150]
  const Tensor rows = from_vector<std::int64_t>({3, 0, 2, 3}, {4}).to(d);  // rows of logits [4, 5], one repeated
  const Tensor target = from_vector<std::int64_t>({1, 4, 0, 2}, {4}).to(d);

  Tensor h = conv2d(x, cw, cb, Conv2dOptions::make(1, 1));                  // [4, 6, 10, 10]
  h = relu(batch_norm(h, bw, bb, Tensor(), Tensor(), /*training=*/true));
  h = max_pool2d(h, Pool2dOptions::make(2));                                // [4, 6, 5, 5]
  h = gelu(add(h, avg_pool2d(h, Pool2dOptions::make(3, 1, 1))));
  h = flatten(h, 1);                                                         // [4, 150]
  Generator g(5);
  h = mul(dropout(h, 0.2, true, &g), sigmoid(embedding(emb, idx)));
  Tensor z = tanh(linear(h, w1, b1));
  Tensor logits = linear(z, w2, b2);                                         // [4, 5]
  CrossEntropyOptions ce;
  ce.label_smoothing = 0.1;
  Tensor loss = add(cross_entropy(logits, target, ce), mul(mean(pow(logits, 2.0)), 0.1));
  loss = add(loss, mul(sum(log_softmax(logits, 1)), 0.01));
  loss = add(loss, mul(sum(max(index_select(logits, rows), 1)), 0.05));
  loss.backward();
  std::vector<Tensor> out = {loss.detach().to(Device::cpu())};
  for (const Tensor& p : {x, cw, cb, bw, bb, emb, w1, b1, w2, b2}) out.push_back(p.grad().to(Device::cpu()));
  return out;
}

}  // namespace

GPU_TEST_CASE("a training step through every op family: GPU against CPU, forward and backward") {
  const char* names[] = {"loss", "x", "conv w", "conv b", "bn w", "bn b", "emb", "w1", "b1", "w2", "b2"};
  for (DType t : {kFloat32, kFloat64}) {
    const auto c = train_step(Device::cpu(), t);
    const auto gpu_out = train_step(gpu(), t);
    REQUIRE(c.size() == gpu_out.size());
    const double tl = t == kFloat32 ? 1e-4 : 1e-9;  // a chain of ~20 ops, cuDNN convolutions included
    for (std::size_t i = 0; i < c.size(); ++i) {
      INFO(dtype_name(t), " ", names[i]);
      if (i == 3) {
        // The conv bias feeds a training-mode batch norm, which removes any
        // per-channel constant: its gradient is zero but for rounding (the sum
        // of 400 terms of the size of the conv output's gradient, ~1e-8 of the
        // conv weight's gradient in float32), on the CPU as on the GPU. Against
        // itself that noise has a relative error of ~1 whatever the tolerance,
        // so it is measured at the scale of the same layer's weight gradient.
        const double scale = max_abs(c[2]);
        REQUIRE(scale > 0);
        const double e = max_abs(sub(gpu_out[i], c[i])) / scale;
        INFO("|gpu - cpu| / max|conv w grad| = ", e, " (tolerance ", tl, ")");
        CHECK(e <= tl);
        CHECK(max_abs(gpu_out[i]) <= tl * scale);  // zero, to rounding
        continue;
      }
      CHECK_CLOSE_TO_CPU(gpu_out[i], c[i], tl);
    }
  }
}

GPU_TEST_CASE("determinism: two GPU runs of a training step are bitwise equal") {
  const auto a = train_step(gpu(), kFloat32);
  const auto b = train_step(gpu(), kFloat32);
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("output ", i);
    CHECK(bitwise_equal(a[i], b[i]));
  }
  // reductions large enough to use split partial sums, and index_add with many repeats
  Generator g1(3), g2(3);
  const Tensor x = randn({1 << 21}, on(kFloat32, gpu()), &g1);
  CHECK(bitwise_equal(sum(x), sum(x)));
  CHECK(bitwise_equal(sum(x.reshape({2048, 1024}), {0}), sum(x.reshape({2048, 1024}), {0})));
  Tensor w = randn({50, 64}, on(kFloat32, gpu()), &g2).requires_grad_();
  const Tensor idx = randint(0, 50, {10000}, on(kInt64, gpu()), &g2);
  auto grad_of = [&] {
    w.set_grad(Tensor());
    sum(mul(embedding(w, idx), 1.5)).backward();
    return w.grad().clone();
  };
  CHECK(bitwise_equal(grad_of(), grad_of()));
}

GPU_TEST_CASE("mixing devices is an error that names both") {
  const Tensor a = ones({3}), b = ones({3}, on(kFloat32, gpu()));
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("cuda:0"), Error);
}
