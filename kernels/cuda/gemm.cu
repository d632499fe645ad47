// minidp/kernels/cuda/gemm.cu — matrix products through cuBLAS.
//
// minidp's matrices are row-major; cuBLAS's are column-major. A row-major
// M x N matrix is, byte for byte, the column-major N x M matrix of its
// transpose. So C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T: swap the
// operands, keep each one's transpose flag, and pass the row lengths as
// leading dimensions. No data moves.
//
// float32 runs in full FP32 unless set_allow_tf32(true) (kernels/cuda/runtime.h);
// float64 uses DGEMM. cuBLAS is deterministic for a given GPU, library
// version and workspace — handles.cu gives every stream a workspace of its own.
#include "minidp/kernels/cuda/common.cuh"
#include "minidp/kernels/cuda/handles.h"

namespace minidp::kernels::cuda {

void gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta, const Tensor& c) {
  check_cuda("gemm", a);
  check_cuda("gemm", b);
  check_cuda("gemm", c);
  MINIDP_CHECK(a.dim() == 2 && b.dim() == 2 && c.dim() == 2 && a.is_contiguous() && b.is_contiguous() &&
                   c.is_contiguous(),
               "gemm (CUDA): expected contiguous 2-D tensors, got ", a.describe(), ", ", b.describe(), ", ",
               c.describe());
  MINIDP_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype(), "gemm (CUDA): dtypes differ: ", a.describe(), ", ",
               b.describe(), ", ", c.describe());
  const std::int64_t m = c.size(0), n = c.size(1);
  const std::int64_t k = ta ? a.size(0) : a.size(1);
  MINIDP_CHECK((ta ? a.size(1) : a.size(0)) == m && (tb ? b.size(0) : b.size(1)) == n &&
                   (tb ? b.size(1) : b.size(0)) == k,
               "gemm (CUDA): shapes do not chain: op(", a.describe(), ") @ op(", b.describe(), ") -> ", c.describe());
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty sum: C = beta C
    if (beta == 0.0) fill(c, 0.0);
    else unary(UnaryOp::Affine, c, c, beta, 0.0);
    return;
  }
  constexpr std::int64_t kIntMax = 2147483647;
  MINIDP_CHECK(m <= kIntMax && n <= kIntMax && k <= kIntMax && a.size(1) <= kIntMax && b.size(1) <= kIntMax,
               "gemm (CUDA): dimensions beyond 2^31 are not supported");
  Launch l(c);
  cublasHandle_t h = cublas_handle(l.device, l.handle);
  const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int lda = static_cast<int>(a.size(1)), ldb = static_cast<int>(b.size(1)), ldc = in;
  // Column-major view: C^T (n x m) = op(B)^T (n x k) op(A)^T (k x m).
  if (a.dtype() == kFloat32) {
    const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
    MINIDP_CUBLAS_CHECK(cublasSgemm(h, opb, opa, in, im, ik, &al, static_cast<const float*>(b.raw_data()), ldb,
                                    static_cast<const float*>(a.raw_data()), lda, &be,
                                    static_cast<float*>(c.raw_data()), ldc));
  } else if (a.dtype() == kFloat64) {
    MINIDP_CUBLAS_CHECK(cublasDgemm(h, opb, opa, in, im, ik, &alpha, static_cast<const double*>(b.raw_data()), ldb,
                                    static_cast<const double*>(a.raw_data()), lda, &beta,
                                    static_cast<double*>(c.raw_data()), ldc));
  } else {
    MINIDP_FAIL("gemm (CUDA): expected float32 or float64 tensors, got ", a.describe());
  }
}

}  // namespace minidp::kernels::cuda
