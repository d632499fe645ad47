// Host-side logic of the CUDA backend that needs the CUDA headers but no GPU,
// so it runs in CI (built whenever the CUDA backend is): cuDNN status codes
// and the allocator's switches.
#include <doctest/doctest.h>

#include "minidp/kernels/cuda/allocator.h"
#include "minidp/kernels/cuda/handles.h"
#include "minidp/kernels/cuda/linear_plan.h"

#include <cublas_api.h>

#include <cstdlib>
#include <vector>
#include "minidp/kernels/cuda/runtime.h"

namespace cu = minidp::kernels::cuda;

TEST_CASE("cuda host: every cuDNN 9 'not supported' sub-code sends a convolution to its fallback algorithm") {
  // cuDNN 9 reports why it cannot run an algorithm with sub-codes 3001..3014
  // of CUDNN_STATUS_NOT_SUPPORTED (3000); comparing with 3000 alone missed them.
  for (int code = 3000; code <= 3014; ++code) {
    CAPTURE(code);
    CHECK(cu::cudnn_not_supported(static_cast<cudnnStatus_t>(code)));
  }
  CHECK(cu::cudnn_not_supported(CUDNN_STATUS_NOT_SUPPORTED_SHAPE));
  CHECK_FALSE(cu::cudnn_not_supported(CUDNN_STATUS_SUCCESS));
  CHECK_FALSE(cu::cudnn_not_supported(CUDNN_STATUS_BAD_PARAM));       // 2000: a bug, not a fallback
  CHECK_FALSE(cu::cudnn_not_supported(CUDNN_STATUS_INTERNAL_ERROR));  // 4000
  CHECK_FALSE(cu::cudnn_not_supported(CUDNN_STATUS_EXECUTION_FAILED));
}

TEST_CASE("cuda host: the allocator's no-cache switch, and nothing cached without a GPU") {
  const bool was = cu::caching_enabled();
  cu::set_caching_enabled(false);
  CHECK_FALSE(cu::caching_enabled());
  cu::set_caching_enabled(true);
  CHECK(cu::caching_enabled());
  cu::set_caching_enabled(was);
  if (cu::device_count() == 0) CHECK(cu::host_pinned_cached_bytes() == 0);
}

// ---- Linear's cuBLASLt plans (kernels/cuda/linear_plan.h)
TEST_CASE("cuda host: cuBLASLt is asked only for shapes without a dimension of 1, and only a usable answer fuses") {
  CHECK(cu::lt_shape_eligible(512, 1024, 784));  // the benchmark's layer
  CHECK(cu::lt_shape_eligible(2, 2, 2));
  CHECK_FALSE(cu::lt_shape_eligible(1, 1024, 784));  // batch 1: cuBLASLt answers INVALID_VALUE there
  CHECK_FALSE(cu::lt_shape_eligible(512, 1, 784));   // one output feature
  CHECK_FALSE(cu::lt_shape_eligible(512, 1024, 1));  // one input feature
  CHECK_FALSE(cu::lt_shape_eligible(0, 10, 10));
  CHECK_FALSE(cu::lt_shape_eligible(std::int64_t(1) << 31, 10, 10));
  CHECK(cu::lt_heuristic_usable(CUBLAS_STATUS_SUCCESS, 1, CUBLAS_STATUS_SUCCESS));
  CHECK_FALSE(cu::lt_heuristic_usable(CUBLAS_STATUS_SUCCESS, 0, CUBLAS_STATUS_SUCCESS));  // no algorithm
  CHECK_FALSE(cu::lt_heuristic_usable(CUBLAS_STATUS_INVALID_VALUE, 0, CUBLAS_STATUS_SUCCESS));
  CHECK_FALSE(cu::lt_heuristic_usable(CUBLAS_STATUS_NOT_SUPPORTED, 0, CUBLAS_STATUS_SUCCESS));
  CHECK_FALSE(cu::lt_heuristic_usable(CUBLAS_STATUS_SUCCESS, 1, CUBLAS_STATUS_NOT_SUPPORTED));  // its state failed
  CHECK_FALSE(cu::lt_heuristic_usable(CUBLAS_STATUS_INTERNAL_ERROR, 1, CUBLAS_STATUS_SUCCESS));
}

TEST_CASE("cuda host: the cuBLASLt plan cache asks once per key, keys the bias alignment, and remembers a refusal") {
  struct FakePlan {
    bool supported = false;
    int id = 0;
  };
  cu::LtPlanCache<FakePlan> cache;
  int asked = 0;
  auto ask = [&](bool ok) {
    return [&asked, ok] {
      ++asked;
      return FakePlan{ok, asked};
    };
  };
  cu::LtPlanKey k;
  k.m = 512;
  k.n = 1024;
  k.k = 784;
  k.align_a = k.align_b = k.align_d = k.align_bias = 256;
  bool fresh = false;
  CHECK(cache.get(k, ask(true), &fresh).supported);
  CHECK(fresh);
  CHECK(cache.get(k, ask(true), &fresh).id == 1);  // cached: not asked again
  CHECK_FALSE(fresh);
  CHECK(asked == 1);
  // The same shape with a bias 4 bytes off alignment is another plan.
  cu::LtPlanKey kb = k;
  kb.align_bias = 4;
  CHECK_FALSE(cache.get(kb, ask(false), &fresh).supported);
  CHECK(fresh);
  CHECK(asked == 2);
  CHECK(cache.size() == 2);
  // "unsupported" is cached like an algorithm: asked once, answered from the cache after.
  CHECK_FALSE(cache.get(kb, ask(true)).supported);
  CHECK(asked == 2);
  // A run-time refusal turns a plan off for good; said once (true the first time only).
  CHECK(cache.mark_unsupported(k));
  CHECK_FALSE(cache.mark_unsupported(k));
  CHECK_FALSE(cache.get(k, ask(true)).supported);
  CHECK(asked == 2);
  CHECK(k.describe().find("bias 256") != std::string::npos);
}

// ---- the caching allocator's rules on host memory (allocator.h, set_raw_memory_for_testing)
namespace {
std::vector<void*>& raw_frees() {
  static std::vector<void*> v;
  return v;
}
int& raw_mallocs() {
  static int n = 0;
  return n;
}
cu::RawMemoryForTesting g_host_memory{[](std::size_t n) -> void* {
                                        ++raw_mallocs();
                                        return std::malloc(n);
                                      },
                                      [](void* p) {
                                        raw_frees().push_back(p);
                                        std::free(p);
                                      }};
struct HostAllocator {  // the fake device for one test, given back however the test ends
  bool was_caching = cu::caching_enabled();
  HostAllocator() {
    if (cu::device_count() == 0) cu::set_raw_memory_for_testing(&g_host_memory);
    raw_frees().clear();
  }
  ~HostAllocator() {
    cu::empty_cache(0);
    cu::set_caching_enabled(was_caching);
    if (cu::device_count() == 0) cu::set_raw_memory_for_testing(nullptr);
  }
};
bool freed(void* p) {
  for (void* q : raw_frees())
    if (q == p) return true;
  return false;
}
void* const kStreamA = reinterpret_cast<void*>(0x1000);
void* const kStreamB = reinterpret_cast<void*>(0x2000);
}  // namespace

TEST_CASE("cuda host: a no-cache block freed during a graph capture is freed when the capture ends, not before") {
  if (cu::device_count() > 0) return;  // the fake device stands in for cuda:0 only without a GPU
  HostAllocator fake;
  cu::set_caching_enabled(false);
  void* eager = cu::allocate(1000, 0, kStreamB);
  void* plain = cu::allocate(1000, 0, kStreamB);
  cu::deallocate(plain, 0);
  CHECK(freed(plain));  // no capture: cudaFree at once (no-cache mode)
  const std::uint64_t pool = cu::create_private_pool(0);
  cu::begin_pool_capture(0, kStreamA, pool);
  void* captured = cu::allocate(1000, 0, kStreamA);  // from the graph's pool: cached even in no-cache mode
  cu::deallocate(eager, 0);                           // during the capture: deferred
  CHECK_FALSE(freed(eager));
  CHECK(cu::deferred_free_count(0) == 1);
  cu::deallocate(captured, 0);
  CHECK_FALSE(freed(captured));  // the graph's replays still write there
  cu::end_pool_capture(0, kStreamA);
  CHECK(freed(eager));  // the capture is over: now it goes
  CHECK(cu::deferred_free_count(0) == 0);
  CHECK_FALSE(freed(captured));
  CHECK(cu::private_pool_reserved(0) > 0);
  cu::release_private_pool(0, pool);  // the graph is gone: its pool goes back
  CHECK(cu::private_pool_reserved(0) == 0);
}

TEST_CASE("cuda host: a cached block is reused on the stream that freed it, never on another stream") {
  if (cu::device_count() > 0) return;
  HostAllocator fake;
  cu::set_caching_enabled(true);
  void* a = cu::allocate(4096, 0, kStreamA);
  cu::deallocate(a, 0);
  CHECK_FALSE(freed(a));  // cached
  // Another stream may still be behind: it must not get A's block.
  void* b = cu::allocate(4096, 0, kStreamB);
  CHECK(b != a);
  // The same stream runs in order: the block comes back.
  void* a2 = cu::allocate(4096, 0, kStreamA);
  CHECK(a2 == a);
  const auto stats = cu::memory_stats(0);
  CHECK(stats.cache_hits >= 1);
  cu::deallocate(a2, 0);
  cu::deallocate(b, 0);
}
