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

// Gives back the cuBLAS workspace of a stream that is being destroyed (after
// it was drained). Handles bound to it are re-bound before their next use.
void release_stream_workspace(int device, void* stream) noexcept;

}  // namespace minidp::kernels::cuda
