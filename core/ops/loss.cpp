// minidp/core/ops/loss.cpp — cross-entropy, binary cross-entropy with logits, MSE.
//
// Reductions follow PyTorch: "mean" of cross-entropy divides by the number of
// non-ignored targets. The parallel layer uses reduction "sum" per replica and
// divides by the global sample count itself (see parallel/).
#include "minidp/core/ops/op_utils.h"

namespace minidp {

using detail::contig;
using G = std::vector<Tensor>;

namespace {
Tensor reduce_loss(const Tensor& per_element, Reduction r) {
  switch (r) {
    case Reduction::None: return per_element;
    case Reduction::Sum: return sum(per_element);
    case Reduction::Mean: return mean(per_element);
  }
  return per_element;
}
}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions o) {
  detail::check_floating("cross_entropy", logits);
  detail::check_dim("cross_entropy", logits, 2, "logits [N, C]");
  detail::check_defined("cross_entropy", target, "target");
  MINIDP_CHECK(target.dtype() == kInt64 || target.dtype() == kInt32,
               "cross_entropy: target must hold class indices (int64), got ", target.describe());
  MINIDP_CHECK(target.dim() == 1 && target.size(0) == logits.size(0), "cross_entropy: target ", target.describe(),
               " must have shape [", logits.size(0), "] to match logits ", logits.describe());
  MINIDP_CHECK(target.device() == logits.device(), "cross_entropy: logits ", logits.describe(), " and target ",
               target.describe(), " are on different devices");
  MINIDP_CHECK(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0,
               "cross_entropy: label_smoothing must be in [0, 1], got ", o.label_smoothing);
  Tensor t = contig(target.to(kInt64));
  Tensor lx = contig(logits);
  Tensor losses = Tensor::empty({logits.size(0)}, logits.options());
  MINIDP_KERNEL(logits.device(), cross_entropy_forward, lx, t, o.ignore_index, o.label_smoothing, losses);
  losses = record("cross_entropy", losses, {logits}, [lx = lx.detach(), t, o](const Tensor& g) {
    Tensor gl = Tensor::empty(lx.shape(), lx.options());
    MINIDP_KERNEL(g.device(), cross_entropy_backward, lx, t, o.ignore_index, o.label_smoothing, contig(g), gl);
    return G{gl};
  });
  if (o.reduction != Reduction::Mean) return reduce_loss(losses, o.reduction);
  // mean over the targets that count: N minus the ignored ones (kept on the device, no sync)
  Tensor ignored = sum(eq(t, full({}, static_cast<double>(o.ignore_index), t.options())).to(logits.dtype()));
  return div(sum(losses), rsub(ignored, static_cast<double>(logits.size(0))));
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, const Tensor& pos_weight,
                                        Reduction reduction) {
  const char* name = "binary_cross_entropy_with_logits";
  detail::check_floating(name, logits);
  detail::check_same(name, logits, target);
  MINIDP_CHECK(logits.shape() == target.shape(), name, ": target ", target.describe(), " must have the shape of logits ",
               logits.describe());
  Tensor pw = pos_weight;
  if (pw.defined()) {
    detail::check_same(name, logits, pw);
    MINIDP_CHECK(logits.dim() >= 1 && pw.dim() <= 1 && (pw.numel() == 1 || pw.numel() == logits.size(-1)), name,
                 ": pos_weight ", pw.describe(), " must have one value or one per class (last dim of ",
                 logits.describe(), ")");
  }
  Tensor x = logits.detach(), y = target.detach();
  Tensor per, softplus_neg;
  {
    NoGradGuard ng;
    // (1 - y) x + (1 + (pw - 1) y) (log(1 + e^-|x|) + max(-x, 0)): stable for any x
    softplus_neg = add(log(add(exp(neg(abs(x))), 1.0)), relu(neg(x)));
    Tensor coef = pw.defined() ? add(mul(sub(pw.detach(), 1.0), y), 1.0) : ones_like(y);
    per = add(mul(rsub(y, 1.0), x), mul(coef, softplus_neg));
  }
  // Every floating input is an input of the graph: a target (soft labels, as
  // in distillation) or a pos_weight that requires grad gets its gradient, as in PyTorch.
  const bool gx = needs_grad(logits), gy = needs_grad(target), gpw = needs_grad(pw);
  per = record(name, per, {logits, target, pw},
               [x, y, softplus_neg, gx, gy, gpw, pw = pw.defined() ? pw.detach() : Tensor()](const Tensor& g) {
    Tensor dx, dy, dpw;
    if (gx) {  // d/dx = sigmoid(x) (pw y + 1 - y) - pw y
      Tensor pwy = pw.defined() ? mul(pw, y) : y;
      dx = mul(g, sub(mul(sigmoid(x), add(rsub(y, 1.0), pwy)), pwy));
    }
    // d/dy = -[pw log sigmoid(x) - log(1 - sigmoid(x))] = (pw - 1) softplus(-x) - x; -x without pos_weight
    if (gy) dy = mul(g, pw.defined() ? sub(mul(sub(pw, 1.0), softplus_neg), x) : neg(x));
    // d/dpw = -y log sigmoid(x) = y softplus(-x), summed over the positions pw was broadcast to
    if (gpw) dpw = sum_to(mul(g, mul(y, softplus_neg)), pw.shape());
    return G{dx, dy, dpw};
  });
  return reduce_loss(per, reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  detail::check_floating("mse_loss", input);
  detail::check_same("mse_loss", input, target);
  MINIDP_CHECK(input.shape() == target.shape(), "mse_loss: target ", target.describe(),
               " must have the shape of input ", input.describe());
  // sub and mul differentiate both sides: the target's gradient is minus the input's.
  Tensor d = sub(input, target);
  return reduce_loss(mul(d, d), reduction);
}

}  // namespace minidp
