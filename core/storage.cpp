// minidp/core/storage.cpp — host memory from the CPU's caching allocator
// (page-locked host memory from the CUDA runtime), device memory from the
// GPU's caching allocator.
#include "minidp/core/storage.h"

#include <atomic>

#include "minidp/core/error.h"
#include "minidp/kernels/cpu/allocator.h"
#include "minidp/kernels/cuda/allocator.h"
#include "minidp/kernels/sim/runtime.h"
#include "minidp/kernels/cuda/runtime.h"

namespace minidp {

namespace {
std::atomic<std::size_t> g_host_bytes{0};
std::atomic<std::size_t> g_host_peak{0};
void count_host(std::size_t nbytes) {
  const std::size_t now = g_host_bytes += nbytes;
  std::size_t peak = g_host_peak.load();
  while (now > peak && !g_host_peak.compare_exchange_weak(peak, now)) {
  }
}
}  // namespace

std::size_t host_bytes_in_use() { return g_host_bytes.load(); }
std::size_t host_bytes_peak() { return g_host_peak.load(); }
void reset_host_bytes_peak() { g_host_peak = g_host_bytes.load(); }

Storage::Storage(std::size_t nbytes, Device device, bool pinned)
    : nbytes_(nbytes), device_(device), pinned_(pinned && device.is_cpu()) {
  if (pinned_) {
    cuda_pinned_ = cuda_compiled() && cuda_device_count() > 0;
    data_ = nbytes == 0 ? nullptr
            : cuda_pinned_ ? kernels::cuda::host_malloc_pinned(nbytes)
                           : kernels::cpu::allocate(nbytes);
    count_host(nbytes);
  } else if (device.is_cpu()) {
    data_ = nbytes == 0 ? nullptr : kernels::cpu::allocate(nbytes);
    count_host(nbytes);
  } else if (device.is_sim()) {
    check_device_available(device);
    // The caching allocator of the simulated GPU: the same rules as CUDA's.
    data_ = kernels::sim::allocate(nbytes, device.index, current_stream(device).handle);
  } else {
    check_device_available(device);
    // Reused only by later work on this same stream (kernels/cuda/allocator.h).
    data_ = kernels::cuda::allocate(nbytes, device.index, current_stream(device).handle);
  }
}

std::shared_ptr<Storage> Storage::borrow(void* data, std::size_t nbytes, Device device) {
  std::shared_ptr<Storage> s(new Storage());
  s->data_ = data;
  s->nbytes_ = nbytes;
  s->device_ = device;
  s->owning_ = false;
  return s;
}

Storage::~Storage() {
  if (!owning_) return;
  if (pinned_) {
    if (data_ != nullptr && cuda_pinned_) kernels::cuda::host_free_pinned(data_);
    else if (data_ != nullptr) kernels::cpu::deallocate(data_, nbytes_);
    g_host_bytes -= nbytes_;
  } else if (device_.is_cpu()) {
    kernels::cpu::deallocate(data_, nbytes_);
    g_host_bytes -= nbytes_;
  } else if (device_.is_sim()) {
    kernels::sim::deallocate(data_, device_.index);
  } else if (data_ != nullptr) {
    kernels::cuda::deallocate(data_, device_.index);
  }
}

}  // namespace minidp
