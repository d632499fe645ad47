// minidp/kernels/cuda/runtime.cu — device count, device memory and copies.
//
// Memory here is plain cudaMalloc/cudaFree; the caching allocator that keeps
// them out of the training step sits on top of these two calls.
#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

bool compiled() { return true; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error; no GPU means 0 devices
    return 0;
  }
  return n;
}

void set_device(int index) { MINIDP_CUDA_CHECK(cudaSetDevice(index)); }

void* device_malloc(std::size_t nbytes, int device) {
  int prev = 0;
  MINIDP_CUDA_CHECK(cudaGetDevice(&prev));
  MINIDP_CUDA_CHECK(cudaSetDevice(device));
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, nbytes);
  cudaSetDevice(prev);
  if (err != cudaSuccess) {
    cudaGetLastError();
    MINIDP_FAIL("CUDA out of memory on cuda:", device, ": cudaMalloc of ", nbytes,
                " bytes failed: ", cudaGetErrorString(err));
  }
  return p;
}

void device_free(void* ptr, int device) noexcept {
  int prev = 0;
  if (cudaGetDevice(&prev) != cudaSuccess) return;
  cudaSetDevice(device);
  cudaFree(ptr);
  cudaSetDevice(prev);
}

void memcpy_async(void* dst, const void* src, std::size_t nbytes, CopyKind kind, void* stream) {
  const cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                            : cudaMemcpyDeviceToDevice;
  MINIDP_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, k, static_cast<cudaStream_t>(stream)));
}

void memset_async(void* dst, int value, std::size_t nbytes, void* stream) {
  MINIDP_CUDA_CHECK(cudaMemsetAsync(dst, value, nbytes, static_cast<cudaStream_t>(stream)));
}

void stream_synchronize(void* stream) {
  MINIDP_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
}

}  // namespace minidp::kernels::cuda
