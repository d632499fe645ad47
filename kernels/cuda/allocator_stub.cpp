// minidp/kernels/cuda/allocator_stub.cpp — the caching allocator in a build
// without CUDA: statistics are all zero, allocating says why it cannot.
#include "core/error.h"
#include "kernels/cuda/allocator.h"

namespace minidp::kernels::cuda {

MemoryStats memory_stats(int) { return {}; }
void reset_peak(int) {}
void empty_cache(int) {}
std::string format_memory_stats(const MemoryStats&) { return "no CUDA memory (minidp was built without CUDA)"; }
void* allocate(std::size_t nbytes, int device, void*) {
  if (nbytes == 0) return nullptr;
  MINIDP_FAIL("allocating ", nbytes, " bytes on cuda:", device,
              ": minidp was built without CUDA (reconfigure with -DMINIDP_CUDA=ON on a machine with the CUDA toolkit)");
}
void deallocate(void*, int) noexcept {}
bool caching_enabled() { return true; }
void set_caching_enabled(bool) {}

}  // namespace minidp::kernels::cuda
