// minidp/kernels/cuda/check.h — checks every CUDA, cuBLAS, cuDNN and NCCL call
// and reports the failing expression, file:line and the library's own message
// as a minidp::Error.
//
// Only the runtime check pulls in a header (cuda_runtime.h); the cuBLAS, cuDNN
// and NCCL checks expand to calls of those libraries' error-string functions,
// so include <cublas_v2.h>, <cudnn.h> or <nccl.h> before using them.
#pragma once

#include <cuda_runtime.h>

#include "minidp/core/error.h"

// A failed call also sets CUDA's per-thread "last error". Unless it is cleared
// here, the next MINIDP_CUDA_CHECK_LAUNCH (which reads that last error) would
// blame an unrelated kernel for a failure that was already reported and
// perhaps caught. Sticky errors (a kernel fault) cannot be cleared: every
// later call reports them, as it should.
#define MINIDP_CUDA_CHECK(expr)                                                              \
  do {                                                                                       \
    cudaError_t err_ = (expr);                                                               \
    if (err_ != cudaSuccess) {                                                               \
      cudaGetLastError();                                                                    \
      MINIDP_FAIL("CUDA error at ", __FILE__, ":", __LINE__, ": ", #expr, " failed: ",       \
                  cudaGetErrorName(err_), " (", cudaGetErrorString(err_), ")");              \
    }                                                                                        \
  } while (0)

// After a kernel launch: catches bad launch configurations without synchronising.
#define MINIDP_CUDA_CHECK_LAUNCH() MINIDP_CUDA_CHECK(cudaGetLastError())

#define MINIDP_CUBLAS_CHECK(expr)                                                            \
  do {                                                                                       \
    cublasStatus_t st_ = (expr);                                                             \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                        \
      MINIDP_FAIL("cuBLAS error at ", __FILE__, ":", __LINE__, ": ", #expr, " failed: ",     \
                  cublasGetStatusName(st_), " (", cublasGetStatusString(st_), ")");          \
  } while (0)

#define MINIDP_CUDNN_CHECK(expr)                                                             \
  do {                                                                                       \
    cudnnStatus_t st_ = (expr);                                                              \
    if (st_ != CUDNN_STATUS_SUCCESS) {                                                       \
      char detail_[512] = {0};                                                               \
      cudnnGetLastErrorString(detail_, sizeof(detail_));                                     \
      MINIDP_FAIL("cuDNN error at ", __FILE__, ":", __LINE__, ": ", #expr, " failed: ",      \
                  cudnnGetErrorString(st_), detail_[0] ? " - " : "", detail_);              \
    }                                                                                        \
  } while (0)

#define MINIDP_NCCL_CHECK(expr)                                                              \
  do {                                                                                       \
    ncclResult_t st_ = (expr);                                                               \
    if (st_ != ncclSuccess)                                                                  \
      MINIDP_FAIL("NCCL error at ", __FILE__, ":", __LINE__, ": ", #expr, " failed: ",       \
                  ncclGetErrorString(st_), " (", ncclGetLastError(nullptr), ")");            \
  } while (0)
