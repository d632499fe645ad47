// minidp/kernels/cuda/kernels_stub.cpp — the CUDA kernels in a build without CUDA:
// each one says clearly that the build has no GPU backend.
#include "core/error.h"
#include "kernels/kernels.h"

namespace minidp::kernels::cuda {

namespace {
[[noreturn]] void no_cuda(const char* kernel) {
  MINIDP_FAIL(kernel, ": this build of minidp has no CUDA kernel for it (built without CUDA)");
}
}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) {
  no_cuda("unary");
}
void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  no_cuda("binary");
}
void copy(const Tensor& src, const Tensor& dst) {
  no_cuda("copy");
}
void fill(const Tensor& dst, double value) {
  no_cuda("fill");
}
void reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  no_cuda("reduce");
}
void arg_reduce(bool is_max, const Tensor& x, std::int64_t dim, const Tensor& out) {
  no_cuda("arg_reduce");
}
void softmax(const Tensor& x, std::int64_t dim, bool log, const Tensor& out) {
  no_cuda("softmax");
}
void gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta, const Tensor& c) {
  no_cuda("gemm");
}
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& out, const Conv2dOptions& o) {
  no_cuda("conv2d_forward");
}
void conv2d_backward_input(const Tensor& gout, const Tensor& w, const Tensor& gx, const Conv2dOptions& o) {
  no_cuda("conv2d_backward_input");
}
void conv2d_backward_weight(const Tensor& gout, const Tensor& x, const Tensor& gw, const Conv2dOptions& o) {
  no_cuda("conv2d_backward_weight");
}
void max_pool2d_forward(const Tensor& x, const Tensor& out, const Tensor& indices, const Pool2dOptions& o) {
  no_cuda("max_pool2d_forward");
}
void max_pool2d_backward(const Tensor& gout, const Tensor& indices, const Tensor& gx) {
  no_cuda("max_pool2d_backward");
}
void avg_pool2d_forward(const Tensor& x, const Tensor& out, const Pool2dOptions& o) {
  no_cuda("avg_pool2d_forward");
}
void avg_pool2d_backward(const Tensor& gout, const Tensor& gx, const Pool2dOptions& o) {
  no_cuda("avg_pool2d_backward");
}
void batch_norm_stats(const Tensor& x, double eps, const Tensor& mean, const Tensor& invstd) {
  no_cuda("batch_norm_stats");
}
void batch_norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w, const Tensor& b, const Tensor& y) {
  no_cuda("batch_norm_apply");
}
void batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w, const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  no_cuda("batch_norm_backward");
}
void cross_entropy_forward(const Tensor& logits, const Tensor& target, std::int64_t ignore, double smoothing, const Tensor& loss) {
  no_cuda("cross_entropy_forward");
}
void cross_entropy_backward(const Tensor& logits, const Tensor& target, std::int64_t ignore, double smoothing, const Tensor& gloss, const Tensor& glogits) {
  no_cuda("cross_entropy_backward");
}
void random_uniform(const Tensor& out, std::uint64_t seed, std::uint64_t offset) {
  no_cuda("random_uniform");
}
void random_normal(const Tensor& out, std::uint64_t seed, std::uint64_t offset) {
  no_cuda("random_normal");
}
void index_select(const Tensor& x, const Tensor& index, const Tensor& out) {
  no_cuda("index_select");
}
void index_add(const Tensor& g, const Tensor& index, const Tensor& gx) {
  no_cuda("index_add");
}
void confusion_matrix(const Tensor& pred, const Tensor& labels, std::int64_t ignore, const Tensor& counts) {
  no_cuda("confusion_matrix");
}
void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& bufs,
              const SgdStep& s) {
  no_cuda("sgd_step");
}
void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& m,
               const std::vector<Tensor>& v, const AdamStep& s) {
  no_cuda("adam_step");
}

}  // namespace minidp::kernels::cuda
