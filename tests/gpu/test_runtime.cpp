// Streams, events, pinned memory, per-thread handles and the caching
// allocator (reuse, statistics, out of memory).
#include <thread>

#include "gpu_test.h"
#include "minidp/kernels/cuda/allocator.h"

using namespace minidp;
using namespace minidp::test;
namespace cu = minidp::kernels::cuda;

namespace {

// A chain of dependent ops: y <- relu(y @ w * 0.5 + 0.1), `steps` times.
Tensor chain(Tensor y, const Tensor& w, int steps) {
  NoGradGuard ng;
  for (int i = 0; i < steps; ++i) y = relu(add(mul(matmul(y, w), 0.5), 0.1));
  return y;
}

}  // namespace

GPU_TEST_CASE("stream: two streams run independent chains concurrently and both are right") {
  const Tensor y1 = random_cpu({64, 64}, kFloat32, -1, 1, 1), w1 = random_cpu({64, 64}, kFloat32, -0.3, 0.3, 2);
  const Tensor y2 = random_cpu({64, 64}, kFloat32, -1, 1, 3), w2 = random_cpu({64, 64}, kFloat32, -0.3, 0.3, 4);
  const Tensor ref1 = chain(y1, w1, 30), ref2 = chain(y2, w2, 30);
  const Stream s1 = create_stream(gpu()), s2 = create_stream(gpu());
  Tensor a1, b1, a2, b2;
  {
    StreamGuard g(s1);
    a1 = y1.to(gpu());
    b1 = w1.to(gpu());
  }
  {
    StreamGuard g(s2);
    a2 = y2.to(gpu());
    b2 = w2.to(gpu());
  }
  // Interleave: one step on s1, one on s2 — the GPU may run them side by side.
  {
    NoGradGuard ng;
    for (int i = 0; i < 30; ++i) {
      {
        StreamGuard g(s1);
        a1 = relu(add(mul(matmul(a1, b1), 0.5), 0.1));
      }
      {
        StreamGuard g(s2);
        a2 = relu(add(mul(matmul(a2, b2), 0.5), 0.1));
      }
    }
  }
  synchronize(s1);
  synchronize(s2);
  CHECK_CLOSE_TO_CPU(a1, ref1, 1e-4);
  CHECK_CLOSE_TO_CPU(a2, ref2, 1e-4);
  a1 = b1 = a2 = b2 = Tensor();  // free before the streams go
  destroy_stream(s1);
  destroy_stream(s2);
}

GPU_TEST_CASE("stream: host threads, each on its own stream with its own cuBLAS handle") {
  constexpr int kThreadsN = 4;
  std::vector<Tensor> ys, ws, refs(kThreadsN), results(kThreadsN);
  for (int i = 0; i < kThreadsN; ++i) {
    ys.push_back(random_cpu({48, 48}, kFloat32, -1, 1, 10 + i));
    ws.push_back(random_cpu({48, 48}, kFloat32, -0.3, 0.3, 20 + i));
    refs[i] = chain(ys[i], ws[i], 20);
  }
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreadsN);
  for (int i = 0; i < kThreadsN; ++i)
    threads.emplace_back([&, i] {
      try {
        const Stream s = create_stream(gpu());
        {
          StreamGuard g(s);
          results[i] = chain(ys[i].to(gpu()), ws[i].to(gpu()), 20).to(Device::cpu());
        }
        destroy_stream(s);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreadsN; ++i) {
    INFO("thread ", i, ": ", errors[i]);
    REQUIRE(errors[i].empty());
    CHECK_CLOSE_TO_CPU(results[i], refs[i], 1e-4);
  }
}

GPU_TEST_CASE("stream: an event orders a consumer stream after a producer stream") {
  const Stream producer = create_stream(gpu()), consumer = create_stream(gpu());
  Tensor big;
  {
    StreamGuard g(producer);
    big = zeros({1 << 22}, on(kFloat32, gpu()));
    NoGradGuard ng;
    for (int i = 0; i < 20; ++i) big.add_(ones({1 << 22}, on(kFloat32, gpu())));  // long enough to race
  }
  Event ready;
  ready.record(producer);
  ready.wait(consumer);  // the consumer's next work starts after the producer's
  Tensor total;
  {
    StreamGuard g(consumer);
    total = sum(big);
  }
  synchronize(consumer);
  CHECK(total.to_vector<float>()[0] == doctest::Approx(20.0 * (1 << 22)));
  synchronize(producer);
  big = total = Tensor();
  destroy_stream(producer);
  destroy_stream(consumer);
}

GPU_TEST_CASE("stream: timing events on a GPU and on the CPU") {
  Event start(true), end(true);
  const Stream s = current_stream(gpu());
  start.record(s);
  const Tensor a = ones({512, 512}, on(kFloat32, gpu()));
  const Tensor c = matmul(a, a);
  end.record(s);
  end.synchronize();
  CHECK(end.query());
  CHECK(start.elapsed_ms(end) >= 0.0f);
  CHECK(c.to_vector<float>()[0] == 512.0f);
  Event cs(true), ce(true);
  cs.record(current_stream(Device::cpu()));
  ce.record(current_stream(Device::cpu()));
  CHECK(cs.elapsed_ms(ce) >= 0.0f);
  Event untimed;
  untimed.record(s);
  CHECK_THROWS_AS(untimed.elapsed_ms(end), Error);
}

GPU_TEST_CASE("stream: pinned host memory uploads asynchronously and correctly") {
  const Tensor x = random_cpu({1000, 33}, kFloat32, -1, 1, 5);
  CHECK_FALSE(is_pinned(x));
  const Tensor p = pin_memory(x);
  CHECK(is_pinned(p));
  CHECK(bitwise_equal(p, x));
  const Tensor g = p.to(gpu());
  CHECK(bitwise_equal(g, x));
  CHECK(pin_memory(p).same_as(p));
}

GPU_TEST_CASE("stream: copies between two GPUs (when there are two)") {
  if (cuda_device_count() < 2) {
    MESSAGE("one GPU visible: cross-device copy not exercised");
    return;
  }
  const Tensor x = random_cpu({257, 3}, kFloat64, -1, 1, 6);
  const Tensor a = x.to(Device::cuda(0));
  const Tensor b = a.to(Device::cuda(1));
  CHECK(b.device() == Device::cuda(1));
  CHECK(bitwise_equal(b, x));
  CHECK(bitwise_equal(b.to(Device::cuda(0)), x));
}

GPU_TEST_CASE("allocator: freed blocks are reused on the same stream, statistics add up") {
  synchronize(gpu());
  const auto base = cu::memory_stats(0);
  void* p1 = nullptr;
  {
    const Tensor t = Tensor::empty({1000}, on(kFloat32, gpu()));  // 4000 B -> 4096 B
    p1 = t.raw_data();
    const auto s = cu::memory_stats(0);
    CHECK(s.allocated == base.allocated + 4096);
    CHECK(s.requested == base.requested + 4000);
    CHECK(s.num_allocs == base.num_allocs + 1);
  }
  const auto after_free = cu::memory_stats(0);
  CHECK(after_free.allocated == base.allocated);
  CHECK(after_free.num_frees == base.num_frees + 1);
  {
    const Tensor t = Tensor::empty({1010}, on(kFloat32, gpu()));  // 4040 B: the same 4096-B block
    CHECK(t.raw_data() == p1);
    const auto s = cu::memory_stats(0);
    CHECK(s.cache_hits == after_free.cache_hits + 1);
    CHECK(s.num_cuda_mallocs == after_free.num_cuda_mallocs);
  }
  // Another stream does not get this stream's block.
  const Stream s2 = create_stream(gpu());
  {
    StreamGuard g(s2);
    const Tensor t = Tensor::empty({1000}, on(kFloat32, gpu()));
    CHECK(t.raw_data() != p1);
  }
  destroy_stream(s2);
  // Large blocks: rounded to 2 MiB; the peak remembers; empty_cache gives memory back.
  cu::reset_peak(0);
  const auto before_large = cu::memory_stats(0);
  {
    const Tensor big = Tensor::empty({3 << 18}, on(kFloat32, gpu()));  // 3 MiB -> 4 MiB
    const auto s = cu::memory_stats(0);
    CHECK(s.allocated == before_large.allocated + (std::size_t(4) << 20));
    CHECK(s.reserved >= before_large.allocated + (std::size_t(4) << 20));
  }
  const auto s = cu::memory_stats(0);
  CHECK(s.peak_allocated >= before_large.allocated + (std::size_t(4) << 20));
  CHECK(s.allocated == before_large.allocated);
  cu::empty_cache(0);
  const auto emptied = cu::memory_stats(0);
  CHECK(emptied.reserved < s.reserved);
  CHECK(emptied.allocated == s.allocated);
  MESSAGE("cuda:0 allocator: ", cu::format_memory_stats(emptied));
}

GPU_TEST_CASE("allocator: out of memory raises a clear error, and the device still works") {
  const auto before = cu::memory_stats(0);
  const std::int64_t n = std::int64_t(1) << 48;  // float32: 1 PiB
  CHECK_THROWS_WITH_AS(Tensor::empty({n}, on(kFloat32, gpu())),
                       doctest::Contains("CUDA out of memory on cuda:0: tried to allocate 1.0 PiB"), Error);
  try {
    Tensor::empty({n}, on(kFloat32, gpu()));
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("1125899906842624 bytes") != std::string::npos);
    CHECK(msg.find("reserved") != std::string::npos);
    CHECK(msg.find("free") != std::string::npos);
  }
  CHECK(cu::memory_stats(0).num_ooms >= before.num_ooms + 2);
  const Tensor ok = ones({1000}, on(kFloat32, gpu()));
  CHECK(sum(ok).item() == 1000.0);
}
