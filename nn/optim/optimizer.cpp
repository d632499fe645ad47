// minidp/nn/optim/optimizer.cpp — shared optimizer plumbing and gradient clipping.
#include "minidp/nn/optim/optimizer.h"
#include "minidp/nn/module.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"

namespace minidp::nn {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  MINIDP_CHECK(lr >= 0.0, "optimizer: learning rate must be >= 0, got ", lr);
  for (std::size_t i = 0; i < params_.size(); ++i)
    MINIDP_CHECK(params_[i].defined() && params_[i].requires_grad() && params_[i].is_leaf(),
                 "optimizer: parameter ", i, " must be a leaf tensor that requires grad");
}

void Optimizer::zero_grad() {
  NoGradGuard ng;
  for (auto& p : params_) {
    Tensor g = p.grad();
    if (g.defined()) g.zero_();
  }
}

std::map<std::string, std::string> Optimizer::state_scalars() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", lr_);
  return {{"optimizer.lr", buf}, {"optimizer.step", std::to_string(step_count_)}};
}

namespace {
// The whole string must be the number ("0.05", "1e-3", "12"); "1x", "", " 1"
// and numbers out of range are refused, never read as a prefix.
template <typename T>
T parse_scalar(const std::map<std::string, std::string>& s, const std::string& key) {
  const auto it = s.find(key);
  MINIDP_CHECK(it != s.end(), "optimizer: checkpoint metadata lacks '", key, "'");
  const std::string& text = it->second;
  T v{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  MINIDP_CHECK(ec == std::errc() && end == text.data() + text.size(), "optimizer: checkpoint metadata '", key,
               "' is '", text.substr(0, 64), "'; expected ",
               std::is_floating_point_v<T> ? "a number" : "a whole number");
  return v;
}
}  // namespace

void Optimizer::load_state_scalars(const std::map<std::string, std::string>& s) {
  // Everything is parsed and checked before anything changes.
  const double lr = parse_scalar<double>(s, "optimizer.lr");
  const std::int64_t step = parse_scalar<std::int64_t>(s, "optimizer.step");
  MINIDP_CHECK(std::isfinite(lr) && lr >= 0.0, "optimizer: checkpoint metadata 'optimizer.lr' is ", lr,
               "; a learning rate must be finite and >= 0");
  MINIDP_CHECK(step >= 0, "optimizer: checkpoint metadata 'optimizer.step' is ", step,
               "; a step count must be >= 0");
  lr_ = lr;
  step_count_ = step;
  bump_state_version();
}

void Optimizer::check_state_names(const std::map<std::string, Tensor>& state,
                                  const std::vector<std::string>& buffers) const {
  for (const auto& [name, t] : state) {
    bool known = false;
    const std::size_t dot = name.find('.', 6);
    if (name.rfind("state.", 0) == 0 && dot != std::string::npos && dot > 6) {
      std::size_t index = 0;
      const auto [end, ec] = std::from_chars(name.data() + 6, name.data() + dot, index);
      const std::string buffer = name.substr(dot + 1);
      known = ec == std::errc() && end == name.data() + dot && index < params_.size() &&
              std::find(buffers.begin(), buffers.end(), buffer) != buffers.end();
    }
    std::string expected;
    for (const auto& b : buffers) expected += (expected.empty() ? "" : ", ") + b;
    MINIDP_CHECK(known, kind(), ": the checkpoint's optimizer state holds '", name.substr(0, 200), "', which a '", kind(),
                 "' optimizer of ", params_.size(), " parameters does not have (expected state.<0..",
                 params_.size() == 0 ? 0 : params_.size() - 1, ">.{", expected, "})");
  }
}

Tensor clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  MINIDP_CHECK(max_norm >= 0.0 && std::isfinite(max_norm), "clip_grad_norm: max_norm must be finite and >= 0, got ",
               max_norm);
  NoGradGuard ng;
  std::vector<Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return zeros({}, params.empty() ? TensorOptions() : params[0].options().with_requires_grad(false));
  for (const auto& g : grads)
    MINIDP_CHECK(g.device() == grads[0].device() && g.dtype() == grads[0].dtype(), "clip_grad_norm: gradients ",
                 g.describe(), " and ", grads[0].describe(), " must share one device and dtype");
  // sum over tensors of sum(g * g): one pass over each gradient, sums on the device
  Tensor total_sq;
  for (const auto& g : grads) {
    Tensor s = sum(mul(g, g));
    total_sq = total_sq.defined() ? add(total_sq, s) : s;
  }
  Tensor norm = sqrt(total_sq);
  Tensor coef = clamp(div(full({}, max_norm, norm.options()), add(norm, 1e-6)), std::nullopt, 1.0);
  for (auto& g : grads) g.mul_(coef);  // times exactly 1.0 when under the limit: unchanged
  return norm;
}

std::vector<std::pair<std::string, std::string>> Optimizer::hyperparameters() const {
  return {{"lr", exact_number(lr())}};
}

std::string exact_number(double v) {
  char buf[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace minidp::nn
