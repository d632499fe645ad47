// minidp/nn/loss.h — loss modules, thin wrappers over the fused loss ops in
// core/ops.h with PyTorch's names and defaults.
//
//   nn::CrossEntropyLoss ce;              // mean over the batch
//   Tensor loss = ce(logits, labels);
//   nn::BCEWithLogitsLoss bce(Reduction::Mean, full({1}, 9.0));  // pos_weight for 10% positives
#pragma once

#include "minidp/core/ops.h"

namespace minidp::nn {

struct CrossEntropyLoss {
  CrossEntropyOptions options;
  CrossEntropyLoss() = default;
  explicit CrossEntropyLoss(Reduction r, std::int64_t ignore_index = -100, double label_smoothing = 0.0)
      : options{r, ignore_index, label_smoothing} {}
  Tensor operator()(const Tensor& logits, const Tensor& target) const {
    return cross_entropy(logits, target, options);
  }
};

struct BCEWithLogitsLoss {
  Reduction reduction = Reduction::Mean;
  Tensor pos_weight;  // weight of positive examples (n_negative / n_positive balances them)
  BCEWithLogitsLoss() = default;
  explicit BCEWithLogitsLoss(Reduction r, Tensor pw = Tensor()) : reduction(r), pos_weight(std::move(pw)) {}
  Tensor operator()(const Tensor& logits, const Tensor& target) const {
    return binary_cross_entropy_with_logits(logits, target, pos_weight, reduction);
  }
};

struct MSELoss {
  Reduction reduction = Reduction::Mean;
  Tensor operator()(const Tensor& input, const Tensor& target) const { return mse_loss(input, target, reduction); }
};

}  // namespace minidp::nn
