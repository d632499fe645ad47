// minidp/nn/optim/adam.cpp — Adam/AdamW as torch.optim.Adam; the update itself is one
// fused kernel over all parameters (kernels' adam_step).
#include "minidp/nn/optim/adam.h"
#include "minidp/nn/module.h"

#include <cmath>

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"
#include "minidp/kernels/kernels.h"
#include "minidp/nn/optim/step_groups.h"

namespace minidp::nn {

Adam::Adam(std::vector<Tensor> params, AdamOptions o) : Adam(std::move(params), o, WeightDecay::L2) {}

Adam::Adam(std::vector<Tensor> params, AdamOptions o, WeightDecay decay)
    : Optimizer(std::move(params), o.lr), opts_(o), decoupled_(decay == WeightDecay::Decoupled) {
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
  StepGroups groups;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!m_[i].defined()) {
      m_[i] = zeros_like(p);
      v_[i] = zeros_like(p);
    }
    groups.add(p, g, false, {m_[i], v_[i]});
  }
  const kernels::AdamStep st{lr_, opts_.beta1, opts_.beta2, opts_.eps, opts_.weight_decay, lr_ / bc1, bc2_sqrt,
                             decoupled_};
  for (auto& grp : groups.list())
    MINIDP_KERNEL(grp.device, adam_step, grp.params, grp.grads, grp.state[0], grp.state[1], st);
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
  check_state_names(state, {"exp_avg", "exp_avg_sq"});
  // Check everything before changing anything: a refused checkpoint leaves the optimizer as it was.
  std::vector<std::pair<const Tensor*, const Tensor*>> found(params_.size(), {nullptr, nullptr});
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto m = state.find("state." + std::to_string(i) + ".exp_avg");
    auto v = state.find("state." + std::to_string(i) + ".exp_avg_sq");
    if (m == state.end() && v == state.end()) continue;  // a parameter that never had a gradient
    MINIDP_CHECK(m != state.end() && v != state.end(), kind(), ": the checkpoint holds state.", i, ".",
                 m == state.end() ? "exp_avg_sq" : "exp_avg", " without state.", i, ".",
                 m == state.end() ? "exp_avg" : "exp_avg_sq", "; both moments are needed");
    MINIDP_CHECK(m->second.shape() == params_[i].shape() && v->second.shape() == params_[i].shape(),
                 "Adam: state of parameter ", i, " does not match ", params_[i].describe());
    found[i] = {&m->second, &v->second};
  }
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!found[i].first) {
      m_[i] = v_[i] = Tensor();
      continue;
    }
    m_[i] = found[i].first->to(params_[i].device()).to(params_[i].dtype()).clone();
    v_[i] = found[i].second->to(params_[i].device()).to(params_[i].dtype()).clone();
  }
  bump_state_version();  // new moments: a captured step would write the old ones
}

std::vector<std::pair<std::string, std::string>> Adam::hyperparameters() const {
  return {{"lr", exact_number(lr())},
          {"beta1", exact_number(opts_.beta1)},
          {"beta2", exact_number(opts_.beta2)},
          {"eps", exact_number(opts_.eps)},
          {"weight_decay", exact_number(opts_.weight_decay)}};
}

}  // namespace minidp::nn
