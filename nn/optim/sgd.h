// minidp/nn/optim/sgd.h — stochastic gradient descent with PyTorch's exact update.
//
//   g = grad + weight_decay * p
//   buf = g                                   (first step: no dampening)
//   buf = momentum * buf + (1 - dampening) g  (later steps)
//   g = nesterov ? g + momentum * buf : buf
//   p = p - lr * g
#pragma once

#include "minidp/nn/optim/optimizer.h"

namespace minidp::nn {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions opts);
  void step() override;
  std::string kind() const override { return "sgd"; }
  std::vector<std::pair<std::string, std::string>> hyperparameters() const override;
  std::vector<std::pair<std::string, Tensor>> state_tensors() const override;
  void load_state_tensors(const std::map<std::string, Tensor>& state) override;
  const SGDOptions& options() const { return opts_; }

 private:
  SGDOptions opts_;
  std::vector<Tensor> momentum_;  // undefined until the first step
};

}  // namespace minidp::nn
