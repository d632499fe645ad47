// GPU tests of parallel/: replicas on GPUs compute the single-device gradient.
//   - cuda:0,cuda:0 (two replicas sharing one GPU, each on its own stream,
//     reduced in-process) equals cuda:0 and the CPU;
//   - the NCCL communicator with one rank;
//   - with two or more GPUs, cuda:0,cuda:1 (NCCL) equals cuda:0.
#include "gpu_test.h"

#include "minidp/parallel/nccl_communicator.h"

using namespace minidp;
using namespace minidp::test;

namespace {
nn::ModulePtr mlp(bool batchnorm = false) {
  manual_seed(17);
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<nn::Linear>(32, 64));
  if (batchnorm) m->add(std::make_shared<nn::BatchNorm1d>(64));
  m->add(std::make_shared<nn::ReLU>());
  m->add(std::make_shared<nn::Dropout>(0.25, 3));
  m->add(std::make_shared<nn::Linear>(64, 10));
  return m;
}

parallel::OptimizerFactory sgd(double lr) {
  return [=](std::vector<Tensor> ps) {
    return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = lr, .momentum = 0.9});
  };
}

// Flat gradient of replica 0 after `steps` steps on the same batch.
Tensor grads_after(const std::string& devices, const Tensor& x, const Tensor& y, int steps, bool sync_bn = false) {
  parallel::DataParallelOptions o;
  o.sync_batchnorm = sync_bn;
  o.check_identical = true;
  parallel::DataParallel dp(mlp(sync_bn), parallel::parse_replicas(devices), sgd(0.05), o);
  for (int s = 0; s < steps; ++s) dp.train_step(x, y);
  CHECK(dp.replicas_identical());
  return dp.flat_grad(0).to(Device::cpu());
}
}  // namespace

GPU_TEST_CASE("parallel: cuda:0,cuda:0 (two streams, in-process sum) equals cuda:0 and the CPU, batches 1, 7, 64") {
  for (std::int64_t batch : {1, 7, 64}) {
    CAPTURE(batch);
    Tensor x = random_cpu({batch, 32}, kFloat32, -1, 1, 100 + batch);
    Tensor y = random_cpu({batch}, kInt64, 0, 10, 200 + batch);
    const Tensor cpu = grads_after("cpu", x, y, 3);
    CHECK_CLOSE_TO_CPU(grads_after("cuda:0", x, y, 3), cpu, 1e-5);
    CHECK_CLOSE_TO_CPU(grads_after("cuda:0,cuda:0", x, y, 3), cpu, 1e-5);
    CHECK_CLOSE_TO_CPU(grads_after("cuda:0,cuda:0,cuda:0", x, y, 3), cpu, 1e-5);
  }
}

GPU_TEST_CASE("parallel: synchronized BatchNorm on cuda:0,cuda:0 equals one device") {
  Tensor x = random_cpu({12, 32}, kFloat32, -1, 1, 5);
  Tensor y = random_cpu({12}, kInt64, 0, 10, 6);
  CHECK_CLOSE_TO_CPU(grads_after("cuda:0,cuda:0", x, y, 2, true), grads_after("cpu", x, y, 2, true), 1e-5);
}

GPU_TEST_CASE("parallel: the NCCL communicator with one rank") {
  auto comm = parallel::make_nccl_communicator({Device::cuda(0)});
  CHECK(comm->size() == 1);
  CHECK(comm->name() == "NCCL");
  Tensor t = from_vector<float>({1, 2, 3, 4}, {4}).to(Device::cuda(0));
  comm->allreduce_sum(0, t);
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  comm->broadcast(0, t, 0);
  Tensor out = zeros({4}, on(kFloat32, Device::cuda(0)));
  comm->allgather(0, t, out);
  CHECK(out.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  Tensor strided = zeros({2, 3}, on(kFloat32, Device::cuda(0))).t();  // not contiguous
  CHECK_THROWS_WITH_AS(comm->allreduce_sum(0, strided), doctest::Contains("contiguous"), Error);
}

GPU_TEST_CASE("parallel: cuda:0,cuda:1 through NCCL equals cuda:0 (needs two GPUs)") {
  if (cuda_device_count() < 2) {
    MESSAGE("only one GPU visible: the multi-GPU equivalence was not run");
    return;
  }
  Tensor x = random_cpu({64, 32}, kFloat32, -1, 1, 9);
  Tensor y = random_cpu({64}, kInt64, 0, 10, 10);
  CHECK_CLOSE_TO_CPU(grads_after("cuda:0,cuda:1", x, y, 3), grads_after("cuda:0", x, y, 3), 1e-5);
}

GPU_TEST_CASE("parallel: a batch already on cuda:0, still being written on the caller's stream, is read after it") {
  // The batch is produced on the caller's stream by a long chain of kernels
  // (what a GPU data pipeline does); to() on the same device returns it as it
  // is, so without an event the replica streams would read it half-written.
  // The result must equal the same step on the same batch from the host.
  const Tensor xc = random_cpu({64, 32}, kFloat32, -1, 1, 91), yc = random_cpu({64}, kInt64, 0, 10, 93);
  auto run = [&](bool on_device) {
    parallel::DataParallel dp(mlp(), parallel::parse_replicas("cuda:0,cuda:0"), sgd(0.05));
    for (int step = 0; step < 3; ++step) {
      if (on_device) {
        Tensor x = zeros({64, 32}, on(kFloat32, gpu()));
        for (int k = 0; k < 200; ++k) x.add_(mul(xc.to(gpu()), 1.0 / 200));  // ends at xc up to rounding
        Tensor y = yc.to(gpu());
        dp.train_step(x, y);  // x and y are dropped right after: the caller's stream waits for the step
      } else {
        Tensor x = zeros({64, 32}, TensorOptions(kFloat32));
        for (int k = 0; k < 200; ++k) x.add_(mul(xc, 1.0 / 200));
        dp.train_step(x, yc);
      }
    }
    return dp.module(0)->parameters()[0].detach().to(Device::cpu());
  };
  CHECK_CLOSE_TO_CPU(run(true), run(false), tol(kFloat32));
}
