// examples/cpu_tour.cpp — the CPU device on every core, with the same bits on any number of threads.
//
// One forward and backward pass of a small convolutional layer stack
// (conv, ReLU, max pool, linear, cross-entropy) on a batch of 64 images, run
// once on one thread and once on every thread of the budget. The tour prints:
//   1. the budget (core/device.h, num_threads) and the library behind the
//      matrix products;
//   2. the time of each run, and the speed-up;
//   3. whether the loss and every gradient are bitwise the same (they must
//      be: the kernels cut their work into chunks that depend on the shapes
//      only, and add partial sums in chunk order — docs/cpu.md);
//   4. how DataParallel shares the budget between replicas on the CPU.
//
//   ./cpu_tour                      (every core)
//   MINIDP_NUM_THREADS=4 ./cpu_tour (a budget of 4; exits 1 if the runs differ)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "minidp/minidp.h"

using namespace minidp;

namespace {

struct Pass {
  float loss = 0;
  std::vector<std::vector<float>> grads;
  double ms = 0;
};

// The same weights and batch every call; `threads` for the CPU's ops.
Pass forward_backward(int threads) {
  set_num_threads(threads);
  Generator gen(7);
  Tensor x = randn({64, 3, 32, 32}, {}, &gen);
  Tensor labels = randint(0, 10, {64}, kInt64, &gen);
  std::vector<Tensor> params = {mul(randn({32, 3, 3, 3}, {}, &gen), 0.2), mul(randn({32}, {}, &gen), 0.1),
                                mul(randn({10, 32 * 16 * 16}, {}, &gen), 0.01), zeros({10})};
  for (auto& p : params) p.requires_grad_();
  const auto t0 = std::chrono::steady_clock::now();
  Tensor h = relu(conv2d(x, params[0], params[1], Conv2dOptions::make(1, 1)));  // [64, 32, 32, 32]
  h = max_pool2d(h, Pool2dOptions::make(2)).reshape({64, -1});                  // [64, 8192]
  Tensor loss = cross_entropy(linear(h, params[2], params[3]), labels);
  loss.backward();
  Pass p;
  p.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  p.loss = loss.item<float>();
  for (auto& t : params) p.grads.push_back(t.grad().to_vector<float>());
  return p;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

int main() {
  try {
    const int budget = num_threads();
    std::printf("1. CPU budget: %d thread(s); float32 matrix products by %s\n", budget, cpu_gemm_library());

    forward_backward(budget);  // warm-up: the thread pool and the memory caches fill once
    const Pass one = forward_backward(1), all = forward_backward(budget);
    std::printf("2. forward + backward, batch 64: %.1f ms on 1 thread, %.1f ms on %d (%.2fx)\n", one.ms, all.ms,
                budget, one.ms / all.ms);

    bool same = std::memcmp(&one.loss, &all.loss, sizeof(float)) == 0;
    for (std::size_t i = 0; i < one.grads.size(); ++i) same = same && bitwise_equal(one.grads[i], all.grads[i]);
    std::printf("3. loss %.6f on both; loss and all %zu gradients bitwise equal: %s\n", one.loss, one.grads.size(),
                same ? "yes" : "NO");

    set_num_threads(budget);
    parallel::DataParallel dp(
        std::make_shared<nn::Linear>(4, 2), parallel::parse_replicas("cpu,cpu"),
        [](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.1}); });
    std::printf("4. DataParallel on cpu,cpu: %d thread(s) per replica (the budget of %d, shared)\n",
                dp.cpu_threads_per_replica(), budget);
    if (!same) return 1;
    std::printf("1 and %d threads: bitwise the same\n", budget);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cpu_tour: %s\n", e.what());
    return 1;
  }
}
