// minidp/nn/optim/adam.cpp — Adam/AdamW, line by line as torch.optim.Adam (single-tensor path).
#include "nn/optim/adam.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"

namespace minidp::nn {

Adam::Adam(std::vector<Tensor> params, AdamOptions o, bool decoupled)
    : Optimizer(std::move(params), o.lr), opts_(o), decoupled_(decoupled) {
  MINIDP_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "Adam: betas must be in [0, 1), got (",
               o.beta1, ", ", o.beta2, ")");
  MINIDP_CHECK(o.eps >= 0 && o.weight_decay >= 0, "Adam: eps and weight_decay must be >= 0");
  m_.resize(params_.size());
  v_.resize(params_.size());
}

void Adam::step() {
  NoGradGuard ng;
  ++step_count_;
  const double t = static_cast<double>(step_count_);
  const double bc1 = 1.0 - std::pow(opts_.beta1, t);
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(opts_.beta2, t));
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (decoupled_) {
      p.mul_(1.0 - lr_ * opts_.weight_decay);
    } else if (opts_.weight_decay != 0.0) {
      g = add(g, mul(p, opts_.weight_decay));
    }
    if (!m_[i].defined()) {
      m_[i] = zeros_like(p);
      v_[i] = zeros_like(p);
    }
    m_[i].add_(sub(g, m_[i]), 1.0 - opts_.beta1);             // lerp towards g
    v_[i].mul_(opts_.beta2).add_(mul(g, g), 1.0 - opts_.beta2);
    Tensor denom = add(div(sqrt(v_[i]), bc2_sqrt), opts_.eps);
    p.add_(div(m_[i], denom), -lr_ / bc1);
  }
}

std::vector<std::pair<std::string, Tensor>> Adam::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (std::size_t i = 0; i < m_.size(); ++i) {
    if (!m_[i].defined()) continue;
    out.emplace_back("state." + std::to_string(i) + ".exp_avg", m_[i]);
    out.emplace_back("state." + std::to_string(i) + ".exp_avg_sq", v_[i]);
  }
  return out;
}

void Adam::load_state_tensors(const std::map<std::string, Tensor>& state) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto m = state.find("state." + std::to_string(i) + ".exp_avg");
    auto v = state.find("state." + std::to_string(i) + ".exp_avg_sq");
    if (m == state.end() || v == state.end()) {
      m_[i] = v_[i] = Tensor();
      continue;
    }
    MINIDP_CHECK(m->second.shape() == params_[i].shape() && v->second.shape() == params_[i].shape(),
                 "Adam: state of parameter ", i, " does not match ", params_[i].describe());
    m_[i] = m->second.to(params_[i].device()).to(params_[i].dtype()).clone();
    v_[i] = v->second.to(params_[i].device()).to(params_[i].dtype()).clone();
  }
}

}  // namespace minidp::nn
