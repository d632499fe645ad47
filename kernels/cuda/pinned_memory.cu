// minidp/kernels/cuda/pinned_memory.cu — page-locked host memory, cached.
//
// cudaHostAlloc is slow and cudaFreeHost waits for the whole device, so a
// loader that pinned and freed a buffer per batch would stall every step.
// Freed blocks are kept, by rounded size, with the events of the copies that
// read them (host_pinned_record_use); a block is handed out again only when
// cudaEventQuery says all those copies are done — the host never waits.
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "minidp/kernels/cuda/common.cuh"
#include "minidp/kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

namespace {
struct PinnedBlock {
  void* ptr;
  std::size_t size;
  std::vector<std::pair<cudaEvent_t, int>> uses;  // (event, device) of copies still maybe in flight
};
struct PinnedPool {
  std::mutex mu;
  std::unordered_map<void*, PinnedBlock> live;
  std::multimap<std::size_t, PinnedBlock> free;  // by size
  std::vector<std::pair<cudaEvent_t, int>> spare_events;
};
PinnedPool& pinned_pool() {
  static auto* p = new PinnedPool;  // never destroyed: buffers may be freed during static destruction
  return *p;
}
std::size_t pinned_round(std::size_t n) {
  std::size_t r = 512;
  while (r < n) r <<= 1;  // powers of two: few distinct sizes, so blocks are reused
  return r;
}
// True when every recorded use of `b` has completed; the finished events go back to the spares.
bool pinned_idle(PinnedPool& pool, PinnedBlock& b) {
  for (auto& [e, dev] : b.uses)
    if (cudaEventQuery(e) != cudaSuccess) {
      cudaGetLastError();  // cudaErrorNotReady is not an error to keep
      return false;
    }
  for (auto& u : b.uses) pool.spare_events.push_back(u);
  b.uses.clear();
  return true;
}
}  // namespace

void* host_malloc_pinned(std::size_t nbytes) {
  if (nbytes == 0) return nullptr;
  auto& pool = pinned_pool();
  const bool cache = caching_enabled();
  const std::size_t size = cache ? pinned_round(nbytes) : nbytes;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    if (cache) {
      auto range = pool.free.equal_range(size);
      for (auto it = range.first; it != range.second; ++it) {
        if (!pinned_idle(pool, it->second)) continue;
        PinnedBlock b = std::move(it->second);
        pool.free.erase(it);
        void* p = b.ptr;
        pool.live.emplace(p, std::move(b));
        return p;
      }
    }
  }
  void* p = nullptr;
  // Portable: pinned for every GPU of the process, not only the current one.
  const cudaError_t err = cudaHostAlloc(&p, size, cudaHostAllocPortable);
  if (err != cudaSuccess) {
    cudaGetLastError();
    MINIDP_FAIL("pin_memory: cudaHostAlloc of ", size, " bytes of page-locked host memory failed: ",
                cudaGetErrorString(err));
  }
  std::lock_guard<std::mutex> lock(pool.mu);
  pool.live.emplace(p, PinnedBlock{p, size, {}});
  return p;
}

void host_free_pinned(void* ptr) noexcept {
  if (ptr == nullptr) return;
  auto& pool = pinned_pool();
  std::lock_guard<std::mutex> lock(pool.mu);
  auto it = pool.live.find(ptr);
  if (it == pool.live.end()) return;
  PinnedBlock b = std::move(it->second);
  pool.live.erase(it);
  if (!caching_enabled()) {
    cudaFreeHost(b.ptr);  // waits for the device: a copy still reading it finishes first
    for (auto& u : b.uses) cudaEventDestroy(u.first);
    return;
  }
  pool.free.emplace(b.size, std::move(b));
}

void host_pinned_record_use(void* base, void* stream, int device) {
  auto& pool = pinned_pool();
  std::lock_guard<std::mutex> lock(pool.mu);
  auto it = pool.live.find(base);
  if (it == pool.live.end()) return;  // not a block of this pool (pinned by someone else)
  // Forget the uses that are over, so a buffer copied every step keeps a short list.
  auto& uses = it->second.uses;
  for (auto u = uses.begin(); u != uses.end();) {
    if (cudaEventQuery(u->first) == cudaSuccess) {
      pool.spare_events.push_back(*u);
      u = uses.erase(u);
    } else {
      cudaGetLastError();  // cudaErrorNotReady: still in flight
      ++u;
    }
  }
  cudaEvent_t e = nullptr;
  for (auto s = pool.spare_events.begin(); s != pool.spare_events.end(); ++s)
    if (s->second == device) {
      e = s->first;
      pool.spare_events.erase(s);
      break;
    }
  DeviceScope scope(device);
  if (e == nullptr) MINIDP_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  MINIDP_CUDA_CHECK(cudaEventRecord(e, to_cuda_stream(stream)));
  it->second.uses.emplace_back(e, device);
}

std::size_t host_pinned_cached_bytes() {
  auto& pool = pinned_pool();
  std::lock_guard<std::mutex> lock(pool.mu);
  std::size_t n = 0;
  for (auto& [size, b] : pool.free) n += b.size;
  return n;
}

}  // namespace minidp::kernels::cuda
