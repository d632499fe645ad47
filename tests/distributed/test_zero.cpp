// ZeRO-1 (parallel/zero.h) under `mpirun -np 1, 2, 3`: the two halves of the
// sum, the same bits as DDP for SGD with momentum, Adam and AdamW (with
// clipping, skip-non-finite and a schedule), the optimizer state and bytes
// sent per rank, and checkpoints that resume on the same and another N.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "minidp/minidp.h"
#include "test_util.h"

using namespace minidp;
using parallel::DistributedDataParallel;
using parallel::ProcessGroup;

namespace {
ProcessGroup& world() { return ProcessGroup::world(); }

// Layers whose sizes split unevenly over 2 and 3 ranks, in buckets small
// enough (1 KiB) that chunks cut through parameters.
nn::ModulePtr make_net(std::uint64_t seed) {
  manual_seed(seed);
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<nn::Linear>(13, 29));
  m->add(std::make_shared<nn::ReLU>());
  m->add(std::make_shared<nn::Linear>(29, 17));
  m->add(std::make_shared<nn::ReLU>());
  m->add(std::make_shared<nn::Linear>(17, 5));
  return m;
}

parallel::OptimizerFactory factory(const std::string& kind) {
  return [kind](std::vector<Tensor> ps) -> std::unique_ptr<nn::Optimizer> {
    if (kind == "sgd") return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3});
    const nn::AdamOptions o{.lr = 0.01, .weight_decay = 0.01};
    if (kind == "adamw") return std::make_unique<nn::AdamW>(ps, o);
    return std::make_unique<nn::Adam>(ps, o);
  };
}

std::unique_ptr<DistributedDataParallel> make_ddp(const std::string& kind, int zero, ProcessGroup& group = world(),
                                                  std::uint64_t seed = 5, bool skip_nonfinite = true) {
  parallel::DistributedOptions o;
  o.comm = "mpi";
  o.first_bucket_bytes = 1 << 10;
  o.bucket_bytes = 1 << 10;
  o.skip_nonfinite = skip_nonfinite;  // under ZeRO-1: one more tiny sum, the finite flag
  o.zero_stage = zero;
  return std::make_unique<DistributedDataParallel>(make_net(seed), factory(kind), o, group, Device::cpu());
}

// Global batch `step` (the same on every rank), and this rank's rows of it.
std::pair<Tensor, Tensor> my_batch(int step, const ProcessGroup& group, bool poison = false) {
  Generator g(1000 + step);
  Tensor x = randn({23, 13}, {}, &g);
  Tensor y = randint(0, 5, {23}, kInt64, &g);
  if (poison) x.narrow(0, 0, 1).fill_(std::nan(""));  // a NaN sample: the step must be skipped everywhere
  const auto sizes = parallel::shard_sizes(23, group.size());
  std::int64_t begin = 0;
  for (int r = 0; r < group.rank(); ++r) begin += sizes[r];
  return {x.slice(begin, begin + sizes[group.rank()]), y.slice(begin, begin + sizes[group.rank()])};
}

// One step opened: a schedule, the clip, the update. Returns the norm. Step 3
// has a NaN sample (the loss and every gradient NaN); step 4 an inf put into
// one summed gradient, in rank 0's chunk, and no clip: only rank 0 can see it,
// and every rank must skip.
double open_step(parallel::DataParallel& dp, int step, const ProcessGroup& group, double base_lr) {
  auto [x, y] = my_batch(step, group, step == 3);
  dp.optimizer().set_lr(base_lr * (1.0 + step) / 4.0);  // a warm-up, the same on every rank
  dp.forward_backward(x, y);
  dp.reduce_gradients();
  double norm = 0;
  if (step == 4) {
    Tensor g = dp.buckets().bucket(0);
    g.narrow(0, 0, 1).fill_(INFINITY);
  } else {
    norm = dp.clip_grad_norm(0.5).item();
  }
  dp.optimizer_step();
  return norm;
}

std::vector<float> weights(const parallel::DataParallel& dp) {
  std::vector<float> all;
  for (const auto& p : dp.module()->parameters()) {
    const auto v = p.to_vector<float>();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// One file name for the whole job (rank 0's pid), in the temporary directory.
std::string job_path(const std::string& tag) {
  std::vector<double> pid = {world().rank() == 0 ? static_cast<double>(getpid()) : 0.0};
  world().allreduce_max(pid);
  return "/tmp/minidp_zero_" + tag + "_" + std::to_string(static_cast<long long>(pid[0])) + ".safetensors";
}

std::int64_t num_params(const parallel::DataParallel& dp) {
  std::int64_t n = 0;
  for (const auto& p : dp.module()->parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST_CASE("distributed: reduce-scatter and allgather of chunks are the two halves of the sum, bytes counted") {
  auto comm = parallel::make_process_communicator(world(), Device::cpu(), "mpi", 30);
  const int n_ranks = world().size(), me = world().rank();
  for (std::int64_t n : {1, 1001, 3000}) {
    CAPTURE(n);
    Generator g(7 + me);
    const Tensor mine = randn({n}, {}, &g);
    Tensor summed = mine.clone(), scattered = mine.clone();
    comm->allreduce_sum(me, summed);
    const std::uint64_t before = comm->bytes_sent();
    comm->reduce_scatter_sum_async(me, scattered)->wait(30, "test");
    const parallel::Chunk c = parallel::chunk_of(n, n_ranks, me);
    const std::int64_t per = (n + n_ranks - 1) / n_ranks;
    CHECK(comm->bytes_sent() - before == static_cast<std::uint64_t>(n_ranks - 1) * per * 4);
    const auto s = summed.to_vector<float>(), r = scattered.to_vector<float>(), m = mine.to_vector<float>();
    for (std::int64_t i = 0; i < n; ++i) {
      const bool own = i >= c.offset && i < c.offset + c.length;
      REQUIRE(std::memcmp(&r[i], own ? &s[i] : &m[i], 4) == 0);  // own chunk: the sum's bits; the rest untouched
    }
    // The allgather: each rank's chunk, as it holds it, everywhere.
    Tensor t = full({n}, -1.0);
    t.narrow(0, c.offset, c.length).fill_(static_cast<double>(me));
    comm->allgather_chunks_async(me, t)->wait(30, "test");
    const auto v = t.to_vector<float>();
    for (int q = 0; q < n_ranks; ++q) {
      const parallel::Chunk cq = parallel::chunk_of(n, n_ranks, q);
      for (std::int64_t i = cq.offset; i < cq.offset + cq.length; ++i) REQUIRE(v[i] == static_cast<float>(q));
    }
  }
  CHECK(parallel::chunk_of(2, 3, 2).length == 0);  // 2 elements over 3 ranks: the last owns nothing
  CHECK(parallel::chunk_of(7, 3, 2).offset == 6);
}

TEST_CASE("distributed: ZeRO-1 gives the bits of DDP, with clipping, skip-non-finite and a schedule") {
  for (const std::string kind : {"sgd", "adam", "adamw"}) {
    CAPTURE(kind);
    auto ddp = make_ddp(kind, 0), zero = make_ddp(kind, 1);
    REQUIRE(dynamic_cast<parallel::ShardedOptimizer*>(&zero->optimizer()) != nullptr);
    const double lr = kind == "sgd" ? 0.1 : 0.01;
    for (int step = 0; step < 6; ++step) {
      CAPTURE(step);
      const double n0 = open_step(*ddp, step, world(), lr), n1 = open_step(*zero, step, world(), lr);
      CHECK(std::memcmp(&n0, &n1, sizeof n0) == 0);  // the norm: the same chunked sum
      CHECK(same_bits(weights(*ddp), weights(*zero)));
    }
    CHECK(ddp->optimizer().steps_taken() == 4);  // steps 3 and 4 were not finite: skipped by both
    CHECK(zero->optimizer().steps_taken() == 4);
    // And plain train_step (backward's hooks launch the reduce-scatters).
    for (int step = 10; step < 13; ++step) {
      auto [x, y] = my_batch(step, world());
      ddp->train_step(x, y);
      zero->train_step(x, y);
    }
    CHECK(same_bits(weights(*ddp), weights(*zero)));
    // Adam's state: 8 bytes per parameter in DDP; under ZeRO-1 this rank's chunks only, 1/N in all.
    const std::int64_t whole = parallel::optimizer_state_bytes(*ddp), mine = parallel::optimizer_state_bytes(*zero);
    std::vector<std::int64_t> total = {mine};
    world().allreduce_sum(total);
    CHECK(total[0] == whole);
    CHECK(whole == num_params(*ddp) * (kind == "sgd" ? 4 : 8));
    CHECK(mine <= (whole / world().size()) + 8 * world().size() * zero->buckets().num_buckets());
  }
}

TEST_CASE("distributed: ZeRO-1's state is resident memory, and it sends the bytes DDP sends") {
  auto ddp = make_ddp("adam", 0, world(), 5, false), zero = make_ddp("adam", 1, world(), 5, false);
  auto [x, y] = my_batch(0, world());
  std::uint64_t sent_zero = 0, sent_ddp = 0;
  const std::size_t before = host_bytes_in_use();
  {
    auto r = zero->train_step(x, y);  // the first step: the optimizer makes its state
    r.wait();
    sent_zero = r.replicas[0].comm_bytes;
  }  // the result's loss tensors go with it
  const std::int64_t grown = static_cast<std::int64_t>(host_bytes_in_use()) - static_cast<std::int64_t>(before);
  CHECK(grown == parallel::optimizer_state_bytes(*zero));  // measured at the allocator: the moments, nothing else
  {
    auto r = ddp->train_step(x, y);
    r.wait();
    sent_ddp = r.replicas[0].comm_bytes;
  }
  CHECK(sent_ddp == sent_zero);
  if (world().size() > 1) CHECK(sent_zero > 0);
}

TEST_CASE("distributed: a ZeRO-1 checkpoint is an ordinary one, and resumes on the same and another N") {
  const std::string path = job_path("run");
  auto ddp = make_ddp("adam", 0), zero = make_ddp("adam", 1);
  for (int step = 0; step < 4; ++step) {
    open_step(*ddp, step, world(), 0.01);
    open_step(*zero, step, world(), 0.01);
  }
  const nn::TrainingProgress at{.epoch = 0, .step_in_epoch = 4, .global_step = 4, .seed = 5};
  parallel::save_training_state(path, *zero, at);
  CHECK_THROWS_WITH_AS(zero->optimizer().state_tensors(), doctest::Contains("gather_state"), Error);
  world().barrier();
  const nn::TrainingState st = nn::load_training_state(path);
  // Ordinary: the state DDP's optimizer holds, bit for bit.
  const auto full = ddp->optimizer().state_tensors();
  REQUIRE(full.size() == st.optimizer.size());
  for (const auto& [name_binding, t] : full) {
    const std::string& name = name_binding;  // (CAPTURE's lambda cannot take a structured binding on clang < 16)
    CAPTURE(name);
    REQUIRE(st.optimizer.count(name) == 1);
    CHECK(same_bits(t.to_vector<float>(), st.optimizer.at(name).to_vector<float>()));
  }
  // The same N: resumed == went on.
  auto resumed = make_ddp("adam", 1, world(), 77);  // other weights: the checkpoint's must replace them
  st.load_model(*resumed->module());
  st.load_optimizer(resumed->optimizer());
  for (int step = 4; step < 7; ++step) {
    open_step(*zero, step, world(), 0.01);
    open_step(*resumed, step, world(), 0.01);
  }
  CHECK(same_bits(weights(*zero), weights(*resumed)));
  // Another N (N - 1 ranks): ZeRO-1 and DDP resumed from the file agree bit for bit.
  const int k = std::max(1, world().size() - 1);
  auto group = world().first(k);
  if (group) {
    auto a = make_ddp("adam", 1, *group, 78), b = make_ddp("adam", 0, *group, 79);
    for (auto* dp : {a.get(), b.get()}) {
      st.load_model(*dp->module());
      st.load_optimizer(dp->optimizer());
    }
    // Loaded, then gathered: the file's state again (on rank 0; the others get none).
    const auto gathered = dynamic_cast<parallel::ShardedOptimizer&>(a->optimizer()).gather_state(0);
    CHECK(gathered.size() == (group->rank() == 0 ? st.optimizer.size() : 0));
    for (const auto& [name, t] : gathered)
      CHECK(same_bits(t.to_vector<float>(), st.optimizer.at(name).to_vector<float>()));
    for (int step = 4; step < 7; ++step) {
      open_step(*a, step, *group, 0.01);
      open_step(*b, step, *group, 0.01);
    }
    CHECK(same_bits(weights(*a), weights(*b)));
  }
  world().barrier();
  if (world().rank() == 0) std::remove(path.c_str());
}

TEST_CASE("distributed: ZeRO-1 with ranks that own nothing of a bucket, or nothing at all") {
  // Linear(2, 1) in buckets of 4 bytes: bucket 0 the bias (1 value), bucket 1
  // the weight (2 values). On 3 ranks rank 2 owns no chunk at all: its
  // optimizer has no parameters, and it still joins every collective.
  auto make = [](int zero) {
    manual_seed(9);
    parallel::DistributedOptions o;
    o.comm = "mpi";
    o.first_bucket_bytes = o.bucket_bytes = 4;
    o.zero_stage = zero;
    return std::make_unique<DistributedDataParallel>(std::make_shared<nn::Linear>(2, 1), factory("adam"), o, world(),
                                                     Device::cpu());
  };
  const parallel::LossSumFn squares = [](const Tensor& out, const Tensor& y) {
    const Tensor d = sub(out.reshape({-1}), y);
    return sum(mul(d, d));
  };
  auto ddp = make(0), zero = make(1);
  REQUIRE(zero->buckets().num_buckets() == 2);
  auto step = [&](parallel::DataParallel& dp, int s) {
    Generator g(50 + s);
    const Tensor x = randn({7, 2}, {}, &g), y = randn({7}, {}, &g);
    const auto sizes = parallel::shard_sizes(7, world().size());
    std::int64_t begin = 0;
    for (int r = 0; r < world().rank(); ++r) begin += sizes[r];
    dp.train_step(x.slice(begin, begin + sizes[world().rank()]), y.slice(begin, begin + sizes[world().rank()]),
                  squares);
  };
  for (int s = 0; s < 4; ++s) {
    step(*ddp, s);
    step(*zero, s);
  }
  CHECK(same_bits(weights(*ddp), weights(*zero)));
  const auto& z = dynamic_cast<parallel::ShardedOptimizer&>(zero->optimizer());
  CHECK(z.inner().params().size() == (world().size() == 3 && world().rank() == 2 ? 0u : world().rank() == 0 ? 2u : 1u));
  // Saved (gathered onto rank 0, which writes), loaded by every rank into a
  // fresh ZeRO-1 replica, and on: still DDP's bits.
  const std::string path = job_path("tiny");
  parallel::save_training_state(path, *zero, {.global_step = 4});
  world().barrier();
  const nn::TrainingState st = nn::load_training_state(path);
  CHECK(st.optimizer.size() == 4);  // exp_avg and exp_avg_sq of the weight and of the bias
  auto fresh = make(1);
  st.load_model(*fresh->module());
  st.load_optimizer(fresh->optimizer());
  for (int s = 4; s < 7; ++s) {
    step(*ddp, s);
    step(*fresh, s);
  }
  CHECK(same_bits(weights(*ddp), weights(*fresh)));
  world().barrier();
  if (world().rank() == 0) std::remove(path.c_str());
}

TEST_CASE("distributed: ZeRO is refused where it cannot run, and a rank without it is named at start") {
  CHECK_THROWS_WITH_AS(parallel::DataParallel(make_net(1), parallel::parse_replicas("cpu,cpu"), factory("sgd"),
                                              parallel::DataParallelOptions{.zero_stage = 1}),
                       doctest::Contains("across the processes"), Error);
  CHECK_THROWS_WITH_AS(make_ddp("sgd", 2), doctest::Contains("stage 2 is not supported"), Error);
  if (world().size() < 2) return;
  // Rank 1 alone asks for ZeRO-1: every rank refuses at construction, naming the field.
  CHECK_THROWS_WITH_AS(make_ddp("sgd", world().rank() == 1 ? 1 : 0), doctest::Contains("zero_stage"), Error);
}
