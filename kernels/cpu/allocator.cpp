// minidp/kernels/cpu/allocator.cpp — exact-size free lists over aligned_alloc.
#include "minidp/kernels/cpu/allocator.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "minidp/core/error.h"
#include "minidp/core/sanitizers.h"

namespace minidp::kernels::cpu {

namespace {
constexpr std::size_t kAlign = 64;
constexpr std::size_t kSmall = 16 << 10;   // below: the C library's own free lists
constexpr std::size_t kPage = 4 << 10;     // large sizes round up to this
constexpr std::size_t kMaxCached = std::size_t(1) << 30;

std::size_t rounded(std::size_t nbytes) {
  if (nbytes < kSmall) return (nbytes + kAlign - 1) / kAlign * kAlign;
  return (nbytes + kPage - 1) / kPage * kPage;
}

bool caching_by_default() {
  if (kAddressSanitizer) return false;
  const char* v = std::getenv("MINIDP_CPU_NO_CACHE");
  return v == nullptr || std::strcmp(v, "1") != 0;
}

struct Cache {
  std::mutex mu;
  bool enabled = caching_by_default();
  std::unordered_map<std::size_t, std::vector<void*>> free;  // rounded size -> blocks
  HostCacheStats stats;
};
Cache& cache() {
  static auto* c = new Cache;  // never destroyed: tensors may be freed during static destruction
  return *c;
}

void* system_alloc(std::size_t size) {
  void* p = std::aligned_alloc(kAlign, size);
  MINIDP_CHECK(p != nullptr, "out of host memory: could not allocate ", size, " bytes");
  return p;
}
}  // namespace

void* allocate(std::size_t nbytes) {
  const std::size_t size = rounded(nbytes);
  if (size >= kSmall) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free.find(size);
    if (it != c.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cached -= size;
      ++c.stats.cache_hits;
      return p;
    }
    ++c.stats.system_allocs;
  }
  return system_alloc(size);
}

void deallocate(void* p, std::size_t nbytes) {
  if (p == nullptr) return;
  const std::size_t size = rounded(nbytes);
  if (size >= kSmall) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.enabled && c.stats.cached + size <= kMaxCached) {
      c.free[size].push_back(p);
      c.stats.cached += size;
      return;
    }
  }
  std::free(p);
}

HostCacheStats host_cache_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void empty_host_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, blocks] : c.free)
    for (void* p : blocks) std::free(p);
  c.free.clear();
  c.stats.cached = 0;
}

bool host_caching_enabled() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.enabled;
}

void set_host_caching_enabled(bool on) {
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    c.enabled = on;
  }
  if (!on) empty_host_cache();
}

}  // namespace minidp::kernels::cpu
