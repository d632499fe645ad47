// minidp/kernels/cpu/gemm.h — the CPU's matrix product, shared by the GEMM and
// convolution kernels.
//
// c = alpha op(a) op(b) + beta c, row-major. c is cut into blocks of
// kGemmBlock rows (or, for a product of few rows, of kGemmBlock columns);
// each block is one single-threaded product (float32: oneDNN's sgemm where
// the build found oneDNN, unless set_cpu_gemm("blas"); otherwise OpenBLAS
// where the build found it, Eigen otherwise), and the blocks run on the CPU's threads
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

// The float32 products' path: "onednn" or "blas" (OpenBLAS, or Eigen in a
// build without it; float64 always runs there). The default is "onednn" in
// builds that have it; MINIDP_CPU_GEMM in the environment sets it at start.
void set_gemm_path(const std::string& path);  // raises on an unknown or unavailable path
std::string gemm_path();
// Which library computes the float32 products ("oneDNN", "OpenBLAS" or "Eigen"), for reports.
const char* gemm_library();
// Their kernels for this run: oneDNN's instruction set ("avx512_core",
// "avx2", ...), or OpenBLAS's kernels ("SkylakeX", "Haswell", "Prescott", ...;
// "" for Eigen).
const char* gemm_kernels();
// A warning when OpenBLAS runs the float32 products with the kernels of a
// CPU older than the one it runs on (a CPU it does not recognise, as on some
// virtual machines); "" when not.
std::string gemm_kernel_mismatch();

}  // namespace minidp::kernels::cpu
