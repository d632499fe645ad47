// The captured step (DataParallelOptions::cuda_graph) on the simulated GPU:
// the same graph logic as on CUDA — warm-up, capture of every replica's
// stream into one graph, replay with one launch, capture again on a new shape
// or a stale state — run on the CPU, with shake on. A replayed step runs the
// recorded kernels on the same tensors, so every step's loss and the final
// parameters are bitwise those of eager training (on sim, and on the CPU).
#include <doctest/doctest.h>

#include <map>
#include <tuple>

#include "minidp/kernels/sim/runtime.h"
#include "minidp/minidp.h"
#include "sim_util.h"

using namespace minidp;
using test::Gate;
using test::Shake;
namespace sim = kernels::sim;

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
  return [](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.05, .momentum = 0.9}); };
}


struct Run {
  std::vector<std::vector<float>> params;  // replica 0's, on the host
  std::vector<double> losses;              // every step's mean loss, read after the last step
  std::int64_t replays = 0, captures = 0;
  std::uint64_t syncs_in_steps = 0;
};

Run train(const std::string& devices, bool graph, const std::vector<std::int64_t>& batches,
          parallel::DataParallelOptions o = {}, bool dropout = false) {
  o.cuda_graph = graph;
  parallel::DataParallel dp(mlp(dropout), parallel::parse_replicas(devices), sgd_momentum(), o);
  std::vector<parallel::StepResult> results;
  Run run;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    Generator g(300 + i);
    const Tensor x = randn({batches[i], 32}, {}, &g);
    const Tensor y = randint(0, 10, {batches[i]}, kInt64, &g);
    const std::uint64_t before = host_sync_count();
    results.push_back(dp.train_step(x, y));
    run.syncs_in_steps += host_sync_count() - before;
  }
  for (auto& r : results) run.losses.push_back(r.loss());
  for (auto& p : dp.module(0)->parameters()) run.params.push_back(p.to(Device::cpu()).to_vector<float>());
  CHECK(dp.replicas_identical());
  run.replays = dp.graph_replays();
  run.captures = dp.graph_captures();
  return run;
}

void check_same(const Run& a, const Run& b) {
  CHECK(a.losses == b.losses);  // each step's own loss, not the last replay's
  CHECK(a.params == b.params);
}
}  // namespace

TEST_CASE("sim graph: 6 steps replayed equal eager steps bitwise (sim:0 and sim:0,sim:0, SGD momentum)") {
  Shake shake(12);
  const std::vector<std::int64_t> batches(6, 16);
  for (const char* devices : {"sim:0", "sim:0,sim:0"}) {
    CAPTURE(devices);
    const Run eager = train(devices, false, batches);
    const Run graph = train(devices, true, batches);
    CHECK(eager.replays == 0);
    CHECK(graph.captures == 1);
    CHECK(graph.replays == 4);  // two warm-up steps, then the capture's step and three more
    CHECK(graph.syncs_in_steps == 0);
    check_same(graph, eager);
    check_same(graph, train(std::string(devices) == "sim:0" ? "cpu" : "cpu,cpu", false, batches));  // the CPU's bits
  }
}

TEST_CASE("sim graph: a shape change (last partial batch, batch smaller than the replicas) captures again") {
  Shake shake(13);
  const std::vector<std::int64_t> batches = {16, 16, 16, 16, 7, 16, 7, 7, 16, 7, 1, 1, 1, 1};
  for (const char* devices : {"sim:0", "sim:0,sim:0"}) {
    CAPTURE(devices);
    const Run eager = train(devices, false, batches);
    const Run graph = train(devices, true, batches);
    CHECK(graph.captures == 3);         // 16, 7 and 1 (on two replicas: one of them with no sample)
    CHECK(graph.replays == 4 + 2 + 2);  // 16: steps 2, 3, 5, 8; 7: steps 7, 9; 1: steps 12, 13
    check_same(graph, eager);
  }
}

TEST_CASE("sim graph: what needs the host mid-step runs eagerly, with the eager result") {
  const std::vector<std::int64_t> batches(5, 16);
  parallel::DataParallelOptions skip;
  skip.skip_nonfinite = true;
  const Run a = train("sim:0", true, batches, skip);
  CHECK(a.replays == 0);
  check_same(a, train("sim:0", false, batches, skip));
  const Run b = train("sim:0", true, batches, {}, /*dropout=*/true);
  CHECK(b.replays == 0);
  check_same(b, train("sim:0", false, batches, {}, /*dropout=*/true));
}

TEST_CASE("sim graph: the optimizer's step count follows replayed steps (a checkpoint after 6 steps says 6)") {
  parallel::DataParallelOptions o;
  o.cuda_graph = true;
  parallel::DataParallel dp(mlp(), parallel::parse_replicas("sim:0,sim:0"), sgd_momentum(), o);
  for (int i = 0; i < 6; ++i) {
    Generator g(500 + i);
    dp.train_step(randn({16, 32}, {}, &g), randint(0, 10, {16}, kInt64, &g));
  }
  CHECK(dp.graph_replays() == 4);
  for (int r = 0; r < dp.size(); ++r) CHECK(dp.optimizer(r).steps_taken() == 6);
  CHECK(dp.optimizer(0).state_scalars().at("optimizer.step") == "6");
}

TEST_CASE("sim graph: reloaded optimizer state, reloaded weights or a new learning rate capture again, with the eager result") {
  Shake shake(14);
  auto run = [](bool graph) {
    parallel::DataParallelOptions o;
    o.cuda_graph = graph;
    parallel::DataParallel dp(mlp(), parallel::parse_replicas("sim:0,sim:0"), sgd_momentum(), o);
    std::vector<double> losses;
    for (int i = 0; i < 12; ++i) {
      if (i == 4)
        for (int r = 0; r < dp.size(); ++r) {
          std::map<std::string, Tensor> st;
          for (auto& [name, t] : dp.optimizer(r).state_tensors()) st[name] = t.to(Device::cpu()).clone();
          dp.optimizer(r).load_state_tensors(st);
          std::map<std::string, Tensor> w;
          for (auto& [name, t] : dp.module(r)->state_dict()) w[name] = t.detach().to(Device::cpu()).clone();
          dp.module(r)->load_state_dict(w);
        }
      if (i == 8)
        for (int r = 0; r < dp.size(); ++r) dp.optimizer(r).set_lr(0.01);
      Generator g(700 + i);
      losses.push_back(dp.train_step(randn({16, 32}, {}, &g), randint(0, 10, {16}, kInt64, &g)).loss());
    }
    std::vector<std::vector<float>> params;
    for (auto& p : dp.module(0)->parameters()) params.push_back(p.to(Device::cpu()).to_vector<float>());
    return std::make_tuple(losses, params, dp.graph_captures());
  };
  const auto [lg, pg, captures] = run(true);
  const auto [le, pe, none] = run(false);
  CHECK(captures == 3);  // at the start, after the reload, after the new rate
  CHECK(none == 0);
  CHECK(lg == le);
  CHECK(pg == pe);
}
