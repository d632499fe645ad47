// examples/models.h — the models of the examples and of the step benchmark, as
// PyTorch's nn.Sequential would build them (parameter names 1.weight, 1.bias,
// ... for the MLPs; 0.weight, 3.weight, ... for the CNN), so that a PyTorch
// script can load the same weights and time the same shapes.
#pragma once

#include <cstdint>
#include <string>

#include "minidp/minidp.h"

namespace minidp::examples {

// Flatten, Linear 784->1024, ReLU, Linear 1024->1024, ReLU, Linear 1024->10.
inline nn::ModulePtr make_mlp() {
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 1024), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(1024, 1024), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(1024, 10)});
}

// conv32-pool-conv64-pool-fc128-fc10 on 1x28x28 images.
inline nn::ModulePtr make_cnn() {
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Conv2d>(1, 32, 3, 1, 1), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Conv2d>(32, 64, 3, 1, 1), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(3136, 128), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(128, 10)});
}

// The large-GEMM benchmark model: Flatten, three Linear 4096->4096 (+ReLU), Linear 4096->10.
inline nn::ModulePtr make_wide_mlp(std::int64_t width = 4096) {
  std::vector<nn::ModulePtr> layers{std::make_shared<nn::Flatten>()};
  for (int i = 0; i < 3; ++i) {
    layers.push_back(std::make_shared<nn::Linear>(width, width));
    layers.push_back(std::make_shared<nn::ReLU>());
  }
  layers.push_back(std::make_shared<nn::Linear>(width, 10));
  return std::make_shared<nn::Sequential>(layers);
}

}  // namespace minidp::examples
