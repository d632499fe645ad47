// minidp/nn/optim/adam.h — Adam and AdamW with PyTorch's exact update.
//
//   g = grad (+ weight_decay * p for Adam; AdamW instead does p *= 1 - lr * wd)
//   m = b1 m + (1 - b1) g ;  v = b2 v + (1 - b2) g^2 ;  t = step count
//   p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#pragma once

#include "nn/optim/optimizer.h"

namespace minidp::nn {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class Adam : public Optimizer {
 public:
  // decoupled = true is AdamW (default weight_decay 0.01 there, set it in opts).
  Adam(std::vector<Tensor> params, AdamOptions opts, bool decoupled_weight_decay = false);
  void step() override;
  std::vector<std::pair<std::string, Tensor>> state_tensors() const override;
  void load_state_tensors(const std::map<std::string, Tensor>& state) override;

 private:
  AdamOptions opts_;
  bool decoupled_;
  std::vector<Tensor> m_, v_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamOptions opts) : Adam(std::move(params), opts, true) {}
};

}  // namespace minidp::nn
