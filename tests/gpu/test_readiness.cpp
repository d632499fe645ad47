// The GPU path's first-run fixes, each shown on the GPU: errors that stay with
// the call and the stream that raised them, destructors that do not throw,
// the no-cache allocator the sanitizer runs use, memory of ended threads given
// back, pinned buffers reused without a wait, collectives on one GPU ordered
// with events, +-inf reductions, the CPU's float operations without FMA
// contraction — and a data-parallel step that never makes the host wait.
#include <thread>

#include "gpu_test.h"
#include "minidp/kernels/cuda/allocator.h"
#include "minidp/kernels/cuda/runtime.h"

using namespace minidp;
using namespace minidp::test;
namespace cu = minidp::kernels::cuda;
namespace kc = minidp::kernels::cpu;
namespace kg = minidp::kernels::cuda;

GPU_TEST_CASE("runtime: a caught CUDA failure leaves no error behind for the next kernel") {
  // cudaSetDevice(999) fails and sets CUDA's last error; the launch check of
  // the next kernel reads that last error and would blame relu for it.
  CHECK_THROWS_WITH_AS(cu::set_device(999), doctest::Contains("cudaSetDevice"), Error);
  cu::set_device(0);
  const Tensor t = ones({100}, on(kFloat32, gpu()));
  Tensor y;
  CHECK_NOTHROW(y = relu(t));
  CHECK(sum(y).item() == 100.0);
}

GPU_TEST_CASE("runtime: a kernel's bad index is raised for its own stream, not for another one") {
  const Stream a = create_stream(gpu()), b = create_stream(gpu());
  {
    StreamGuard g(a);
    const Tensor x = ones({5, 3}, on(kFloat32, gpu()));
    const Tensor idx = from_vector<std::int64_t>({1, 7}, {2}).to(gpu());
    Tensor out = Tensor::empty({2, 3}, on(kFloat32, gpu()));
    kg::index_select(x, idx, out);
  }
  CHECK_NOTHROW(synchronize(b));  // b's kernels found nothing
  CHECK_THROWS_WITH_AS(synchronize(a), doctest::Contains("index 7 at position 1 is out of range"), Error);
  CHECK_NOTHROW(synchronize(a));  // reported once
  destroy_stream(a);
  destroy_stream(b);
}

GPU_TEST_CASE("runtime: destroying a stream in a destructor reports a kernel's error instead of throwing") {
  const Stream a = create_stream(gpu());
  {
    StreamGuard g(a);
    const Tensor x = ones({5, 3}, on(kFloat32, gpu()));
    const Tensor idx = from_vector<std::int64_t>({9}, {1}).to(gpu());
    Tensor out = Tensor::empty({1, 3}, on(kFloat32, gpu()));
    kg::index_select(x, idx, out);
  }
  CHECK_NOTHROW(destroy_stream_noexcept(a));  // prints the error to stderr
  // A DataParallel whose replica stream saw such an error is destroyed the same way.
  {
    parallel::DataParallel dp(std::make_shared<nn::Linear>(4, 2), parallel::parse_replicas("cuda:0"),
                              [](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{}); });
    StreamGuard g(dp.replica(0).stream);
    const Tensor x = ones({5, 3}, on(kFloat32, gpu()));
    Tensor out = Tensor::empty({1, 3}, on(kFloat32, gpu()));
    kg::index_select(x, from_vector<std::int64_t>({9}, {1}).to(gpu()), out);
  }  // ~DataParallel: no std::terminate
}

GPU_TEST_CASE("allocator: no-cache mode is one exact cudaMalloc per tensor, freed at once") {
  cu::set_caching_enabled(false);
  const auto before = cu::memory_stats(0);
  {
    const Tensor t = Tensor::empty({1000}, on(kFloat32, gpu()));  // 4000 bytes, not rounded
    const auto s = cu::memory_stats(0);
    CHECK(s.num_cuda_mallocs == before.num_cuda_mallocs + 1);
    CHECK(s.reserved == before.reserved + 4000);
  }
  const auto after = cu::memory_stats(0);
  CHECK(after.reserved == before.reserved);
  CHECK(after.num_cuda_frees == before.num_cuda_frees + 1);
  cu::set_caching_enabled(true);
  {
    const Tensor t = Tensor::empty({1000}, on(kFloat32, gpu()));
    CHECK(cu::memory_stats(0).allocated == after.allocated + 4096);  // rounded to 512 B again
  }
}

GPU_TEST_CASE("allocator: a thread that ends gives back its default stream's blocks and cuBLAS workspace") {
  const auto before = cu::memory_stats(0);
  std::thread worker([] {
    // This thread's default stream: nobody else can ever reuse what it caches.
    const Tensor a = ones({64, 64}, on(kFloat32, gpu()));
    CHECK(sum(matmul(a, a)).item() == 64.0 * 64.0 * 64.0);
  });
  worker.join();
  const auto after = cu::memory_stats(0);
  CHECK(after.allocated == before.allocated);
  CHECK(after.reserved == before.reserved);
}

GPU_TEST_CASE("pinned memory: a freed pinned buffer is reused once its copy is done, without cudaFreeHost") {
  const Tensor src = random_cpu({1 << 18}, kFloat32, -1, 1, 3);
  Tensor h = pin_memory(src);
  const void* first = h.storage()->data();
  const Tensor d = h.to(gpu());  // asynchronous: the copy's event is attached to the pinned block
  h = Tensor();                  // back to the pinned cache, not cudaFreeHost (which waits for the device)
  CHECK(cu::host_pinned_cached_bytes() >= (std::size_t(1) << 20));
  synchronize(gpu());
  const Tensor h2 = pin_memory(src);
  CHECK(h2.storage()->data() == first);  // the copy is done: the same block again
  CHECK(bitwise_equal(d, src));
}

GPU_TEST_CASE("communicator: on one GPU, broadcast and allgather keep the root's tensor until every copy has run") {
  // Two ranks on cuda:0, each on its own stream. The root overwrites its
  // tensor as soon as the collective returns: without the events that make its
  // stream wait for the other rank's copy, the copy could read 2s.
  parallel::InProcessCommunicator comm(2);
  const Stream s[2] = {create_stream(gpu()), create_stream(gpu())};
  const std::int64_t n = std::int64_t(1) << 22;  // 16 MiB: a copy that takes a while
  Tensor t[2], gathered[2];
  for (int r = 0; r < 2; ++r) {
    StreamGuard g(s[r]);
    t[r] = full({n}, r == 0 ? 1.0 : 0.0, on(kFloat32, gpu()));
    gathered[r] = zeros({2 * n}, on(kFloat32, gpu()));
  }
  const std::uint64_t syncs = host_sync_count();
  auto rank = [&](int r) {
    DeviceGuard dg(gpu());
    StreamGuard g(s[r]);
    NoGradGuard ng;
    comm.broadcast(r, t[r], 0);
    if (r == 0) t[0].fill_(2.0);  // the root moves on at once
    comm.allgather(r, t[r], gathered[r]);
    t[r].fill_(5.0);  // both overwrite their input at once
  };
  std::thread other(rank, 1);
  rank(0);
  other.join();
  CHECK(host_sync_count() == syncs);  // ordered by events: the host never waited
  synchronize(s[0]);
  synchronize(s[1]);
  CHECK(min(t[1]).item() == 5.0);
  CHECK(max(gathered[0].narrow(0, 0, n)).item() == 2.0);  // rank 0's input after the broadcast: 2
  CHECK(min(gathered[0].narrow(0, 0, n)).item() == 2.0);
  CHECK(min(gathered[1].narrow(0, n, n)).item() == 1.0);  // rank 1's input: the broadcast 1s
  CHECK(max(gathered[1].narrow(0, n, n)).item() == 1.0);
  for (auto& x : t) x = Tensor();
  for (auto& x : gathered) x = Tensor();
  destroy_stream(s[0]);
  destroy_stream(s[1]);
}

GPU_TEST_CASE("reduce: max and min of infinities are infinities on the GPU, float32 and float64") {
  const double inf = std::numeric_limits<double>::infinity();
  for (DType t : {kFloat32, kFloat64}) {
    CHECK(max(full({1000}, -inf, on(t, gpu()))).item() == -inf);
    CHECK(min(full({1000}, inf, on(t, gpu()))).item() == inf);
  }
}

GPU_TEST_CASE("elementwise: a*x + b is the CPU's multiply-then-add, bit for bit (no FMA contraction)") {
  for (DType t : {kFloat32, kFloat64}) {
    const Tensor x = random_cpu({100003}, t, -3, 3, 8);
    Tensor yc = Tensor::empty(x.shape(), TensorOptions(t));
    kc::unary(kernels::UnaryOp::Affine, x, yc, 1.37, 0.29);
    Tensor yg = Tensor::empty(x.shape(), on(t, gpu()));
    kg::unary(kernels::UnaryOp::Affine, x.to(gpu()), yg, 1.37, 0.29);
    CHECK(bitwise_equal(yg, yc));
  }
}

GPU_TEST_CASE("parallel: a training step on cuda:0,cuda:0 never makes the host wait, and gives the CPU's loss") {
  manual_seed(4);
  auto make = [] {
    manual_seed(4);
    auto m = std::make_shared<nn::Sequential>();
    m->add(std::make_shared<nn::Linear>(32, 64));
    m->add(std::make_shared<nn::BatchNorm1d>(64));
    m->add(std::make_shared<nn::ReLU>());
    m->add(std::make_shared<nn::Linear>(64, 10));
    return m;
  };
  const Tensor x = random_cpu({48, 32}, kFloat32, -1, 1, 40), y = random_cpu({48}, kInt64, 0, 10, 41);
  auto sgd = [](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.05, .momentum = 0.9}); };
  double cpu_loss = 0, synced_loss = 0;
  for (const char* devices : {"cpu", "cuda:0,cuda:0"})
    for (bool sync_bn : {false, true}) {
      if (std::string(devices) == "cpu" && sync_bn) continue;
      CAPTURE(devices);
      CAPTURE(sync_bn);
      parallel::DataParallel dp(make(), parallel::parse_replicas(devices), sgd, {.sync_batchnorm = sync_bn});
      const Device d0 = dp.replica(0).device;
      const Tensor xd = x.to(d0), yd = y.to(d0);
      metrics::TrainingRecorder rec(dp, 0);
      rec.start_epoch();
      const std::uint64_t before = host_sync_count();
      for (int s = 0; s < 5; ++s) rec.record(dp.train_step(xd, yd));
      CHECK(host_sync_count() == before);  // queued, summed, stepped: the host never waited
      CHECK(rec.host_syncs_per_step() == 0.0);
      const double loss = rec.mean_loss();
      CHECK(std::isfinite(loss));
      if (std::string(devices) == "cpu") cpu_loss = loss;
      if (sync_bn) synced_loss = loss;
    }
  // Synchronized BatchNorm over two replicas computes what one device computes on the whole batch.
  CHECK(synced_loss == doctest::Approx(cpu_loss).epsilon(1e-4));
}
