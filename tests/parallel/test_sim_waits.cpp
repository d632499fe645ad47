// Proof that the parallel layer's event waits are needed, and that the
// simulated GPU catches each one missing: every wait of parallel/wait_sites.h
// is switched off in turn, in a step on sim:0 x 2 where one stream is held
// back by a gate (as a slow kernel would hold it on a GPU). With the wait the
// step gives the CPU replicas' bits; without it, a wrong result.
#include <doctest/doctest.h>

#include <cstdio>
#include <future>

#include "minidp/kernels/sim/runtime.h"
#include "minidp/minidp.h"
#include "sim_util.h"
#include "minidp/parallel/wait_sites.h"

using namespace minidp;
using test::Gate;
using test::Shake;
using parallel::DataParallel;
using parallel::WaitSite;
namespace sim = kernels::sim;

namespace {
nn::ModulePtr mlp() {
  manual_seed(6);
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(20, 16), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(16, 5)});
}
parallel::OptimizerFactory sgd() {
  return [](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.1, .momentum = 0.9}); };
}


struct Outcome {
  double loss = 0;
  std::vector<std::vector<float>> params;  // every replica's, on the host
  bool operator==(const Outcome& o) const { return loss == o.loss && params == o.params; }
};

Outcome collect(DataParallel& dp, parallel::StepResult& r) {
  Outcome o;
  o.loss = r.loss();
  for (int rank = 0; rank < dp.size(); ++rank)
    for (const Tensor& p : dp.module(rank)->parameters()) o.params.push_back(p.to(Device::cpu()).to_vector<float>());
  return o;
}

struct Batch {
  Tensor x, y, other;
  Batch() {
    Generator g(8);
    x = randn({16, 20}, {}, &g);
    y = randint(0, 5, {16}, kInt64, &g);
    other = randn({16, 20}, {}, &g);
  }
};

// The step of `b` on two CPU replicas: the bits every scenario must give.
Outcome reference() {
  Batch b;
  DataParallel dp(mlp(), parallel::parse_replicas("cpu,cpu"), sgd());
  parallel::StepResult r = dp.train_step(b.x, b.y);
  return collect(dp, r);
}

// One step on sim:0 x 2 with the batch on the device, shaped so that the wait
// at `site` is the only thing that orders the two sides.
Outcome scenario(WaitSite site) {
  const Device s0 = Device::sim(0);
  Batch b;
  DataParallel dp(mlp(), parallel::parse_replicas("sim:0,sim:0"), sgd());
  Tensor x = b.x.to(s0), y = b.y.to(s0), other = b.other.to(s0);
  synchronize(s0);
  const Stream caller = current_stream(s0);
  Gate gate;
  parallel::StepResult r;
  switch (site) {
    case WaitSite::BatchReady: {  // the batch is written on the caller's stream, late
      Tensor late = zeros({16, 20}, TensorOptions().with_device(s0));
      synchronize(s0);
      gate.block(caller);
      late.copy_(x);
      r = dp.train_step(late, y);
      if (wait_skipped(site)) r.wait();  // the replicas finish on the zeros
      gate.open();
      break;
    }
    case WaitSite::BatchRelease: {  // the caller overwrites the batch as soon as train_step returns
      for (int rank = 0; rank < 2; ++rank) gate.block(dp.replica(rank).stream);
      r = dp.train_step(x, y);
      x.copy_(other);  // on the caller's stream: must wait for the replicas' reads
      if (wait_skipped(site)) synchronize(caller);
      gate.open();
      break;
    }
    case WaitSite::SumInputsReady:  // replica 1 is slow: rank 0's stream must not sum its buckets yet
      gate.block(dp.replica(1).stream);
      r = dp.train_step(x, y);
      if (wait_skipped(site)) synchronize(dp.replica(0).stream);  // rank 0 sums without replica 1
      gate.open();
      break;
    case WaitSite::SumLanded:  // replica 0 (the one that sums) is slow: replica 1 must wait for the sum
      gate.block(dp.replica(0).stream);
      r = dp.train_step(x, y);
      if (wait_skipped(site)) synchronize(dp.replica(1).stream);
      gate.open();
      break;
    case WaitSite::kCount: break;
  }
  return collect(dp, r);
}

struct SkipWait {
  WaitSite site;
  explicit SkipWait(WaitSite s) : site(s) { parallel::skip_wait_for_testing(site, true); }
  ~SkipWait() { parallel::skip_wait_for_testing(site, false); }
};
}  // namespace

TEST_CASE("sim: each event wait of the parallel layer, switched off, lets a wrong result through") {
  sim::set_shake(31, 100);
  const Outcome want = reference();
  std::printf("%-66s %-12s %s\n", "wait switched off", "with it", "without it");
  for (WaitSite site : {WaitSite::BatchReady, WaitSite::BatchRelease, WaitSite::SumInputsReady, WaitSite::SumLanded}) {
    CAPTURE(parallel::wait_site_name(site));
    const Outcome with = scenario(site);
    Outcome without;
    {
      SkipWait off(site);
      without = scenario(site);
    }
    CHECK(with == want);
    CHECK_FALSE(without == want);
    std::printf("%-66s %-12s %s (loss %.6f, want %.6f)\n", parallel::wait_site_name(site),
                with == want ? "CPU's bits" : "WRONG", without == want ? "CPU's bits (not caught)" : "wrong",
                without.loss, want.loss);
  }
  sim::set_shake(0);
}
