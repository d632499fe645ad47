// GPU tests of captured steps (DataParallelOptions::cuda_graph): a step
// replayed as a CUDA graph runs the same kernels on the same values as the
// eager step, so after any number of steps the parameters and every step's
// loss are bitwise those of eager training —
//   - one replica on cuda:0, and two replicas sharing cuda:0 (one graph, the
//     in-process sum inside it);
//   - batch shapes that change (a last, partial batch; a batch smaller than
//     the replica count) are captured once each;
//   - the graph's memory is a private pool, given back with the graphs;
//   - what cannot be captured (Dropout, skip_nonfinite) runs eagerly.
#include "gpu_test.h"

#include <map>
#include <tuple>

#include "minidp/kernels/cuda/allocator.h"

using namespace minidp;
using namespace minidp::test;

namespace {
nn::ModulePtr mlp(bool dropout = false) {
  manual_seed(23);
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<nn::Linear>(32, 64));
  m->add(std::make_shared<nn::ReLU>());
  if (dropout) m->add(std::make_shared<nn::Dropout>(0.25, 3));
  m->add(std::make_shared<nn::Linear>(64, 10));
  return m;
}

parallel::OptimizerFactory sgd_momentum() {
  return [](std::vector<Tensor> ps) {
    return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.05, .momentum = 0.9});
  };
}

struct Run {
  std::vector<Tensor> params;  // replica 0's, on the CPU
  std::vector<double> losses;  // every step's mean loss, read after the last step
  std::int64_t replays = 0, captures = 0;
  std::uint64_t syncs_in_steps = 0;  // host synchronisations while the steps were queued
};

// Steps on batches of the given sizes (the same data for every call), the
// losses read only at the end — as metrics::TrainingRecorder reads them.
Run train(const std::string& devices, bool graph, const std::vector<std::int64_t>& batches,
          parallel::DataParallelOptions o = {}, bool dropout = false) {
  o.cuda_graph = graph;
  parallel::DataParallel dp(mlp(dropout), parallel::parse_replicas(devices), sgd_momentum(), o);
  std::vector<parallel::StepResult> results;
  Run run;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const Tensor x = random_cpu({batches[i], 32}, kFloat32, -1, 1, 300 + i);
    const Tensor y = random_cpu({batches[i]}, kInt64, 0, 10, 400 + i);
    const std::uint64_t before = host_sync_count();
    results.push_back(dp.train_step(x, y));
    run.syncs_in_steps += host_sync_count() - before;
  }
  for (auto& r : results) run.losses.push_back(r.loss());
  for (auto& p : dp.module(0)->parameters()) run.params.push_back(p.detach().to(Device::cpu()));
  CHECK(dp.replicas_identical());
  run.replays = dp.graph_replays();
  run.captures = dp.graph_captures();
  return run;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<std::size_t>(ca.numel()) * dtype_size(ca.dtype())) == 0;
}

void check_same(const Run& graph, const Run& eager) {
  REQUIRE(graph.params.size() == eager.params.size());
  for (std::size_t i = 0; i < graph.params.size(); ++i) {
    CAPTURE(i);
    CHECK(bitwise_equal(graph.params[i], eager.params[i]));
  }
  REQUIRE(graph.losses.size() == eager.losses.size());
  for (std::size_t i = 0; i < graph.losses.size(); ++i) {
    CAPTURE(i);
    CHECK(graph.losses[i] == eager.losses[i]);  // each step's own loss, not the last replay's
  }
}
}  // namespace

GPU_TEST_CASE("cuda graph: 6 steps on cuda:0 replayed equal eager steps bitwise (MLP, SGD momentum)") {
  const std::vector<std::int64_t> batches(6, 16);
  const Run eager = train("cuda:0", false, batches);
  const Run graph = train("cuda:0", true, batches);
  CHECK(eager.replays == 0);
  CHECK(graph.captures == 1);
  CHECK(graph.replays == 4);  // two warm-up steps, then the capture's step and three more
  CHECK(graph.syncs_in_steps == 0);
  check_same(graph, eager);
}

GPU_TEST_CASE("cuda graph: two replicas on cuda:0,cuda:0 replayed equal eager steps bitwise") {
  const std::vector<std::int64_t> batches(6, 16);
  const Run eager = train("cuda:0,cuda:0", false, batches);
  const Run graph = train("cuda:0,cuda:0", true, batches);
  CHECK(graph.captures == 1);
  CHECK(graph.replays == 4);
  CHECK(graph.syncs_in_steps == 0);
  check_same(graph, eager);
  // And the same as one replica on the whole batch, to the usual tolerance.
  const Run one = train("cuda:0", true, batches);
  for (std::size_t i = 0; i < one.params.size(); ++i) CHECK_CLOSE_TO_CPU(graph.params[i], one.params[i], 1e-5);
}

GPU_TEST_CASE("cuda graph: a shape change (last partial batch, batch smaller than the replicas) captures again") {
  // Each shape: two eager warm-up steps, then captured once and replayed.
  const std::vector<std::int64_t> batches = {16, 16, 16, 16, 7, 16, 7, 7, 16, 7, 1, 1, 1, 1};
  for (const char* devices : {"cuda:0", "cuda:0,cuda:0"}) {
    CAPTURE(devices);
    const Run eager = train(devices, false, batches);
    const Run graph = train(devices, true, batches);
    CHECK(graph.captures == 3);  // 16, 7 and 1 (on two replicas: one of them with no sample)
    CHECK(graph.replays == 4 + 2 + 2);  // 16: steps 2, 3, 5, 8; 7: steps 7, 9; 1: steps 12, 13
    check_same(graph, eager);
  }
}

GPU_TEST_CASE("cuda graph: the graph's memory is a private pool, given back with the graphs") {
  const std::size_t before = kernels::cuda::private_pool_reserved(0);
  {
    parallel::DataParallelOptions o;
    o.cuda_graph = true;
    parallel::DataParallel dp(mlp(), parallel::parse_replicas("cuda:0"), sgd_momentum(), o);
    const Tensor x = random_cpu({16, 32}, kFloat32, -1, 1, 1);
    const Tensor y = random_cpu({16}, kInt64, 0, 10, 2);
    for (int i = 0; i < 4; ++i) dp.train_step(x, y);
    CHECK(dp.graphs_held() == 1);
    CHECK(kernels::cuda::private_pool_reserved(0) > before);
    // Eager work after the graph does not take the graph's blocks: a replay
    // after it still gives the eager result (checked bitwise above); here the
    // pool's size must not change with eager allocations.
    const std::size_t held = kernels::cuda::private_pool_reserved(0);
    Tensor scratch = randn({1024, 1024}).to(Device::cuda(0));
    CHECK(kernels::cuda::private_pool_reserved(0) == held);
    dp.train_step(x, y).wait();
  }
  CHECK(kernels::cuda::private_pool_reserved(0) == before);
}

GPU_TEST_CASE("cuda graph: what needs the host mid-step runs eagerly, with the eager result") {
  const std::vector<std::int64_t> batches(5, 16);
  parallel::DataParallelOptions skip;
  skip.skip_nonfinite = true;
  const Run a = train("cuda:0", true, batches, skip);
  CHECK(a.replays == 0);
  check_same(a, train("cuda:0", false, batches, skip));
  const Run b = train("cuda:0", true, batches, {}, /*dropout=*/true);
  CHECK(b.replays == 0);
  check_same(b, train("cuda:0", false, batches, {}, /*dropout=*/true));
}

GPU_TEST_CASE("cuda graph: the optimizer's step count follows replayed steps (a checkpoint after 6 steps says 6)") {
  parallel::DataParallelOptions o;
  o.cuda_graph = true;
  parallel::DataParallel dp(mlp(), parallel::parse_replicas("cuda:0,cuda:0"), sgd_momentum(), o);
  for (int i = 0; i < 6; ++i)
    dp.train_step(random_cpu({16, 32}, kFloat32, -1, 1, 500 + i), random_cpu({16}, kInt64, 0, 10, 600 + i));
  CHECK(dp.graph_replays() >= 3);
  for (int r = 0; r < dp.size(); ++r) CHECK(dp.optimizer(r).steps_taken() == 6);
  CHECK(dp.optimizer(0).state_scalars().at("optimizer.step") == "6");
}

GPU_TEST_CASE("cuda graph: reloaded optimizer state, reloaded weights or a TF32 switch capture again, with the eager result") {
  // Steps 1-4, then every replica's momentum buffers and weights are loaded
  // anew (new buffers at new addresses: a stale graph would write the freed
  // old ones), steps 5-8, then TF32 on for steps 9-10. Graph and eager runs
  // must agree bit for bit, and the graph run must have captured again.
  auto run = [](bool graph) {
    parallel::DataParallelOptions o;
    o.cuda_graph = graph;
    parallel::DataParallel dp(mlp(), parallel::parse_replicas("cuda:0,cuda:0"), sgd_momentum(), o);
    struct Tf32Off {
      ~Tf32Off() { set_allow_tf32(false); }
    } restore;
    std::vector<double> losses;
    for (int i = 0; i < 10; ++i) {
      if (i == 4)
        for (int r = 0; r < dp.size(); ++r) {
          std::map<std::string, Tensor> st;
          for (auto& [name, t] : dp.optimizer(r).state_tensors()) st[name] = t.to(Device::cpu()).clone();
          dp.optimizer(r).load_state_tensors(st);
          std::map<std::string, Tensor> w;
          for (auto& [name, t] : dp.module(r)->state_dict()) w[name] = t.detach().to(Device::cpu()).clone();
          dp.module(r)->load_state_dict(w);
        }
      if (i == 8) set_allow_tf32(true);
      losses.push_back(dp.train_step(random_cpu({16, 32}, kFloat32, -1, 1, 700 + i),
                                     random_cpu({16}, kInt64, 0, 10, 800 + i))
                           .loss());
    }
    std::vector<Tensor> params;
    for (auto& p : dp.module(0)->parameters()) params.push_back(p.detach().to(Device::cpu()));
    return std::make_tuple(losses, params, dp.graph_captures());
  };
  const auto [lg, pg, captures] = run(true);
  const auto [le, pe, none] = run(false);
  CHECK(captures >= 2);  // captured again after the reload (and the TF32 switch)
  CHECK(none == 0);
  for (std::size_t i = 0; i < lg.size(); ++i) {
    CAPTURE(i);
    CHECK(lg[i] == le[i]);
  }
  for (std::size_t i = 0; i < pg.size(); ++i) CHECK(minidp::test::bitwise_equal(pg[i], pe[i]));
}
