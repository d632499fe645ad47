// minidp/core/ops/nn_ops.cpp — convolution, pooling, batch normalisation and dropout.
#include <cstdint>
#include <limits>

#include "minidp/core/ops/op_utils.h"

namespace minidp {

using detail::contig;
using G = std::vector<Tensor>;

namespace {
std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d) {
  // C++ division truncates toward zero: a window that does not fit (span < 0)
  // must give 0 outputs, not (span / s) + 1 = 1 whenever |span| < s.
  const std::int64_t span = in + 2 * p - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions o) {
  detail::check_floating("conv2d", x);
  detail::check_same("conv2d", x, weight);
  detail::check_dim("conv2d", x, 4, "input [N, C, H, W]");
  detail::check_dim("conv2d", weight, 4, "weight [out_channels, in_channels, kH, kW]");
  MINIDP_CHECK(x.size(1) == weight.size(1), "conv2d: input ", x.describe(), " has ", x.size(1),
               " channels but weight ", weight.describe(), " expects ", weight.size(1));
  MINIDP_CHECK(o.stride_h > 0 && o.stride_w > 0 && o.dilation_h > 0 && o.dilation_w > 0 && o.pad_h >= 0 &&
                   o.pad_w >= 0,
               "conv2d: stride and dilation must be positive and padding non-negative (stride ", o.stride_h, "x",
               o.stride_w, ", padding ", o.pad_h, "x", o.pad_w, ", dilation ", o.dilation_h, "x", o.dilation_w, ")");
  const std::int64_t ho = out_size(x.size(2), weight.size(2), o.stride_h, o.pad_h, o.dilation_h);
  const std::int64_t wo = out_size(x.size(3), weight.size(3), o.stride_w, o.pad_w, o.dilation_w);
  MINIDP_CHECK(ho >= 1 && wo >= 1, "conv2d: kernel ", weight.size(2), "x", weight.size(3), " (dilation ",
               o.dilation_h, ") does not fit the padded input ", x.describe(), " with padding ", o.pad_h, "x",
               o.pad_w, "; the output would be ", ho, "x", wo);
  if (bias.defined()) {
    detail::check_same("conv2d", x, bias);
    MINIDP_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "conv2d: bias ", bias.describe(),
                 " must have shape [", weight.size(0), "]");
  }
  Tensor y = Tensor::empty({x.size(0), weight.size(0), ho, wo}, x.options());
  // The bias is added inside the kernel: one pass over y fewer than a separate add.
  MINIDP_KERNEL(x.device(), conv2d_forward, contig(x), contig(weight), bias.defined() ? contig(bias) : Tensor(), y, o);
  const bool gx = needs_grad(x), gw = needs_grad(weight), gb = bias.defined() && needs_grad(bias);
  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  return record("conv2d", y, inputs, [x = x.detach(), w = weight.detach(), o, gx, gw, gb,
                                      has_bias = bias.defined()](const Tensor& g) {
    Tensor gc = contig(g), dx, dw, db;
    if (gx) {
      dx = zeros_like(x);
      MINIDP_KERNEL(g.device(), conv2d_backward_input, gc, contig(w), dx, o);
    }
    if (gw) {
      dw = Tensor::empty(w.shape(), w.options());
      MINIDP_KERNEL(g.device(), conv2d_backward_weight, gc, contig(x), dw, o);
    }
    if (!has_bias) return G{dx, dw};
    if (gb) db = sum(gc, {0, 2, 3});  // the bias was added at every (image, y, x)
    return G{dx, dw, db};
  });
}

namespace {
Shape pool_out_shape(const char* name, const Tensor& x, const Pool2dOptions& o) {
  detail::check_floating(name, x);
  detail::check_dim(name, x, 4, "input [N, C, H, W]");
  MINIDP_CHECK(o.kernel_h > 0 && o.kernel_w > 0 && o.stride_h > 0 && o.stride_w > 0, name,
               ": kernel and stride must be positive (kernel ", o.kernel_h, "x", o.kernel_w, ", stride ", o.stride_h,
               "x", o.stride_w, ")");
  MINIDP_CHECK(o.pad_h >= 0 && o.pad_w >= 0 && 2 * o.pad_h <= o.kernel_h && 2 * o.pad_w <= o.kernel_w, name,
               ": padding ", o.pad_h, "x", o.pad_w, " must be at most half the kernel ", o.kernel_h, "x", o.kernel_w);
  const std::int64_t ho = out_size(x.size(2), o.kernel_h, o.stride_h, o.pad_h, 1);
  const std::int64_t wo = out_size(x.size(3), o.kernel_w, o.stride_w, o.pad_w, 1);
  MINIDP_CHECK(ho >= 1 && wo >= 1, name, ": kernel ", o.kernel_h, "x", o.kernel_w, " is larger than the padded input ",
               x.describe());
  return {x.size(0), x.size(1), ho, wo};
}
}  // namespace

Tensor max_pool2d(const Tensor& x, Pool2dOptions o) {
  const Shape s = pool_out_shape("max_pool2d", x, o);
  Tensor y = Tensor::empty(s, x.options());
  // Each output's argmax as its position in the input plane: int32 (half the
  // memory traffic of int64; this pass is bound by memory, not arithmetic).
  MINIDP_CHECK(x.size(2) * x.size(3) <= std::numeric_limits<std::int32_t>::max(), "max_pool2d: input planes of ",
               x.size(2), "x", x.size(3), " pixels are too large (at most 2^31 - 1 pixels per plane)");
  Tensor idx = Tensor::empty(s, TensorOptions(kInt32).with_device(x.device()));
  MINIDP_KERNEL(x.device(), max_pool2d_forward, contig(x), y, idx, o);
  return record("max_pool2d", y, {x}, [idx, o, in_shape = x.shape()](const Tensor& g) {
    Tensor gx = Tensor::empty(in_shape, g.options());  // the kernel writes every element
    MINIDP_KERNEL(g.device(), max_pool2d_backward, contig(g), idx, gx, o);
    return G{gx};
  });
}

Tensor avg_pool2d(const Tensor& x, Pool2dOptions o) {
  const Shape s = pool_out_shape("avg_pool2d", x, o);
  Tensor y = Tensor::empty(s, x.options());
  MINIDP_KERNEL(x.device(), avg_pool2d_forward, contig(x), y, o);
  return record("avg_pool2d", y, {x}, [o, in_shape = x.shape()](const Tensor& g) {
    Tensor gx = zeros(in_shape, g.options());
    MINIDP_KERNEL(g.device(), avg_pool2d_backward, contig(g), gx, o);
    return G{gx};
  });
}

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps) {
  detail::check_floating("batch_norm", x);
  MINIDP_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: expected input [N, C] or [N, C, H, W], got ",
               x.describe());
  const std::int64_t c = x.size(1);
  auto check_param = [&](const Tensor& p, const char* what) {
    if (!p.defined()) return;
    detail::check_same("batch_norm", x, p);
    MINIDP_CHECK(p.dim() == 1 && p.size(0) == c, "batch_norm: ", what, " ", p.describe(), " must have shape [", c,
                 "] to match the channels of ", x.describe());
  };
  check_param(weight, "weight");
  check_param(bias, "bias");
  check_param(running_mean, "running_mean");
  check_param(running_var, "running_var");
  MINIDP_CHECK(running_mean.defined() == running_var.defined(),
               "batch_norm: give both running_mean and running_var, or neither");
  MINIDP_CHECK(eps > 0, "batch_norm: eps must be positive, got ", eps);
  // The running statistics are buffers: like PyTorch, refuse to drop their gradient silently.
  for (const auto& [t, what] : {std::pair{&running_mean, "running_mean"}, std::pair{&running_var, "running_var"}})
    MINIDP_CHECK(!needs_grad(*t), "batch_norm: ", what, " ", t->describe(),
                 " requires grad, but the running statistics are buffers whose gradient is not implemented "
                 "(as in PyTorch); detach them");
  const Tensor w = weight.defined() ? weight : ones({c}, x.options());
  const Tensor b = bias.defined() ? bias : zeros({c}, x.options());
  Shape pshape(x.dim(), 1);
  pshape[1] = c;

  if (!training && running_mean.defined()) {
    // Evaluation: a fixed per-channel affine map, differentiated by the ops themselves.
    Tensor invstd;
    {
      NoGradGuard ng;  // running statistics are buffers, not parameters
      invstd = div(ones({c}, x.options()), sqrt(add(running_var, eps)));
    }
    Tensor scale = mul(w, invstd).reshape(pshape);
    return add(mul(sub(x, running_mean.detach().reshape(pshape)), scale), b.reshape(pshape));
  }

  const std::int64_t per_channel = x.numel() / std::max<std::int64_t>(c, 1);
  MINIDP_CHECK(per_channel > 1, "batch_norm: expected more than 1 value per channel when training, got ",
               x.describe());
  Tensor xc = contig(x);
  Tensor mu = Tensor::empty({c}, x.options()), invstd = Tensor::empty({c}, x.options());
  MINIDP_KERNEL(x.device(), batch_norm_stats, xc, eps, mu, invstd);
  Tensor y = Tensor::empty(x.shape(), x.options());
  MINIDP_KERNEL(x.device(), batch_norm_apply, xc, mu, invstd, contig(w.detach()), contig(b.detach()), y);
  if (running_mean.defined()) {
    NoGradGuard ng;
    // running = (1 - m) running + m batch, with the unbiased variance (as PyTorch)
    Tensor var = sub(div(ones({c}, x.options()), mul(invstd, invstd)), eps);
    Tensor unbiased = mul(var, static_cast<double>(per_channel) / static_cast<double>(per_channel - 1));
    running_mean.mul_(1.0 - momentum).add_(mu, momentum);
    running_var.mul_(1.0 - momentum).add_(unbiased, momentum);
  }
  const bool gw = needs_grad(weight), gb = needs_grad(bias);
  return record("batch_norm", y, {x, weight, bias},
                [xc, mu, invstd, w = w.detach(), gw, gb](const Tensor& g) {
                  Tensor gx = Tensor::empty(xc.shape(), xc.options());
                  Tensor dw = gw ? Tensor::empty(w.shape(), w.options()) : Tensor();
                  Tensor db = gb ? Tensor::empty(w.shape(), w.options()) : Tensor();
                  MINIDP_KERNEL(g.device(), batch_norm_backward, contig(g), xc, mu, invstd, contig(w), gx, dw, db);
                  return G{gx, dw, db};
                });
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  detail::check_floating("dropout", x);
  MINIDP_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  // keep with probability 1 - p; kept values are scaled so the expectation is unchanged
  Tensor mask = bernoulli(x.shape(), 1.0 - p, x.options(), gen);
  mask.mul_(1.0 / (1.0 - p));
  return mul(x, mask);
}

}  // namespace minidp
