// minidp/kernels/cuda/conv_names.cu — the names conv.cu gives its cuDNN
// algorithms and plans in messages and in cudnn_algorithms_chosen().
#include <string>

#include "minidp/kernels/cuda/conv_names.h"

namespace minidp::kernels::cuda {

const char* conv_algo_name(ConvPass pass, int algo) {
  static const char* const fwd[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM",     "DIRECT",
                                    "FFT",           "FFT_TILING",            "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const data[] = {"ALGO_0",     "ALGO_1",   "FFT",
                                     "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const filter[] = {"ALGO_0",   "ALGO_1",            "FFT",       "ALGO_3",
                                       "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  switch (pass) {
    case ConvPass::Forward: return algo >= 0 && algo < 8 ? fwd[algo] : "unknown";
    case ConvPass::BackwardData: return algo >= 0 && algo < 6 ? data[algo] : "unknown";
    default: return algo >= 0 && algo < 7 ? filter[algo] : "unknown";
  }
}

// "conv fwd cuda:0 float32 N=256 C=1 H=28 W=28 K=32 3x3 stride 1 pad 1" (the
// forward's geometry for all three passes).
std::string conv_plan_name(ConvPass pass, int device, const Tensor& x, const Tensor& w, const Conv2dOptions& o,
                      bool tf32) {
  static const char* const pass_name[] = {"fwd", "bwd data", "bwd filter"};
  std::string s = std::string("conv ") + pass_name[static_cast<int>(pass)] + " cuda:" + std::to_string(device) + " " +
                  dtype_name(x.dtype()) + " N=" + std::to_string(x.size(0)) + " C=" + std::to_string(x.size(1)) +
                  " H=" + std::to_string(x.size(2)) + " W=" + std::to_string(x.size(3)) +
                  " K=" + std::to_string(w.size(0)) + " " + std::to_string(w.size(2)) + "x" +
                  std::to_string(w.size(3)) + " stride " + std::to_string(o.stride_h);
  if (o.stride_w != o.stride_h) s += "x" + std::to_string(o.stride_w);
  s += " pad " + std::to_string(o.pad_h);
  if (o.pad_w != o.pad_h) s += "x" + std::to_string(o.pad_w);
  if (o.dilation_h != 1 || o.dilation_w != 1)
    s += " dilation " + std::to_string(o.dilation_h) + "x" + std::to_string(o.dilation_w);
  if (tf32) s += " tf32";
  return s;
}

}  // namespace minidp::kernels::cuda
