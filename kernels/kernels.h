// minidp/kernels/kernels.h — the compute interface every backend implements.
//
// The same functions exist in namespace minidp::kernels::cpu (kernels/cpu/,
// Eigen and plain loops: the reference) and minidp::kernels::cuda
// (kernels/cuda/, cuBLAS, cuDNN and own kernels). Kernels know tensors'
// geometry but nothing of autograd: the ops in core/ops/ validate inputs,
// allocate outputs (contiguous unless stated) and call exactly one of these.
// A GPU test compares each CUDA kernel with its CPU twin.
#pragma once

#include <cstdint>
#include <vector>

#include "minidp/core/ops.h"
#include "minidp/core/tensor.h"
#include "minidp/kernels/pointwise.h"

namespace minidp::kernels {

// UnaryOp, BinaryOp, ReduceOp and their scalar formulas: kernels/pointwise.h.

// One optimizer step over many tensors at once (nn/optim). The formulas, and
// the order of their float operations, are those of torch.optim:
//   SGD:  g = grad + wd p;  buf = first ? g : momentum buf + (1 - dampening) g;
//         g = nesterov ? g + momentum buf : buf;  p = p - lr g
//   Adam: (AdamW: p = p (1 - lr wd); Adam: g = grad + wd p)
//         m = m + (1 - b1)(g - m);  v = b2 v + (1 - b2) g g;
//         p = p - step_size m / (sqrt(v) / bc2_sqrt + eps)
struct SgdStep {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first;  // first: the momentum buffers take the gradient as is
};
struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay, step_size, bc2_sqrt;
  bool decoupled;  // AdamW
};

// x viewed as [outer, n, inner] around `dim`: the geometry a softmax or an
// arg-max along `dim` walks (both backends).
inline void split_dims(const Tensor& x, std::int64_t dim, std::int64_t& outer, std::int64_t& n, std::int64_t& inner) {
  outer = 1;
  inner = 1;
  for (std::int64_t d = 0; d < dim; ++d) outer *= x.shape()[d];
  n = x.dim() == 0 ? 1 : x.shape()[dim];
  for (std::int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.shape()[d];
}

// What one backend provides. Declared twice below (cpu and cuda) from one list.
#define MINIDP_KERNEL_LIST                                                                      \
  /* out = op(x); x and out contiguous, same shape and dtype (float) */                          \
  void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b);                 \
  /* out = op(a, b); a and b are views already broadcast to out's shape (0 strides) */          \
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);                  \
  /* dst = src elementwise, any strides on both, converting dtype */                           \
  void copy(const Tensor& src, const Tensor& dst);                                               \
  void fill(const Tensor& dst, double value); /* dst contiguous */                               \
  /* out has x's rank with reduced dims of size 1; x contiguous */                              \
  void reduce(ReduceOp op, const Tensor& x, const Tensor& out);                                  \
  /* int64 index of the first max (or min) along dim; out has x's shape with dim of size 1 */   \
  void arg_reduce(bool is_max, const Tensor& x, std::int64_t dim, const Tensor& out);            \
  void softmax(const Tensor& x, std::int64_t dim, bool log, const Tensor& out);                  \
  /* c = alpha * op(a) @ op(b) + beta * c; 2-D, contiguous */                                   \
  void gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta,       \
            const Tensor& c);                                                                    \
  /* Linear's two GEMMs with their bias work fused in (CUDA float32: cuBLASLt epilogues):      */ \
  /* y = x w^T + bias; x [M, K], w [N, K], bias [N], y [M, N]; contiguous                      */ \
  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y);   \
  /* gw = g^T x [N, K] and gb = the sum of g's rows [N]; g [M, N], x [M, K]; contiguous;        */ \
  /* either output may be an undefined Tensor (not wanted)                                     */ \
  void linear_backward_weight(const Tensor& g, const Tensor& x, const Tensor& gw, const Tensor& gb); \
  /* out = conv(x, w) + bias[c] (bias [OC], or an undefined Tensor for none) */                \
  void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,   \
                      const Conv2dOptions& o);                                                   \
  void conv2d_backward_input(const Tensor& gout, const Tensor& w, const Tensor& gx,              \
                             const Conv2dOptions& o);                                            \
  void conv2d_backward_weight(const Tensor& gout, const Tensor& x, const Tensor& gw,             \
                              const Conv2dOptions& o);                                           \
  /* indices: int32 flat position inside each (n, c) plane of x */                              \
  void max_pool2d_forward(const Tensor& x, const Tensor& out, const Tensor& indices,              \
                          const Pool2dOptions& o);                                               \
  /* gx written in full (0 where no window's arg-max fell); o: the forward's options */          \
  void max_pool2d_backward(const Tensor& gout, const Tensor& indices, const Tensor& gx,          \
                           const Pool2dOptions& o);                                              \
  void avg_pool2d_forward(const Tensor& x, const Tensor& out, const Pool2dOptions& o);           \
  void avg_pool2d_backward(const Tensor& gout, const Tensor& gx, const Pool2dOptions& o);        \
  /* per-channel batch mean and 1/sqrt(biased var + eps) of x [N, C, *] */                      \
  void batch_norm_stats(const Tensor& x, double eps, const Tensor& mean, const Tensor& invstd);   \
  /* y = (x - mean) * invstd * w + b, per channel */                                            \
  void batch_norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd,               \
                        const Tensor& w, const Tensor& b, const Tensor& y);                      \
  /* training-mode backward; gw, gb may be undefined */                                         \
  void batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean,                 \
                           const Tensor& invstd, const Tensor& w, const Tensor& gx,               \
                           const Tensor& gw, const Tensor& gb);                                  \
  /* per-sample loss [N] (0 where ignored) */                                                   \
  void cross_entropy_forward(const Tensor& logits, const Tensor& target, std::int64_t ignore,    \
                             double smoothing, const Tensor& loss);                              \
  /* glogits = (softmax - smoothed one-hot) * gloss[n]; rows of ignored samples are 0 */        \
  void cross_entropy_backward(const Tensor& logits, const Tensor& target, std::int64_t ignore,   \
                              double smoothing, const Tensor& gloss, const Tensor& glogits);     \
  /* element i from Philox counter (offset + i/4, seed): uniform [0,1) or normal(0,1) */        \
  void random_uniform(const Tensor& out, std::uint64_t seed, std::uint64_t offset);             \
  void random_normal(const Tensor& out, std::uint64_t seed, std::uint64_t offset);              \
  /* out[i, :] = x[index[i], :] over x viewed as [rows, cols] */                                \
  void index_select(const Tensor& x, const Tensor& index, const Tensor& out);                    \
  /* gx[index[i], :] += g[i, :], in index order (deterministic) */                              \
  void index_add(const Tensor& g, const Tensor& index, const Tensor& gx);                        \
  /* counts[label[i], pred[i]] += 1 (int64 [K, K]); labels equal to `ignore` are skipped */      \
  void confusion_matrix(const Tensor& pred, const Tensor& labels, std::int64_t ignore, const Tensor& counts); \
  /* fused optimizer steps over lists of same-dtype contiguous tensors (bufs unused without momentum) */ \
  void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,              \
                const std::vector<Tensor>& bufs, const SgdStep& s);                                \
  void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,             \
                 const std::vector<Tensor>& m, const std::vector<Tensor>& v, const AdamStep& s);

namespace cpu {
MINIDP_KERNEL_LIST
}  // namespace cpu

namespace cuda {  // kernels/cuda/*.cu, in builds with CUDA
MINIDP_KERNEL_LIST
}  // namespace cuda

namespace sim {  // kernels/sim/kernels.cpp: the CPU's, queued on a simulated GPU's stream
MINIDP_KERNEL_LIST
}  // namespace sim

// Call the backend of `device`: MINIDP_KERNEL(dev, gemm, ...) runs cpu::gemm,
// cuda::gemm or sim::gemm. A build without CUDA has no cuda kernels, and no
// CUDA tensor can exist there (allocating one raises).
#if defined(MINIDP_WITH_CUDA) && MINIDP_WITH_CUDA
#define MINIDP_KERNEL(device, fn, ...)                                       \
  ((device).is_cpu()   ? ::minidp::kernels::cpu::fn(__VA_ARGS__)             \
   : (device).is_sim() ? ::minidp::kernels::sim::fn(__VA_ARGS__)             \
                       : ::minidp::kernels::cuda::fn(__VA_ARGS__))
#else
#define MINIDP_KERNEL(device, fn, ...)                                       \
  ((device).is_sim() ? ::minidp::kernels::sim::fn(__VA_ARGS__) : ::minidp::kernels::cpu::fn(__VA_ARGS__))
#endif

}  // namespace minidp::kernels
