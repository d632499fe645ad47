// minidp/nn/layers.cpp — layer constructors (PyTorch's default init) and forwards.
#include "minidp/nn/layers.h"

#include <cmath>
#include <sstream>

#include "minidp/nn/init.h"

namespace minidp::nn {

namespace {
// PyTorch's reset_parameters for Linear and Conv2d: kaiming_uniform(a = sqrt(5))
// for the weight (bound 1/sqrt(fan_in)) and uniform(+-1/sqrt(fan_in)) for the bias.
void default_init(Tensor& w, Tensor* b, Generator* gen) {
  init::kaiming_uniform_(w, std::sqrt(5.0), init::FanMode::FanIn, "leaky_relu", gen);
  if (b) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::fan_in(w)));
    init::uniform_(*b, -bound, bound, gen);
  }
}
std::string yes_no(bool b) { return b ? "True" : "False"; }
}  // namespace

Linear::Linear(std::int64_t in, std::int64_t out, bool bias, Generator* gen) : in_(in), out_(out) {
  MINIDP_CHECK(in > 0 && out > 0, "Linear: in_features and out_features must be positive, got ", in, " and ", out);
  Tensor w = Tensor::empty({out, in});
  Tensor b = bias ? Tensor::empty({out}) : Tensor();
  default_init(w, bias ? &b : nullptr, gen);
  register_parameter("weight", w);
  if (bias) register_parameter("bias", b);
}

Tensor Linear::forward(const Tensor& x) {
  MINIDP_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == in_, "Linear(", in_, " -> ", out_,
               "): expected input [..., ", in_, "], got ", x.describe());
  return linear(x, weight(), bias());
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_) + ", out_features=" + std::to_string(out_) +
         ", bias=" + yes_no(bias().defined());
}

Conv2d::Conv2d(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride, std::int64_t padding,
               std::int64_t dilation, bool bias, Generator* gen)
    : in_(in), out_(out), k_(k), opts_(Conv2dOptions::make(stride, padding, dilation)) {
  MINIDP_CHECK(in > 0 && out > 0 && k > 0, "Conv2d: channels and kernel size must be positive, got in=", in,
               " out=", out, " kernel=", k);
  Tensor w = Tensor::empty({out, in, k, k});
  Tensor b = bias ? Tensor::empty({out}) : Tensor();
  default_init(w, bias ? &b : nullptr, gen);
  register_parameter("weight", w);
  if (bias) register_parameter("bias", b);
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight(), bias(), opts_); }

std::string Conv2d::extra_repr() const {
  return std::to_string(in_) + ", " + std::to_string(out_) + ", kernel_size=(" + std::to_string(k_) + ", " +
         std::to_string(k_) + "), stride=(" + std::to_string(opts_.stride_h) + ", " + std::to_string(opts_.stride_w) +
         "), padding=(" + std::to_string(opts_.pad_h) + ", " + std::to_string(opts_.pad_w) + ")";
}

MaxPool2d::MaxPool2d(std::int64_t k, std::int64_t stride, std::int64_t padding)
    : opts_(Pool2dOptions::make(k, stride, padding)) {}
std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + std::to_string(opts_.kernel_h) + ", stride=" + std::to_string(opts_.stride_h) +
         ", padding=" + std::to_string(opts_.pad_h);
}

AvgPool2d::AvgPool2d(std::int64_t k, std::int64_t stride, std::int64_t padding)
    : opts_(Pool2dOptions::make(k, stride, padding)) {}
std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + std::to_string(opts_.kernel_h) + ", stride=" + std::to_string(opts_.stride_h) +
         ", padding=" + std::to_string(opts_.pad_h);
}

BatchNorm::BatchNorm(std::int64_t c, int spatial_dims, double eps, double momentum, bool affine)
    : c_(c), spatial_dims_(spatial_dims), eps_(eps), momentum_(momentum) {
  MINIDP_CHECK(c > 0, type_name(), ": num_features must be positive, got ", c);
  if (affine) {
    register_parameter("weight", ones({c}));
    register_parameter("bias", zeros({c}));
  }
  register_buffer("running_mean", zeros({c}));
  register_buffer("running_var", ones({c}));
  register_buffer("num_batches_tracked", zeros({}, kInt64));
}

Tensor BatchNorm::forward(const Tensor& x) {
  const std::int64_t want = spatial_dims_ == 2 ? 4 : 2;
  MINIDP_CHECK(x.defined() && x.dim() == want && x.size(1) == c_, type_name(), "(", c_, "): expected input ",
               spatial_dims_ == 2 ? "[N, C, H, W]" : "[N, C]", " with C = ", c_, ", got ", x.describe());
  if (is_training()) {
    Tensor n = buffer("num_batches_tracked");
    n.add_(ones({}, n.options()));
    if (training_fn_) return training_fn_(x, weight(), bias(), running_mean(), running_var(), momentum_, eps_);
  }
  return batch_norm(x, weight(), bias(), running_mean(), running_var(), is_training(), momentum_, eps_);
}

std::string BatchNorm::extra_repr() const {
  std::ostringstream os;
  os << c_ << ", eps=" << eps_ << ", momentum=" << momentum_ << ", affine=" << yes_no(weight().defined());
  return os.str();
}

Dropout::Dropout(double p, std::uint64_t seed) : p_(p), gen_(seed) {
  MINIDP_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability must be in [0, 1], got ", p);
}
Tensor Dropout::forward(const Tensor& x) {
  if (global_rows_ < 0 || !is_training() || p_ == 0.0 || p_ == 1.0 || x.dim() == 0)
    return dropout(x, p_, is_training(), &gen_);
  MINIDP_CHECK(shard_offset_ + x.size(0) <= global_rows_, "Dropout: shard rows [", shard_offset_, ", ",
               shard_offset_ + x.size(0), ") exceed the global batch of ", global_rows_);
  // The global batch's mask (same counters as on one device), then this shard's rows.
  Shape global = x.shape();
  global[0] = global_rows_;
  Tensor mask = bernoulli(global, 1.0 - p_, x.options(), &gen_).narrow(0, shard_offset_, x.size(0)).contiguous();
  mask.mul_(1.0 / (1.0 - p_));
  return mul(x, mask);
}

std::string Dropout::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p_;
  return os.str();
}

Sequential::Sequential(const std::vector<ModulePtr>& layers) {
  for (auto& l : layers) add(l);
}

Sequential& Sequential::add(ModulePtr layer) {
  register_module(std::to_string(children().size()), std::move(layer));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& [name, layer] : children()) h = layer->forward(h);
  return h;
}

}  // namespace minidp::nn
