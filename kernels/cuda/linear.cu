// minidp/kernels/cuda/linear.cu — Linear's GEMMs with the bias work fused into
// the GEMM's epilogue (cuBLASLt).
//
// An epilogue is what a GEMM kernel does to each output tile after the
// product is summed and before the tile is written. cuBLASLt can add a bias
// there (forward: y = x W^T + b in one kernel, no bias-copy pass over y) or
// sum the rows of an operand it reads anyway (backward: dW = g^T x and
// db = sum of g's rows in one kernel, no separate reduction).
//
// Layout. minidp is row-major, cuBLAS(Lt) column-major; a row-major R x C
// matrix is, byte for byte, the column-major C x R matrix (its transpose).
//
//   Forward, x [M, K], W [N, K], y [M, N] row-major. Column-major they are
//   x^T (K x M, ld K), W^T (K x N, ld K), y^T (N x M, ld N), and
//       y^T = W x^T + b  (b added to every column)
//   so A = W's memory viewed K x N with op T (giving W, N x K), B = x's memory
//   K x M with op N, D = y's memory N x M: m = N, n = M, k = K.
//   CUBLASLT_EPILOGUE_BIAS adds a vector whose length is the number of rows
//   of D — N, the out features — to every column of D: b to every row of y.
//
//   Weight gradient, g [M, N], x [M, K], dW [N, K] row-major. Column-major
//   dW is dW^T (K x N, ld K), and dW^T = x^T g:
//   A = x's memory K x M with op N, B = g's memory N x M (ld N) with op T
//   (giving g, M x N), D = dW's memory K x N: m = K, n = N, k = M.
//   db[j] = sum over the M rows of g[., j] = the sum of B's column j over the
//   GEMM's k dimension (M), one value per column of D (N of them): that is
//   CUBLASLT_EPILOGUE_BGRADB ("bias gradient from B, as long as D has
//   columns, reduced over k"). BGRADA would sum A = x over k instead — the
//   wrong tensor. (NVIDIA Apex's fused_dense computes its weight gradient
//   with the same operands, transposes and epilogue.)
//
// float32 only: float64, shapes with M, N or K of 1 (or past 2^31), and any
// shape cuBLASLt has no algorithm for take the plain path (bias copy + cuBLAS
// GEMM with beta = 1; GEMM + the row-sum kernel), which is also what the CPU
// runs. When a shape is fused is decided in linear_plan.h (host logic,
// tested without a GPU).
// The compute type follows allow_tf32() as gemm.cu's math mode does:
// CUBLAS_COMPUTE_32F (full FP32) or CUBLAS_COMPUTE_32F_FAST_TF32.
//
// Algorithms: cuBLASLt's heuristic is asked once per (device, epilogue,
// shape, TF32, the alignments of A, B, D and the bias) and its first answer is kept, so a shape
// always runs the same algorithm with the same workspace size — results are
// deterministic run to run. Descriptors are rebuilt per call (host-only,
// microseconds): the bias pointer lives in the descriptor, and replica threads
// run the same shape at the same time, so a shared descriptor would race.
// Workspace comes from the caching allocator on the launch stream, as conv.cu's.
#include <cublasLt.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <cstdio>

#include "minidp/kernels/cuda/common.cuh"
#include "minidp/kernels/cuda/handles.h"
#include "minidp/kernels/cuda/linear.h"
#include "minidp/kernels/cuda/linear_plan.h"
#include "minidp/kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

namespace {

// The most workspace an algorithm may ask for (NVIDIA suggests 32 MiB on Hopper).
constexpr std::uint64_t kMaxLtWorkspace = 32ull << 20;

std::atomic<std::uint64_t> g_forward_fused{0}, g_forward_plain{0}, g_backward_fused{0}, g_backward_plain{0};
std::atomic<std::uint64_t> g_forward_no_algo{0}, g_backward_no_algo{0};

using Epilogue = LtEpilogue;

// The largest power of two, up to 256, that divides the address. cuBLASLt's
// heuristic assumes 256-byte aligned buffers unless told otherwise, and a
// batch slice of a replica or a view into a flat buffer starts anywhere.
std::uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  std::uint32_t al = 256;
  while (al > 1 && a % al != 0) al /= 2;
  return al;
}

struct Plan {
  bool supported = false;  // false: the heuristic had no algorithm (or the call refused it)
  cublasLtMatmulAlgo_t algo{};
  std::size_t workspace = 0;
};

LtPlanCache<Plan> g_plans;

void say_plain(const LtPlanKey& key, const char* why, cublasStatus_t st) {
  std::fprintf(stderr, "minidp: cuBLASLt %s for Linear %s (status %d): the plain cuBLAS path runs it\n", why,
               key.describe().c_str(), static_cast<int>(st));
}

// The descriptors of one call, destroyed with it.
struct LtCall {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  LtCall(const LtCall&) = delete;
  LtCall& operator=(const LtCall&) = delete;
  // A: a_rows x a_cols (ld a_rows) under op_a; B likewise; D: m x n (ld m). All float32.
  LtCall(bool tf32, cublasOperation_t op_a, cublasOperation_t op_b, Epilogue epi, const void* bias,
         std::int64_t a_rows, std::int64_t a_cols, std::int64_t b_rows, std::int64_t b_cols, std::int64_t m,
         std::int64_t n) {
    try {
      MINIDP_CUBLAS_CHECK(
          cublasLtMatmulDescCreate(&desc, tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F));
      MINIDP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)));
      MINIDP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)));
      const cublasLtEpilogue_t e = epi == Epilogue::Bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_BGRADB;
      MINIDP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof(e)));
      // The bias (forward: read; BGRADB: written) has the output's type, float32.
      MINIDP_CUBLAS_CHECK(
          cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
      MINIDP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&a, CUDA_R_32F, static_cast<std::uint64_t>(a_rows),
                                                     static_cast<std::uint64_t>(a_cols), a_rows));
      MINIDP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&b, CUDA_R_32F, static_cast<std::uint64_t>(b_rows),
                                                     static_cast<std::uint64_t>(b_cols), b_rows));
      MINIDP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d, CUDA_R_32F, static_cast<std::uint64_t>(m),
                                                     static_cast<std::uint64_t>(n), m));
    } catch (...) {
      destroy();
      throw;
    }
  }
  ~LtCall() { destroy(); }
  void destroy() noexcept {
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
    d = b = a = nullptr;
    desc = nullptr;
  }
};

// The cached plan for `key`, asking the heuristic the first time. Any answer
// but a usable algorithm means "not for this shape" (linear_plan.h).
Plan plan_for(cublasLtHandle_t h, const LtPlanKey& key, const LtCall& c) {
  bool fresh = false;
  cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
  Plan p = g_plans.get(
      key,
      [&] {
        Plan q;
        cublasLtMatmulPreference_t pref = nullptr;
        if (cublasLtMatmulPreferenceCreate(&pref) != CUBLAS_STATUS_SUCCESS) return q;
        cublasLtMatmulHeuristicResult_t result{};
        int found = 0;
        const std::uint64_t ws = kMaxLtWorkspace;
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &key.align_a,
                                             sizeof(key.align_a));
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &key.align_b,
                                             sizeof(key.align_b));
        // C is D (beta = 0, C's pointer is D's). The bias has no preference of
        // its own: D's requirement is made to cover it too.
        const std::uint32_t align_cd = std::min(key.align_d, key.align_bias);
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_cd,
                                             sizeof(align_cd));
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_cd,
                                             sizeof(align_cd));
        st = cublasLtMatmulAlgoGetHeuristic(h, c.desc, c.a, c.b, c.d, c.d, pref, 1, &result, &found);
        cublasLtMatmulPreferenceDestroy(pref);
        if (lt_heuristic_usable(static_cast<int>(st), found, static_cast<int>(result.state))) {
          q.supported = true;
          q.algo = result.algo;
          q.workspace = result.workspaceSize;
        } else if (st == CUBLAS_STATUS_SUCCESS) {
          st = found > 0 ? result.state : CUBLAS_STATUS_NOT_SUPPORTED;
        }
        return q;
      },
      &fresh);
  if (fresh && !p.supported) say_plain(key, "has no fused algorithm", st);
  return p;
}

// Runs D = op(A) op(B) with the epilogue; false when cuBLASLt has no algorithm
// for it (the caller then takes the plain path; nothing was written).
bool run_lt(const Launch& l, Epilogue epi, cublasOperation_t op_a, const float* a_ptr, std::int64_t a_rows,
            std::int64_t a_cols, cublasOperation_t op_b, const float* b_ptr, std::int64_t b_rows,
            std::int64_t b_cols, float* d_ptr, std::int64_t m, std::int64_t n, std::int64_t k, const void* bias) {
  // cuBLASLt accepts a cublasHandle_t in place of a cublasLtHandle_t (the
  // cuBLAS handle wraps one); this is the calling thread's handle for the
  // device, so no two threads share it.
  cublasLtHandle_t h = reinterpret_cast<cublasLtHandle_t>(cublas_handle(l.device, l.handle));
  const bool tf32 = allow_tf32();
  const LtPlanKey key{l.device,         epi,  m, n, k, tf32, alignment_of(a_ptr), alignment_of(b_ptr),
                      alignment_of(d_ptr), alignment_of(bias)};
  LtCall c(tf32, op_a, op_b, epi, bias, a_rows, a_cols, b_rows, b_cols, m, n);
  const Plan p = plan_for(h, key, c);
  if (!p.supported) return false;
  const float alpha = 1.0f, beta = 0.0f;
  cublasStatus_t st;
  {
    Workspace ws(p.workspace, l);
    st = cublasLtMatmul(h, c.desc, &alpha, a_ptr, c.a, b_ptr, c.b, &beta, d_ptr, c.d, d_ptr, c.d, &p.algo, ws.get(),
                        p.workspace, l.stream);
  }
  if (st == CUBLAS_STATUS_NOT_SUPPORTED || st == CUBLAS_STATUS_INVALID_VALUE) {
    // refused at run time (nothing was written): this shape goes the plain way for good
    if (g_plans.mark_unsupported(key)) say_plain(key, "refused the fused call at run time", st);
    return false;
  }
  MINIDP_CUBLAS_CHECK(st);
  return true;
}

}  // namespace

LinearEpilogueCounts linear_epilogue_counts() {
  return {g_forward_fused.load(),  g_forward_plain.load(),   g_backward_fused.load(),
          g_backward_plain.load(), g_forward_no_algo.load(), g_backward_no_algo.load()};
}

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) {
  check_cuda("linear_forward", x);
  check_cuda("linear_forward", w);
  check_cuda("linear_forward", bias);
  check_cuda("linear_forward", y);
  MINIDP_CHECK(x.dim() == 2 && w.dim() == 2 && bias.dim() == 1 && y.dim() == 2 && x.is_contiguous() &&
                   w.is_contiguous() && bias.is_contiguous() && y.is_contiguous(),
               "linear_forward (CUDA): expected contiguous x [M, K], w [N, K], bias [N], y [M, N], got ",
               x.describe(), ", ", w.describe(), ", ", bias.describe(), ", ", y.describe());
  const std::int64_t m = x.size(0), k = x.size(1), n = w.size(0);
  MINIDP_CHECK(w.size(1) == k && bias.size(0) == n && y.size(0) == m && y.size(1) == n,
               "linear_forward (CUDA): shapes do not chain: ", x.describe(), ", ", w.describe(), ", ",
               bias.describe(), " -> ", y.describe());
  MINIDP_CHECK(x.dtype() == w.dtype() && x.dtype() == bias.dtype() && x.dtype() == y.dtype(),
               "linear_forward (CUDA): dtypes differ: ", x.describe(), ", ", w.describe(), ", ", bias.describe(),
               ", ", y.describe());
  if (x.dtype() == kFloat32 && lt_shape_eligible(m, n, k)) {
    Launch l(y);
    // Column-major: D = y^T (N x M) = op_T(W's memory, K x N) op_N(x's memory, K x M) + bias.
    if (run_lt(l, Epilogue::Bias, CUBLAS_OP_T, static_cast<const float*>(w.raw_data()), k, n, CUBLAS_OP_N,
               static_cast<const float*>(x.raw_data()), k, m, static_cast<float*>(y.raw_data()), n, m, k,
               bias.raw_data())) {
      ++g_forward_fused;
      return;
    }
    ++g_forward_no_algo;
  }
  // The plain path, the CPU's: bias into every row, then the product added on.
  ++g_forward_plain;
  copy(make_view(bias, y.shape(), {0, 1}, bias.offset()), y);
  gemm(false, true, 1.0, x, w, 1.0, y);
}

void linear_backward_weight(const Tensor& g, const Tensor& x, const Tensor& gw, const Tensor& gb) {
  check_cuda("linear_backward_weight", g);
  check_cuda("linear_backward_weight", x);
  MINIDP_CHECK(g.dim() == 2 && x.dim() == 2 && g.size(0) == x.size(0) && g.is_contiguous() && x.is_contiguous(),
               "linear_backward_weight (CUDA): expected contiguous g [M, N] and x [M, K], got ", g.describe(), ", ",
               x.describe());
  const std::int64_t m = g.size(0), n = g.size(1), k = x.size(1);
  if (gw.defined()) {
    check_cuda("linear_backward_weight", gw);
    MINIDP_CHECK(gw.dim() == 2 && gw.size(0) == n && gw.size(1) == k && gw.is_contiguous() &&
                     gw.dtype() == g.dtype(),
                 "linear_backward_weight (CUDA): gw ", gw.describe(), " must be contiguous [", n, ", ", k, "] of ",
                 dtype_name(g.dtype()));
  }
  if (gb.defined()) {
    check_cuda("linear_backward_weight", gb);
    MINIDP_CHECK(gb.dim() == 1 && gb.size(0) == n && gb.is_contiguous() && gb.dtype() == g.dtype(),
                 "linear_backward_weight (CUDA): gb ", gb.describe(), " must be contiguous [", n, "] of ",
                 dtype_name(g.dtype()));
  }
  MINIDP_CHECK(x.dtype() == g.dtype(), "linear_backward_weight (CUDA): dtypes differ: ", g.describe(), ", ",
               x.describe());
  if (gw.defined() && gb.defined() && g.dtype() == kFloat32 && lt_shape_eligible(m, n, k)) {
    Launch l(g);
    // Column-major: D = dW^T (K x N) = op_N(x's memory, K x M) op_T(g's memory, N x M);
    // BGRADB sums B = g over k = M into gb [N].
    if (run_lt(l, Epilogue::BGradB, CUBLAS_OP_N, static_cast<const float*>(x.raw_data()), k, m, CUBLAS_OP_T,
               static_cast<const float*>(g.raw_data()), n, m, static_cast<float*>(gw.raw_data()), k, n, m,
               gb.raw_data())) {
      ++g_backward_fused;
      return;
    }
    ++g_backward_no_algo;
  }
  // The plain path, the CPU's: GEMM, then the row sum ([1, N] keepdim view of gb).
  ++g_backward_plain;
  if (gw.defined()) gemm(true, false, 1.0, g, x, 0.0, gw);
  if (gb.defined()) reduce(ReduceOp::Sum, g, make_view(gb, {1, n}, {n, 1}, gb.offset()));
}

}  // namespace minidp::kernels::cuda
