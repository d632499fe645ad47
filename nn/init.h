// minidp/nn/init.h — parameter initialisation, matching PyTorch's torch.nn.init.
//
// All draw from a counter-based generator (core/rng.h), so a seed fixes the
// initial weights on every device. Layers use PyTorch's defaults:
// kaiming_uniform with a = sqrt(5) for weights (bound 1/sqrt(fan_in)) and
// uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) for biases.
//
//   Tensor w = layer->weight();        // a handle to the parameter: init writes through it
//   nn::init::xavier_uniform_(w);
#pragma once

#include "minidp/core/rng.h"
#include "minidp/core/tensor.h"

namespace minidp::nn::init {

enum class FanMode { FanIn, FanOut };

// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field.
std::int64_t fan_in(const Tensor& w);
std::int64_t fan_out(const Tensor& w);
// PyTorch's calculate_gain for "relu" / "leaky_relu" (with slope a) / "linear" / "tanh" / "sigmoid".
double gain(const std::string& nonlinearity, double a = 0.0);

void uniform_(Tensor& t, double low, double high, Generator* gen = nullptr);
void normal_(Tensor& t, double mean, double std, Generator* gen = nullptr);
void zeros_(Tensor& t);
void ones_(Tensor& t);
void kaiming_uniform_(Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                      const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void kaiming_normal_(Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                     const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void xavier_uniform_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
void xavier_normal_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);

}  // namespace minidp::nn::init
