// The smoke row of tools/gpu-check.sh (doctest filter "smoke:*"): the first
// proof on a GPU, a few seconds long and run before anything is built there —
// one cuBLAS GEMM, one cuDNN convolution, one of minidp's own kernels and one
// two-replica training step, each against the CPU reference. If these pass,
// the toolchain, the libraries and the device agree; the full suite follows.
#include "gpu_test.h"

using namespace minidp;
using namespace minidp::test;

GPU_TEST_CASE("smoke: a GEMM (cuBLAS) equals the CPU's") {
  const Tensor a = random_cpu({64, 96}, kFloat32, -1, 1, 11), b = random_cpu({96, 48}, kFloat32, -1, 1, 13);
  CHECK_CLOSE_TO_CPU(matmul(a.to(gpu()), b.to(gpu())), matmul(a, b), tol(kFloat32));
}

GPU_TEST_CASE("smoke: a convolution (cuDNN) equals the CPU's") {
  const Tensor x = random_cpu({4, 3, 12, 12}, kFloat32, -1, 1, 17), w = random_cpu({8, 3, 3, 3}, kFloat32, -1, 1, 19);
  const Tensor b = random_cpu({8}, kFloat32, -1, 1, 23);
  const auto o = Conv2dOptions::make(1, 1);
  // 1e-4, the suite's tolerance for cuDNN convolutions (docs/cuda.md): cuDNN's
  // heuristics may pick a Winograd or FFT algorithm, which rounds differently
  // from the CPU's im2col + GEMM by more than a GEMM's 1e-5.
  CHECK_CLOSE_TO_CPU(conv2d(x.to(gpu()), w.to(gpu()), b.to(gpu()), o), conv2d(x, w, b, o), 1e-4);
}

GPU_TEST_CASE("smoke: an own kernel (ReLU, elementwise) equals the CPU's bit for bit") {
  const Tensor x = random_cpu({1000}, kFloat32, -1, 1, 29);
  CHECK(relu(x.to(gpu())).to(Device::cpu()).to_vector<float>() == relu(x).to_vector<float>());
}

GPU_TEST_CASE("smoke: a two-replica step on cuda:0,cuda:0 equals the same step on the CPU") {
  auto step = [](const std::string& devices) {
    manual_seed(31);
    auto m = std::make_shared<nn::Sequential>();
    m->add(std::make_shared<nn::Linear>(20, 16));
    m->add(std::make_shared<nn::ReLU>());
    m->add(std::make_shared<nn::Linear>(16, 4));
    parallel::DataParallel dp(m, parallel::parse_replicas(devices), [](std::vector<Tensor> ps) {
      return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.1, .momentum = 0.9});
    });
    const Tensor x = random_cpu({9, 20}, kFloat32, -1, 1, 37), y = random_cpu({9}, kInt64, 0, 4, 41);
    const double loss = dp.train_step(x, y).loss();
    CHECK(dp.replicas_identical());
    return std::make_pair(loss, dp.module(0)->parameters()[0].detach().to(Device::cpu()));
  };
  const auto [loss_gpu, w_gpu] = step("cuda:0,cuda:0");
  const auto [loss_cpu, w_cpu] = step("cpu,cpu");
  CHECK(loss_gpu == doctest::Approx(loss_cpu).epsilon(1e-5));
  CHECK_CLOSE_TO_CPU(w_gpu, w_cpu, tol(kFloat32));
}
