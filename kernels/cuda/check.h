// minidp/kernels/cuda/check.h — checks every CUDA runtime call and reports the
// failing expression, file:line and CUDA's own message as a minidp::Error.
#pragma once

#include <cuda_runtime.h>

#include "core/error.h"

#define MINIDP_CUDA_CHECK(expr)                                                              \
  do {                                                                                       \
    cudaError_t err_ = (expr);                                                               \
    if (err_ != cudaSuccess)                                                                 \
      MINIDP_FAIL("CUDA error at ", __FILE__, ":", __LINE__, ": ", #expr, " failed: ",       \
                  cudaGetErrorName(err_), " (", cudaGetErrorString(err_), ")");              \
  } while (0)

// After a kernel launch: catches bad launch configurations without synchronising.
#define MINIDP_CUDA_CHECK_LAUNCH() MINIDP_CUDA_CHECK(cudaGetLastError())
