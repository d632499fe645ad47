// minidp/nn/data/transform.h — turning a batch of raw samples into model inputs.
//
// Data sets keep pixels as uint8; a model wants float32 around zero with unit
// spread. The transform does that per batch, in one pass over the bytes:
//   scale      x / 255                      (uint8 pixels to [0, 1])
//   normalise  (x - mean[c]) / std[c]       (one value, or one per channel c = dim 1)
//   shape      [B, H, W] -> [B, 1, H, W] (add_channel_dim) or -> [B, H*W] (flatten)
// mean and std are statistics of the *training* set; using the same ones for
// validation and test keeps the evaluation honest.
//
//   Transform t = Transform::fashion_mnist();         // /255, (x-0.2860)/0.3530, [B,1,28,28]
//   Tensor x = t.apply(batch_of_uint8_images);        // float32
#pragma once

#include <vector>

#include "minidp/core/tensor.h"

namespace minidp::nn::data {

struct Transform {
  bool scale = false;           // divide by 255 (integer pixels to [0, 1])
  std::vector<double> mean;     // empty: no normalisation
  std::vector<double> std;      // same length as mean
  bool add_channel_dim = false; // [B, H, W] -> [B, 1, H, W]
  bool flatten = false;         // [B, ...] -> [B, prod(...)], applied last

  // The Fashion-MNIST recipe: pixel/255, then (x - 0.2860)/0.3530; [B,1,28,28]
  // for a CNN, or [B, 784] for an MLP when `flatten`.
  static Transform fashion_mnist(bool flatten = false);
  // The same for MNIST (mean 0.1307, std 0.3081).
  static Transform mnist(bool flatten = false);

  // True when apply() changes nothing (the loader then skips it).
  bool identity() const { return !scale && mean.empty() && !add_channel_dim && !flatten; }
  // A new float32 tensor when scaling or normalising, else a view of `x`.
  Tensor apply(const Tensor& x) const;
};

}  // namespace minidp::nn::data
