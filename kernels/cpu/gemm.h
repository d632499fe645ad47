// minidp/kernels/cpu/gemm.h — the CPU's matrix product, shared by the GEMM and
// convolution kernels.
//
// c = alpha op(a) op(b) + beta c, row-major. c is cut into blocks of
// kGemmBlock rows (or, for a product of few rows, of kGemmBlock columns);
// each block is one single-threaded product (OpenBLAS where the build found
// it, Eigen otherwise), and the blocks run on the CPU's threads
// (kernels/cpu/parallel.h). The blocks depend only on the shape, and no block
// sums over another's work, so the result is the same bits for any number of
// threads. (Not for any blocking: OpenBLAS itself gives other bits for other
// block heights — its small-matrix kernels sum in another order — which is
// why the blocks must not follow the thread count.)
#pragma once

#include <cstdint>
#include <string>

namespace minidp::kernels::cpu {

constexpr std::int64_t kGemmBlock = 256;

// On the calling thread only (for callers that are already one chunk of a parallel loop).
template <typename T>
void gemm_serial(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                 std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

// Rows of c in chunks, on the CPU's threads.
template <typename T>
void gemm_parallel(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                   std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

// Which library computes the products ("OpenBLAS" or "Eigen"), for reports.
const char* gemm_library();
// OpenBLAS's kernels for this run ("SkylakeX", "Haswell", "Prescott", ...; "" for Eigen).
const char* gemm_kernels();
// A warning when OpenBLAS picked the kernels of a CPU older than the one it
// runs on (a CPU it does not recognise, as on some virtual machines); "" when not.
std::string gemm_kernel_mismatch();

}  // namespace minidp::kernels::cpu
