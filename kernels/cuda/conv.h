// minidp/kernels/cuda/conv.h — how the cuDNN convolutions choose their
// algorithms: the autotuning switch and the list of choices made so far.
//
// Plain C++ (no CUDA headers), so core/ can forward to it; conv.cu implements
// it, and a build without CUDA answers from no_cuda.cpp (the switch is
// remembered, the list is empty). The user-facing side is core/device.h.
#pragma once

#include <string>
#include <vector>

namespace minidp::kernels::cuda {

// Off (the default): each convolution shape takes the first deterministic
// algorithm of cuDNN's heuristic ranking — nothing is run to choose, and two
// runs choose alike. On: each shape and pass not yet planned benchmarks the
// algorithms once (cudnnFind*AlgorithmEx, which synchronises the device) and
// keeps the fastest, deterministic or not — torch.backends.cudnn.benchmark.
// Plans made in one mode are kept and reused when the mode is switched back.
void set_cudnn_benchmark(bool on);
bool cudnn_benchmark();

// One line per convolution plan made so far (pass, device, dtype, shapes,
// options; the algorithm and how it was chosen), e.g.
//   conv fwd cuda:0 float32 N=256 C=1 H=28 W=28 K=32 3x3 stride 1 pad 1:
//       IMPLICIT_PRECOMP_GEMM (benchmarked, 0.012 ms)
// (on one line), ordered by device, dtype and pass. Empty without CUDA.
std::vector<std::string> cudnn_algorithms_chosen();

}  // namespace minidp::kernels::cuda
