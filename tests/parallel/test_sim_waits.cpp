// Proof that the parallel layer's event waits are needed, and that the
// simulated GPU catches each one missing: every wait of parallel/wait_sites.h
// is switched off in turn, in a case on sim:0 where one stream is held back by
// a gate (as a slow kernel would hold it on a GPU). With the wait the case
// gives the CPU's bits; without it, a wrong result. (The MPI path's two waits:
// tests/distributed/test_distributed.cpp.)
#include <doctest/doctest.h>

#include <cstdio>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include "minidp/core/sanitizers.h"
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

// New weights for every replica, loaded from the host between two steps (as a
// checkpoint load would): each parameter halved. Read first, written after.
std::vector<Tensor> halves(DataParallel& dp) {
  std::vector<Tensor> h;
  for (int rank = 0; rank < dp.size(); ++rank)
    for (const Tensor& p : dp.module(rank)->parameters()) h.push_back(p.to(Device::cpu()) * 0.5);
  return h;
}
void load(DataParallel& dp, const std::vector<Tensor>& h) {
  NoGradGuard ng;
  std::size_t k = 0;
  for (int rank = 0; rank < dp.size(); ++rank)
    for (Tensor& p : dp.module(rank)->parameters()) p.copy_(h[k++]);
}

// The step of `b` on two CPU replicas: the bits every scenario must give.
Outcome reference(bool loaded) {
  Batch b;
  DataParallel dp(mlp(), parallel::parse_replicas("cpu,cpu"), sgd());
  if (loaded) load(dp, halves(dp));
  parallel::StepResult r = dp.train_step(b.x, b.y);
  return collect(dp, r);
}

// Two ranks of an in-process communicator on two streams of sim:0, each on a
// thread of its own, as DataParallel's replica threads call it.
struct TwoRanks {
  const Device dev = Device::sim(0);
  parallel::InProcessCommunicator comm{2};
  Stream s[2] = {create_stream(dev), create_stream(dev)};
  ~TwoRanks() {
    synchronize(dev);
    for (const Stream& x : s) destroy_stream_noexcept(x);
  }
  Tensor filled(double v) {  // on sim:0, landed
    Tensor t = full({4}, v, TensorOptions().with_device(dev));
    synchronize(dev);
    return t;
  }
  void on(int rank, const std::function<void()>& fn) {
    DeviceGuard dg(dev);
    StreamGuard sg(s[rank]);
    fn();
  }
  void run(const std::function<void(int)>& fn) {  // every rank at once
    std::exception_ptr error;
    std::thread other([&] {
      try {
        on(1, [&] { fn(1); });
      } catch (...) {  // an exception leaving a thread would end the test program
        error = std::current_exception();
        comm.abort("rank 1 failed");
      }
    });
    try {
      on(0, [&] { fn(0); });
    } catch (...) {
      comm.abort("rank 0 failed");
      other.join();
      throw;
    }
    other.join();
    if (error) std::rethrow_exception(error);
  }
};

Outcome values(std::initializer_list<Tensor> ts) {
  synchronize(Device::sim(0));  // every stream of the device: the ranks' copies too
  Outcome o;
  for (const Tensor& t : ts) o.params.push_back(t.to(Device::cpu()).to_vector<float>());
  return o;
}

// The captured step on sim:0 x 2 (two eager warm-up steps, then the graph),
// five steps; `last` runs around the fifth, given the replicas' streams.
parallel::DataParallelOptions graph_options() {
  parallel::DataParallelOptions o;
  o.cuda_graph = true;
  return o;
}
Outcome graph_run(const char* devices, const std::function<parallel::StepResult(DataParallel&, const Tensor&, const Tensor&)>& last) {
  DataParallel dp(mlp(), parallel::parse_replicas(devices), sgd(), graph_options());
  parallel::StepResult r;
  for (int step = 0; step < 5; ++step) {
    Generator g(50 + step);
    const Tensor x = randn({16, 20}, {}, &g), y = randint(0, 5, {16}, kInt64, &g);
    r = step < 4 ? dp.train_step(x, y) : last(dp, x, y);
  }
  Outcome o = collect(dp, r);
  if (std::string(devices) != "cpu,cpu") CHECK(dp.graph_replays() >= 2);
  return o;
}
Outcome graph_reference() {
  return graph_run("cpu,cpu", [](DataParallel& dp, const Tensor& x, const Tensor& y) { return dp.train_step(x, y); });
}

// One case shaped so that the wait at `site` is the only thing that orders
// its two sides: one stream is held back by a gate (as a slow kernel would
// hold it on a GPU). Each case is a way real code depends on the wait.
struct Scenario {
  WaitSite site;
  const char* what;
  Outcome (*want)();
  Outcome (*run)(Gate& gate);
};

Outcome plain() { return reference(false); }
Outcome loaded() { return reference(true); }
Outcome dp_run(const std::function<Outcome(DataParallel&, Batch&)>& fn) {
  Batch b;
  DataParallel dp(mlp(), parallel::parse_replicas("sim:0,sim:0"), sgd());
  return fn(dp, b);
}

const Scenario kScenarios[] = {
    {WaitSite::CallerToReplicas, "a batch on the device, written late by the caller", plain,
     [](Gate& gate) {
       return dp_run([&](DataParallel& dp, Batch& b) {
         const Device s0 = Device::sim(0);
         Tensor x = b.x.to(s0), y = b.y.to(s0), late = zeros({16, 20}, TensorOptions().with_device(s0));
         synchronize(s0);
         gate.block(current_stream(s0));
         late.copy_(x);
         parallel::StepResult r = dp.train_step(late, y);
         if (wait_skipped(WaitSite::CallerToReplicas)) r.wait();  // the replicas finish on the zeros
         gate.open();
         return collect(dp, r);
       });
     }},
    {WaitSite::CallerToReplicas, "weights loaded on the caller's stream, then a host batch", loaded,
     [](Gate& gate) {
       return dp_run([&](DataParallel& dp, Batch& b) {
         const std::vector<Tensor> h = halves(dp);
         gate.block(current_stream(Device::sim(0)));
         load(dp, h);  // staged now, written when the gate opens
         parallel::StepResult r = dp.train_step(b.x, b.y);
         if (wait_skipped(WaitSite::CallerToReplicas)) r.wait();  // the step ran on the old weights
         gate.open();
         return collect(dp, r);
       });
     }},
    {WaitSite::ReplicasToCaller, "the batch's memory overwritten by the caller after the step", plain,
     [](Gate& gate) {
       return dp_run([&](DataParallel& dp, Batch& b) {
         const Device s0 = Device::sim(0);
         Tensor x = b.x.to(s0), y = b.y.to(s0), other = b.other.to(s0);
         synchronize(s0);
         for (int rank = 0; rank < 2; ++rank) gate.block(dp.replica(rank).stream);
         parallel::StepResult r = dp.train_step(x, y);
         x.copy_(other);  // on the caller's stream: must wait for the replicas' reads
         if (wait_skipped(WaitSite::ReplicasToCaller)) synchronize(current_stream(s0));
         gate.open();
         return collect(dp, r);
       });
     }},
    {WaitSite::ReplicasToCaller, "the weights read on the caller's stream right after a host batch", plain,
     [](Gate& gate) {
       return dp_run([&](DataParallel& dp, Batch& b) {
         for (int rank = 0; rank < 2; ++rank) gate.block(dp.replica(rank).stream);
         parallel::StepResult r = dp.train_step(b.x, b.y);
         std::vector<Tensor> snap;  // device copies on the caller's stream, taken before the host waits
         for (int rank = 0; rank < dp.size(); ++rank)
           for (const Tensor& p : dp.module(rank)->parameters()) snap.push_back(p.clone());
         if (wait_skipped(WaitSite::ReplicasToCaller)) synchronize(current_stream(Device::sim(0)));
         gate.open();
         Outcome o;
         o.loss = r.loss();
         for (const Tensor& t : snap) o.params.push_back(t.to(Device::cpu()).to_vector<float>());
         return o;
       });
     }},
    {WaitSite::SumInputsReady, "replica 1 slow: rank 0's stream must not sum its buckets yet", plain,
     [](Gate& gate) {
       return dp_run([&](DataParallel& dp, Batch& b) {
         const Tensor x = b.x.to(Device::sim(0)), y = b.y.to(Device::sim(0));
         gate.block(dp.replica(1).stream);
         parallel::StepResult r = dp.train_step(x, y);
         if (wait_skipped(WaitSite::SumInputsReady)) synchronize(dp.replica(0).stream);  // summed without replica 1
         gate.open();
         return collect(dp, r);
       });
     }},
    {WaitSite::SumLanded, "replica 0 (which sums) slow: replica 1 must wait for the sum", plain,
     [](Gate& gate) {
       return dp_run([&](DataParallel& dp, Batch& b) {
         const Tensor x = b.x.to(Device::sim(0)), y = b.y.to(Device::sim(0));
         gate.block(dp.replica(0).stream);
         parallel::StepResult r = dp.train_step(x, y);
         if (wait_skipped(WaitSite::SumLanded)) synchronize(dp.replica(1).stream);
         gate.open();
         return collect(dp, r);
       });
     }},
    {WaitSite::BroadcastSourceReady, "broadcast: the root's value is written late on its stream",
     [] { return Outcome{0, {std::vector<float>(4, 3.f)}}; },
     [](Gate& gate) {
       TwoRanks k;
       Tensor t[2] = {k.filled(0), k.filled(0)};
       const Tensor src = k.filled(3);
       gate.block(k.s[0]);
       k.on(0, [&] { t[0].copy_(src); });
       k.run([&](int r) { k.comm.broadcast(r, t[r], 0); });
       if (wait_skipped(WaitSite::BroadcastSourceReady)) synchronize(k.s[1]);  // rank 1 copied the zeros
       gate.open();
       return values({t[1]});
     }},
    {WaitSite::BroadcastCopied, "broadcast: the root overwrites its value right after", 
     [] { return Outcome{0, {std::vector<float>(4, 3.f)}}; },
     [](Gate& gate) {
       TwoRanks k;
       Tensor t[2] = {k.filled(3), k.filled(0)};
       const Tensor next = k.filled(7);
       gate.block(k.s[1]);
       k.run([&](int r) { k.comm.broadcast(r, t[r], 0); });
       k.on(0, [&] { t[0].copy_(next); });  // the root's stream goes on with its work
       if (wait_skipped(WaitSite::BroadcastCopied)) synchronize(k.s[0]);
       gate.open();
       return values({t[1]});
     }},
    {WaitSite::AllgatherInputsReady, "allgather: rank 1's input is written late on its (slow) stream",
     [] { return Outcome{0, {{1, 1, 1, 1, 2, 2, 2, 2}}}; },
     [](Gate& gate) {
       gate.open();  // a slow stream instead: rank 1's work waits 300 ms per task
       TwoRanks k;
       Tensor in[2] = {k.filled(1), k.filled(0)};
       Tensor out[2] = {zeros({8}, TensorOptions().with_device(k.dev)), zeros({8}, TensorOptions().with_device(k.dev))};
       const Tensor two = k.filled(2);
       sim::set_stream_delay_for_testing(k.s[1].handle, 0, 300000);
       k.on(1, [&] { in[1].copy_(two); });
       k.run([&](int r) { k.comm.allgather(r, in[r], out[r]); });
       Outcome o = values({out[0]});  // without the wait rank 0 gathered the zeros
       sim::set_stream_delay_for_testing(k.s[1].handle, 0, 0);
       return o;
     }},
    {WaitSite::AllgatherCopied, "allgather: rank 0 overwrites its input while rank 1 (slow) copies",
     [] { return Outcome{0, {{1, 1, 1, 1, 2, 2, 2, 2}}}; },
     [](Gate& gate) {
       gate.open();
       TwoRanks k;
       Tensor in[2] = {k.filled(1), k.filled(2)};
       Tensor out[2] = {zeros({8}, TensorOptions().with_device(k.dev)), zeros({8}, TensorOptions().with_device(k.dev))};
       const Tensor nine = k.filled(9);
       sim::set_stream_delay_for_testing(k.s[1].handle, 0, 300000);
       k.run([&](int r) { k.comm.allgather(r, in[r], out[r]); });
       k.on(0, [&] { in[0].copy_(nine); });  // rank 0's stream goes on with its work
       Outcome o = values({out[1]});
       sim::set_stream_delay_for_testing(k.s[1].handle, 0, 0);
       return o;
     }},
    {WaitSite::GraphInputsReady, "captured step: replica 1's input copy is slow", graph_reference,
     [](Gate& gate) {
       return graph_run("sim:0,sim:0", [&](DataParallel& dp, const Tensor& x, const Tensor& y) {
         gate.block(dp.replica(1).stream);
         parallel::StepResult r = dp.train_step(x, y);
         if (wait_skipped(WaitSite::GraphInputsReady)) synchronize(dp.replica(0).stream);  // replayed on the last batch
         gate.open();
         return r;
       });
     }},
    {WaitSite::GraphDone, "captured step: replica 1's step time must cover the graph",
     [] { return Outcome{0, {{1}}}; },
     [](Gate& gate) {
       // The graph runs on replica 0's stream; replica 1's phase events come
       // after it only through this wait. Without it replica 1 reports a step
       // of almost no time, and the load-balance figures lie.
       double forward1 = 0;
       graph_run("sim:0,sim:0", [&](DataParallel& dp, const Tensor& x, const Tensor& y) {
         gate.block(dp.replica(0).stream);
         parallel::StepResult r = dp.train_step(x, y);
         std::this_thread::sleep_for(std::chrono::milliseconds(300));
         gate.open();
         r.wait();
         forward1 = r.replicas[1].time.forward;
         return r;
       });
       // Held 300 ms, less what the streams still had queued from the steps before.
       return Outcome{0, {{forward1 >= 0.15 ? 1.f : 0.f}}};
     }},
};

using minidp::kThreadSanitizer;  // (core/sanitizers.h: g++'s and clang's spelling)

struct SkipWait {
  WaitSite site;
  explicit SkipWait(WaitSite s) : site(s) { parallel::skip_wait_for_testing(site, true); }
  ~SkipWait() { parallel::skip_wait_for_testing(site, false); }
};

// How `got` differs from `want`, in a few words for the table.
std::string difference(const Outcome& got, const Outcome& want) {
  char buf[160];
  if (got.loss != want.loss) {
    std::snprintf(buf, sizeof buf, "loss %.6f, want %.6f", got.loss, want.loss);
    return buf;
  }
  for (std::size_t i = 0; i < got.params.size() && i < want.params.size(); ++i)
    for (std::size_t j = 0; j < got.params[i].size() && j < want.params[i].size(); ++j)
      if (!(got.params[i][j] == want.params[i][j])) {
        std::snprintf(buf, sizeof buf, "value %g, want %g (tensor %zu, element %zu)", got.params[i][j],
                      want.params[i][j], i, j);
        return buf;
      }
  return got == want ? "equal" : "shapes differ";
}
}  // namespace

TEST_CASE("sim: each event wait of the parallel layer, switched off, lets a wrong result through") {
  sim::set_shake(31, 100);
  std::printf("%-22s %-65s %-11s %s\n", "wait switched off", "case", "with it", "without it");
  int sites_seen = 0;
  for (const Scenario& sc : kScenarios) {
    CAPTURE(parallel::wait_site_name(sc.site));
    CAPTURE(sc.what);
    const Outcome want = sc.want();
    Outcome with, without;
    {
      Gate gate;
      with = sc.run(gate);
    }
    CHECK(with == want);
    if (kThreadSanitizer) {  // without the wait the case is a data race by design: ThreadSanitizer stops there
      std::printf("%-22s %-65s %-11s %s\n", parallel::wait_site_name(sc.site), sc.what, with == want ? "right" : "WRONG",
                  "(not run under ThreadSanitizer: the race is the point)");
      sites_seen |= 1 << static_cast<int>(sc.site);
      continue;
    }
    {
      SkipWait off(sc.site);
      Gate gate;
      without = sc.run(gate);
    }
    CHECK_FALSE(without == want);
    std::printf("%-22s %-65s %-11s %s\n", parallel::wait_site_name(sc.site), sc.what,
                with == want ? "right" : "WRONG", (without == want ? std::string("right (not caught)")
                                                                    : "wrong: " + difference(without, want)).c_str());
    sites_seen |= 1 << static_cast<int>(sc.site);
  }
  // Every site has a case here, but the MPI path's, which need processes
  // (tests/distributed/test_distributed.cpp).
  const int mpi = (1 << static_cast<int>(WaitSite::MpiInputsReady)) | (1 << static_cast<int>(WaitSite::MpiSumLanded));
  CHECK(sites_seen == ((1 << static_cast<int>(WaitSite::kCount)) - 1 & ~mpi));
  sim::set_shake(0);
}
