// minidp/nn/optim/sgd.cpp — SGD, line by line as torch.optim.SGD (single-tensor path).
#include "nn/optim/sgd.h"

#include "core/autograd.h"
#include "core/ops.h"

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
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (opts_.weight_decay != 0.0) g = add(g, mul(p, opts_.weight_decay));
    if (opts_.momentum != 0.0) {
      Tensor& buf = momentum_[i];
      if (!buf.defined()) {
        buf = g.clone();  // PyTorch: the first step takes the gradient as is
      } else {
        buf.mul_(opts_.momentum).add_(g, 1.0 - opts_.dampening);
      }
      g = opts_.nesterov ? add(g, mul(buf, opts_.momentum)) : buf;
    }
    p.add_(g, -lr_);
  }
  ++step_count_;
}

std::vector<std::pair<std::string, Tensor>> SGD::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (std::size_t i = 0; i < momentum_.size(); ++i)
    if (momentum_[i].defined()) out.emplace_back("state." + std::to_string(i) + ".momentum_buffer", momentum_[i]);
  return out;
}

void SGD::load_state_tensors(const std::map<std::string, Tensor>& state) {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto it = state.find("state." + std::to_string(i) + ".momentum_buffer");
    if (it == state.end()) {
      momentum_[i] = Tensor();
      continue;
    }
    MINIDP_CHECK(it->second.shape() == params_[i].shape(), "SGD: momentum buffer ", i, " ", it->second.describe(),
                 " does not match parameter ", params_[i].describe());
    momentum_[i] = it->second.to(params_[i].device()).to(params_[i].dtype()).clone();
  }
}

}  // namespace minidp::nn
