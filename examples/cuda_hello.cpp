// cuda_hello — the CUDA backend in one page: a tensor on cuda:0, a few ops, a
// second stream ordered by an event, pinned memory, and the allocator's
// statistics. Without a GPU it says so and exits 0.
//
//   ./build/examples/cuda_hello
#include <cstdio>

#include "minidp/kernels/cuda/allocator.h"
#include "minidp/minidp.h"
#include "guarded_main.h"  // one clear line and exit status 1 for any error

using namespace minidp;

int run() {
  if (!cuda_compiled() || cuda_device_count() == 0) {
    std::printf("cuda_hello: no GPU visible (%s); nothing to show on a CPU-only machine.\n",
                cuda_compiled() ? "CUDA built, but no device or driver" : "minidp built without CUDA");
    return 0;
  }
  const Device gpu = Device::cuda(0);

  // 1. Tensors and ops: the same code as on the CPU, queued on the current stream.
  Generator gen(0);
  const Tensor x = randn({256, 128}, TensorOptions(gpu), &gen);
  const Tensor w = randn({64, 128}, TensorOptions(gpu), &gen).requires_grad_();
  Tensor loss = mean(relu(linear(x, w)));
  loss.backward();  // cuBLAS GEMMs and own kernels, all on the GPU
  std::printf("loss on %s: %.6f (the same seed on the CPU gives %.6f)\n", gpu.str().c_str(), loss.item(),
              [&] {
                Generator g(0);
                const Tensor xc = randn({256, 128}, {}, &g), wc = randn({64, 128}, {}, &g);
                return mean(relu(linear(xc, wc))).item();
              }());

  // 2. A second stream: its work may overlap the default stream's; events order them.
  //    x was computed on the default stream, so `side` waits for that first.
  const Stream side = create_stream(gpu);
  Event x_ready;
  x_ready.record(current_stream(gpu));
  Tensor y;
  {
    StreamGuard guard(side);
    x_ready.wait(side);
    y = matmul(x, x, false, true);  // queued on `side`
  }
  Event done;
  done.record(side);
  done.wait(current_stream(gpu));  // later default-stream work waits; the host does not
  std::printf("sum of x x^T computed on a second stream: %.3f\n", sum(y).item());
  y = Tensor();
  destroy_stream(side);

  // 3. Pinned host memory: the upload is asynchronous.
  const Tensor batch = pin_memory(rand({1024, 784}, {}, &gen));
  const Tensor on_gpu = batch.to(gpu);
  std::printf("pinned batch uploaded: %s (pinned: %s)\n", on_gpu.describe().c_str(), is_pinned(batch) ? "yes" : "no");

  // 4. The caching allocator.
  std::printf("cuda:0 allocator: %s\n", kernels::cuda::format_memory_stats(kernels::cuda::memory_stats(0)).c_str());
  return 0;
}

int main() { return minidp::examples::guarded_main("cuda_hello", run); }
