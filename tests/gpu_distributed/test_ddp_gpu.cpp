// DistributedDataParallel on GPUs, run by tools/gpu-check.sh under mpirun:
//   mpirun -np 2: two processes share cuda:0 and sum through MPI (NCCL refuses
//   two ranks on one GPU), staged through host memory;
//   mpirun -np 1 (or one process per GPU): NCCL across processes.
// Each process computes the single-process reference on the CPU itself.
// Without a GPU the suite says so and exits 77 (ctest: skipped).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>

#include "minidp/minidp.h"

using namespace minidp;
using parallel::DistributedDataParallel;
using parallel::ProcessGroup;

namespace {
nn::ModulePtr make_mlp() {
  manual_seed(21);
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<nn::Linear>(32, 64));
  m->add(std::make_shared<nn::ReLU>());
  m->add(std::make_shared<nn::Linear>(64, 10));
  return m;
}
parallel::OptimizerFactory sgd() {
  return [](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.1, .momentum = 0.9}); };
}
Tensor my_rows(const Tensor& t) {
  auto& w = ProcessGroup::world();
  const auto sizes = parallel::shard_sizes(t.size(0), w.size());
  std::int64_t begin = 0;
  for (int r = 0; r < w.rank(); ++r) begin += sizes[r];
  return t.slice(begin, begin + sizes[w.rank()]);
}
double rel_err(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double num = 0, den = 0;
  for (std::size_t i = 0; i < x.size(); ++i) num += (x[i] - y[i]) * (x[i] - y[i]), den += y[i] * y[i];
  return std::sqrt(num / std::max(den, 1e-30));
}
// The gradient one process computes on the whole batch after 3 steps, on the CPU.
Tensor reference(const Tensor& x, const Tensor& y) {
  parallel::DataParallel single(make_mlp(), parallel::parse_replicas("cpu"), sgd());
  for (int s = 0; s < 3; ++s) single.train_step(x, y);
  return single.flat_grad(0);
}
void check_against_reference(const std::string& comm) {
  Generator g(7);
  const Tensor x = randn({50, 32}, {}, &g), y = randint(0, 10, {50}, kInt64, &g);
  parallel::DistributedOptions o;
  o.comm = comm;
  o.bucket_bytes = o.first_bucket_bytes = 4096;  // several buckets, launched from backward
  DistributedDataParallel dp(make_mlp(), sgd(), o, ProcessGroup::world(), Device::cuda(0));
  const Tensor xd = my_rows(x).to(Device::cuda(0)), yd = my_rows(y).to(Device::cuda(0));
  const std::uint64_t before = host_sync_count();
  for (int s = 0; s < 3; ++s) dp.train_step(xd, yd);
  if (comm == "nccl") CHECK(host_sync_count() == before);  // NCCL: the step never makes the host wait
  synchronize(Device::cuda(0));
  CHECK(rel_err(dp.flat_grad(0).to(Device::cpu()), reference(x, y)) < 1e-5);
}
}  // namespace

TEST_CASE("ddp gpu: processes sharing cuda:0 sum through MPI and give the single-process gradient") {
  check_against_reference("mpi");
}

TEST_CASE("ddp gpu: NCCL across processes, one GPU each, gives the single-process gradient without host waits") {
  if (ProcessGroup::world().size() > cuda_device_count()) {
    MESSAGE("more processes than GPUs: NCCL refuses two ranks on one GPU; not run");
    return;
  }
  check_against_reference("nccl");
}

int main(int argc, char** argv) {
  if (!cuda_compiled() || cuda_device_count() == 0) {
    std::printf("SKIPPED: no CUDA device visible (the GPU tests of DistributedDataParallel were not run)\n");
    return 77;
  }
  set_allow_tf32(false);
  doctest::Context ctx;
  ctx.applyCommandLine(argc, argv);
  return ctx.run();
}
