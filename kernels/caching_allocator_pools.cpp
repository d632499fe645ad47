// minidp/kernels/caching_allocator_pools.cpp — the caching allocator's private
// pools for captured graphs (caching_allocator.h explains the rules;
// caching_allocator.cpp is the allocator itself).
#include "minidp/kernels/caching_allocator.h"
#include "minidp/kernels/caching_allocator_state.h"

namespace minidp::kernels {

using namespace alloc_detail;

// ---------------------------------------------------------------- private pools
std::uint64_t CachingAllocator::create_private_pool(int device) {
  DeviceState& st = impl_->state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  return st.next_pool++;
}

void CachingAllocator::begin_pool_capture(int device, void* stream, std::uint64_t pool) {
  MINIDP_CHECK(stream != nullptr && pool != 0, "allocator: a private pool needs a stream of its own and a pool ",
               "made by create_private_pool");
  DeviceState& st = impl_->state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  st.capturing[reinterpret_cast<std::uintptr_t>(stream)] = pool;
}

bool CachingAllocator::pool_capturing(int device, void* stream) {
  DeviceState& st = impl_->state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  return stream != nullptr && st.capturing.count(reinterpret_cast<std::uintptr_t>(stream)) > 0;
}

void CachingAllocator::end_pool_capture(int device, void* stream) noexcept {
  try {
    DeviceState& st = impl_->state(device);
    std::lock_guard<std::mutex> lock(st.mu);
    st.capturing.erase(reinterpret_cast<std::uintptr_t>(stream));
    if (st.capturing.empty()) {
      std::vector<Segment*> go;
      go.swap(st.deferred);
      for (Segment* seg : go) impl_->release_segment(st, seg, device);
    }
  } catch (...) {
  }
}

std::size_t CachingAllocator::deferred_free_count(int device) {
  DeviceState& st = impl_->state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  return st.deferred.size();
}

void CachingAllocator::release_private_pool(int device, std::uint64_t pool) noexcept {
  if (pool == 0) return;
  try {
    DeviceState& st = impl_->state(device);
    std::lock_guard<std::mutex> lock(st.mu);
    for (auto it = st.carving.begin(); it != st.carving.end();)
      it = pool_of(it->first) == pool ? st.carving.erase(it) : std::next(it);
    // Tensors may still hold blocks of the pool (a step's outputs the caller
    // kept): such a segment goes with its last block.
    impl_->release_or_orphan(st, device, [&](const Segment* seg) { return seg->pool == pool; });
  } catch (...) {
    // called from destructors; the memory stays reserved
  }
}

std::size_t CachingAllocator::private_pool_reserved(int device) {
  DeviceState& st = impl_->state(device);
  std::lock_guard<std::mutex> lock(st.mu);
  std::size_t n = 0;
  for (const Segment* seg : st.segments)
    if (seg->pool != 0) n += seg->size;
  return n;
}

}  // namespace minidp::kernels
