// minidp/nn/init.cpp — PyTorch's initialisation formulas.
#include "minidp/nn/init.h"

#include <cmath>

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"

namespace minidp::nn::init {

namespace {
std::int64_t receptive(const Tensor& w) {
  std::int64_t r = 1;
  for (std::int64_t d = 2; d < w.dim(); ++d) r *= w.size(d);
  return r;
}
void assign(Tensor& t, const Tensor& values) {
  NoGradGuard ng;
  t.copy_(values);
}
}  // namespace

std::int64_t fan_in(const Tensor& w) {
  MINIDP_CHECK(w.dim() >= 2, "init: fan_in needs a tensor with at least 2 dimensions, got ", w.describe());
  return w.size(1) * receptive(w);
}

std::int64_t fan_out(const Tensor& w) {
  MINIDP_CHECK(w.dim() >= 2, "init: fan_out needs a tensor with at least 2 dimensions, got ", w.describe());
  return w.size(0) * receptive(w);
}

double gain(const std::string& nl, double a) {
  if (nl == "linear" || nl == "sigmoid" || nl == "conv2d") return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1.0 + a * a));
  MINIDP_FAIL("init::gain: unknown nonlinearity '", nl, "'; expected linear, sigmoid, tanh, relu or leaky_relu");
}

void uniform_(Tensor& t, double low, double high, Generator* gen) {
  assign(t, uniform(t.shape(), low, high, t.options(), gen));
}
void normal_(Tensor& t, double mean, double std, Generator* gen) {
  assign(t, normal(t.shape(), mean, std, t.options(), gen));
}
void zeros_(Tensor& t) { assign(t, zeros(t.shape(), t.options())); }
void ones_(Tensor& t) { assign(t, ones(t.shape(), t.options())); }

void kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nl, Generator* gen) {
  const double fan = static_cast<double>(mode == FanMode::FanIn ? fan_in(t) : fan_out(t));
  const double bound = gain(nl, a) * std::sqrt(3.0 / fan);
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nl, Generator* gen) {
  const double fan = static_cast<double>(mode == FanMode::FanIn ? fan_in(t) : fan_out(t));
  normal_(t, 0.0, gain(nl, a) / std::sqrt(fan), gen);
}

void xavier_uniform_(Tensor& t, double g, Generator* gen) {
  const double bound = g * std::sqrt(6.0 / static_cast<double>(fan_in(t) + fan_out(t)));
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(Tensor& t, double g, Generator* gen) {
  normal_(t, 0.0, g * std::sqrt(2.0 / static_cast<double>(fan_in(t) + fan_out(t))), gen);
}

}  // namespace minidp::nn::init
