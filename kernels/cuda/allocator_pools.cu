// minidp/kernels/cuda/allocator_pools.cu — the caching allocator's private
// pools for CUDA graphs (allocator.h explains the rules; allocator.cu is the
// allocator itself).
#include <string>
#include <vector>

#include "minidp/kernels/cuda/allocator.h"
#include "minidp/kernels/cuda/allocator_state.cuh"

namespace minidp::kernels::cuda {

using namespace alloc;

std::uint64_t create_private_pool(int device) {
  DeviceState& st = state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  return st.next_pool++;
}

void begin_pool_capture(int device, void* stream, std::uint64_t pool) {
  MINIDP_CHECK(stream != nullptr && pool != 0, "CUDA allocator: a private pool needs a stream of its own and a pool ",
               "made by create_private_pool");
  DeviceState& st = state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  st.capturing[reinterpret_cast<std::uintptr_t>(stream)] = pool;
}

void end_pool_capture(int device, void* stream) noexcept {
  try {
    DeviceState& st = state(device);
    std::lock_guard<std::mutex> lock(st.mu);
    st.capturing.erase(reinterpret_cast<std::uintptr_t>(stream));
    if (st.capturing.empty()) {
      std::vector<Segment*> go;
      go.swap(st.deferred);
      for (Segment* seg : go) release_segment(st, seg, device);
    }
  } catch (...) {
  }
}

std::size_t deferred_free_count(int device) {
  DeviceState& st = state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  return st.deferred.size();
}

void set_raw_memory_for_testing(RawMemoryForTesting* raw) { g_raw = raw; }

void release_private_pool(int device, std::uint64_t pool) noexcept {
  if (pool == 0) return;
  try {
    DeviceState& st = state(device);
    std::lock_guard<std::mutex> lock(st.mu);
    for (auto it = st.carving.begin(); it != st.carving.end();)
      it = pool_of(it->first) == pool ? st.carving.erase(it) : std::next(it);
    // Tensors may still hold blocks of the pool (a step's outputs the caller
    // kept): such a segment goes with its last block.
    release_or_orphan(st, device, [&](const Segment* seg) { return seg->pool == pool; });
  } catch (...) {
    // called from destructors; the memory stays reserved
  }
}

std::size_t private_pool_reserved(int device) {
  DeviceState& st = state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  std::size_t n = 0;
  for (const Segment* seg : st.segments)
    if (seg->pool != 0) n += seg->size;
  return n;
}

}  // namespace minidp::kernels::cuda
