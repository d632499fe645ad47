// minidp/kernels/cpu/conv_onednn.h — the CPU's convolutions through oneDNN,
// and the switch between them and the reference (kernels/cpu/conv.cpp).
//
// conv.cpp's three kernels first offer their call here. Each function below
// returns true when oneDNN computed the result, and false, having touched
// nothing, when the call is the reference's: a build without oneDNN, float64
// (oneDNN's convolutions are float32), the reference chosen, or a shape
// oneDNN's kernels refuse.
#pragma once

#include <cstdint>
#include <string>

#include "minidp/core/ops.h"
#include "minidp/core/tensor.h"

namespace minidp::kernels::cpu {

bool onednn_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,
                           const Conv2dOptions& o);
bool onednn_conv2d_backward_input(const Tensor& gout, const Tensor& w, const Tensor& gx, const Conv2dOptions& o);
bool onednn_conv2d_backward_weight(const Tensor& gout, const Tensor& x, const Tensor& gw, const Conv2dOptions& o);

// "onednn" or "reference". The default is "onednn" in builds that have it,
// else "reference"; MINIDP_CPU_CONV in the environment sets it at start.
void set_conv_path(const std::string& path);  // raises on an unknown or unavailable path
std::string conv_path();
// For reports: "oneDNN 2.6.3 (jit:avx512_core)" (the forward kernel oneDNN
// chose most recently; only the version before any convolution ran), or
// "im2col + GEMM (reference)".
std::string conv_kernels();
// Calls oneDNN refused (no kernel for the shape), which the reference ran instead.
std::int64_t conv_fallbacks();

}  // namespace minidp::kernels::cpu
