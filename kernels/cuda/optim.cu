// minidp/kernels/cuda/optim.cu — fused multi-tensor optimizer steps.
//
// A model has many parameter tensors, most of them small; one launch per
// tensor and per elementwise op would cost more in launches than in work. So
// one kernel updates up to kMaxTensors tensors: their pointers and sizes
// travel by value in the kernel's argument block (no host-to-device copy, so
// the step stays asynchronous and can be captured in a CUDA graph), each block
// handles one chunk of one tensor, and every element gets the whole update in
// registers — one read and one write of each array. Same float operations, in
// the same order, as the CPU twin (kernels/cpu/optim.cpp).
#include <algorithm>

#include "minidp/kernels/cuda/common.cuh"

namespace minidp::kernels::cuda {

namespace {
constexpr int kMaxTensors = 24;        // keeps the argument block well under 4 KiB
constexpr std::int64_t kChunk = 65536;  // elements per block

template <typename T>
struct TensorList {
  T* p[kMaxTensors];
  const T* g[kMaxTensors];
  T* a[kMaxTensors];  // momentum buffer / first moment
  T* b[kMaxTensors];  // second moment (Adam)
  std::int64_t n[kMaxTensors];
  int first_block[kMaxTensors + 1];  // blocks [first_block[t], first_block[t+1]) work on tensor t
  int count;
};

__device__ inline float dsqrt(float x) { return sqrtf(x); }
__device__ inline double dsqrt(double x) { return ::sqrt(x); }

template <typename T>
__device__ inline int tensor_of_block(const TensorList<T>& l) {
  int t = 0;
  while (t + 1 < l.count && static_cast<int>(blockIdx.x) >= l.first_block[t + 1]) ++t;
  return t;
}

template <typename T>
__global__ void sgd_kernel(TensorList<T> l, T lr, T wd, T m, T keep, bool has_wd, bool momentum, bool damp,
                           bool nesterov, bool first) {
  const int t = tensor_of_block(l);
  const std::int64_t begin = static_cast<std::int64_t>(blockIdx.x - l.first_block[t]) * kChunk;
  const std::int64_t end = begin + kChunk < l.n[t] ? begin + kChunk : l.n[t];
  T* p = l.p[t];
  const T* g = l.g[t];
  T* buf = l.a[t];
  for (std::int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    T d = g[i];
    if (has_wd) d = d + p[i] * wd;
    if (momentum) {
      T bi = first ? d : buf[i] * m + (damp ? d * keep : d);
      buf[i] = bi;
      d = nesterov ? d + bi * m : bi;
    }
    p[i] = p[i] + d * lr;
  }
}

template <typename T>
__global__ void adam_kernel(TensorList<T> l, T decay, T wd, T one_b1, T b2, T one_b2, T bc2, T eps, T step,
                            bool decoupled, bool has_wd) {
  const int t = tensor_of_block(l);
  const std::int64_t begin = static_cast<std::int64_t>(blockIdx.x - l.first_block[t]) * kChunk;
  const std::int64_t end = begin + kChunk < l.n[t] ? begin + kChunk : l.n[t];
  T *p = l.p[t], *m = l.a[t], *v = l.b[t];
  const T* g = l.g[t];
  for (std::int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    T d = g[i];
    T pi = p[i];
    if (decoupled) {
      pi = pi * decay;
    } else if (has_wd) {
      d = d + pi * wd;
    }
    const T mi = m[i] + (d - m[i]) * one_b1;
    const T vi = v[i] * b2 + (d * d) * one_b2;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + (mi / (dsqrt(vi) / bc2 + eps)) * step;
  }
}

// Calls launch(list, blocks) for groups of at most kMaxTensors tensors.
template <typename T, typename Launch>
void for_each_group(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>* a,
                    const std::vector<Tensor>* b, Launch&& launch) {
  for (std::size_t start = 0; start < params.size(); start += kMaxTensors) {
    TensorList<T> l{};
    int blocks = 0;
    l.count = static_cast<int>(std::min<std::size_t>(kMaxTensors, params.size() - start));
    for (int k = 0; k < l.count; ++k) {
      const std::size_t t = start + k;
      check_cuda("optimizer step", params[t]);
      l.p[k] = static_cast<T*>(params[t].raw_data());
      l.g[k] = static_cast<const T*>(grads[t].raw_data());
      l.a[k] = a ? static_cast<T*>((*a)[t].raw_data()) : nullptr;
      l.b[k] = b ? static_cast<T*>((*b)[t].raw_data()) : nullptr;
      l.n[k] = params[t].numel();
      l.first_block[k] = blocks;
      blocks += static_cast<int>((l.n[k] + kChunk - 1) / kChunk);
    }
    l.first_block[l.count] = blocks;
    if (blocks > 0) launch(l, blocks);
  }
}
}  // namespace

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& bufs,
              const SgdStep& s) {
  if (params.empty()) return;
  Launch where(params[0]);
  const bool momentum = s.momentum != 0.0;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    for_each_group<T>(params, grads, momentum ? &bufs : nullptr, nullptr, [&](const TensorList<T>& l, int blocks) {
      sgd_kernel<T><<<blocks, kThreads, 0, where.stream>>>(
          l, static_cast<T>(-s.lr), static_cast<T>(s.weight_decay), static_cast<T>(s.momentum),
          static_cast<T>(1.0 - s.dampening), s.weight_decay != 0.0, momentum, s.dampening != 0.0, s.nesterov, s.first);
      MINIDP_CUDA_CHECK_LAUNCH();
    });
  };
  if (params[0].dtype() == kFloat64) run(double{});
  else run(float{});
}

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& m,
               const std::vector<Tensor>& v, const AdamStep& s) {
  if (params.empty()) return;
  Launch where(params[0]);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    for_each_group<T>(params, grads, &m, &v, [&](const TensorList<T>& l, int blocks) {
      adam_kernel<T><<<blocks, kThreads, 0, where.stream>>>(
          l, static_cast<T>(1.0 - s.lr * s.weight_decay), static_cast<T>(s.weight_decay), static_cast<T>(1.0 - s.beta1),
          static_cast<T>(s.beta2), static_cast<T>(1.0 - s.beta2), static_cast<T>(s.bc2_sqrt), static_cast<T>(s.eps),
          static_cast<T>(-s.step_size), s.decoupled, s.weight_decay != 0.0);
      MINIDP_CUDA_CHECK_LAUNCH();
    });
  };
  if (params[0].dtype() == kFloat64) run(double{});
  else run(float{});
}

}  // namespace minidp::kernels::cuda
