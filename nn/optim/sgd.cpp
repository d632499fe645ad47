// minidp/nn/optim/sgd.cpp — SGD as torch.optim.SGD; the update itself is one fused
// kernel over all parameters (kernels' sgd_step).
#include "minidp/nn/optim/sgd.h"
#include "minidp/nn/module.h"

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"
#include "minidp/kernels/kernels.h"
#include "minidp/nn/optim/step_groups.h"

namespace minidp::nn {

SGD::SGD(std::vector<Tensor> params, SGDOptions o) : Optimizer(std::move(params), o.lr), opts_(o) {
  MINIDP_CHECK(o.momentum >= 0.0 && o.weight_decay >= 0.0, "SGD: momentum and weight_decay must be >= 0, got ",
               o.momentum, " and ", o.weight_decay);
  MINIDP_CHECK(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0),
               "SGD: nesterov momentum requires momentum > 0 and dampening = 0");
  momentum_.resize(params_.size());
}

void SGD::step() {
  NoGradGuard ng;
  // One fused kernel call per group of tensors that share device, dtype and
  // "first step" (whose momentum buffers take the gradient as is).
  StepGroups groups;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    bool first = false;
    if (opts_.momentum != 0.0 && !momentum_[i].defined()) {
      momentum_[i] = Tensor::empty(p.shape(), p.options());
      first = true;
    }
    groups.add(p, g, first, {momentum_[i]});
  }
  for (auto& grp : groups.list())
    MINIDP_KERNEL(grp.device, sgd_step, grp.params, grp.grads, grp.state[0],
                  kernels::SgdStep{lr_, opts_.momentum, opts_.dampening, opts_.weight_decay, opts_.nesterov, grp.first});
  ++step_count_;
}

std::vector<std::pair<std::string, Tensor>> SGD::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (std::size_t i = 0; i < momentum_.size(); ++i)
    if (momentum_[i].defined()) out.emplace_back("state." + std::to_string(i) + ".momentum_buffer", momentum_[i]);
  return out;
}

void SGD::load_state_tensors(const std::map<std::string, Tensor>& state) {
  check_state_names(state, {"momentum_buffer"});
  // Check everything before changing anything: a refused checkpoint leaves the optimizer as it was.
  std::vector<const Tensor*> found(params_.size(), nullptr);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto it = state.find("state." + std::to_string(i) + ".momentum_buffer");
    if (it == state.end()) continue;
    MINIDP_CHECK(it->second.shape() == params_[i].shape(), "SGD: momentum buffer ", i, " ", it->second.describe(),
                 " does not match parameter ", params_[i].describe());
    found[i] = &it->second;
  }
  for (std::size_t i = 0; i < params_.size(); ++i)
    momentum_[i] = found[i] ? found[i]->to(params_[i].device()).to(params_[i].dtype()).clone() : Tensor();
  bump_state_version();  // new buffers: a captured step would write the old ones
}

std::vector<std::pair<std::string, std::string>> SGD::hyperparameters() const {
  return {{"lr", exact_number(lr())},
          {"momentum", exact_number(opts_.momentum)},
          {"dampening", exact_number(opts_.dampening)},
          {"weight_decay", exact_number(opts_.weight_decay)},
          {"nesterov", opts_.nesterov ? "true" : "false"}};
}

}  // namespace minidp::nn
