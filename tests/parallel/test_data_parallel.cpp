// Tests of parallel/: k replicas compute exactly what one device computes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "minidp/kernels/cpu/allocator.h"  // the host cache's statistics
#include "minidp/minidp.h"

using namespace minidp;
using parallel::DataParallel;

namespace {
nn::ModulePtr make_mlp(std::uint64_t seed, bool batchnorm = false) {
  manual_seed(seed);
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<nn::Linear>(20, 16));
  if (batchnorm) m->add(std::make_shared<nn::BatchNorm1d>(16));
  m->add(std::make_shared<nn::ReLU>());
  m->add(std::make_shared<nn::Linear>(16, 5));
  return m;
}

parallel::OptimizerFactory sgd(double lr, double momentum = 0.0) {
  return [=](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = lr, .momentum = momentum}); };
}

std::vector<parallel::Replica> cpus(int k) {
  std::string list = "cpu";
  for (int i = 1; i < k; ++i) list += ",cpu";
  return parallel::parse_replicas(list);
}

double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}
}  // namespace

TEST_CASE("parallel: shards are as even as possible and cover the batch") {
  CHECK(parallel::shard_sizes(7, 3) == std::vector<std::int64_t>{3, 2, 2});
  CHECK(parallel::shard_sizes(2, 3) == std::vector<std::int64_t>{1, 1, 0});
  CHECK(parallel::shard_sizes(64, 1) == std::vector<std::int64_t>{64});
  CHECK_THROWS_AS(parallel::shard_sizes(5, 0), Error);
}

TEST_CASE("parallel: replica lists") {
  auto r = parallel::parse_replicas("cpu,cpu,cpu");
  REQUIRE(r.size() == 3);
  CHECK(r[2].rank == 2);
  CHECK(r[1].device == Device::cpu());
  if (cuda_device_count() == 0) {
    auto a = parallel::parse_replicas("auto");
    CHECK(a.size() == 2);
    CHECK(a[0].device.is_cpu());
  }
  CHECK_THROWS_WITH_AS(parallel::parse_replicas(""), doctest::Contains("names no replica"), Error);
  CHECK_THROWS_WITH_AS(parallel::parse_replicas("cpu,,cpu"), doctest::Contains("empty entry"), Error);
  CHECK_THROWS_WITH_AS(parallel::parse_replicas("cpu,tpu"), doctest::Contains("unknown device 'tpu'"), Error);
  if (cuda_device_count() < 8)
    CHECK_THROWS_WITH_AS(parallel::parse_replicas("cuda:7"), doctest::Contains("cuda:7"), Error);
}

TEST_CASE("parallel: 1, 2 and 3 replicas give the single-device gradient for batch sizes 1, 2, 7, 64, 100") {
  for (std::int64_t batch : {1, 2, 7, 64, 100}) {
    Generator g(batch);
    Tensor x = randn({batch, 20}, {}, &g);
    Tensor y = randint(0, 5, {batch}, kInt64, &g);

    // Reference: one model, mean cross-entropy over the whole batch.
    auto ref_model = make_mlp(11);
    cross_entropy(ref_model->forward(x), y).backward();
    std::vector<float> ref;
    for (auto& p : ref_model->parameters())
      for (float v : p.grad().to_vector<float>()) ref.push_back(v);

    for (int k : {1, 2, 3}) {
      CAPTURE(batch);
      CAPTURE(k);
      DataParallel dp(make_mlp(11), cpus(k), sgd(0.0));
      auto r = dp.train_step(x, y);
      CHECK(r.samples == batch);
      std::int64_t covered = 0;
      for (auto& rs : r.replicas) covered += rs.samples;
      CHECK(covered == batch);
      for (int i = 0; i < k; ++i) CHECK(rel_err(dp.flat_grad(i).to_vector<float>(), ref) < 1e-6);
      CHECK(r.loss() == doctest::Approx(cross_entropy(ref_model->forward(x), y).item()).epsilon(1e-5));
    }
  }
}

TEST_CASE("parallel: replicas stay bitwise identical and follow the single-device loss curve") {
  Generator g(5);
  Tensor x = randn({90, 20}, {}, &g);
  Tensor y = randint(0, 5, {90}, kInt64, &g);
  std::vector<double> losses[2];
  int slot = 0;
  for (int k : {1, 3}) {
    DataParallel dp(make_mlp(3), cpus(k), sgd(0.1, 0.9), {.check_identical = true});
    for (int step = 0; step < 15; ++step) {
      const std::int64_t lo = (step * 30) % 90;
      losses[slot].push_back(dp.train_step(x.slice(lo, lo + 30), y.slice(lo, lo + 30)).loss());
    }
    CHECK(dp.replicas_identical());
    ++slot;
  }
  for (std::size_t s = 0; s < losses[0].size(); ++s)
    CHECK(std::abs(losses[0][s] - losses[1][s]) / losses[0][s] < 1e-4);
  CHECK(losses[0].back() < losses[0].front());
}

TEST_CASE("parallel: BatchNorm keeps local statistics and takes running statistics from replica 0") {
  Generator g(9);
  Tensor x = randn({12, 20}, {}, &g);
  Tensor y = randint(0, 5, {12}, kInt64, &g);
  DataParallel dp(make_mlp(4, true), cpus(3), sgd(0.0));
  dp.train_step(x, y);
  // replica 0's running mean is the update from its own shard (rows 0..3) alone
  auto single = make_mlp(4, true);
  single->forward(x.slice(0, 4));
  auto bn = [](const nn::ModulePtr& m) { return m->named_buffers()[0].second.to_vector<float>(); };
  CHECK(bn(dp.module(0)) == bn(single));
  CHECK(bn(dp.module(1)) != bn(dp.module(0)));  // replica 1 saw other samples
  // evaluation first takes every replica's statistics from replica 0
  Tensor out = zeros({12, 5});
  dp.evaluate_batch(x, y, [&](int i, const Tensor& o, const Tensor&) {
    const std::int64_t lo = i * 4;
    out.narrow(0, lo, o.size(0)).copy_(o);
  });
  CHECK(bn(dp.module(1)) == bn(dp.module(0)));
  dp.module(0)->eval();
  NoGradGuard ng;
  CHECK(rel_err(out.to_vector<float>(), dp.module(0)->forward(x).to_vector<float>()) < 1e-7);
}

TEST_CASE("parallel: sharded evaluation sees every sample exactly once") {
  Generator g(2);
  Tensor x = randn({10, 20}, {}, &g);
  Tensor y = arange(10);
  DataParallel dp(make_mlp(1), cpus(3), sgd(0.0));
  std::vector<int> seen(10, 0);
  std::mutex mu;
  auto sizes = dp.evaluate_batch(x, y, [&](int, const Tensor& out, const Tensor& labels) {
    CHECK(out.shape() == Shape{labels.size(0), 5});
    std::lock_guard<std::mutex> lock(mu);
    for (auto l : labels.to_vector<std::int64_t>()) ++seen[l];
  });
  CHECK(sizes == std::vector<std::int64_t>{4, 3, 3});
  CHECK(seen == std::vector<int>(10, 1));
}

TEST_CASE("parallel: a failing replica raises its error instead of hanging the others") {
  Generator g(1);
  Tensor x = randn({6, 20}, {}, &g);
  Tensor y = randint(0, 5, {6}, kInt64, &g);
  DataParallel dp(make_mlp(1), cpus(3), sgd(0.1));
  std::atomic<int> calls{0};
  auto bad_loss = [&](const Tensor& out, const Tensor& labels) {
    if (calls++ == 1) MINIDP_FAIL("loss exploded on purpose");
    return parallel::cross_entropy_sum(out, labels);
  };
  CHECK_THROWS_WITH_AS(dp.train_step(x, y, bad_loss), doctest::Contains("loss exploded on purpose"), Error);
  // the pool and communicator recover: the next step runs normally
  CHECK(std::isfinite(dp.train_step(x, y).loss()));
  CHECK(dp.replicas_identical());
}

TEST_CASE("parallel: bad inputs to a step are refused clearly") {
  DataParallel dp(make_mlp(1), cpus(2), sgd(0.1));
  CHECK_THROWS_WITH_AS(dp.train_step(zeros({4, 20}), zeros({3}, kInt64)), doctest::Contains("same number of samples"),
                       Error);
  CHECK_THROWS_WITH_AS(dp.train_step(zeros({4, 19}), zeros({4}, kInt64)), doctest::Contains("expected input [..., 20]"),
                       Error);
}

TEST_CASE("parallel: synchronized BatchNorm equals single-device BatchNorm on the full batch") {
  for (std::int64_t batch : {7, 12}) {
    CAPTURE(batch);
    Generator g(batch);
    Tensor x = randn({batch, 20}, {}, &g);
    Tensor y = randint(0, 5, {batch}, kInt64, &g);
    auto ref_model = make_mlp(8, true);
    cross_entropy(ref_model->forward(x), y).backward();
    std::vector<float> ref;
    for (auto& p : ref_model->parameters())
      for (float v : p.grad().to_vector<float>()) ref.push_back(v);
    const auto ref_running = ref_model->named_buffers()[1].second.to_vector<float>();  // running_var

    DataParallel local(make_mlp(8, true), cpus(3), sgd(0.0));
    local.train_step(x, y);
    CHECK(rel_err(local.flat_grad(0).to_vector<float>(), ref) > 1e-3);  // local statistics differ

    DataParallel synced(make_mlp(8, true), cpus(3), sgd(0.0), {.sync_batchnorm = true});
    synced.train_step(x, y);
    for (int i = 0; i < 3; ++i) {
      CHECK(rel_err(synced.flat_grad(i).to_vector<float>(), ref) < 1e-6);
      CHECK(rel_err(synced.module(i)->named_buffers()[1].second.to_vector<float>(), ref_running) < 1e-6);
    }
  }
  DataParallel synced(make_mlp(8, true), cpus(3), sgd(0.0), {.sync_batchnorm = true});
  CHECK_THROWS_WITH_AS(synced.train_step(randn({2, 20}), zeros({2}, kInt64)),
                       doctest::Contains("needs a sample on every replica"), Error);
}

TEST_CASE("parallel: Dropout drops the same elements with k replicas as on one device") {
  auto make = [] {
    manual_seed(21);
    return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
        std::make_shared<nn::Linear>(20, 16), std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.5, 7),
        std::make_shared<nn::Linear>(16, 5)});
  };
  Generator g(3);
  Tensor x = randn({7, 20}, {}, &g);
  Tensor y = randint(0, 5, {7}, kInt64, &g);
  std::vector<std::vector<float>> grads;
  for (int k : {1, 2, 3}) {
    DataParallel dp(make(), cpus(k), sgd(0.0));
    for (int step = 0; step < 3; ++step) dp.train_step(x, y);  // masks advance identically every step
    grads.push_back(dp.flat_grad(0).to_vector<float>());
  }
  CHECK(rel_err(grads[1], grads[0]) < 1e-6);
  CHECK(rel_err(grads[2], grads[0]) < 1e-6);
  // and the masks really change from step to step (the check above is not trivial)
  DataParallel dp(make(), cpus(1), sgd(0.0));
  dp.train_step(x, y);
  auto first = dp.flat_grad(0).to_vector<float>();
  dp.train_step(x, y);
  CHECK(rel_err(dp.flat_grad(0).to_vector<float>(), first) > 1e-2);
}

TEST_CASE("parallel: parameter hashes ignore BatchNorm buffers, which differ until the next broadcast") {
  Generator g(4);
  Tensor x = randn({9, 20}, {}, &g);
  Tensor y = randint(0, 5, {9}, kInt64, &g);
  DataParallel dp(make_mlp(2, true), cpus(3), sgd(0.1), {.check_identical = true});
  for (int i = 0; i < 3; ++i) dp.train_step(x, y);  // check_identical would raise on a divergence
  CHECK(dp.replicas_identical());
  CHECK(dp.parameter_hash(0) == dp.parameter_hash(2));
}

TEST_CASE("parallel: the training step never makes the host wait (1 and 3 replicas, plain and synchronized BatchNorm)") {
  Generator g(21);
  Tensor x = randn({10, 20}, {}, &g);
  Tensor y = randint(0, 5, {10}, kInt64, &g);
  for (int k : {1, 3})
    for (bool sync_bn : {false, true}) {
      CAPTURE(k);
      CAPTURE(sync_bn);
      DataParallel dp(make_mlp(8, /*batchnorm=*/true), cpus(k), sgd(0.05, 0.9), {.sync_batchnorm = sync_bn});
      metrics::TrainingRecorder rec(dp, /*warmup_steps=*/0);
      rec.start_epoch();
      const std::uint64_t before = host_sync_count();
      for (int step = 0; step < 4; ++step) rec.record(dp.train_step(x, y));
      CHECK(host_sync_count() == before);  // no item(), no synchronize, no event wait, no copy to the host
      CHECK(rec.host_syncs_per_step() == 0.0);
      // Asking for a value is a synchronisation, and is counted (the counter can see one).
      auto r = dp.train_step(x, y);
      CHECK(r.done());  // CPU work is complete when train_step returns
      const double loss = r.loss();
      CHECK(host_sync_count() > before);
      CHECK(std::isfinite(loss));
      CHECK(std::isfinite(rec.mean_loss()));
    }
}

TEST_CASE("parallel: a step result gives the global mean loss, the replicas' loss sums and their phase times") {
  Generator g(22);
  Tensor x = randn({7, 20}, {}, &g);
  Tensor y = randint(0, 5, {7}, kInt64, &g);
  auto ref = make_mlp(6);
  const double ref_loss = cross_entropy(ref->forward(x), y).item();
  DataParallel dp(make_mlp(6), cpus(3), sgd(0.0));
  auto r = dp.train_step(x, y);
  r.wait();
  double sum = 0;
  for (auto& rs : r.replicas) {
    sum += rs.loss_sum.item();  // each replica's own SUM over its shard (3, 2 and 2 samples)
    CHECK(rs.time.forward >= 0.0);
    CHECK(rs.time.busy() > 0.0);
  }
  CHECK(sum / 7.0 == doctest::Approx(ref_loss).epsilon(1e-6));
  CHECK(r.loss() == doctest::Approx(ref_loss).epsilon(1e-6));  // summed with the gradients, divided by 7
  CHECK(r.loss_sum() == doctest::Approx(7.0 * ref_loss).epsilon(1e-6));
  CHECK(dp.flat_grad(0).numel() == dp.module(0)->num_parameters());  // the loss slot is not a gradient
}

TEST_CASE("parallel: a warm CPU training step takes all its large blocks from the cache") {
  if (!kernels::cpu::host_caching_enabled()) {
    MESSAGE("skipped: the host cache is off (MINIDP_CPU_NO_CACHE=1, or an AddressSanitizer build)");
    return;
  }
  manual_seed(3);
  auto model = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(256, 10)});
  // One replica: with two, their threads allocate and free concurrently, so
  // how many blocks of a size are in use at once (and so whether the cache
  // must grow once more) depends on how the threads interleave.
  DataParallel dp(model, parallel::parse_replicas("cpu"), [](std::vector<Tensor> ps) {
    return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.01, .momentum = 0.9});
  });
  const Tensor x = randn({64, 784}), y = randint(0, 10, {64});
  for (int i = 0; i < 3; ++i) dp.train_step(x, y).wait();  // the first steps fill the cache
  const auto before = kernels::cpu::host_cache_stats();
  for (int i = 0; i < 5; ++i) dp.train_step(x, y).wait();
  const auto after = kernels::cpu::host_cache_stats();
  CHECK(after.system_allocs == before.system_allocs);  // nothing new from the C library
  CHECK(after.cache_hits > before.cache_hits + 5);      // and the steps did allocate: from the cache
}

TEST_CASE("parallel: skip_nonfinite skips a step with a NaN sample on every replica and changes nothing") {
  Generator g(31);
  Tensor x = randn({12, 20}, {}, &g);
  Tensor y = randint(0, 5, {12}, kInt64, &g);
  Tensor bad = x.clone();
  bad.data<float>()[7 * 20 + 3] = std::nanf("");  // one value of sample 7 (replica 2's shard with 3 replicas)
  for (int k : {1, 3}) {
    parallel::DataParallelOptions o;
    o.skip_nonfinite = true;
    DataParallel dp(make_mlp(8), cpus(k), sgd(0.1, 0.9), o);
    parallel::StepResult first = dp.train_step(x, y);  // a normal step: momentum buffers exist now
    CHECK_FALSE(first.skipped);
    const std::uint64_t before = dp.parameter_hash(0);
    const auto momentum = dp.optimizer(0).state_tensors();
    REQUIRE(!momentum.empty());
    const std::vector<float> m_before = momentum[0].second.to_vector<float>();

    parallel::StepResult r = dp.train_step(bad, y);
    CHECK(r.skipped);
    for (auto& rs : r.replicas) CHECK(rs.skipped);  // every replica saw the same summed NaN
    // (The loss itself may stay finite: ReLU maps the NaN activation to 0, but
    // the first layer's weight gradient multiplies the NaN input.)
    CHECK(dp.parameter_hash(0) == before);  // the weights did not take it ...
    CHECK(dp.optimizer(0).state_tensors()[0].second.to_vector<float>() == m_before);  // ... nor the momentum
    CHECK(dp.replicas_identical());

    CHECK_FALSE(dp.train_step(x, y).skipped);  // and the next good batch trains
    CHECK(dp.parameter_hash(0) != before);
  }
  // Without the option the NaN reaches the weights: what the option is for.
  DataParallel plain(make_mlp(8), cpus(1), sgd(0.1, 0.9));
  CHECK_FALSE(plain.train_step(bad, y).skipped);
  const auto w = plain.module(0)->parameters()[0].to_vector<float>();
  CHECK(std::any_of(w.begin(), w.end(), [](float v) { return std::isnan(v); }));
}
