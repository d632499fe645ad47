// minidp/kernels/cuda/handles.h — cuBLAS and cuDNN handles, one per (device,
// host thread), bound to the caller's stream before each use.
//
// A handle holds library state (and cuBLAS's workspace), so two host threads
// must not share one; creating one costs milliseconds, so it is made once per
// thread and device, and given back to a pool when its thread ends (the
// parallel layer's replica threads come and go; their handles are reused).
// Internal to kernels/cuda (needs the CUDA headers).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace minidp::kernels::cuda {

// The calling thread's cuBLAS handle for `device` (which must be current),
// bound to `stream` (nullptr = this thread's default stream) with a workspace
// of its own per stream — so GEMMs queued on two streams at once never share
// scratch memory, and results do not depend on how the streams interleave.
// Math mode follows allow_tf32().
cublasHandle_t cublas_handle(int device, void* stream);

// The calling thread's cuDNN handle for `device`, bound to `stream`.
cudnnHandle_t cudnn_handle(int device, void* stream);

// True for every "not supported" status. cuDNN 9 reports why an algorithm
// cannot run with sub-codes (3001 NOT_SUPPORTED_GRAPH_PATTERN ... 3014
// NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE); comparing with the plain
// CUDNN_STATUS_NOT_SUPPORTED (3000) would miss them all, and the fallback
// algorithm would never be tried.
#ifndef CUDNN_STATUS_CATEGORY  // before cuDNN 9 there were no sub-codes
#define CUDNN_STATUS_CATEGORY(code) (code)
#endif
inline bool cudnn_not_supported(cudnnStatus_t st) {
  return CUDNN_STATUS_CATEGORY(static_cast<int>(st)) == static_cast<int>(CUDNN_STATUS_NOT_SUPPORTED);
}

// Gives back the cuBLAS workspace of a stream that is being destroyed (after
// it was drained). Handles bound to it are re-bound before their next use.
void release_stream_workspace(int device, void* stream) noexcept;

}  // namespace minidp::kernels::cuda
