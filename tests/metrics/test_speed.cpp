// LossMeter, ThroughputMeter, StepTimer, MemoryTracker, LoadBalance, scaling efficiency.
#include <doctest/doctest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "minidp/metrics/metrics.h"

using namespace minidp;
using namespace minidp::metrics;
using doctest::Approx;

TEST_CASE("loss meter: sum and count, never an average of averages") {
  // Replica A: 3 samples with mean loss 1.0; replica B: 1 sample with loss 3.0.
  LossMeter a, b;
  a.add_mean(1.0, 3);
  b.add_sum(3.0, 1);
  a.merge(b);
  CHECK(a.sum() == Approx(6.0));
  CHECK(a.count() == 4);
  CHECK(a.mean() == Approx(1.5));  // (3*1 + 1*3) / 4; the average of averages would say 2.0
  CHECK(std::isnan(LossMeter().mean()));
  a.reset();
  CHECK(a.count() == 0);
  CHECK_THROWS_AS(a.add_sum(1.0, -1), Error);
}

TEST_CASE("throughput: warm-up steps are excluded from global and per-replica samples/s") {
  ThroughputMeter tm(2, 1);
  tm.step(10.0, {8, 8});  // warm-up: slow, not counted
  tm.step(1.0, {8, 8});
  tm.step(1.0, {8, 4});
  CHECK(tm.steps_seen() == 3);
  CHECK(tm.steps_counted() == 2);
  CHECK(tm.samples() == 28);
  CHECK(tm.seconds() == Approx(2.0));
  CHECK(tm.samples_per_second() == Approx(14.0));
  CHECK(tm.samples_per_second(0) == Approx(8.0));
  CHECK(tm.samples_per_second(1) == Approx(6.0));
  CHECK(tm.per_replica_samples_per_second() == std::vector<double>{8.0, 6.0});
  CHECK_THROWS_AS(tm.step(1.0, {1, 2, 3}), Error);
  CHECK_THROWS_AS(tm.samples(2), Error);
  ThroughputMeter fresh(1, 2);
  fresh.step(1.0, 5);
  CHECK(std::isnan(fresh.samples_per_second()));  // still warming up
  ThroughputMeter timed(1, 0);
  timed.begin_step();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  timed.end_step({10});
  CHECK(timed.seconds() >= 0.019);
  CHECK(timed.samples_per_second() <= 10 / 0.019);
  CHECK_THROWS_AS(timed.end_step({1}), Error);
}

TEST_CASE("throughput: scaling efficiency = throughput_N / (N * throughput_1)") {
  CHECK(scaling_efficiency(400.0, 4, 100.0) == Approx(1.0));
  CHECK(scaling_efficiency(300.0, 4, 100.0) == Approx(0.75));
  CHECK(scaling_efficiency(100.0, 1, 100.0) == Approx(1.0));
  CHECK_THROWS_AS(scaling_efficiency(1.0, 0, 1.0), Error);
  CHECK_THROWS_AS(scaling_efficiency(1.0, 2, 0.0), Error);
}

TEST_CASE("step timer: named phases with a fake clock and warm-up excluded") {
  double now = 0;
  StepTimer t(StepTimer::default_phases(), 1, [&] { return now; });
  CHECK(t.phases() == std::vector<std::string>{"data", "forward", "backward", "allreduce", "optimizer"});
  auto one_step = [&](double data, double fwd, double bwd, double allreduce, double opt) {
    t.start("data"); now += data;
    { auto s = t.scope("forward"); now += fwd; }
    t.start("backward"); now += bwd;
    t.start("allreduce"); now += allreduce;  // starting a phase stops the previous one
    t.stop();
    t.add("optimizer", opt);       // measured elsewhere (the CUDA-event hook)
    t.end_step();
  };
  one_step(100, 100, 100, 100, 100);  // warm-up
  one_step(1, 2, 4, 2, 1);
  one_step(1, 2, 4, 4, 1);
  CHECK(t.steps_counted() == 2);
  CHECK(t.mean("data") == Approx(1.0));
  CHECK(t.mean("backward") == Approx(4.0));
  CHECK(t.mean("allreduce") == Approx(3.0));
  CHECK(t.step_mean() == Approx(11.0));
  CHECK(t.fraction("allreduce") == Approx(6.0 / 22.0));
  t.add("checkpoint", 2.0);  // a new phase by name
  t.end_step();
  CHECK(t.total("checkpoint") == Approx(2.0));
  CHECK_THROWS_AS(t.mean("nope"), Error);
  CHECK_THROWS_AS(t.stop(), Error);
  CHECK_THROWS_AS(t.add("data", -1.0), Error);
  t.reset();
  CHECK(std::isnan(t.mean("data")));
}

TEST_CASE("memory and load balance") {
  MemoryTracker mem;
  mem.record("cuda:0", 100);
  mem.record("cuda:1", 50);
  mem.record("cuda:0", 70);
  MemoryTracker other;
  other.record("cuda:1", 80);
  mem.merge(other);
  CHECK(mem.peak("cuda:0") == 100);
  CHECK(mem.peak("cuda:1") == 80);
  CHECK(mem.peak("cuda:7") == 0);
  CHECK(mem.peaks().size() == 2);

  LoadBalance lb(4);
  for (std::int64_t r = 0; r < 4; ++r) lb.record(r, 10, 1.0);
  CHECK(lb.imbalance_ratio() == Approx(1.0));
  CHECK(lb.idle_replicas().empty());
  CHECK_FALSE(check_load_imbalance(lb).has_value());
  lb.record(2, 10, 3.0);  // replica 2: busy 4 s, others 1 s -> mean 1.75
  CHECK(lb.imbalance_ratio() == Approx(4.0 / 1.75));
  CHECK(lb.slowest_replica() == 2);
  CHECK(lb.sample_imbalance_ratio() == Approx(20.0 / 12.5));
  auto w = check_load_imbalance(lb);
  REQUIRE(w);
  CHECK(w->kind == "load_imbalance");
  CHECK(w->message.find("replica 2") != std::string::npos);

  LoadBalance idle(3);
  idle.record(0, 5, 1.0);
  idle.record(1, 5, 1.0);
  CHECK(idle.idle_replicas() == std::vector<std::int64_t>{2});
  auto wi = check_load_imbalance(idle, 10.0);
  REQUIRE(wi);
  CHECK(wi->message.find("replica 2 was idle") != std::string::npos);
  LoadBalance merged(3);
  merged.merge(idle);
  CHECK(merged.samples(0) == 5);
  CHECK_THROWS_AS(lb.record(4, 1, 1.0), Error);
  CHECK(std::isnan(LoadBalance(2).imbalance_ratio()));
}
