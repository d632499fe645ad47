// Tests of the multi-process layer, run by ctest under `mpirun -np N` for N = 1,
// 2 and 3 (tests/CMakeLists.txt). Every process runs every test case, in the
// same order, so their collectives meet. Each process can compute the
// single-process reference itself — same seeds, same data — and checks that N
// processes computed exactly that.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "minidp/kernels/sim/runtime.h"
#include "minidp/minidp.h"
#include "minidp/parallel/wait_sites.h"
#include "sim_util.h"
#include "test_util.h"

using namespace minidp;
using parallel::DistributedDataParallel;
using parallel::ProcessGroup;

namespace {
ProcessGroup& world() { return ProcessGroup::world(); }

nn::ModulePtr make_mlp(std::uint64_t seed, bool batchnorm = false) {
  manual_seed(seed);
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<nn::Linear>(20, 32));
  if (batchnorm) m->add(std::make_shared<nn::BatchNorm1d>(32));
  m->add(std::make_shared<nn::ReLU>());
  m->add(std::make_shared<nn::Linear>(32, 16));
  m->add(std::make_shared<nn::ReLU>());
  m->add(std::make_shared<nn::Linear>(16, 5));
  return m;
}

parallel::OptimizerFactory sgd(double lr, double momentum = 0.0) {
  return [=](std::vector<Tensor> ps) {
    return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = lr, .momentum = momentum});
  };
}

double rel_err(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  REQUIRE(x.size() == y.size());
  double num = 0, den = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    num += (x[i] - y[i]) * (x[i] - y[i]);
    den += y[i] * y[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// This process's rows of a global batch: the DistributedSampler's rule.
Tensor my_rows(const Tensor& t) {
  const auto sizes = parallel::shard_sizes(t.size(0), world().size());
  std::int64_t begin = 0;
  for (int r = 0; r < world().rank(); ++r) begin += sizes[r];
  return t.slice(begin, begin + sizes[world().rank()]);
}

// True when every process holds the same 64-bit value.
bool same_on_every_rank(std::uint64_t h) {
  std::vector<double> lo = {-static_cast<double>(h >> 11)}, hi = {static_cast<double>(h >> 11)};
  world().allreduce_max(lo);
  world().allreduce_max(hi);
  return -lo[0] == hi[0];
}
}  // namespace

TEST_CASE("distributed: the world and a sum across processes that is the same bits on every rank") {
  INFO("rank ", world().rank(), " of ", world().size());
  CHECK(world().size() >= 1);
  CHECK(world().rank() < world().size());
  std::vector<std::int64_t> one = {1};
  world().allreduce_sum(one);
  CHECK(one[0] == world().size());
  auto comm = parallel::make_process_communicator(world(), Device::cpu(), "mpi", 30);
  // 1001 elements: not a multiple of 2 or 3, so the padded path of the reduce-scatter runs too.
  for (std::int64_t n : {1001, 3000}) {
    Generator g(100 + world().rank());
    Tensor mine = randn({n}, {}, &g);
    Tensor expected = zeros({n});
    for (int r = 0; r < world().size(); ++r) {
      Generator gr(100 + r);
      expected = add(expected, randn({n}, {}, &gr));  // every rank's values, regenerated here
    }
    comm->allreduce_sum(world().rank(), mine);
    CHECK(rel_err(mine, expected) < 1e-6);
    std::uint64_t h = 1469598103934665603ull;
    for (float v : mine.to_vector<float>()) {
      std::uint32_t bits;
      std::memcpy(&bits, &v, 4);
      h = (h ^ bits) * 1099511628211ull;
    }
    CHECK(same_on_every_rank(h));
  }
  Tensor b = full({5}, static_cast<double>(world().rank() + 7));
  comm->broadcast(world().rank(), b, 0);
  CHECK(b.to_vector<float>() == std::vector<float>(5, 7.0f));
  Tensor out = zeros({2 * world().size()});
  comm->allgather(world().rank(), full({2}, static_cast<double>(world().rank())), out);
  for (int r = 0; r < world().size(); ++r) CHECK(out.to_vector<float>()[2 * r + 1] == static_cast<float>(r));
}

TEST_CASE("distributed: N processes give the single-process gradient, any batch size, any bucket size") {
  for (std::int64_t batch : {1, 2, 7, 64, 100}) {
    Generator g(batch);
    const Tensor x = randn({batch, 20}, {}, &g);
    const Tensor y = randint(0, 5, {batch}, kInt64, &g);
    auto ref = make_mlp(11);
    cross_entropy(ref->forward(x), y).backward();
    std::vector<Tensor> parts;
    for (auto& p : ref->parameters()) parts.push_back(p.grad().reshape({-1}));
    const Tensor ref_grad = cat(parts, 0);
    const double ref_loss = cross_entropy(ref->forward(x), y).item();
    for (std::size_t bucket : {std::size_t(1) << 10, std::size_t(1) << 20, std::size_t(1) << 40}) {
      CAPTURE(batch);
      CAPTURE(bucket);
      parallel::DistributedOptions o;
      o.first_bucket_bytes = o.bucket_bytes = bucket;
      o.comm_timeout_s = 30;
      DistributedDataParallel dp(make_mlp(11), sgd(0.0), o, world(), Device::cpu());
      if (bucket == 1024) CHECK(dp.buckets().num_buckets() > 3);  // 1 KiB: several buckets, launched from backward
      auto r = dp.train_step(my_rows(x), my_rows(y));
      CHECK(rel_err(dp.flat_grad(0), ref_grad) < 1e-6);
      CHECK(r.loss() == doctest::Approx(ref_loss).epsilon(1e-5));  // the global mean, travelling with the gradients
    }
  }
}

TEST_CASE("distributed: processes stay bitwise identical and follow the single-process loss curve") {
  Generator g(5);
  const Tensor x = randn({60, 20}, {}, &g);
  const Tensor y = randint(0, 5, {60}, kInt64, &g);
  parallel::DataParallel single(make_mlp(3), parallel::parse_replicas("cpu"), sgd(0.1, 0.9));
  DistributedDataParallel dp(make_mlp(3), sgd(0.1, 0.9), {}, world(), Device::cpu());
  for (int step = 0; step < 8; ++step) {
    const std::int64_t lo = (step * 20) % 60;
    const double l1 = single.train_step(x.slice(lo, lo + 20), y.slice(lo, lo + 20)).loss();
    const double ln = dp.train_step(my_rows(x.slice(lo, lo + 20)), my_rows(y.slice(lo, lo + 20))).loss();
    CHECK(std::abs(l1 - ln) / l1 < 1e-5);
  }
  CHECK(same_on_every_rank(dp.parameter_hash(0)));
  CHECK(rel_err(dp.flat_grad(0), single.flat_grad(0)) < 1e-5);
}

TEST_CASE("distributed: the step opened (forward_backward, reduce_gradients, optimizer_step) gives train_step's bits") {
  Generator g(9);
  const Tensor x = randn({21, 20}, {}, &g);
  const Tensor y = randint(0, 5, {21}, kInt64, &g);
  DistributedDataParallel a(make_mlp(8), sgd(0.1, 0.9), {}, world(), Device::cpu());
  DistributedDataParallel b(make_mlp(8), sgd(0.1, 0.9), {}, world(), Device::cpu());
  for (int step = 0; step < 3; ++step) {
    const Tensor xs = my_rows(x.slice(step * 7, step * 7 + 7)), ys = my_rows(y.slice(step * 7, step * 7 + 7));
    const double la = a.train_step(xs, ys).loss();
    b.forward_backward(xs, ys);  // the buckets leave during backward, as in train_step
    b.reduce_gradients();
    const double lb = b.optimizer_step().loss();
    CHECK(la == lb);
  }
  CHECK(a.parameter_hash(0) == b.parameter_hash(0));
  CHECK(same_on_every_rank(b.parameter_hash(0)));
}

TEST_CASE("distributed: one simulated GPU per process (sim:rank) gives the CPU processes' bits, shake on") {
  // The path of processes that share a GPU: the buckets go through the host
  // on the communication thread, ordered by events with each rank's stream.
  kernels::sim::set_shake(41, 100);
  Generator g(5);
  const Tensor x = randn({60, 20}, {}, &g);
  const Tensor y = randint(0, 5, {60}, kInt64, &g);
  DistributedDataParallel on_cpu(make_mlp(3), sgd(0.1, 0.9), {}, world(), Device::cpu());
  DistributedDataParallel on_sim(make_mlp(3), sgd(0.1, 0.9), {}, world(), Device::sim(world().rank()));
  for (int step = 0; step < 6; ++step) {
    const std::int64_t lo = (step * 20) % 60;
    const Tensor xs = my_rows(x.slice(lo, lo + 13)), ys = my_rows(y.slice(lo, lo + 13));
    CHECK(on_sim.train_step(xs, ys).loss() == on_cpu.train_step(xs, ys).loss());
  }
  CHECK(on_sim.replica(0).device == Device::sim(world().rank()));
  CHECK(on_sim.parameter_hash(0) == on_cpu.parameter_hash(0));
  CHECK(same_on_every_rank(on_sim.parameter_hash(0)));
  kernels::sim::set_shake(0);
}

TEST_CASE("distributed: models made differently on each rank start from rank 0's weights on sim:rank too") {
  // The broadcast's result is written back to the device by the communication
  // thread; with a slow bus it lands late, and only the event the caller's
  // stream waits for orders the first step after it.
  kernels::sim::set_shake(45, 100);
  kernels::sim::set_copy_to_device_delay_for_testing(20000);
  Generator g(4);
  const Tensor x = randn({24, 20}, {}, &g), y = randint(0, 5, {24}, kInt64, &g);
  DistributedDataParallel on_sim(make_mlp(30 + world().rank()), sgd(0.1), {}, world(), Device::sim(world().rank()));
  kernels::sim::set_copy_to_device_delay_for_testing(0);
  DistributedDataParallel on_cpu(make_mlp(30 + world().rank()), sgd(0.1), {}, world(), Device::cpu());
  CHECK(on_sim.parameter_hash(0) == on_cpu.parameter_hash(0));
  CHECK(same_on_every_rank(on_sim.parameter_hash(0)));
  kernels::sim::set_copy_to_device_delay_for_testing(20000);
  const double loss = on_sim.train_step(my_rows(x), my_rows(y)).loss();
  kernels::sim::set_copy_to_device_delay_for_testing(0);
  CHECK(loss == on_cpu.train_step(my_rows(x), my_rows(y)).loss());
  CHECK(on_sim.parameter_hash(0) == on_cpu.parameter_hash(0));
  kernels::sim::set_shake(0);
}

// A step of DDP on sim:rank with one wait of the MPI path switched off (or
// not), shaped so that only that wait orders the two sides: for the inputs, the
// replica's stream is held back (its backward has not written the gradients
// when the bucket is launched); for the landing, every copy to the device is
// slow (the sum has not landed when the optimizer would read it).
std::pair<double, std::uint64_t> mpi_wait_case(parallel::WaitSite site, bool skip, const Tensor& xs,
                                               const Tensor& ys) {
  struct Switches {  // back to normal however the case ends
    parallel::WaitSite site;
    std::thread opener;
    ~Switches() {
      if (opener.joinable()) opener.join();
      kernels::sim::set_copy_to_device_delay_for_testing(0);
      parallel::skip_wait_for_testing(site, false);
    }
  };
  test::Gate gate;  // made first, gone last: the opener thread holds it
  DistributedDataParallel dp(make_mlp(3), sgd(0.1), {}, world(), Device::sim(world().rank()));
  Switches sw{site, {}};  // gone first: the opener joined (the gate open) before dp drains its streams
  parallel::skip_wait_for_testing(site, skip);
  if (site == parallel::WaitSite::MpiInputsReady) {
    gate.block(dp.replica(0).stream);
    sw.opener = std::thread([&gate] {  // the host waits for the sums inside train_step: open from another thread
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      gate.open();
    });
  } else {
    gate.open();
    kernels::sim::set_copy_to_device_delay_for_testing(300000);
  }
  parallel::StepResult r = dp.train_step(xs, ys);
  kernels::sim::set_copy_to_device_delay_for_testing(0);
  const double loss = r.loss();
  if (sw.opener.joinable()) sw.opener.join();
  return {loss, dp.parameter_hash(0)};
}

TEST_CASE("distributed: each wait of the MPI path on a device, switched off, lets a wrong result through (sim)") {
  if (world().size() < 2) return;  // one process sums with nobody: nothing to order
  kernels::sim::set_shake(43, 100);
  Generator g(6);
  const Tensor x = randn({12, 20}, {}, &g), y = randint(0, 5, {12}, kInt64, &g);
  const Tensor xs = my_rows(x), ys = my_rows(y);
  DistributedDataParallel on_cpu(make_mlp(3), sgd(0.1), {}, world(), Device::cpu());
  const double want_loss = on_cpu.train_step(xs, ys).loss();
  const std::uint64_t want_hash = on_cpu.parameter_hash(0);
  for (parallel::WaitSite site : {parallel::WaitSite::MpiInputsReady, parallel::WaitSite::MpiSumLanded}) {
    CAPTURE(parallel::wait_site_name(site));
    const auto with = mpi_wait_case(site, false, xs, ys);
    const auto without = mpi_wait_case(site, true, xs, ys);
    CHECK(with.first == want_loss);
    CHECK(with.second == want_hash);
    CHECK_FALSE((without.first == want_loss && without.second == want_hash));
    if (world().rank() == 0)
      std::printf("%-22s with it: %s   without it: %s (loss %.6f, want %.6f)\n", parallel::wait_site_name(site),
                  with.first == want_loss && with.second == want_hash ? "right" : "WRONG",
                  without.first == want_loss && without.second == want_hash ? "right (not caught)" : "wrong",
                  without.first, want_loss);
  }
  kernels::sim::set_shake(0);
}

TEST_CASE("distributed: ranks started with another optimizer, learning rate or bucket size are named at once") {
  if (world().size() < 2) return;  // one rank agrees with itself
  const int r = world().rank();
  auto adam = [](std::vector<Tensor> ps) { return std::make_unique<nn::Adam>(ps, nn::AdamOptions{}); };
  // --optimizer sgd on rank 0, adam on the others: every rank raises, naming the field and the ranks.
  CHECK_THROWS_WITH_AS(DistributedDataParallel(make_mlp(1), r == 0 ? sgd(0.1) : parallel::OptimizerFactory(adam), {},
                                               world(), Device::cpu()),
                       doctest::Contains("optimizer: rank 0 has sgd; rank"), Error);
  // --lr 0.05 against --lr 0.5
  CHECK_THROWS_WITH_AS(DistributedDataParallel(make_mlp(1), sgd(r == 1 ? 0.5 : 0.05), {}, world(), Device::cpu()),
                       doctest::Contains("rank 1 has 0.5"), Error);
  // --bucket-mb: another layout (which ended in MPI_ERR_TRUNCATE before)
  parallel::DistributedOptions o;
  o.bucket_bytes = r == 0 ? (std::size_t{1} << 20) : 256;
  o.first_bucket_bytes = o.bucket_bytes;
  CHECK_THROWS_WITH_AS(DistributedDataParallel(make_mlp(1), sgd(0.1), o, world(), Device::cpu()),
                       doctest::Contains("buckets: rank 0 has"), Error);
  // The same everywhere: no complaint, and the job goes on.
  DistributedDataParallel same(make_mlp(1), sgd(0.1), {}, world(), Device::cpu());
  CHECK(same.size() == 1);
}

TEST_CASE("distributed: MINIDP_DISTRIBUTED_DEBUG=detail names a collective whose size differs between ranks") {
  if (world().size() < 2) return;
  parallel::set_collective_checks(world().rank() == 1);  // on one rank: the communicator turns them on for all
  auto comm = parallel::make_process_communicator(world(), Device::cpu(), "mpi", 30.0);
  Tensor t = zeros({4 + world().rank()});  // rank r sums 4 + r floats: without the check, garbage or a hang
  CHECK_THROWS_WITH_AS(comm->allreduce_sum(world().rank(), t),
                       doctest::Contains("rank 0 calls allreduce_sum of 4 float32 elements, rank 1 calls "
                                         "allreduce_sum of 5 float32 elements"),
                       Error);
  Tensor same = ones({3});
  comm->allreduce_sum(world().rank(), same);  // equal everywhere: checked, then summed
  CHECK(same.to_vector<float>() == std::vector<float>(3, static_cast<float>(world().size())));
  parallel::set_collective_checks(false);
}

TEST_CASE("distributed: gradient accumulation — k micro-batches of b give the gradient of one batch of k*b") {
  Generator g(8);
  const Tensor x = randn({36, 20}, {}, &g);
  const Tensor y = randint(0, 5, {36}, kInt64, &g);
  DistributedDataParallel whole(make_mlp(6), sgd(0.0), {}, world(), Device::cpu());
  whole.train_step(my_rows(x), my_rows(y));
  DistributedDataParallel micro(make_mlp(6), sgd(0.0), {}, world(), Device::cpu());
  micro.accumulate(my_rows(x.slice(0, 12)), my_rows(y.slice(0, 12)));  // no communication
  micro.accumulate(my_rows(x.slice(12, 24)), my_rows(y.slice(12, 24)));
  const double loss = micro.train_step(my_rows(x.slice(24, 36)), my_rows(y.slice(24, 36))).loss();
  CHECK(rel_err(micro.flat_grad(0), whole.flat_grad(0)) < 1e-6);
  auto ref = make_mlp(6);
  CHECK(loss == doctest::Approx(cross_entropy(ref->forward(x), y).item()).epsilon(1e-5));  // over all 36 samples
}

TEST_CASE("distributed: synchronized BatchNorm across processes equals one process on the whole batch") {
  Generator g(12);
  const Tensor x = randn({12, 20}, {}, &g);
  const Tensor y = randint(0, 5, {12}, kInt64, &g);
  auto ref = make_mlp(4, true);
  cross_entropy(ref->forward(x), y).backward();
  std::vector<Tensor> parts;
  for (auto& p : ref->parameters()) parts.push_back(p.grad().reshape({-1}));
  parallel::DistributedOptions o;
  o.sync_batchnorm = true;
  DistributedDataParallel dp(make_mlp(4, true), sgd(0.0), o, world(), Device::cpu());
  dp.train_step(my_rows(x), my_rows(y));
  CHECK(rel_err(dp.flat_grad(0), cat(parts, 0)) < 1e-5);
}

TEST_CASE("distributed: evaluation counts every test sample exactly once (10000 samples)") {
  // A synthetic test set of 10000 samples, sharded by the DistributedSampler.
  Generator g(3);
  nn::data::Dataset test(randn({10000, 20}, {}, &g), randint(0, 5, {10000}, kInt64, &g), "synthetic");
  DistributedDataParallel dp(make_mlp(2), sgd(0.0), {}, world(), Device::cpu());
  nn::data::DataLoaderOptions lo{.batch_size = 999, .shuffle = false};
  nn::data::DataLoader loader(test, parallel::DistributedSampler(world()).apply(lo));
  const metrics::Evaluation ev = metrics::evaluate(dp, loader, 5);
  CHECK(ev.cm.total() == 10000);  // summed over the processes, no sample padded or repeated
  CHECK(ev.loss.count() == 10000);
  // The same counts as one process evaluating everything.
  parallel::DataParallel single(make_mlp(2), parallel::parse_replicas("cpu"), sgd(0.0));
  nn::data::DataLoader all(test, lo);
  const metrics::Evaluation one = metrics::evaluate(single, all, 5);
  CHECK(ev.cm.counts() == one.cm.counts());
  CHECK(ev.loss.sum() == doctest::Approx(one.loss.sum()).epsilon(1e-6));  // float32 sums over other subsets
}
