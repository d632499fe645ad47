// minidp/kernels/cuda/common.cuh — what the CUDA kernel files share: the stream
// and device a kernel runs on, launch sizes, strided indexing, dtype dispatch,
// scratch memory, and the way a kernel reports a bad input (an index out of
// range) without a device->host copy.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <tuple>
#include <type_traits>

#include "minidp/kernels/cuda/allocator.h"
#include "minidp/kernels/cuda/check.h"
#include "minidp/kernels/kernels.h"
#include "minidp/kernels/stream_key.h"

namespace minidp::kernels::cuda {

// A null handle is the calling thread's default stream on the current device.
inline cudaStream_t to_cuda_stream(void* h) {
  return h == nullptr ? cudaStreamPerThread : static_cast<cudaStream_t>(h);
}

using kernels::StreamKey;
using kernels::this_thread_key;

// Makes `device` current for a scope: kernels always launch on the current device.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    MINIDP_CUDA_CHECK(cudaGetDevice(&prev_));
    if (prev_ != device) {
      MINIDP_CUDA_CHECK(cudaSetDevice(device));
      switched_ = true;
    }
  }
  ~DeviceScope() {
    if (switched_) cudaSetDevice(prev_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int prev_ = 0;
  bool switched_ = false;
};

// Where a kernel working on tensor `t` runs: t's device (made current) and the
// calling thread's current stream on it.
struct Launch {
  explicit Launch(const Tensor& t)
      : device(t.device().index), scope(device), handle(current_stream(t.device()).handle),
        stream(to_cuda_stream(handle)) {}
  int device;
  DeviceScope scope;
  void* handle;         // as the allocator keys it (nullptr = default stream)
  cudaStream_t stream;  // as kernels are launched on it
};

// Scratch memory from the caching allocator, on the launch's stream. Freeing it
// at the end of the host function is safe although the kernels using it have
// not run yet: the block is only reused by later work on the same stream.
class Workspace {
 public:
  Workspace(std::size_t nbytes, const Launch& l)
      : ptr_(allocate(nbytes, l.device, l.handle)), device_(l.device) {}
  ~Workspace() { deallocate(ptr_, device_); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* get() const { return ptr_; }
  template <typename T>
  T* as(std::size_t byte_offset = 0) const {
    return reinterpret_cast<T*>(static_cast<char*>(ptr_) + byte_offset);
  }

 private:
  void* ptr_;
  int device_;
};

constexpr int kThreads = 256;
// Blocks for a grid-stride loop over n items (capped: each thread then takes several).
inline unsigned grid_for(std::int64_t n, int threads = kThreads) {
  const std::int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > (1 << 20) ? (1 << 20) : b));
}

#define MINIDP_GRID_STRIDE(i, n)                                                           \
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; \
       i < (n); i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

// ---- strided indexing: K tensors walked over one shape, each with its own strides.
constexpr int kMaxDims = 12;
template <int K>
struct StridedMeta {
  int ndim = 0;
  std::int64_t size[kMaxDims];
  std::int64_t stride[K][kMaxDims];
};

// Builds the meta with size-1 dims dropped and neighbouring dims merged where
// every tensor allows it (a contiguous tensor becomes one dim): fewer
// divisions per element in the kernel.
template <int K>
StridedMeta<K> make_strided(const Shape& shape, const std::array<const Shape*, K>& strides, const char* op) {
  StridedMeta<K> m;
  std::int64_t sz[64];
  std::int64_t st[K][64];
  int nd = 0;
  MINIDP_CHECK(shape.size() <= 64, op, ": too many dimensions (", shape.size(), ")");
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (nd > 0) {
      bool merge = true;
      for (int k = 0; k < K; ++k) merge = merge && st[k][nd - 1] == (*strides[k])[d] * shape[d];
      if (merge) {
        sz[nd - 1] *= shape[d];
        for (int k = 0; k < K; ++k) st[k][nd - 1] = (*strides[k])[d];
        continue;
      }
    }
    sz[nd] = shape[d];
    for (int k = 0; k < K; ++k) st[k][nd] = (*strides[k])[d];
    ++nd;
  }
  MINIDP_CHECK(nd <= kMaxDims, op, ": the CUDA kernel handles at most ", kMaxDims,
               " non-mergeable dimensions, got ", nd, " for shape ", shape_str(shape));
  m.ndim = nd;
  for (int d = 0; d < nd; ++d) {
    m.size[d] = sz[d];
    for (int k = 0; k < K; ++k) m.stride[k][d] = st[k][d];
  }
  return m;
}

// Element offsets of linear index i (row-major over the meta's shape).
template <int K>
__device__ inline void strided_offsets(const StridedMeta<K>& m, std::int64_t i, std::int64_t (&off)[K]) {
  for (int k = 0; k < K; ++k) off[k] = 0;
  for (int d = m.ndim - 1; d >= 0; --d) {
    const std::int64_t s = m.size[d];
    const std::int64_t q = i / s, r = i - q * s;
    for (int k = 0; k < K; ++k) off[k] += r * m.stride[k][d];
    i = q;
  }
}

// ---- dtype dispatch
template <typename F>
void float_dispatch(const Tensor& t, const char* op, F&& f) {
  if (t.dtype() == kFloat32) f(float{});
  else if (t.dtype() == kFloat64) f(double{});
  else MINIDP_FAIL(op, ": expected a float32 or float64 tensor, got ", t.describe());
}

// Reject tensors that are not on a CUDA device (a kernel would read garbage).
inline void check_cuda(const char* op, const Tensor& t) {
  MINIDP_CHECK(!t.defined() || t.device().is_cuda(), op, ": CUDA kernel given ", t.describe());
}

// ---- errors found by kernels. A kernel cannot throw, and copying a flag back
// after every kernel would stall the pipeline; so a kernel that meets a bad
// input (an index out of range) writes what it found into a record in mapped
// pinned host memory, and the next host synchronisation of that stream
// (item(), a copy to the host, synchronize(), an event of that stream) raises
// it as a minidp::Error. Each stream has a record of its own, so the error is
// raised for the stream — the replica — whose kernel found it, not for
// whichever thread happens to synchronise first.
enum DeviceErrorCode : int {
  kNoDeviceError = 0,
  kIndexSelectOutOfRange = 1,
  kIndexAddOutOfRange = 2,
  kCrossEntropyTarget = 3,
  kConfusionLabelOutOfRange = 4,
  kConfusionPredictionOutOfRange = 5,
};
struct DeviceErrorRecord {
  int code;
  int pad;
  long long a, b, c;
};
// The device-visible record of the launch's stream (created on first use;
// lives as long as the process, reused by a later stream with the same handle).
DeviceErrorRecord* device_error_record(const Launch& l);
// Raise the error a kernel on (device, stream) reported, if any (after a
// synchronisation of that stream). The record is cleared: reported once.
void raise_device_error_if_any(int device, void* stream);
// Same for every stream of `device` (after cudaDeviceSynchronize).
void raise_device_errors_of(int device);

__device__ inline void report_device_error(DeviceErrorRecord* rec, int code, long long a, long long b,
                                           long long c) {
  if (atomicCAS(&rec->code, 0, -1) == 0) {  // first error wins
    rec->a = a;
    rec->b = b;
    rec->c = c;
    __threadfence_system();
    atomicExch(&rec->code, code);
  }
}

// ---- small device math helpers that pick the float or double function.
__device__ inline float dexp(float x) { return expf(x); }
__device__ inline double dexp(double x) { return ::exp(x); }
__device__ inline float dlog(float x) { return logf(x); }
__device__ inline double dlog(double x) { return ::log(x); }

// Warp-level reductions in a fixed butterfly order (deterministic).
__device__ inline double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline double warp_max(double v) {
  for (int o = 16; o > 0; o >>= 1) v = ::fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace minidp::kernels::cuda
