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

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  NoGradGuard ng;
  double total_sq = 0.0;
  for (const auto& p : params) {
    Tensor g = p.grad();
    if (g.defined()) total_sq += sum(mul(g, g)).item();
  }
  const double total = std::sqrt(total_sq);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (const auto& p : params) {
      Tensor g = p.grad();
      if (g.defined()) g.mul_(coef);
    }
  return total;
}

}  // namespace minidp::nn
