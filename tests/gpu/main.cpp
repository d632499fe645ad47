// minidp/tests/gpu/main.cpp — entry point of the GPU test suite.
//
// Without a GPU (or in a build without CUDA) nothing can run: the suite says
// so and exits with 77, which ctest reports as "skipped" — visibly, never as a
// silent pass.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "gpu_test.h"
#include "minidp/kernels/cuda/linear.h"
#include "minidp/kernels/cuda/runtime.h"

namespace minidp::test {
int& test_count() {
  static int n = 0;
  return n;
}
}  // namespace minidp::test

int main(int argc, char** argv) {
  using namespace minidp;
  const int n = test::test_count();
  if (!cuda_compiled()) {
    std::printf("SKIPPED: minidp was built without CUDA, so the GPU test suite is not compiled in\n");
    return 77;
  }
  if (cuda_device_count() == 0) {
    std::printf("SKIPPED: no CUDA device visible (%d GPU tests not run)\n", n);
    return 77;
  }
  set_allow_tf32(false);  // the tolerances of the suite assume full FP32
  doctest::Context ctx;
  ctx.applyCommandLine(argc, argv);
  const int rc = ctx.run();
  // What ran fused and what was captured: one line that tools/gpu-check.sh
  // puts in its summary (the paths give the same numbers, so only counts tell).
  const auto l = kernels::cuda::linear_epilogue_counts();
  const auto g = kernels::cuda::graph_counts();
  // Of the plain runs, "no algorithm" asked cuBLASLt and got none; the rest
  // never ask (float64, a dimension of 1).
  std::printf("minidp counts: linear forward fused=%llu plain=%llu (no algorithm %llu), backward fused=%llu plain=%llu "
              "(no algorithm %llu); cuda graphs captured=%llu replayed=%llu\n",
              static_cast<unsigned long long>(l.forward_fused), static_cast<unsigned long long>(l.forward_plain),
              static_cast<unsigned long long>(l.forward_no_algorithm),
              static_cast<unsigned long long>(l.backward_fused), static_cast<unsigned long long>(l.backward_plain),
              static_cast<unsigned long long>(l.backward_no_algorithm), static_cast<unsigned long long>(g.captured),
              static_cast<unsigned long long>(g.replayed));
  return rc;
}
