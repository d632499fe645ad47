// labs/1-exact-mean/test.cpp — what divide_by_global_count must do, and the
// counterexample it exists for. Run by `make lab 1` against YOUR version.
#include <doctest/doctest.h>
#include <minidp/minidp.h>

#include <cmath>
#include <vector>

using namespace minidp;
using parallel::divide_by_global_count;

namespace {
std::vector<float> values(const Tensor& t) { return t.contiguous().to_vector<float>(); }
Tensor floats(std::vector<float> v) { const auto n = static_cast<std::int64_t>(v.size()); return from_vector(v, {n}); }
}  // namespace

TEST_CASE("lab 1: a bucket of gradient sums becomes the mean over the global batch") {
  std::vector<Tensor> buckets = {floats({4, 8, -2})};
  Tensor tail = floats({10, 4});  // loss sum 10 over 4 samples
  divide_by_global_count(buckets, tail);
  CHECK(values(buckets[0]) == std::vector<float>{1, 2, -0.5f});
  CHECK(values(tail) == std::vector<float>{2.5f, 4});  // the mean loss, and the count left as it was
}

TEST_CASE("lab 1: every bucket is divided, in place (each parameter's .grad is a view into one)") {
  std::vector<Tensor> buckets = {floats({6, 12}), floats({3, 0, 9})};
  Tensor grad_view = buckets[1].narrow(0, 2, 1);  // what a parameter's .grad is
  Tensor tail = floats({30, 3});
  divide_by_global_count(buckets, tail);
  CHECK(values(buckets[0]) == std::vector<float>{2, 4});
  CHECK(values(buckets[1]) == std::vector<float>{1, 0, 3});
  CHECK(values(grad_view) == std::vector<float>{3});  // a new tensor would have left the gradient unchanged
}

TEST_CASE("lab 1: the counterexample - the mean of the replicas' means is not the batch's gradient") {
  // One weight, 7 samples whose gradients are 1, 2, 3, 4 (replica 0's shard of
  // 4) and 10, 20, 30 (replica 1's shard of 3). The batch's gradient is their
  // mean, 70 / 7 = 10.
  const float mean_of_means = ((1 + 2 + 3 + 4) / 4.0f + (10 + 20 + 30) / 3.0f) / 2;  // (2.5 + 20) / 2
  CHECK(mean_of_means == doctest::Approx(11.25));  // 12.5% off: the short shard's samples weigh more
  // The sum of the shards' sums, then one division by the global count:
  std::vector<Tensor> buckets = {floats({(1 + 2 + 3 + 4) + (10 + 20 + 30)})};
  Tensor tail = floats({0, 4 + 3});
  divide_by_global_count(buckets, tail);
  CHECK(values(buckets[0]) == std::vector<float>{10});
}

TEST_CASE("lab 1: no sample anywhere (every rank's part of a last, tiny batch is empty) gives zeros, not NaN") {
  std::vector<Tensor> buckets = {floats({0, 0})};
  Tensor tail = floats({0, 0});
  divide_by_global_count(buckets, tail);
  CHECK(values(buckets[0]) == std::vector<float>{0, 0});
  CHECK(values(tail) == std::vector<float>{0, 0});
}

TEST_CASE("lab 1: the real DataParallel - micro-batches of 3 and 4 rows on 2 replicas give the gradient of all 7") {
  // accumulate() leaves sums in the buckets; the step then divides by the
  // global count with YOUR function (an uneven split twice over: 3 = 2 + 1, 4 = 2 + 2).
  auto make = [] {
    manual_seed(3);  // the same initial weights each time
    return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
        std::make_shared<nn::Linear>(5, 4), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(4, 3)});
  };
  nn::ModulePtr model = make();
  nn::ModulePtr reference = make();
  Tensor x = randn({7, 5});
  Tensor y = from_vector(std::vector<std::int64_t>{0, 2, 1, 1, 0, 2, 2}, {7});

  parallel::DataParallel dp(model, parallel::parse_replicas("cpu,cpu"),
                            [](std::vector<Tensor> p) { return std::make_unique<nn::SGD>(p, nn::SGDOptions{.lr = 0.1}); });
  dp.accumulate(x.slice(0, 3), y.slice(0, 3));
  dp.forward_backward(x.slice(3, 7), y.slice(3, 7));
  dp.reduce_gradients();

  Tensor loss = cross_entropy(reference->forward(x), y);  // the mean over all 7 rows
  loss.backward();
  const auto got = dp.module(0)->parameters();
  const auto want = reference->parameters();
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto g = values(got[i].grad()), w = values(want[i].grad());
    for (std::size_t j = 0; j < w.size(); ++j) CHECK(g[j] == doctest::Approx(w[j]).epsilon(1e-5));
  }
  dp.optimizer_step();
}
