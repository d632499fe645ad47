// minidp/nn/optim/optimizer.cpp — shared optimizer plumbing and gradient clipping.
#include "nn/optim/optimizer.h"

#include <cmath>
#include <cstdio>

#include "core/autograd.h"
#include "core/ops.h"

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

void Optimizer::load_state_scalars(const std::map<std::string, std::string>& s) {
  auto lr = s.find("optimizer.lr");
  auto step = s.find("optimizer.step");
  MINIDP_CHECK(lr != s.end() && step != s.end(), "optimizer: checkpoint metadata lacks optimizer.lr / optimizer.step");
  lr_ = std::stod(lr->second);
  step_count_ = std::stoll(step->second);
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

}  // namespace minidp::nn
