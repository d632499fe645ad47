// minidp/kernels/cpu/reference.h — the fused kernels' arithmetic, op by op.
//
// A fused kernel does in one pass what a few ops would do in several, and in
// doing so hides the formula a learner came for. Each function here is that
// formula written with ordinary ops, beside the kernel it explains; a test
// (tests/core/test_references.cpp) holds the kernel to it. docs/core.md and
// docs/nn.md quote them.
#pragma once

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"
#include "minidp/core/tensor.h"

namespace minidp::kernels::reference {

// torch.optim.SGD with momentum (no weight decay, dampening or Nesterov) —
// what kernels/cpu/optim.cpp's sgd_loop does in one pass. Same bits.
inline void sgd_momentum_step(Tensor p, const Tensor& g, Tensor buf, double lr, double momentum, bool first) {
  NoGradGuard ng;
  if (first) buf.copy_(g);                       // the first step: the buffer is the gradient itself
  else buf.copy_(add(mul(buf, momentum), g));    // b = momentum * b + g
  p.copy_(sub(p, mul(buf, lr)));                 // p = p - lr * b
}

// The gradient of cross_entropy with respect to the logits, per sample n
// (no ignore_index, no label smoothing): the loss is
//   loss_n = -log softmax(x_n)[y_n] = -x_n[y_n] + log sum_j exp(x_n[j]),
// so d loss_n / d x_n[j] = -[j == y_n] + exp(x_n[j]) / sum_k exp(x_n[k])
//                        = softmax(x_n)[j] - onehot(y_n)[j],
// times the upstream gradient of loss_n — what kernels/cpu/reduce.cpp's
// cross_entropy_backward does row by row in one pass.
inline Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& gloss) {
  NoGradGuard ng;
  const std::int64_t n = logits.size(0), c = logits.size(1);
  const Tensor classes = arange(c).reshape({1, c});  // 0, 1, ..., c-1
  const Tensor onehot = eq(target.reshape({n, 1}), classes).to(logits.dtype());  // [n, c]
  return mul(sub(softmax(logits, 1), onehot), gloss.reshape({n, 1}));
}

}  // namespace minidp::kernels::reference
