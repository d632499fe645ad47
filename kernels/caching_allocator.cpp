// minidp/kernels/caching_allocator.cpp — the per-device, per-stream caching
// allocator (caching_allocator.h has the rules), for CUDA GPUs and the
// simulated GPU alike.
//
// Data structures, per device and behind one mutex:
//   segments     what the device gave us (RawMemory::try_malloc). A large
//                request (> 1 MiB) gets a segment of its own (size rounded to
//                2 MiB); small requests are carved, bump-pointer style, out of
//                2 MiB segments — one segment being carved per stream.
//   free_blocks  cached blocks, ordered by (stream, size, address), so the
//                best fit on a stream is one lower_bound away.
//   live         address -> block for everything handed out.
// Blocks are never split or merged: simpler than PyTorch, at the price of
// some slack that empty_cache() (or the out-of-memory retry) gives back.
#include "minidp/kernels/caching_allocator.h"
#include "minidp/kernels/caching_allocator_state.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "minidp/core/error.h"
#include "minidp/kernels/stream_key.h"

namespace minidp::kernels {

using namespace alloc_detail;

namespace {
// Every allocator, for the threads that end (never destroyed).
std::mutex g_all_mu;
std::vector<CachingAllocator::Impl*>& all_allocators() {
  static auto* v = new std::vector<CachingAllocator::Impl*>();
  return *v;
}

constexpr std::size_t kSmallLimit = std::size_t(1) << 20;    // requests up to 1 MiB are "small"
constexpr std::size_t kSmallRound = 512;                     // and rounded to 512 B
constexpr std::size_t kSmallSegment = std::size_t(2) << 20;  // carved out of 2 MiB segments
constexpr std::size_t kLargeRound = std::size_t(2) << 20;    // large requests: multiples of 2 MiB

std::size_t round_size(std::size_t n) {
  if (n <= kSmallLimit) return (n + kSmallRound - 1) / kSmallRound * kSmallRound;
  return (n + kLargeRound - 1) / kLargeRound * kLargeRound;
}

std::string human(std::size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::atomic<int> g_caching{-1};  // -1: not read from the environment yet

// Lives in every thread that allocated on its default stream; its destructor
// (at thread exit) gives back what that stream cached, in every allocator.
struct ThreadExit {
  ~ThreadExit() {
    std::vector<CachingAllocator::Impl*> all;
    {
      std::lock_guard<std::mutex> lock(g_all_mu);
      all = all_allocators();
    }
    for (auto* a : all) a->release_thread(this_thread_key());
  }
};
thread_local ThreadExit t_thread_exit;
void touch_thread_exit() {
  static thread_local bool touched = false;
  if (!touched) {
    touched = true;
    (void)&t_thread_exit;  // odr-use: constructs it in this thread, so its destructor runs
  }
}
}  // namespace

bool caching_enabled() {
  int v = g_caching.load();
  if (v < 0) {
    const char* e = std::getenv("MINIDP_CUDA_NO_CACHE");
    const bool off = e != nullptr && *e != '\0' && std::string(e) != "0";
    v = off ? 0 : 1;
    g_caching = v;
  }
  return v == 1;
}

void set_caching_enabled(bool on) { g_caching = on ? 1 : 0; }

std::string format_memory_stats(const MemoryStats& s) {
  std::ostringstream os;
  os << "allocated " << human(s.allocated) << " (peak " << human(s.peak_allocated) << "), reserved "
     << human(s.reserved) << " (peak " << human(s.peak_reserved) << "), " << s.num_cuda_mallocs << " cudaMalloc, "
     << s.cache_hits << " cache hits, " << s.num_ooms << " out-of-memory retries";
  return os.str();
}

// ---------------------------------------------------------------- segments
void CachingAllocator::Impl::release_segment(DeviceState& st, Segment* seg, int device) {
  for (Block* b : seg->blocks) {
    st.free_blocks.erase(b);
    delete b;
  }
  auto it = st.carving.find(seg->stream);
  if (it != st.carving.end() && it->second == seg) st.carving.erase(it);
  raw().free(seg->ptr, device);  // after every use on the device (cudaFree waits for it)
  st.stats.reserved -= seg->size;
  st.stats.num_cuda_frees++;
  delete seg;
}

void CachingAllocator::Impl::release_or_orphan(DeviceState& st, int device,
                                               const std::function<bool(const Segment*)>& which) {
  std::vector<Segment*> mine;
  for (Segment* seg : st.segments)
    if (which(seg)) mine.push_back(seg);
  for (Segment* seg : mine) {
    if (seg->live == 0) {
      forget_segment(st, seg);
      release_segment(st, seg, device);
    } else {
      for (Block* b : seg->blocks) st.free_blocks.erase(b);  // out of the cache; freed with its last block
      seg->orphaned = true;
    }
  }
}

// Frees every segment none of whose blocks is in use. Caller holds st.mu.
void CachingAllocator::Impl::empty_cache_locked(DeviceState& st, int device) {
  std::vector<Segment*> keep;
  keep.reserve(st.segments.size());
  for (Segment* seg : st.segments) {
    if (seg->live == 0 && seg->pool == 0) {  // private pools belong to their graphs
      release_segment(st, seg, device);
    } else {
      keep.push_back(seg);
    }
  }
  st.segments.swap(keep);
}

Segment* CachingAllocator::Impl::new_segment(DeviceState& st, std::size_t size, bool small, StreamKey stream,
                                             int device, std::size_t requested) {
  char* p = static_cast<char*>(raw().try_malloc(size, device));
  if (p == nullptr) {
    st.stats.num_ooms++;
    // Give the cache back and try once more — but not while a graph is being
    // captured: freeing waits for the device, which a capture forbids.
    if (st.capturing.empty()) {
      empty_cache_locked(st, device);
      p = static_cast<char*>(raw().try_malloc(size, device));
    }
  }
  if (p == nullptr) {
    std::size_t free_b = 0, total_b = 0;
    raw().memory_info(device, free_b, total_b);
    const std::string name = raw().device_name(device);
    MINIDP_FAIL((name.rfind("cuda", 0) == 0 ? "CUDA out of memory on " : "out of memory on "), name,
                ": tried to allocate ", human(requested), " (", requested, " bytes); the device has ",
                human(total_b), " in total and ", human(free_b), " free; minidp's allocator on ", name, ": ",
                format_memory_stats(st.stats), ". Free tensors you no longer need or use a smaller batch.");
  }
  auto* seg = new Segment{p, size, 0, 0, small, stream, {}, false, false, pool_of(stream)};
  st.segments.push_back(seg);
  st.stats.reserved += size;
  st.stats.peak_reserved = std::max(st.stats.peak_reserved, st.stats.reserved);
  st.stats.num_cuda_mallocs++;
  return seg;
}

Block* CachingAllocator::Impl::find_cached(DeviceState& st, StreamKey stream, std::size_t rounded) {
  Block probe{nullptr, rounded, 0, stream, nullptr};
  auto it = st.free_blocks.lower_bound(&probe);
  if (any_stream && pool_of(stream) == 0) {  // test-only: the best fit of any stream's general pool
    it = st.free_blocks.end();
    for (auto j = st.free_blocks.begin(); j != st.free_blocks.end(); ++j)
      if ((*j)->size == rounded && pool_of((*j)->stream) == 0 &&
          (it == st.free_blocks.end() || (*j)->freed_at > (*it)->freed_at))
        it = j;
    if (it == st.free_blocks.end()) return nullptr;
    Block* b = *it;
    st.free_blocks.erase(it);
    b->stream = stream;
    return b;
  }
  if (any_pool && pool_of(stream) == 0) {  // test-only: a block of this stream's private pools too
    for (auto j = st.free_blocks.begin(); j != st.free_blocks.end(); ++j)
      if ((*j)->size == rounded && (*j)->stream.device == stream.device && (*j)->stream.stream == stream.stream &&
          pool_of((*j)->stream) != 0) {
        Block* b = *j;
        st.free_blocks.erase(j);
        b->stream = stream;
        return b;
      }
  }
  if (it == st.free_blocks.end() || !((*it)->stream == stream)) return nullptr;
  Block* b = *it;
  // Small blocks: the exact size. Large: a bigger block if the slack is modest.
  const bool fits = rounded <= kSmallLimit ? b->size == rounded
                                           : b->size - rounded <= std::max(kLargeRound, rounded / 8);
  if (!fits) return nullptr;
  st.free_blocks.erase(it);
  return b;
}

// Called at the end of every thread that allocated on its default stream.
void CachingAllocator::Impl::release_thread(std::uint64_t thread) noexcept {
  try {
    if (states == nullptr) return;
    for (int d = 0; d < count; ++d) {
      const StreamKey key{d, 0, thread};
      DeviceState& st = states[d];
      std::lock_guard<std::mutex> lock(st.mu);
      st.carving.erase(key);
      // Tensors of a segment may still be alive (returned to another
      // thread): such a segment goes when the last one is freed.
      release_or_orphan(st, d, [&](const Segment* seg) { return seg->stream == key; });
    }
  } catch (...) {
    // at thread exit there is no one to report to; the memory stays reserved
  }
}

// ---------------------------------------------------------------- the allocator
CachingAllocator::CachingAllocator(RawMemory& raw) : impl_(std::make_unique<Impl>()) {
  impl_->own = &raw;
  std::lock_guard<std::mutex> lock(g_all_mu);
  all_allocators().push_back(impl_.get());
}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(g_all_mu);
  auto& all = all_allocators();
  all.erase(std::remove(all.begin(), all.end(), impl_.get()), all.end());
}

void* CachingAllocator::allocate(std::size_t nbytes, int device, void* stream) {
  if (nbytes == 0) return nullptr;
  DeviceState& st = impl_->state(device);
  StreamKey key = StreamKey::of(device, stream);
  if (stream == nullptr) touch_thread_exit();
  std::lock_guard<std::mutex> lock(st.mu);
  bool cache = caching_enabled();
  if (!st.capturing.empty() && stream != nullptr) {
    auto it = st.capturing.find(reinterpret_cast<std::uintptr_t>(stream));
    if (it != st.capturing.end()) {
      key = pool_key(device, key.stream, it->second);
      cache = true;  // a private block is never freed under its graph
    }
  }
  const std::size_t rounded = cache ? round_size(nbytes) : nbytes;
  MINIDP_CHECK(rounded >= nbytes, "allocator: request of ", nbytes, " bytes is too large");
  Block* b = cache ? impl_->find_cached(st, key, rounded) : nullptr;
  if (!cache) {
    Segment* seg = impl_->new_segment(st, rounded, false, key, device, nbytes);
    seg->uncached = true;
    b = new Block{seg->ptr, rounded, 0, key, seg};
    seg->carved = rounded;
    seg->blocks.push_back(b);
  } else if (b != nullptr) {
    st.stats.cache_hits++;
  } else if (rounded <= kSmallLimit) {
    auto it = st.carving.find(key);
    Segment* seg = it == st.carving.end() ? nullptr : it->second;
    if (seg == nullptr || seg->size - seg->carved < rounded) {
      seg = impl_->new_segment(st, kSmallSegment, true, key, device, nbytes);
      st.carving[key] = seg;  // the old segment's tail stays unused until it is released
    }
    b = new Block{seg->ptr + seg->carved, rounded, 0, key, seg};
    seg->carved += rounded;
    seg->blocks.push_back(b);
  } else {
    Segment* seg = impl_->new_segment(st, rounded, false, key, device, nbytes);
    b = new Block{seg->ptr, rounded, 0, key, seg};
    seg->carved = rounded;
    seg->blocks.push_back(b);
  }
  b->requested = nbytes;
  b->segment->live++;
  st.live.emplace(b->ptr, b);
  st.stats.allocated += b->size;
  st.stats.requested += nbytes;
  st.stats.peak_allocated = std::max(st.stats.peak_allocated, st.stats.allocated);
  st.stats.num_allocs++;
  return b->ptr;
}

void CachingAllocator::deallocate(void* ptr, int device) noexcept {
  if (ptr == nullptr) return;
  try {
    DeviceState& st = impl_->state(device);
    std::lock_guard<std::mutex> lock(st.mu);
    auto it = st.live.find(ptr);
    if (it == st.live.end()) {
      std::fprintf(stderr, "minidp: the allocator of %s was asked to free %p, which it did not allocate\n",
                   impl_->raw().device_name(device).c_str(), ptr);
      return;
    }
    Block* b = it->second;
    st.live.erase(it);
    b->segment->live--;
    st.stats.allocated -= b->size;
    st.stats.requested -= b->requested;
    st.stats.num_frees++;
    b->requested = 0;
    Segment* seg = b->segment;
    if (seg->uncached && !st.capturing.empty()) {
      // Freeing during a capture would invalidate it (it synchronises the
      // device): the segment waits for the capture to end (end_pool_capture).
      forget_segment(st, seg);
      st.deferred.push_back(seg);
    } else if (seg->uncached || (seg->orphaned && seg->live == 0)) {
      forget_segment(st, seg);
      impl_->release_segment(st, seg, device);  // waits for the device: no kernel still uses it
    } else if (!seg->orphaned) {
      // Back to the pool of the stream it was allocated on.
      b->freed_at = ++st.frees;
      st.free_blocks.insert(b);
      impl_->raw().block_freed(b->ptr, b->size, device, reinterpret_cast<void*>(b->stream.stream), b->stream.thread);
    }
  } catch (...) {
    // never throw from a free (called from destructors)
  }
}

MemoryStats CachingAllocator::stats(int device) {
  DeviceState& st = impl_->state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  return st.stats;
}

void CachingAllocator::reset_peak(int device) {
  DeviceState& st = impl_->state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  st.stats.peak_allocated = st.stats.allocated;
  st.stats.peak_reserved = st.stats.reserved;
}

void CachingAllocator::empty_cache(int device) {
  DeviceState& st = impl_->state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  impl_->empty_cache_locked(st, device);
}

void CachingAllocator::set_raw_memory_for_testing(RawMemory* raw) { impl_->test_raw = raw; }
void CachingAllocator::set_any_stream_reuse_for_testing(bool on) { impl_->any_stream = on; }
void CachingAllocator::set_any_pool_reuse_for_testing(bool on) { impl_->any_pool = on; }

}  // namespace minidp::kernels
