// minidp/kernels/caching_allocator.h — the per-device, per-stream caching
// allocator behind every GPU tensor: the same code for CUDA GPUs
// (kernels/cuda/allocator.h) and for the simulated GPU (kernels/sim/runtime.h).
// Only where segments come from differs (RawMemory): cudaMalloc/cudaFree, or
// host memory that the simulated GPU's kernels own.
//
// The rules (PyTorch's, simplified; kernels/cuda/allocator.h tells them for
// a user): sizes are rounded (small requests carved out of 2 MiB segments);
// a freed block goes back to the pool of the stream it was allocated on and
// only that stream reuses it — work on one stream runs in order, so the next
// user cannot start before the last one is done; out of memory empties the
// cache and retries once; a thread's default-stream cache goes when the
// thread ends; private pools hold a captured graph's memory; no-cache mode
// frees every block at once (deferred while a graph is being captured).
//
// Plain C++ (no CUDA headers): compiled in every build, so its rules are
// tested on the simulated GPU in CI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace minidp::kernels {

struct MemoryStats {
  std::size_t allocated = 0;       // bytes in blocks handed out (rounded sizes)
  std::size_t requested = 0;       // bytes asked for by those blocks' owners
  std::size_t reserved = 0;        // bytes held from the device (in use + cached)
  std::size_t peak_allocated = 0;  // highest `allocated` since start or reset_peak
  std::size_t peak_reserved = 0;
  std::uint64_t num_allocs = 0;     // allocate() calls that returned memory
  std::uint64_t num_frees = 0;
  std::uint64_t cache_hits = 0;     // allocations served without a new segment
  std::uint64_t num_cuda_mallocs = 0;  // segments taken from the device (cudaMalloc on a GPU)
  std::uint64_t num_cuda_frees = 0;
  std::uint64_t num_ooms = 0;       // failed segment requests (each followed by a cache flush)
};

// "allocated 1.5 MiB (peak 3.0 MiB), reserved 4.0 MiB, 12 cudaMalloc, 240 cache hits"
std::string format_memory_stats(const MemoryStats& s);

// Caching on (the default) or off (no-cache mode: MINIDP_CUDA_NO_CACHE=1, or
// set_caching_enabled(false)), for every allocator. Blocks keep the mode they
// were allocated in, so switching at any time is safe.
bool caching_enabled();
void set_caching_enabled(bool on);

// Where segments come from, and what a freed block must go through.
class RawMemory {
 public:
  virtual ~RawMemory() = default;
  virtual std::string device_name(int device) const = 0;  // "cuda:0", "sim:1"
  virtual int device_count() const = 0;
  virtual void* try_malloc(std::size_t nbytes, int device) = 0;  // nullptr when the device is out of memory
  virtual void free(void* ptr, int device) = 0;                  // after every use on the device
  virtual void memory_info(int device, std::size_t& free_bytes, std::size_t& total_bytes) = 0;
  // A block went back to the cache of `stream` (nullptr: the default stream
  // of the host thread `thread`, this_thread_key). The simulated GPU poisons
  // it there, in stream order, so that a late reader on another stream sees NaN.
  virtual void block_freed(void* /*ptr*/, std::size_t /*nbytes*/, int /*device*/, void* /*stream*/,
                           std::uint64_t /*thread*/) {}
};

class CachingAllocator {
 public:
  explicit CachingAllocator(RawMemory& raw);
  ~CachingAllocator();  // never runs for the process-wide ones (tensors may be freed during static destruction)
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // `stream`: a stream handle, nullptr = the calling thread's default stream. Zero bytes give nullptr.
  void* allocate(std::size_t nbytes, int device, void* stream);
  void deallocate(void* ptr, int device) noexcept;

  MemoryStats stats(int device);
  void reset_peak(int device);
  void empty_cache(int device);  // every cached block no tensor uses goes back to the device

  // Private pools (graph capture): allocations on `stream` come from `pool`
  // between begin and end; the pool's blocks are reused only by the pool, and
  // stay reserved after the capture until release_private_pool.
  std::uint64_t create_private_pool(int device);
  void begin_pool_capture(int device, void* stream, std::uint64_t pool);
  void end_pool_capture(int device, void* stream) noexcept;
  bool pool_capturing(int device, void* stream);  // between begin_ and end_pool_capture
  void release_private_pool(int device, std::uint64_t pool) noexcept;
  std::size_t private_pool_reserved(int device);
  std::size_t deferred_free_count(int device);  // no-cache blocks waiting for the end of a capture

  // Test-only: segments from `raw` instead (one device), or the allocator's own again (nullptr).
  void set_raw_memory_for_testing(RawMemory* raw);
  // Test-only: a cached block may go to ANY stream, not only its own — to show
  // on the simulated GPU what the per-stream rule prevents.
  void set_any_stream_reuse_for_testing(bool on);
  // Test-only: a block of a graph's private pool may go to an ordinary
  // allocation of its stream after the capture — to show what the pool's
  // isolation prevents (the next replay writes into that allocation).
  void set_any_pool_reuse_for_testing(bool on);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace minidp::kernels
