// minidp/nn/optim/adam.h — Adam and AdamW with PyTorch's exact update.
//
//   g = grad (+ weight_decay * p for Adam; AdamW instead does p *= 1 - lr * wd)
//   m = b1 m + (1 - b1) g ;  v = b2 v + (1 - b2) g^2 ;  t = step count
//   p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#pragma once

#include "minidp/nn/optim/optimizer.h"

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
  Adam(std::vector<Tensor> params, AdamOptions opts);
  void step() override;
  std::string kind() const override { return decoupled_ ? "adamw" : "adam"; }
  std::vector<std::pair<std::string, std::string>> hyperparameters() const override;
  std::vector<std::pair<std::string, Tensor>> state_tensors() const override;
  void load_state_tensors(const std::map<std::string, Tensor>& state) override;

 protected:
  enum class WeightDecay { L2, Decoupled };
  Adam(std::vector<Tensor> params, AdamOptions opts, WeightDecay decay);

 private:
  AdamOptions opts_;
  bool decoupled_;
  std::vector<Tensor> m_, v_;
};

// AdamW: Adam with decoupled weight decay, p *= 1 - lr * wd before the update
// (torch.optim.AdamW; its default weight_decay is 0.01 — set it in opts).
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamOptions opts) : Adam(std::move(params), opts, WeightDecay::Decoupled) {}
};

}  // namespace minidp::nn
