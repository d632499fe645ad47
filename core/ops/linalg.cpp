// minidp/core/ops/linalg.cpp — matrix products (cuBLAS, or the CPU's kernels/cpu/gemm.cpp, underneath).
#include "minidp/core/ops/op_utils.h"

namespace minidp {

using G = std::vector<Tensor>;

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  detail::check_floating("matmul", a);
  detail::check_same("matmul", a, b);
  detail::check_dim("matmul", a, 2, "the first operand");
  detail::check_dim("matmul", b, 2, "the second operand");
  const std::int64_t m = ta ? a.size(1) : a.size(0), k = ta ? a.size(0) : a.size(1);
  const std::int64_t k2 = tb ? b.size(1) : b.size(0), n = tb ? b.size(0) : b.size(1);
  MINIDP_CHECK(k == k2, "matmul: inner dimensions differ: ", a.describe(), (ta ? "^T" : ""), " @ ",
               b.describe(), (tb ? "^T" : ""), " (", k, " vs ", k2, ")");
  Tensor c = Tensor::empty({m, n}, a.options());
  MINIDP_KERNEL(a.device(), gemm, ta, tb, 1.0, detail::contig(a), detail::contig(b), 0.0, c);
  const bool ga = needs_grad(a), gb = needs_grad(b);
  return record("matmul", c, {a, b}, [a = a.detach(), b = b.detach(), ta, tb, ga, gb](const Tensor& g) {
    // C = op(A) op(B):  dA = g op(B)^T (transposed back if A was), dB = op(A)^T g (likewise)
    Tensor da, db;
    if (ga) da = ta ? matmul(b, g, tb, true) : matmul(g, b, false, !tb);
    if (gb) db = tb ? matmul(g, a, true, ta) : matmul(a, g, !ta, false);
    return G{da, db};
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  detail::check_defined("linear", x, "input");
  detail::check_defined("linear", weight, "weight");
  detail::check_dim("linear", weight, 2, "weight [out_features, in_features]");
  MINIDP_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", x.describe(),
               " does not end in in_features = ", weight.size(1), " of weight ", weight.describe());
  Tensor x2 = x.dim() == 2 ? x : x.reshape({-1, weight.size(1)});
  Tensor y;
  if (!bias.defined()) {
    y = matmul(x2, weight, false, true);
  } else {
    detail::check_same("linear", x, bias);
    MINIDP_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias ", bias.describe(),
                 " must have shape [", weight.size(0), "]");
    detail::check_floating("linear", x);
    detail::check_same("linear", x, weight);
    // The CPU, like PyTorch's addmm, starts y as the bias in every row and
    // adds the product onto it (GEMM with beta = 1); CUDA adds the bias in
    // the GEMM's epilogue instead, as it writes y (docs/cuda.md, "Fused
    // epilogues"). Either way no separate pass over y adds the bias.
    y = Tensor::empty({x2.size(0), weight.size(0)}, x.options());
    MINIDP_KERNEL(x.device(), linear_forward, detail::contig(x2), detail::contig(weight), detail::contig(bias), y);
    const bool gx = needs_grad(x2), gw = needs_grad(weight), gb = needs_grad(bias);
    y = record("linear", y, {x2, weight, bias}, [x2 = x2.detach(), w = weight.detach(), gx, gw, gb](const Tensor& g) {
      // y = x W^T + b:  dx = g W,  dW = g^T x,  db = the sum of g over the rows.
      // dW and db come from one kernel: on CUDA the row sum rides along in
      // the dW GEMM, which reads g anyway.
      Tensor dx = gx ? matmul(g, w) : Tensor(), dw, db;
      if (gw || gb) {
        if (gw) dw = Tensor::empty(w.shape(), g.options());
        if (gb) db = Tensor::empty({w.size(0)}, g.options());
        MINIDP_KERNEL(g.device(), linear_backward_weight, detail::contig(g), detail::contig(x2), dw, db);
      }
      return G{dx, dw, db};
    });
  }
  if (x.dim() == 2) return y;
  Shape out = x.shape();
  out.back() = weight.size(0);
  return y.reshape(out);
}

}  // namespace minidp
