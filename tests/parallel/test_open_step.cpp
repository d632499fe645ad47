// The step opened (DataParallel::forward_backward, reduce_gradients,
// optimizer_step): the same bits as train_step, and clear errors out of order.
#include <doctest/doctest.h>

#include <cstring>

#include "minidp/minidp.h"

using namespace minidp;

namespace {
nn::ModulePtr mlp() {
  manual_seed(41);
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(12, 16), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(16, 5)});
}

parallel::OptimizerFactory sgd() {
  return [](std::vector<Tensor> ps) {
    return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.1, .momentum = 0.9});
  };
}

bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.shape() == cb.shape() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<std::size_t>(ca.numel()) * dtype_size(ca.dtype())) == 0;
}

// Four steps on batches of 7 (uneven over 3 replicas), one way or the other;
// with `clip`, the gradients are clipped between the sum and the update.
std::pair<std::vector<Tensor>, std::vector<double>> run(const std::string& devices, bool opened, bool clip = false) {
  parallel::DataParallel dp(mlp(), parallel::parse_replicas(devices), sgd());
  std::vector<double> losses;
  Generator g(5);
  for (int step = 0; step < 4; ++step) {
    const Tensor x = uniform({7, 12}, -1, 1, {}, &g), y = randint(0, 5, {7}, TensorOptions(kInt64), &g);
    if (opened) {
      dp.forward_backward(x, y);
      dp.reduce_gradients();
      if (clip)
        for (int r = 0; r < dp.size(); ++r) nn::clip_grad_norm(dp.module(r)->parameters(), 0.05);
      losses.push_back(dp.optimizer_step().loss());
    } else {
      losses.push_back(dp.train_step(x, y).loss());
    }
  }
  CHECK(dp.replicas_identical());
  CHECK(dp.optimizer(0).steps_taken() == 4);
  std::vector<Tensor> params;
  for (auto& p : dp.module(0)->parameters()) params.push_back(p.detach().clone());
  return {params, losses};
}
}  // namespace

TEST_CASE("open step: forward_backward, reduce_gradients, optimizer_step give train_step's bits (1 and 3 replicas)") {
  for (const char* devices : {"cpu", "cpu,cpu,cpu"}) {
    CAPTURE(devices);
    const auto [p_step, l_step] = run(devices, false);
    const auto [p_open, l_open] = run(devices, true);
    REQUIRE(p_step.size() == p_open.size());
    for (std::size_t i = 0; i < p_step.size(); ++i) CHECK(same_bits(p_step[i], p_open[i]));
    CHECK(l_step == l_open);
  }
}

TEST_CASE("open step: clipping between the sum and the update changes the update, the same on every replica") {
  const auto [p_plain, l_plain] = run("cpu,cpu,cpu", true, false);
  const auto [p_clip, l_clip] = run("cpu,cpu,cpu", true, true);  // run() checks the replicas stay identical
  CHECK(l_plain[0] == l_clip[0]);  // the first loss comes before any update
  CHECK_FALSE(same_bits(p_plain[0], p_clip[0]));
}

TEST_CASE("open step: calls out of order are refused, saying what to call") {
  parallel::DataParallel dp(mlp(), parallel::parse_replicas("cpu,cpu"), sgd());
  const Tensor x = ones({4, 12}), y = zeros({4}, TensorOptions(kInt64));
  CHECK_THROWS_WITH_AS(dp.reduce_gradients(), doctest::Contains("no step is open"), Error);
  CHECK_THROWS_WITH_AS(dp.optimizer_step(), doctest::Contains("no step is open"), Error);
  dp.forward_backward(x, y);
  CHECK_THROWS_WITH_AS(dp.forward_backward(x, y), doctest::Contains("still open"), Error);
  CHECK_THROWS_WITH_AS(dp.train_step(x, y), doctest::Contains("not finished"), Error);
  CHECK_THROWS_WITH_AS(dp.optimizer_step(), doctest::Contains("call reduce_gradients first"), Error);
  dp.reduce_gradients();
  CHECK_THROWS_WITH_AS(dp.reduce_gradients(), doctest::Contains("already summed"), Error);
  dp.optimizer_step();
  dp.train_step(x, y);  // closed again: an ordinary step works
}
