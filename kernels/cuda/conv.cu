// minidp/kernels/cuda/conv.cu — 2-D convolution through cuDNN (NCHW, one group).
//
// The three passes map to cuDNN's three legacy calls:
//   conv2d_forward          cudnnConvolutionForward         y  = conv(x, w) (+ bias: the binary kernel)
//   conv2d_backward_input   cudnnConvolutionBackwardData    gx += conv^T(gout, w)   (beta = 1: the CPU kernel
//                                                            also adds into gx, which the caller zeroed)
//   conv2d_backward_weight  cudnnConvolutionBackwardFilter  gw  = corr(x, gout)
//
// Choosing an algorithm, by default: cudnnGet*_v7 ranks the algorithms by
// cuDNN's own heuristics without running anything (cudnnFind* would
// benchmark, which synchronises the device, allocates, and may pick a
// different algorithm in the next run — not what a reproducible trainer
// wants). From that ranking the first algorithm is taken that is
//   * deterministic (cuDNN says so: this rules out the backward algorithms
//     that accumulate with atomics),
//   * FMA-only for float32 unless TF32 is allowed (kernels/cuda/runtime.h),
//   * within a 512 MiB workspace.
// With set_cudnn_benchmark(true) (kernels/cuda/conv.h; PyTorch's
// cudnn.benchmark) a shape not yet planned is instead benchmarked once:
// cudnnFind*AlgorithmEx runs every algorithm on the call's own tensors (the
// output, or a scratch copy where the pass adds into it) with the largest
// workspace any of them asks for (at most 512 MiB, from the caching
// allocator), and the fastest that passes the TF32 and workspace rules wins —
// deterministic or not. Should the search fail, the heuristic choice is made.
// The choice and the descriptors are cached per (device, dtype, shapes,
// options, TF32, benchmark mode), so each shape pays for the query or the
// search once; cudnn_algorithms_chosen() lists the choices. Workspace memory
// comes from the caching allocator on the current stream.
//
// Accuracy: FFT and Winograd algorithms are legal choices; their float32
// results differ from the CPU's im2col + GEMM by up to ~1e-5 relative to the
// output's scale (tests/gpu use 1e-4).
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "minidp/kernels/cuda/common.cuh"
#include "minidp/kernels/cuda/conv.h"
#include "minidp/kernels/cuda/conv_names.h"
#include "minidp/kernels/cuda/handles.h"
#include "minidp/kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

namespace {

std::atomic<bool> g_cudnn_benchmark{false};


constexpr std::size_t kMaxConvWorkspace = std::size_t(512) << 20;

struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = 0;
  std::size_t workspace = 0;
  std::string report;  // one line of cudnn_algorithms_chosen()
};

int to_int(std::int64_t v, const char* what) {
  MINIDP_CHECK(v >= 0 && v <= 2147483647, "conv2d (CUDA): ", what, " ", v, " does not fit cuDNN's int");
  return static_cast<int>(v);
}

// Workspace size of `algo` for the plan's descriptors, or false if cuDNN cannot run it.
bool workspace_size(cudnnHandle_t h, ConvPass pass, const ConvPlan& p, int algo, std::size_t& size) {
  cudnnStatus_t st;
  switch (pass) {
    case ConvPass::Forward:
      st = cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y,
                                                   static_cast<cudnnConvolutionFwdAlgo_t>(algo), &size);
      break;
    case ConvPass::BackwardData:
      st = cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x,
                                                        static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), &size);
      break;
    default:
      st = cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.conv, p.w,
                                                          static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), &size);
      break;
  }
  return st == CUDNN_STATUS_SUCCESS;
}

// cuDNN's ranking for this pass, as (algo, status, memory, determinism, math
// type); empty if the heuristic query itself fails (the fallback still runs).
struct Candidate {
  int algo;
  cudnnStatus_t status;
  std::size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t math;
  float time_ms = -1;  // measured (benchmark mode only)
};

template <typename Perf>
void collect(const Perf* perf, int count, std::vector<Candidate>& out) {
  for (int i = 0; i < count; ++i)
    out.push_back({static_cast<int>(perf[i].algo), perf[i].status, perf[i].memory, perf[i].determinism,
                   perf[i].mathType, perf[i].time});
}

std::vector<Candidate> ranking(cudnnHandle_t h, ConvPass pass, const ConvPlan& p) {
  std::vector<Candidate> out;
  int returned = 0;
  switch (pass) {
    case ConvPass::Forward: {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      if (cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                 &returned, perf) == CUDNN_STATUS_SUCCESS)
        collect(perf, returned, out);
      break;
    }
    case ConvPass::BackwardData: {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      if (cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                      &returned, perf) == CUDNN_STATUS_SUCCESS)
        collect(perf, returned, out);
      break;
    }
    default: {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      if (cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w,
                                                        CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                                        perf) == CUDNN_STATUS_SUCCESS)
        collect(perf, returned, out);
      break;
    }
  }
  return out;
}

constexpr int kAlgoCount[] = {CUDNN_CONVOLUTION_FWD_ALGO_COUNT, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                               CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT};

// Benchmark mode: cuDNN runs every algorithm of this pass on the call's
// tensors (x, w, y in the forward pass's roles) and returns them fastest
// first. The pass's output is scribbled on: the forward's y and the filter
// gradient w are overwritten by the real call that follows; the data
// gradient x is added into (beta = 1), so the search writes a scratch copy.
// The search synchronises the device (it times with events). False, with
// `why`, if it could not run; the caller then falls back on the heuristics.
bool measured_ranking(cudnnHandle_t h, const Launch& l, ConvPass pass, const ConvPlan& p, const Tensor& x,
                      const Tensor& w, const Tensor& y, std::vector<Candidate>& out, std::string& why) {
  const int count = kAlgoCount[static_cast<int>(pass)];
  std::size_t ws_size = 0;  // enough for every algorithm that fits the cap
  for (int a = 0; a < count; ++a) {
    std::size_t s = 0;
    if (workspace_size(h, pass, p, a, s) && s <= kMaxConvWorkspace && s > ws_size) ws_size = s;
  }
  try {
    Workspace ws(ws_size, l);
    int returned = 0;
    cudnnStatus_t st = CUDNN_STATUS_SUCCESS;
    switch (pass) {
      case ConvPass::Forward: {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        st = cudnnFindConvolutionForwardAlgorithmEx(h, p.x, x.raw_data(), p.w, w.raw_data(), p.conv, p.y,
                                                    y.raw_data(), count, &returned, perf, ws.get(), ws_size);
        if (st == CUDNN_STATUS_SUCCESS) collect(perf, returned, out);
        break;
      }
      case ConvPass::BackwardData: {
        Workspace dx(static_cast<std::size_t>(x.numel()) * dtype_size(x.dtype()), l);
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        st = cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w, w.raw_data(), p.y, y.raw_data(), p.conv, p.x,
                                                         dx.get(), count, &returned, perf, ws.get(), ws_size);
        if (st == CUDNN_STATUS_SUCCESS) collect(perf, returned, out);
        break;
      }
      default: {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        st = cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x, x.raw_data(), p.y, y.raw_data(), p.conv, p.w,
                                                           w.raw_data(), count, &returned, perf, ws.get(), ws_size);
        if (st == CUDNN_STATUS_SUCCESS) collect(perf, returned, out);
        break;
      }
    }
    if (st != CUDNN_STATUS_SUCCESS) {
      why = cudnnGetErrorString(st);
      return false;
    }
  } catch (const Error& e) {  // no memory for the workspace or the scratch copy
    why = e.what();
    why = why.substr(0, why.find('\n'));  // the first line; the allocator's statistics follow
    return false;
  }
  return true;
}

// Always-available deterministic algorithms, tried when the ranking offers none.
int fallback_algo(ConvPass pass) {
  switch (pass) {
    case ConvPass::Forward: return CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    case ConvPass::BackwardData: return CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
    default: return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  }
}

ConvPlan* make_plan(cudnnHandle_t h, const Launch& l, ConvPass pass, const Tensor& x, const Tensor& w,
                    const Tensor& y, const Conv2dOptions& o, bool tf32, bool benchmark, bool fallback_only) {
  const cudnnDataType_t dt = x.dtype() == kFloat64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  auto* p = new ConvPlan;
  MINIDP_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
  MINIDP_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
  MINIDP_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
  MINIDP_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv));
  MINIDP_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, dt, to_int(x.size(0), "batch"),
                                                to_int(x.size(1), "channels"), to_int(x.size(2), "height"),
                                                to_int(x.size(3), "width")));
  MINIDP_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, dt, to_int(y.size(0), "batch"),
                                                to_int(y.size(1), "channels"), to_int(y.size(2), "height"),
                                                to_int(y.size(3), "width")));
  MINIDP_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, dt, CUDNN_TENSOR_NCHW, to_int(w.size(0), "out channels"),
                                                to_int(w.size(1), "in channels"), to_int(w.size(2), "kernel height"),
                                                to_int(w.size(3), "kernel width")));
  MINIDP_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
      p->conv, to_int(o.pad_h, "padding"), to_int(o.pad_w, "padding"), to_int(o.stride_h, "stride"),
      to_int(o.stride_w, "stride"), to_int(o.dilation_h, "dilation"), to_int(o.dilation_w, "dilation"),
      CUDNN_CROSS_CORRELATION, dt));
  // FMA-only math keeps float32 exact to FP32 rounding; TF32 only when asked.
  const bool fma_only = dt == CUDNN_DATA_FLOAT && !tf32;
  MINIDP_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, fma_only ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH));
  std::vector<Candidate> cands;
  bool measured = false;
  std::string why_not_measured;
  if (!fallback_only && benchmark) measured = measured_ranking(h, l, pass, *p, x, w, y, cands, why_not_measured);
  if (!fallback_only && !measured) cands = ranking(h, pass, *p);
  const std::size_t ranked = cands.size();
  cands.push_back({fallback_algo(pass), CUDNN_STATUS_SUCCESS, 0, CUDNN_DETERMINISTIC,
                   fma_only ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH});
  for (std::size_t i = 0; i < cands.size(); ++i) {
    const Candidate& c = cands[i];
    // Measured: the fastest, deterministic or not (what benchmark mode asks for).
    if (c.status != CUDNN_STATUS_SUCCESS || c.memory > kMaxConvWorkspace) continue;
    if (!measured && c.determinism != CUDNN_DETERMINISTIC) continue;
    if (fma_only && (c.math == CUDNN_TENSOR_OP_MATH || c.math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)) continue;
    const cudnnMathType_t math = fma_only ? CUDNN_FMA_MATH : c.math;
    if (cudnnSetConvolutionMathType(p->conv, math) != CUDNN_STATUS_SUCCESS) continue;
    std::size_t ws = 0;
    if (!workspace_size(h, pass, *p, c.algo, ws) || ws > kMaxConvWorkspace) continue;
    p->algo = c.algo;
    p->workspace = ws;
    std::string how;
    if (i == ranked) {
      how = fallback_only ? "fallback: cuDNN refused the chosen algorithm" : "fallback: no ranked algorithm fits";
    } else if (measured) {
      char ms[32];
      std::snprintf(ms, sizeof(ms), "%.3f ms", static_cast<double>(c.time_ms));
      how = std::string("benchmarked, ") + ms;
      if (c.determinism != CUDNN_DETERMINISTIC) how += ", non-deterministic";
    } else {
      how = "heuristic";
      if (benchmark) how += "; benchmark failed: " + why_not_measured;
    }
    if (math != CUDNN_FMA_MATH && dt == CUDNN_DATA_FLOAT) how += ", tensor cores allowed";
    p->report = conv_plan_name(pass, l.device, x, w, o, tf32) + ": " + conv_algo_name(pass, c.algo) + " (" + how + ")";
    return p;
  }
  MINIDP_FAIL("conv2d (CUDA): cuDNN offers no ", measured ? "" : "deterministic ", "algorithm for input ",
              x.describe(), ", weight ", w.describe(), ", output ", y.describe());
}

// Plans live for the whole process (descriptors are small; shapes are few) and
// are never freed once published, so a reference stays valid even after its
// cache entry is replaced by a fallback plan.
std::mutex g_plans_mu;
std::map<std::vector<std::int64_t>, ConvPlan*>& plans() {
  static auto* cache = new std::map<std::vector<std::int64_t>, ConvPlan*>;
  return *cache;
}

void destroy_plan(ConvPlan* p) {  // only a plan no other thread has seen
  cudnnDestroyTensorDescriptor(p->x);
  cudnnDestroyTensorDescriptor(p->y);
  cudnnDestroyFilterDescriptor(p->w);
  cudnnDestroyConvolutionDescriptor(p->conv);
  delete p;
}

ConvPlan& plan_for(cudnnHandle_t h, const Launch& l, ConvPass pass, const Tensor& x, const Tensor& w,
                   const Tensor& y, const Conv2dOptions& o, bool fallback_only = false) {
  const bool tf32 = allow_tf32(), benchmark = g_cudnn_benchmark.load();
  const std::vector<std::int64_t> key = {l.device, static_cast<std::int64_t>(x.dtype()),
                                         static_cast<std::int64_t>(pass), tf32, benchmark, x.size(0), x.size(1),
                                         x.size(2), x.size(3), w.size(0), w.size(2), w.size(3), y.size(2), y.size(3),
                                         o.stride_h, o.stride_w, o.pad_h, o.pad_w, o.dilation_h, o.dilation_w};
  auto usable = [&](const ConvPlan* p) { return !fallback_only || p->algo == fallback_algo(pass); };
  {
    std::lock_guard<std::mutex> lock(g_plans_mu);
    auto it = plans().find(key);
    if (it != plans().end() && usable(it->second)) return *it->second;
  }
  // Planned without the lock: a benchmark synchronises the device, and a
  // thread it would block here might be the one whose work (a collective of
  // another replica) that synchronisation waits for.
  ConvPlan* p = make_plan(h, l, pass, x, w, y, o, tf32, benchmark, fallback_only);
  std::lock_guard<std::mutex> lock(g_plans_mu);
  auto [it, inserted] = plans().emplace(key, p);
  if (inserted) return *p;
  if (usable(it->second)) {  // another thread planned this shape meanwhile: one plan per shape
    destroy_plan(p);
    return *it->second;
  }
  it->second = p;
  return *p;
}

// Runs `call(plan, workspace)`. Should cuDNN refuse the chosen algorithm at run
// time (a CUDNN_STATUS_NOT_SUPPORTED_* status, which its workspace query did
// not predict), the shape switches for good to the always-available algorithm.
template <typename Call>
void run_conv(cudnnHandle_t h, const Launch& l, ConvPass pass, const Tensor& x, const Tensor& w, const Tensor& y,
              const Conv2dOptions& o, const char* what, Call&& call) {
  const ConvPlan* p = &plan_for(h, l, pass, x, w, y, o);
  cudnnStatus_t st;
  {
    Workspace ws(p->workspace, l);
    st = call(*p, ws.get());
  }
  if (cudnn_not_supported(st) && p->algo != fallback_algo(pass)) {
    p = &plan_for(h, l, pass, x, w, y, o, /*fallback_only=*/true);
    Workspace ws(p->workspace, l);
    st = call(*p, ws.get());
  }
  if (st != CUDNN_STATUS_SUCCESS) {
    char detail[512] = {0};
    cudnnGetLastErrorString(detail, sizeof(detail));
    MINIDP_FAIL("cuDNN error at ", __FILE__, ":", __LINE__, ": ", what, " (algorithm ", p->algo, ") for ",
                x.describe(), ", weight ", w.describe(), ", output ", y.describe(), " failed: ",
                cudnnGetErrorString(st), detail[0] ? " - " : "", detail);
  }
}

void check_conv(const char* op, const Tensor& x, const Tensor& w, const Tensor& y) {
  check_cuda(op, x);
  check_cuda(op, w);
  check_cuda(op, y);
  MINIDP_CHECK(x.dim() == 4 && w.dim() == 4 && y.dim() == 4 && x.is_contiguous() && w.is_contiguous() &&
                   y.is_contiguous(),
               op, " (CUDA): expected contiguous 4-D tensors, got ", x.describe(), ", ", w.describe(), ", ",
               y.describe());
  MINIDP_CHECK(x.dtype() == w.dtype() && x.dtype() == y.dtype() && is_floating(x.dtype()), op,
               " (CUDA): expected float tensors of one dtype, got ", x.describe(), ", ", w.describe(), ", ",
               y.describe());
}

bool empty_conv(const Tensor& x, const Tensor& w, const Tensor& y) {
  return x.numel() == 0 || w.numel() == 0 || y.numel() == 0;
}

// alpha/beta are float for float data, double for double data.
struct Scale {
  float f;
  double d;
  const void* ptr(const Tensor& t) const { return t.dtype() == kFloat64 ? static_cast<const void*>(&d) : &f; }
};

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dOptions& o) {
  check_conv("conv2d_forward", x, w, out);
  Launch l(out);
  // out += bias[c], the bias seen through stride 0 on the image and pixel dims.
  auto add_bias = [&] {
    if (bias.defined() && out.numel() > 0)
      binary(BinaryOp::Add, out, make_view(bias, out.shape(), {0, 1, 0, 0}, bias.offset()), out);
  };
  if (empty_conv(x, w, out)) {
    if (out.numel() > 0) fill(out, 0.0);
    add_bias();
    return;
  }
  cudnnHandle_t h = cudnn_handle(l.device, l.handle);
  const Scale one{1.f, 1.0}, zero{0.f, 0.0};
  run_conv(h, l, ConvPass::Forward, x, w, out, o, "cudnnConvolutionForward", [&](const ConvPlan& p, void* ws) {
    return cudnnConvolutionForward(h, one.ptr(x), p.x, x.raw_data(), p.w, w.raw_data(), p.conv,
                                   static_cast<cudnnConvolutionFwdAlgo_t>(p.algo), ws, p.workspace, zero.ptr(x), p.y,
                                   out.raw_data());
  });
  add_bias();
}

void conv2d_backward_input(const Tensor& gout, const Tensor& w, const Tensor& gx, const Conv2dOptions& o) {
  check_conv("conv2d_backward_input", gx, w, gout);
  Launch l(gx);
  if (empty_conv(gx, w, gout)) return;  // nothing to add
  cudnnHandle_t h = cudnn_handle(l.device, l.handle);
  const Scale one{1.f, 1.0};
  run_conv(h, l, ConvPass::BackwardData, gx, w, gout, o, "cudnnConvolutionBackwardData",
           [&](const ConvPlan& p, void* ws) {
             return cudnnConvolutionBackwardData(h, one.ptr(gx), p.w, w.raw_data(), p.y, gout.raw_data(), p.conv,
                                                 static_cast<cudnnConvolutionBwdDataAlgo_t>(p.algo), ws, p.workspace,
                                                 one.ptr(gx), p.x, gx.raw_data());
           });
}

void conv2d_backward_weight(const Tensor& gout, const Tensor& x, const Tensor& gw, const Conv2dOptions& o) {
  check_conv("conv2d_backward_weight", x, gw, gout);
  Launch l(gw);
  if (empty_conv(x, gw, gout)) {
    if (gw.numel() > 0) fill(gw, 0.0);
    return;
  }
  cudnnHandle_t h = cudnn_handle(l.device, l.handle);
  const Scale one{1.f, 1.0}, zero{0.f, 0.0};
  run_conv(h, l, ConvPass::BackwardFilter, x, gw, gout, o, "cudnnConvolutionBackwardFilter",
           [&](const ConvPlan& p, void* ws) {
             return cudnnConvolutionBackwardFilter(h, one.ptr(x), p.x, x.raw_data(), p.y, gout.raw_data(), p.conv,
                                                   static_cast<cudnnConvolutionBwdFilterAlgo_t>(p.algo), ws,
                                                   p.workspace, zero.ptr(x), p.w, gw.raw_data());
           });
}

void set_cudnn_benchmark(bool on) { g_cudnn_benchmark = on; }
bool cudnn_benchmark() { return g_cudnn_benchmark.load(); }

std::vector<std::string> cudnn_algorithms_chosen() {
  std::lock_guard<std::mutex> lock(g_plans_mu);
  std::vector<std::string> out;
  for (const auto& [key, plan] : plans()) out.push_back(plan->report);
  return out;
}

}  // namespace minidp::kernels::cuda
