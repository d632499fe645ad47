// minidp/kernels/cpu/linear.cpp — Linear's forward and weight gradient on the CPU.
//
// The CPU is the reference, so these run exactly the kernels the op ran
// before the CUDA backend fused them, in the same order: the bias copied into
// every row of y and the product added onto it (GEMM with beta = 1, PyTorch's
// addmm); gw = g^T x by GEMM; gb by the row sum of `reduce`. Every bit of the
// result is what `copy` + `gemm` and `matmul` + `sum` give.
#include "minidp/kernels/kernels.h"

namespace minidp::kernels::cpu {

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) {
  copy(make_view(bias, y.shape(), {0, 1}, bias.offset()), y);
  gemm(false, true, 1.0, x, w, 1.0, y);
}

void linear_backward_weight(const Tensor& g, const Tensor& x, const Tensor& gw, const Tensor& gb) {
  if (gw.defined()) gemm(true, false, 1.0, g, x, 0.0, gw);
  // `reduce` writes the keepdim shape [1, N]: the same memory as gb [N].
  if (gb.defined()) reduce(ReduceOp::Sum, g, make_view(gb, {1, g.size(1)}, {g.size(1), 1}, gb.offset()));
}

}  // namespace minidp::kernels::cpu
