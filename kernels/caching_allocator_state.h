// minidp/kernels/caching_allocator_state.h — the caching allocator's data
// structures, shared by caching_allocator.cpp (allocate, free, the cache) and
// caching_allocator_pools.cpp (private pools of captured graphs). Internal.
//
// Per device and behind one mutex:
//   segments     what the device gave us;
//   free_blocks  cached blocks, ordered by (stream, size, address);
//   live         address -> block for everything handed out.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "minidp/core/error.h"
#include "minidp/kernels/caching_allocator.h"
#include "minidp/kernels/stream_key.h"

namespace minidp::kernels {

namespace alloc_detail {
// The pool a block belongs to: its stream (the default stream is keyed per
// host thread, as it is a different stream in each).
struct Segment;
struct Block {
  char* ptr;
  std::size_t size;       // rounded
  std::size_t requested;  // what the current owner asked for
  StreamKey stream;
  Segment* segment;
  std::uint64_t freed_at = 0;  // when it last went back to the cache (test-only any-stream reuse: the latest first)
};

struct Segment {
  char* ptr;
  std::size_t size;
  std::size_t carved = 0;  // small segments: bytes handed out as blocks so far
  int live = 0;            // blocks of this segment in use
  bool small;
  StreamKey stream;
  std::vector<Block*> blocks;
  bool uncached = false;   // no-cache mode: freed (cudaFree) as soon as its block is
  bool orphaned = false;   // its stream's thread has ended: freed once no block is live
  std::uint64_t pool = 0;  // 0: the general pool; else the private pool (CUDA graph) it belongs to
};

struct FreeOrder {
  bool operator()(const Block* a, const Block* b) const {
    return std::tie(a->stream, a->size, a->ptr) < std::tie(b->stream, b->size, b->ptr);
  }
};

struct DeviceState {
  std::mutex mu;
  std::set<Block*, FreeOrder> free_blocks;
  std::unordered_map<void*, Block*> live;
  std::map<StreamKey, Segment*> carving;  // small segment being carved, per stream
  std::vector<Segment*> segments;
  MemoryStats stats;
  std::map<std::uintptr_t, std::uint64_t> capturing;  // stream -> private pool its allocations come from
  std::uint64_t next_pool = 1;
  std::uint64_t frees = 0;
  // No-cache segments freed while a stream was being captured: a cudaFree
  // then would invalidate the capture, so they go once no stream captures.
  std::vector<Segment*> deferred;
};

// The key of a private pool's blocks on one stream. A private pool is its own
// set of "streams" for the tables above: the thread field carries the pool id
// with the top bit set, which no host thread's key (a small counter) has. So
// a block of the pool is reused only by the pool, on the same stream.
inline constexpr std::uint64_t kPoolBit = std::uint64_t(1) << 63;
inline StreamKey pool_key(int device, std::uintptr_t stream, std::uint64_t pool) { return {device, stream, kPoolBit | pool}; }
inline std::uint64_t pool_of(const StreamKey& k) { return (k.thread & kPoolBit) != 0 ? (k.thread & ~kPoolBit) : 0; }


}  // namespace alloc_detail

struct CachingAllocator::Impl {
  RawMemory* own;
  RawMemory* test_raw = nullptr;
  std::once_flag made;
  alloc_detail::DeviceState* states = nullptr;  // never freed: tensors freed during static destruction must find them
  int count = 0;
  bool any_stream = false;  // test-only: reuse ignores the stream
  bool any_pool = false;    // test-only: an ordinary allocation may take a private pool's block

  RawMemory& raw() { return test_raw != nullptr ? *test_raw : *own; }
  alloc_detail::DeviceState& state(int device) {
    std::call_once(made, [&] {
      count = std::max(own->device_count(), 1);
      states = new alloc_detail::DeviceState[static_cast<std::size_t>(count)];
    });
    const int n = test_raw != nullptr ? 1 : own->device_count();
    MINIDP_CHECK(device >= 0 && device < n, "allocator: device ", own->device_name(device), " requested, but ", n,
                 " such device(s) are visible");
    return states[device];
  }
  void release_segment(alloc_detail::DeviceState& st, alloc_detail::Segment* seg, int device);
  void release_or_orphan(alloc_detail::DeviceState& st, int device, const std::function<bool(const alloc_detail::Segment*)>& which);
  void empty_cache_locked(alloc_detail::DeviceState& st, int device);
  alloc_detail::Segment* new_segment(alloc_detail::DeviceState& st, std::size_t size, bool small, StreamKey stream, int device,
                       std::size_t requested);
  alloc_detail::Block* find_cached(alloc_detail::DeviceState& st, StreamKey stream, std::size_t rounded);
  void release_thread(std::uint64_t thread) noexcept;
};


namespace alloc_detail {
inline void forget_segment(DeviceState& st, Segment* seg) {
  st.segments.erase(std::remove(st.segments.begin(), st.segments.end(), seg), st.segments.end());
}
}  // namespace alloc_detail

}  // namespace minidp::kernels
