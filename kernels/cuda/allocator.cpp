// minidp/kernels/cuda/allocator.cpp — the caching allocator of CUDA GPUs: the
// shared logic (kernels/caching_allocator.h) over cudaMalloc and cudaFree
// (kernels/cuda/runtime.h). Plain C++: in a build without CUDA the runtime
// answers that there is no device.
#include "minidp/kernels/cuda/allocator.h"

#include <string>

#include "minidp/kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

namespace {
class CudaMemory : public RawMemory {
 public:
  std::string device_name(int device) const override { return "cuda:" + std::to_string(device); }
  int device_count() const override {
    static const int n = cuda::device_count();
    return n;
  }
  void* try_malloc(std::size_t nbytes, int device) override { return device_try_malloc(nbytes, device); }
  void free(void* ptr, int device) override { device_free_checked(ptr, device); }  // cudaFree waits for the device
  void memory_info(int device, std::size_t& free_bytes, std::size_t& total_bytes) override {
    device_memory_info(device, free_bytes, total_bytes);
  }
};

// The test seam's host memory, on one fake device.
class TestMemory : public RawMemory {
 public:
  RawMemoryForTesting* fns = nullptr;
  std::string device_name(int device) const override { return "cuda:" + std::to_string(device); }
  int device_count() const override { return 1; }
  void* try_malloc(std::size_t nbytes, int) override { return fns->malloc(nbytes); }
  void free(void* ptr, int) override { fns->free(ptr); }
  void memory_info(int, std::size_t& free_bytes, std::size_t& total_bytes) override { free_bytes = total_bytes = 0; }
};

CudaMemory& cuda_memory() {
  static auto* m = new CudaMemory;
  return *m;
}
TestMemory& test_memory() {
  static auto* m = new TestMemory;
  return *m;
}
// Never destroyed: tensors freed during static destruction must still find it.
CachingAllocator& the() {
  static auto* a = new CachingAllocator(cuda_memory());
  return *a;
}

// Without a GPU (or without CUDA) there is no memory to count: zeros, as before any allocation.
bool no_device() { return cuda_memory().device_count() == 0 && test_memory().fns == nullptr; }
}  // namespace

MemoryStats memory_stats(int device) { return no_device() ? MemoryStats{} : the().stats(device); }
void reset_peak(int device) {
  if (!no_device()) the().reset_peak(device);
}
void empty_cache(int device) {
  if (!no_device()) the().empty_cache(device);
}
void* allocate(std::size_t nbytes, int device, void* stream) { return the().allocate(nbytes, device, stream); }
void deallocate(void* ptr, int device) noexcept { the().deallocate(ptr, device); }
std::uint64_t create_private_pool(int device) { return the().create_private_pool(device); }
void begin_pool_capture(int device, void* stream, std::uint64_t pool) {
  the().begin_pool_capture(device, stream, pool);
}
void end_pool_capture(int device, void* stream) noexcept { the().end_pool_capture(device, stream); }
void release_private_pool(int device, std::uint64_t pool) noexcept { the().release_private_pool(device, pool); }
std::size_t private_pool_reserved(int device) { return the().private_pool_reserved(device); }
std::size_t deferred_free_count(int device) { return the().deferred_free_count(device); }

void set_raw_memory_for_testing(RawMemoryForTesting* raw) {
  test_memory().fns = raw;
  the().set_raw_memory_for_testing(raw != nullptr ? &test_memory() : nullptr);
}

}  // namespace minidp::kernels::cuda
