// minidp/kernels/cuda/conv_names.h — the three passes of a convolution and
// the names of their cuDNN algorithms and plans (internal to kernels/cuda).
#pragma once

#include <string>

#include "minidp/core/ops.h"
#include "minidp/core/tensor.h"

namespace minidp::kernels::cuda {

enum class ConvPass : int { Forward, BackwardData, BackwardFilter };

// cuDNN's name of algorithm `algo` of `pass` ("IMPLICIT_GEMM", "ALGO_1", ...).
const char* conv_algo_name(ConvPass pass, int algo);
// "conv fwd cuda:0 float32 N=256 C=1 H=28 W=28 K=32 3x3 stride 1 pad 1" (the
// forward's geometry for all three passes).
std::string conv_plan_name(ConvPass pass, int device, const Tensor& x, const Tensor& w, const Conv2dOptions& o,
                           bool tf32);

}  // namespace minidp::kernels::cuda
