// minidp/kernels/cpu/gemm.cpp — matrix products: oneDNN (float32) or
// OpenBLAS (or Eigen) on chunks of rows.
//
// Each chunk is a single-threaded call: OpenBLAS with
// openblas_set_num_threads(1), oneDNN's sgemm with the calling thread's
// OpenMP team set to 1. The threads are minidp's own, so that the chunking —
// and with it every bit of the result — does not depend on how many there
// are. Measured on this project's 2-core machines, single-threaded sgemm
// 512x1024x1024: OpenBLAS 98 GFLOP/s, Eigen 73 (AMD EPYC); OpenBLAS 108,
// oneDNN 112, and on 256-row blocks of the MLP's products oneDNN 0-15%
// ahead (Intel Xeon, AVX-512; docs/cpu.md).
#include "minidp/kernels/cpu/gemm.h"

#include <Eigen/Core>

#include <algorithm>
#include <mutex>

#if MINIDP_WITH_OPENBLAS
#include <cblas.h>
#endif
#if defined(MINIDP_WITH_ONEDNN) && MINIDP_WITH_ONEDNN
#include <dnnl.h>

#include "minidp/kernels/cpu/one_omp_thread.h"
#endif

#include "minidp/core/error.h"
#include "minidp/kernels/cpu/path_switch.h"

#include "minidp/kernels/cpu/float_dispatch.h"
#include "minidp/kernels/cpu/parallel.h"
#include "minidp/kernels/kernels.h"

namespace minidp::kernels::cpu {

namespace {
template <typename T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using Strided = Eigen::Map<const Mat<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using StridedOut = Eigen::Map<Mat<T>, 0, Eigen::OuterStride<>>;

#if MINIDP_WITH_OPENBLAS
void use_one_openblas_thread() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}
#endif

#if MINIDP_WITH_OPENBLAS
constexpr const char* kBlas = "OpenBLAS";
#else
constexpr const char* kBlas = "Eigen";
#endif

PathSwitch& gemm_switch() {
  static PathSwitch s("blas", "MINIDP_CPU_GEMM", "set_cpu_gemm", std::string("the CPU's matrix products run on ") + kBlas);
  return s;
}
bool gemm_onednn() { return gemm_switch().onednn(); }

// One block on the calling thread, on the path the caller read once for the
// whole product (a set_cpu_gemm from another thread cannot mix paths in it).
template <typename T>
void gemm_block(bool onednn, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // an empty sum: c = beta c (0 when beta is 0, whatever c held), as BLAS defines it
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
#if defined(MINIDP_WITH_ONEDNN) && MINIDP_WITH_ONEDNN
  if constexpr (std::is_same_v<T, float>) {  // oneDNN has no float64 GEMM
    if (onednn) {
      OneOmpThread one;  // this block on this thread alone
      const dnnl_status_t st =
          dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      MINIDP_CHECK(st == dnnl_success, "oneDNN's sgemm refused a ", m, "x", n, "x", k, " product (status ",
                   static_cast<int>(st), ")");
      return;
    }
  }
#endif
#if MINIDP_WITH_OPENBLAS
  use_one_openblas_thread();
  const auto opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  const auto im = static_cast<blasint>(m), in = static_cast<blasint>(n), ik = static_cast<blasint>(k);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, opa, opb, im, in, ik, alpha, a, static_cast<blasint>(lda), b,
                static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
  else
    cblas_dgemm(CblasRowMajor, opa, opb, im, in, ik, alpha, a, static_cast<blasint>(lda), b,
                static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
#else
  const Strided<T> A(a, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
  const Strided<T> B(b, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
  StridedOut<T> C(c, m, n, Eigen::OuterStride<>(ldc));
  auto run = [&](const auto& opa, const auto& opb) {
    if (beta == T(0)) {
      C.noalias() = alpha * (opa * opb);  // never read c: it may be uninitialised
    } else {
      C *= beta;
      C.noalias() += alpha * (opa * opb);
    }
  };
  if (!ta && !tb) run(A, B);
  else if (ta && !tb) run(A.transpose(), B);
  else if (!ta && tb) run(A, B.transpose());
  else run(A.transpose(), B.transpose());
#endif
}
}  // namespace

void set_gemm_path(const std::string& path) { gemm_switch().set(path); }
std::string gemm_path() { return gemm_switch().name(); }

template <typename T>
void gemm_serial(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                 std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  gemm_block<T>(std::is_same_v<T, float> && gemm_onednn(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Each block's product packs (copies into the layout its inner kernel reads)
// the whole of the operand it shares with the other blocks: all of b for row
// blocks, all of a for column blocks. Row blocks of 256 keep that copy small
// against the block's arithmetic; a product of at most 256 rows (a batch of
// 128 through a Linear layer) is cut into column blocks instead, where
// repacking its small a costs little. Measured on this project's 2-core
// machine, float32 GFLOP/s with 2 threads (docs/cpu.md):
//   512 x 1024 x 1024 (x W^T)   rows of 128: 159   rows of 256: 180   OpenBLAS's own 2 threads: 189
//   128 x 1024 x 1024 (x W^T)   rows (one block, one thread): 82   columns of 256: 149   OpenBLAS: 161
template <typename T>
void gemm_parallel(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
                   std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  const bool onednn = std::is_same_v<T, float> && gemm_onednn();
  if (m > kGemmBlock) {
    parallel_for(m, kGemmBlock, [&](std::int64_t lo, std::int64_t hi) {
      // Rows lo..hi of op(a): a row block of a, or (transposed) a column block.
      const T* a_rows = ta ? a + lo : a + lo * lda;
      gemm_block<T>(onednn, ta, tb, hi - lo, n, k, alpha, a_rows, lda, b, ldb, beta, c + lo * ldc, ldc);
    });
  } else {
    parallel_for(n, kGemmBlock, [&](std::int64_t lo, std::int64_t hi) {
      // Columns lo..hi of op(b): a column block of b, or (transposed) a row block.
      const T* b_cols = tb ? b + lo * ldb : b + lo;
      gemm_block<T>(onednn, ta, tb, m, hi - lo, k, alpha, a, lda, b_cols, ldb, beta, c + lo, ldc);
    });
  }
}

template void gemm_serial<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                                 std::int64_t, const float*, std::int64_t, float, float*, std::int64_t);
template void gemm_serial<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const double*,
                                  std::int64_t, const double*, std::int64_t, double, double*, std::int64_t);
template void gemm_parallel<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*,
                                   std::int64_t, const float*, std::int64_t, float, float*, std::int64_t);
template void gemm_parallel<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const double*,
                                    std::int64_t, const double*, std::int64_t, double, double*, std::int64_t);

const char* gemm_library() {
  return gemm_onednn() ? "oneDNN" : kBlas;
}

const char* gemm_kernels() {
#if defined(MINIDP_WITH_ONEDNN) && MINIDP_WITH_ONEDNN
  if (gemm_onednn()) {  // the widest instructions oneDNN's code generator uses here
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core) return "avx512_core";
    if ((isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2) return "avx2";
    if ((isa & dnnl_cpu_isa_avx) == dnnl_cpu_isa_avx) return "avx";
    if ((isa & dnnl_cpu_isa_sse41) == dnnl_cpu_isa_sse41) return "sse41";
    return "reference";
  }
#endif
#if MINIDP_WITH_OPENBLAS
  return openblas_get_corename();  // what OpenBLAS picked when it was loaded (OPENBLAS_CORETYPE, or its CPU check)
#else
  return "";
#endif
}

std::string gemm_kernel_mismatch() {
  if (gemm_onednn()) return "";  // OpenBLAS runs only float64 products then
  const std::string core = gemm_kernels();
  // The kernels of CPUs older than AVX2 (OpenBLAS's names for x86-64).
  static const char* const old_cores[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
                                          "Sandybridge", "Bulldozer", "Piledriver", "Opteron", "Barcelona"};
  bool old = false;
  for (const char* c : old_cores) old = old || core == c;
#if defined(__x86_64__) || defined(__i386__)
  const bool avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2");
#else
  const bool avx512 = false, avx2 = false;
#endif
  if (!old || !avx2) return "";
  const char* fit = avx512 ? "SkylakeX" : "Haswell";
  return std::string("OpenBLAS runs its ") + core + " kernels on a CPU with " + (avx512 ? "AVX-512" : "AVX2") +
         " (it did not recognise this CPU, or OPENBLAS_CORETYPE chose them): matrix products and convolutions can "
         "run several times slower; start the program with OPENBLAS_CORETYPE=" + fit + " in its environment "
         "(docs/cpu.md)";
}

void gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta, const Tensor& c) {
  float_only(a, "gemm", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t m = c.size(0), n = c.size(1), k = ta ? a.size(0) : a.size(1);
    gemm_parallel<T>(ta, tb, m, n, k, static_cast<T>(alpha), static_cast<const T*>(a.raw_data()), a.size(1),
                     static_cast<const T*>(b.raw_data()), b.size(1), static_cast<T>(beta),
                     static_cast<T*>(c.raw_data()), n);
  });
}

}  // namespace minidp::kernels::cpu
