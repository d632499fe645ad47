// minidp/core/storage.cpp — host memory from the C library, device memory from
// the CUDA runtime layer.
#include "core/storage.h"

#include <atomic>
#include <cstdlib>

#include "core/error.h"
#include "kernels/cuda/runtime.h"

namespace minidp {

namespace {
std::atomic<std::size_t> g_host_bytes{0};
constexpr std::size_t kAlign = 64;  // one cache line; also what AVX-512 loads like
}  // namespace

std::size_t host_bytes_in_use() { return g_host_bytes.load(); }

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (device.is_cpu()) {
    const std::size_t rounded = (nbytes + kAlign - 1) / kAlign * kAlign;
    data_ = rounded == 0 ? nullptr : std::aligned_alloc(kAlign, rounded);
    MINIDP_CHECK(rounded == 0 || data_ != nullptr, "out of host memory: could not allocate ",
                 nbytes, " bytes");
    g_host_bytes += nbytes;
  } else {
    check_device_available(device);
    data_ = nbytes == 0 ? nullptr : kernels::cuda::device_malloc(nbytes, device.index);
  }
}

Storage::~Storage() {
  if (device_.is_cpu()) {
    std::free(data_);
    g_host_bytes -= nbytes_;
  } else if (data_ != nullptr) {
    kernels::cuda::device_free(data_, device_.index);
  }
}

}  // namespace minidp
