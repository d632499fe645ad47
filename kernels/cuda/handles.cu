// minidp/kernels/cuda/handles.cu — per-thread cuBLAS/cuDNN handles, pooled
// across threads, and cuBLAS workspaces per stream.
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "minidp/kernels/cuda/common.cuh"
#include "minidp/kernels/cuda/handles.h"
#include "minidp/kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

namespace {

// Handles of finished threads, per device, ready for the next thread. Leaked
// on purpose: destroying handles during static destruction races with the
// CUDA runtime's own teardown.
template <typename H>
struct HandlePool {
  std::mutex mu;
  std::map<int, std::vector<H>> free;
};
HandlePool<cublasHandle_t>& blas_pool() {
  static auto* p = new HandlePool<cublasHandle_t>;
  return *p;
}
HandlePool<cudnnHandle_t>& dnn_pool() {
  static auto* p = new HandlePool<cudnnHandle_t>;
  return *p;
}

template <typename H>
bool take_from(HandlePool<H>& pool, int device, H& h) {
  std::lock_guard<std::mutex> lock(pool.mu);
  auto& v = pool.free[device];
  if (v.empty()) return false;
  h = v.back();
  v.pop_back();
  return true;
}

void release_thread_workspaces(std::uint64_t thread) noexcept;

// The calling thread's handles; returned to the pools when the thread ends,
// together with the cuBLAS workspace of the thread's default stream (no
// other thread can use that stream, so nobody else could ever reuse it).
struct ThreadHandles {
  std::map<int, cublasHandle_t> blas;
  std::map<int, cudnnHandle_t> dnn;
  ~ThreadHandles() {
    release_thread_workspaces(this_thread_key());
    {
      auto& p = blas_pool();
      std::lock_guard<std::mutex> lock(p.mu);
      for (auto& [d, h] : blas) p.free[d].push_back(h);
    }
    auto& p = dnn_pool();
    std::lock_guard<std::mutex> lock(p.mu);
    for (auto& [d, h] : dnn) p.free[d].push_back(h);
  }
};
thread_local ThreadHandles t_handles;

// cuBLAS scratch memory per (device, stream): 32 MiB on Hopper and later, as
// NVIDIA recommends, 4 MiB before. Allocated once from the caching allocator
// on that stream and kept for the life of the process.
std::mutex g_ws_mu;
std::map<StreamKey, std::pair<void*, std::size_t>>& workspaces() {
  static auto* m = new std::map<StreamKey, std::pair<void*, std::size_t>>;
  return *m;
}

std::pair<void*, std::size_t> blas_workspace(int device, void* stream) {
  const StreamKey key = StreamKey::of(device, stream);
  std::lock_guard<std::mutex> lock(g_ws_mu);
  auto& m = workspaces();
  auto it = m.find(key);
  if (it != m.end()) return it->second;
  int major = 0;
  MINIDP_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  const std::size_t size = major >= 9 ? (std::size_t(32) << 20) : (std::size_t(4) << 20);
  void* p = allocate(size, device, stream);
  m.emplace(key, std::make_pair(p, size));
  return {p, size};
}

void release_thread_workspaces(std::uint64_t thread) noexcept {
  std::lock_guard<std::mutex> lock(g_ws_mu);
  auto& m = workspaces();
  for (auto it = m.begin(); it != m.end();) {
    if (it->first.stream == 0 && it->first.thread == thread) {
      deallocate(it->second.first, it->first.device);
      it = m.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace

void release_stream_workspace(int device, void* stream) noexcept {
  if (stream == nullptr) return;
  std::lock_guard<std::mutex> lock(g_ws_mu);
  auto& m = workspaces();
  auto it = m.find(StreamKey{device, reinterpret_cast<std::uintptr_t>(stream), 0});
  if (it == m.end()) return;
  deallocate(it->second.first, device);
  m.erase(it);
}

cublasHandle_t cublas_handle(int device, void* stream) {
  auto it = t_handles.blas.find(device);
  cublasHandle_t h = nullptr;
  if (it != t_handles.blas.end()) {
    h = it->second;
  } else {
    if (!take_from(blas_pool(), device, h)) MINIDP_CUBLAS_CHECK(cublasCreate(&h));
    t_handles.blas.emplace(device, h);
  }
  // Binding a stream resets cuBLAS's workspace, so both are set on every call
  // (host-side bookkeeping only; nothing is queued on the GPU).
  MINIDP_CUBLAS_CHECK(cublasSetStream(h, to_cuda_stream(stream)));
  const auto ws = blas_workspace(device, stream);
  MINIDP_CUBLAS_CHECK(cublasSetWorkspace(h, ws.first, ws.second));
  MINIDP_CUBLAS_CHECK(cublasSetMathMode(h, allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return h;
}

cudnnHandle_t cudnn_handle(int device, void* stream) {
  auto it = t_handles.dnn.find(device);
  cudnnHandle_t h = nullptr;
  if (it != t_handles.dnn.end()) {
    h = it->second;
  } else {
    if (!take_from(dnn_pool(), device, h)) MINIDP_CUDNN_CHECK(cudnnCreate(&h));
    t_handles.dnn.emplace(device, h);
  }
  MINIDP_CUDNN_CHECK(cudnnSetStream(h, to_cuda_stream(stream)));
  return h;
}

}  // namespace minidp::kernels::cuda
