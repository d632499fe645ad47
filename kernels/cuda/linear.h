// minidp/kernels/cuda/linear.h — what Linear's fused cuBLASLt GEMMs have done
// so far: how many ran fused, and how many fell back to the plain path.
//
// Plain C++ (no CUDA headers); linear.cu implements it. The GPU tests read
// these counts to tell a fused run from a fallback, since both give the same
// numbers up to rounding.
#pragma once

#include <cstdint>

namespace minidp::kernels::cuda {

struct LinearEpilogueCounts {
  std::uint64_t forward_fused = 0;     // GEMM + bias in one cuBLASLt call (EPILOGUE_BIAS)
  std::uint64_t forward_plain = 0;     // bias copy + cuBLAS GEMM with beta = 1
  std::uint64_t backward_fused = 0;    // dW GEMM + bias gradient in one call (EPILOGUE_BGRADB)
  std::uint64_t backward_plain = 0;    // cuBLAS GEMM and/or the row-sum kernel
  // Of the plain runs, those that asked cuBLASLt first and got no algorithm
  // (or a refusal at run time); the others never ask (float64, a dimension
  // of 1, or one of the two gradients not wanted: linear_plan.h).
  std::uint64_t forward_no_algorithm = 0;
  std::uint64_t backward_no_algorithm = 0;
};

// Counts over all devices and threads since the process started.
LinearEpilogueCounts linear_epilogue_counts();

}  // namespace minidp::kernels::cuda
