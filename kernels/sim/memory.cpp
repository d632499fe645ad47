// minidp/kernels/sim/memory.cpp — the simulated GPU's memory: the shared
// caching allocator (kernels/caching_allocator.h) over host memory, poisoned
// with NaN under shake.
#include "minidp/kernels/sim/queue.h"

namespace minidp::kernels::sim {

using namespace detail;

namespace {
// Segments for the caching allocator: host memory, NaN under shake.
class SimMemory : public RawMemory {
 public:
  std::string device_name(int device) const override { return "sim:" + std::to_string(device); }
  int device_count() const override { return kMaxDevices; }
  void* try_malloc(std::size_t nbytes, int device) override { return device_malloc(nbytes, device); }
  // As cudaFree: after every piece of work of the device.
  void free(void* ptr, int device) override {
    for (auto& q : queues_of_device(device)) q->drain();  // their errors stay theirs to report
    device_free(ptr, device);
  }
  void memory_info(int, std::size_t& free_bytes, std::size_t& total_bytes) override { free_bytes = total_bytes = 0; }
  void block_freed(void* ptr, std::size_t nbytes, int device, void* stream, std::uint64_t thread) override {
    if (g_shake_seed.load(std::memory_order_relaxed) == 0) return;
    // The stream may be gone (destroyed before the tensor was freed): then nothing of it can still read the block.
    std::shared_ptr<Queue> q = stream != nullptr ? find_queue(stream) : default_queue_of_thread(thread, device);
    // After the owner stream's last use. Not inside a capture: a graph's
    // blocks stay in its private pool, and the recording must end joined.
    try {
      if (q && !q->capture()) q->push([ptr, nbytes] { std::memset(ptr, 0xFF, nbytes); });
    } catch (...) {
      // a stream being stopped: nothing more runs on it
    }
  }
};
}  // namespace

CachingAllocator& allocator() {
  static auto* raw = new SimMemory;
  static auto* a = new CachingAllocator(*raw);  // never destroyed, like CUDA's
  return *a;
}

void* allocate(std::size_t nbytes, int device, void* stream) {
  MINIDP_CHECK(device >= 0 && device < kMaxDevices, "sim: no device sim:", device);
  // As strict as a capture must be: a block the graph will write at every
  // replay must stay the graph's (its private pool), never go back to the
  // cache for others once the capture ends.
  MINIDP_CHECK(nbytes == 0 || !queue_of(stream, device)->capture() || allocator().pool_capturing(device, stream),
               "sim:", device, ": an allocation of ", nbytes, " bytes on a stream being captured into a graph, ",
               "outside a graph pool: the graph keeps its address and writes it at every replay, but after the ",
               "capture the cache would hand the block to others (call begin_graph_pool on every captured stream, ",
               "as the captured step does)");
  void* p = allocator().allocate(nbytes, device, stream);
  if (p != nullptr && g_shake_seed.load(std::memory_order_relaxed) != 0) {
    // A block from the cache holds its last owner's values: NaN instead, in
    // stream order, before anything the new owner queues.
    auto q = queue_of(stream, device);
    if (!q->capture()) q->push([p, nbytes] { std::memset(p, 0xFF, nbytes); });
  }
  return p;
}

void deallocate(void* ptr, int device) noexcept { allocator().deallocate(ptr, device); }

void* device_malloc(std::size_t nbytes, int device) {
  MINIDP_CHECK(device >= 0 && device < kMaxDevices, "sim: no device sim:", device);
  read_shake_env();
  const std::size_t rounded = (std::max<std::size_t>(nbytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p != nullptr && g_shake_seed.load() != 0) std::memset(p, 0xFF, rounded);  // NaN as float
  return p;  // nullptr: out of memory (the allocator says so)
}

void device_free(void* ptr, int /*device*/) noexcept { std::free(ptr); }

}  // namespace minidp::kernels::sim
