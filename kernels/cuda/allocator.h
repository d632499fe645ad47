// minidp/kernels/cuda/allocator.h — the per-device caching allocator behind
// every CUDA tensor, and its statistics.
//
// cudaMalloc and cudaFree are slow (they may synchronise the whole device), and
// a training step allocates and frees the same sizes again and again. So, like
// PyTorch, minidp keeps freed blocks in a cache and hands them out again:
//
//  * sizes are rounded: up to 1 MiB to a multiple of 512 B (carved out of
//    2 MiB segments), larger ones to a multiple of 2 MiB (a segment each);
//  * a freed block goes back to the pool of the stream it was allocated on,
//    and only allocations on that same stream reuse it. Work on one stream
//    runs in order, so the next user of the block cannot start before the
//    previous user's kernels are done — without any synchronisation. (The
//    rule that follows: a tensor used on *another* stream must outlive that
//    use — synchronise, or wait on an event, before dropping it.)
//  * out of memory: the cache is released (cudaFree) and the request retried
//    once; if it still fails, minidp::Error names the requested size and the
//    device's statistics.
//  * a host thread that ends gives back what it cached for its per-thread
//    default stream (no other thread can ever reuse those blocks).
//  * no-cache mode (MINIDP_CUDA_NO_CACHE=1 in the environment, or
//    set_caching_enabled(false)): every block is an exact-size cudaMalloc,
//    freed by cudaFree at once. Slow, but it is what compute-sanitizer needs:
//    inside a cached 2 MiB segment, a read past the end of a tensor or of a
//    freed tensor lands in memory that is still allocated, and memcheck
//    cannot see it.
//  * private pools for CUDA graphs: while a stream is being captured into a
//    graph (DataParallelOptions::cuda_graph), its allocations come from a pool
//    of that graph's own (begin_pool_capture). A replay writes to exactly the
//    addresses the capture saw, so those blocks must never be handed to anyone
//    else while the graph lives — also once the capture has "freed" them: a
//    block freed during the capture is reused only by later allocations of the
//    same capture on the same stream (stream order makes that safe, as in eager
//    code); after the capture nobody allocates from the pool, so its blocks stay
//    reserved for the graph's replays until release_private_pool. Private
//    blocks are always cached (also in no-cache mode: a cudaFree would take
//    memory from under the graph), and empty_cache() leaves them alone.
//  * a no-cache block freed while any stream of its device is being captured
//    is not cudaFree'd then (that would invalidate the capture): it is freed
//    when the last capture ends (end_pool_capture).
//
// The logic is kernels/caching_allocator.h, shared with the simulated GPU;
// this file is the CUDA instance's interface (kernels/cuda/allocator.cpp).
// Plain C++ (no CUDA headers): core/ and metrics/ include it freely. In a
// build without CUDA there is no device: allocate() raises.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "minidp/kernels/caching_allocator.h"

namespace minidp::kernels::cuda {

using kernels::MemoryStats;
using kernels::format_memory_stats;
using kernels::caching_enabled;
using kernels::set_caching_enabled;

MemoryStats memory_stats(int device);
// Restart the peaks at the current values (e.g. at the start of an epoch).
void reset_peak(int device);
// Give every cached block that no tensor uses back to CUDA.
void empty_cache(int device);

// `stream`: a cudaStream_t, nullptr = the calling thread's default stream.
// Zero bytes give nullptr.
void* allocate(std::size_t nbytes, int device, void* stream);
void deallocate(void* ptr, int device) noexcept;

// ---- private pools (CUDA graph capture; see above)
// A new, empty pool on `device` (ids are never reused).
std::uint64_t create_private_pool(int device);
// From now on, allocations on `stream` (a real cudaStream_t, not nullptr) of
// `device` come from `pool`; end_pool_capture restores the general pool.
void begin_pool_capture(int device, void* stream, std::uint64_t pool);
void end_pool_capture(int device, void* stream) noexcept;
// The graph is gone: cached blocks of the pool go back to CUDA (cudaFree, which
// waits for the device); blocks still held by tensors are released when the
// last of them is freed. Not while any stream of the device is being captured.
void release_private_pool(int device, std::uint64_t pool) noexcept;
// Bytes reserved by private pools on `device` (for tests and reports).
std::size_t private_pool_reserved(int device);
// No-cache blocks whose cudaFree waits for the end of a capture (for tests).
std::size_t deferred_free_count(int device);

// Test-only: the allocator's rules on host memory. With `raw` set, cuda:0 is a
// fake device whose segments come from raw->malloc and go to raw->free instead
// of cudaMalloc/cudaFree, so a test without a GPU can follow every block.
// Set it before the allocator is first used, reset it (nullptr) after.
struct RawMemoryForTesting {
  void* (*malloc)(std::size_t);
  void (*free)(void*);
};
void set_raw_memory_for_testing(RawMemoryForTesting* raw);

}  // namespace minidp::kernels::cuda
