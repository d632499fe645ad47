// minidp/kernels/sim/kernels.cpp — the simulated GPU's kernels: each queues
// its CPU twin on the current stream of the device and returns at once, as a
// CUDA launch does. The task holds *borrowed* views of its tensors — the
// addresses, not the memory: as on a GPU, the memory goes back to the caching
// allocator when the host drops the tensor, and only the allocator's stream
// rules (or an event) keep it from being reused while a kernel still needs it.
#include <tuple>
#include <utility>

#include "minidp/core/storage.h"
#include "minidp/core/stream.h"
#include "minidp/kernels/kernels.h"
#include "minidp/kernels/sim/runtime.h"

namespace minidp::kernels::sim {

namespace {
Tensor hold(const Tensor& t) {
  if (!t.defined()) return t;
  auto impl = std::make_shared<TensorImpl>();
  const TensorImpl& from = *t.impl();
  impl->storage = Storage::borrow(from.storage->data(), from.storage->nbytes(), from.storage->device());
  impl->shape = from.shape;
  impl->strides = from.strides;
  impl->offset = from.offset;
  impl->dtype = from.dtype;
  return Tensor(std::move(impl));
}
std::vector<Tensor> hold(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  out.reserve(ts.size());
  for (const Tensor& t : ts) out.push_back(hold(t));
  return out;
}
template <typename T>
T hold(const T& v) {
  return v;
}

// Queues fn(args...) on the current stream of `on`'s device.
template <typename... P, typename... A>
void launch(const Tensor& on, void (*fn)(P...), const A&... args) {
  auto held = std::make_tuple(hold(args)...);
  const Stream s = current_stream(on.device());
  enqueue(s.handle, on.device().index, [fn, held] { std::apply([fn](const auto&... a) { fn(a...); }, held); });
}
}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) {
  launch(out, &cpu::unary, op, x, out, a, b);
}
void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  launch(out, &cpu::binary, op, a, b, out);
}
void copy(const Tensor& src, const Tensor& dst) {
  launch(dst, &cpu::copy, src, dst);
}
void fill(const Tensor& dst, double value) {
  launch(dst, &cpu::fill, dst, value);
}
void reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  launch(out, &cpu::reduce, op, x, out);
}
void arg_reduce(bool is_max, const Tensor& x, std::int64_t dim, const Tensor& out) {
  launch(out, &cpu::arg_reduce, is_max, x, dim, out);
}
void softmax(const Tensor& x, std::int64_t dim, bool log, const Tensor& out) {
  launch(out, &cpu::softmax, x, dim, log, out);
}
void gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta, const Tensor& c) {
  launch(c, &cpu::gemm, ta, tb, alpha, a, b, beta, c);
}
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) {
  launch(y, &cpu::linear_forward, x, w, bias, y);
}
void linear_backward_weight(const Tensor& g, const Tensor& x, const Tensor& gw, const Tensor& gb) {
  launch(g, &cpu::linear_backward_weight, g, x, gw, gb);
}
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dOptions& o) {
  launch(out, &cpu::conv2d_forward, x, w, bias, out, o);
}
void conv2d_backward_input(const Tensor& gout, const Tensor& w, const Tensor& gx, const Conv2dOptions& o) {
  launch(gx, &cpu::conv2d_backward_input, gout, w, gx, o);
}
void conv2d_backward_weight(const Tensor& gout, const Tensor& x, const Tensor& gw, const Conv2dOptions& o) {
  launch(gw, &cpu::conv2d_backward_weight, gout, x, gw, o);
}
void max_pool2d_forward(const Tensor& x, const Tensor& out, const Tensor& indices, const Pool2dOptions& o) {
  launch(out, &cpu::max_pool2d_forward, x, out, indices, o);
}
void max_pool2d_backward(const Tensor& gout, const Tensor& indices, const Tensor& gx, const Pool2dOptions& o) {
  launch(gx, &cpu::max_pool2d_backward, gout, indices, gx, o);
}
void avg_pool2d_forward(const Tensor& x, const Tensor& out, const Pool2dOptions& o) {
  launch(out, &cpu::avg_pool2d_forward, x, out, o);
}
void avg_pool2d_backward(const Tensor& gout, const Tensor& gx, const Pool2dOptions& o) {
  launch(gx, &cpu::avg_pool2d_backward, gout, gx, o);
}
void batch_norm_stats(const Tensor& x, double eps, const Tensor& mean, const Tensor& invstd) {
  launch(mean, &cpu::batch_norm_stats, x, eps, mean, invstd);
}
void batch_norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w, const Tensor& b,
                      const Tensor& y) {
  launch(y, &cpu::batch_norm_apply, x, mean, invstd, w, b, y);
}
void batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w,
                         const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  launch(gx, &cpu::batch_norm_backward, g, x, mean, invstd, w, gx, gw, gb);
}
void cross_entropy_forward(const Tensor& logits, const Tensor& target, std::int64_t ignore, double smoothing,
                           const Tensor& loss) {
  launch(loss, &cpu::cross_entropy_forward, logits, target, ignore, smoothing, loss);
}
void cross_entropy_backward(const Tensor& logits, const Tensor& target, std::int64_t ignore, double smoothing,
                            const Tensor& gloss, const Tensor& glogits) {
  launch(glogits, &cpu::cross_entropy_backward, logits, target, ignore, smoothing, gloss, glogits);
}
void random_uniform(const Tensor& out, std::uint64_t seed, std::uint64_t offset) {
  launch(out, &cpu::random_uniform, out, seed, offset);
}
void random_normal(const Tensor& out, std::uint64_t seed, std::uint64_t offset) {
  launch(out, &cpu::random_normal, out, seed, offset);
}
void index_select(const Tensor& x, const Tensor& index, const Tensor& out) {
  launch(out, &cpu::index_select, x, index, out);
}
void index_add(const Tensor& g, const Tensor& index, const Tensor& gx) {
  launch(gx, &cpu::index_add, g, index, gx);
}
void confusion_matrix(const Tensor& pred, const Tensor& labels, std::int64_t ignore, const Tensor& counts) {
  launch(counts, &cpu::confusion_matrix, pred, labels, ignore, counts);
}
void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& bufs,
              const SgdStep& s) {
  launch(params.at(0), &cpu::sgd_step, params, grads, bufs, s);
}
void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& m,
               const std::vector<Tensor>& v, const AdamStep& s) {
  launch(params.at(0), &cpu::adam_step, params, grads, m, v, s);
}

}  // namespace minidp::kernels::sim
