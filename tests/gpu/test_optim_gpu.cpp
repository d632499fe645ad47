// GPU tests of the fused optimizer kernels: many tensors in one launch, the
// same result as the CPU twin.
#include "gpu_test.h"

using namespace minidp;
using namespace minidp::test;

namespace {
// 30 tensors (more than one launch's worth) of assorted sizes, with gradients.
std::vector<Tensor> make_params(Device d, std::uint64_t seed) {
  std::vector<Tensor> ps;
  for (int i = 0; i < 30; ++i) {
    const std::int64_t n = 1 + (i * 7919) % 70000;
    Tensor p = random_cpu({n}, kFloat32, -1, 1, seed + i).to(d).requires_grad_();
    p.set_grad(random_cpu({n}, kFloat32, -1, 1, seed + 100 + i).to(d));
    ps.push_back(p);
  }
  return ps;
}
}  // namespace

GPU_TEST_CASE("optim: fused SGD (momentum, nesterov, weight decay) and Adam/AdamW on the GPU equal the CPU") {
  for (int kind = 0; kind < 3; ++kind) {
    CAPTURE(kind);
    auto cpu = make_params(Device::cpu(), 7), gpu_ps = make_params(gpu(), 7);
    std::unique_ptr<nn::Optimizer> oc, og;
    if (kind == 0) {
      oc = std::make_unique<nn::SGD>(cpu, nn::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
      og = std::make_unique<nn::SGD>(gpu_ps, nn::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
    } else {
      nn::AdamOptions o;
      o.weight_decay = 0.05;
      if (kind == 2) {
        oc = std::make_unique<nn::AdamW>(cpu, o);
        og = std::make_unique<nn::AdamW>(gpu_ps, o);
      } else {
        oc = std::make_unique<nn::Adam>(cpu, o);
        og = std::make_unique<nn::Adam>(gpu_ps, o);
      }
    }
    for (int s = 0; s < 3; ++s) {
      oc->step();
      og->step();
    }
    for (std::size_t i = 0; i < cpu.size(); ++i) CHECK_CLOSE_TO_CPU(gpu_ps[i].detach(), cpu[i].detach(), 1e-6);
  }
}
