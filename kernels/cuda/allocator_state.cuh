// minidp/kernels/cuda/allocator_state.cuh — the caching allocator's data
// structures, shared by allocator.cu (allocate, free, the cache) and
// allocator_pools.cu (private pools of CUDA graphs). Internal to kernels/cuda.
//
// Per device and behind one mutex:
//   segments     what cudaMalloc gave us;
//   free_blocks  cached blocks, ordered by (stream, size, address);
//   live         address -> block for everything handed out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "minidp/kernels/cuda/allocator.h"
#include "minidp/kernels/cuda/common.cuh"

namespace minidp::kernels::cuda::alloc {

// The pool a block belongs to: its stream (StreamKey, common.cuh — the
// default stream is keyed per host thread, as it is a different stream in each).
struct Segment;
struct Block {
  char* ptr;
  std::size_t size;       // rounded
  std::size_t requested;  // what the current owner asked for
  StreamKey stream;
  Segment* segment;
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

// Test-only raw memory (set_raw_memory_for_testing): host memory in place of
// cudaMalloc/cudaFree on one fake device, so the allocator's rules run in CI.
extern RawMemoryForTesting* g_raw;

// One state per visible device (one fake device under g_raw).
DeviceState& state(int device);
// Gives a segment back to CUDA (cudaFree) and forgets its blocks. Caller holds st.mu.
void release_segment(DeviceState& st, Segment* seg, int device);
// Removes a segment from the device's list (not freed). Caller holds st.mu.
void forget_segment(DeviceState& st, Segment* seg);
// Every segment `which` picks: released when none of its blocks is in use,
// else taken out of the cache and released with its last block (orphaned).
// Caller holds st.mu.
void release_or_orphan(DeviceState& st, int device, const std::function<bool(const Segment*)>& which);

}  // namespace minidp::kernels::cuda::alloc
