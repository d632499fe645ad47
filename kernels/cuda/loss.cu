// minidp/kernels/cuda/loss.cu — fused softmax + cross-entropy, forward and backward.
//
// One warp per sample: the row's max, sum of exponentials (and plain sum, for
// label smoothing) are warp reductions in double, so the loss never forms the
// softmax in memory and never takes log(0). The backward writes
// (softmax - smoothed one-hot) * gloss[n] straight from the logits.
//
// A target out of range cannot raise an exception from a kernel: the sample's
// loss (and gradient row) become NaN and the error is reported at the next
// host synchronisation (kernels/cuda/common.cuh), where the CPU kernel would
// have raised at once.
#include "minidp/kernels/cuda/common.cuh"

namespace minidp::kernels::cuda {

namespace {

struct RowStats {
  double m, s, total;
};

template <typename T>
__device__ inline RowStats row_stats(const T* row, std::int64_t c, int lane) {
  double m = -INFINITY;
  for (std::int64_t j = lane; j < c; j += 32) m = ::fmax(m, static_cast<double>(row[j]));
  m = warp_max(m);
  double s = 0, total = 0;
  for (std::int64_t j = lane; j < c; j += 32) {
    const double v = static_cast<double>(row[j]);
    s += ::exp(v - m);
    total += v;
  }
  return {m, warp_sum(s), warp_sum(total)};
}

#define MINIDP_WARP_PER_ROW(r, rows)                                                                  \
  const int lane = threadIdx.x % 32;                                                                  \
  for (std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; \
       r < (rows); r += static_cast<std::int64_t>(gridDim.x) * (blockDim.x / 32))

template <typename T>
__global__ void ce_forward_kernel(const T* __restrict__ logits, const std::int64_t* __restrict__ target,
                                  T* __restrict__ loss, std::int64_t n, std::int64_t c, std::int64_t ignore,
                                  double smoothing, DeviceErrorRecord* err) {
  MINIDP_WARP_PER_ROW(i, n) {
    const std::int64_t t = target[i];
    if (t == ignore) {
      if (lane == 0) loss[i] = T(0);
      continue;
    }
    if (t < 0 || t >= c) {
      if (lane == 0) {
        report_device_error(err, kCrossEntropyTarget, t, i, c);
        loss[i] = static_cast<T>(NAN);
      }
      continue;
    }
    const T* row = logits + i * c;
    const RowStats st = row_stats(row, c, lane);
    const double lse = st.m + ::log(st.s);
    // -(1-e) log p_t - e/C sum_j log p_j
    if (lane == 0)
      loss[i] = static_cast<T>((1.0 - smoothing) * (lse - static_cast<double>(row[t])) +
                               smoothing * (lse - st.total / static_cast<double>(c)));
  }
}

template <typename T>
__global__ void ce_backward_kernel(const T* __restrict__ logits, const std::int64_t* __restrict__ target,
                                   const T* __restrict__ gloss, T* __restrict__ glogits, std::int64_t n,
                                   std::int64_t c, std::int64_t ignore, double smoothing, DeviceErrorRecord* err) {
  MINIDP_WARP_PER_ROW(i, n) {
    const std::int64_t t = target[i];
    T* drow = glogits + i * c;
    if (t == ignore || t < 0 || t >= c) {
      const bool bad = t != ignore;
      if (bad && lane == 0) report_device_error(err, kCrossEntropyTarget, t, i, c);
      for (std::int64_t j = lane; j < c; j += 32) drow[j] = bad ? static_cast<T>(NAN) : T(0);
      continue;
    }
    const T* row = logits + i * c;
    const RowStats st = row_stats(row, c, lane);
    const double g = static_cast<double>(gloss[i]);
    for (std::int64_t j = lane; j < c; j += 32) {
      const double p = ::exp(static_cast<double>(row[j]) - st.m) / st.s;
      const double q = (j == t ? 1.0 - smoothing : 0.0) + smoothing / static_cast<double>(c);
      drow[j] = static_cast<T>((p - q) * g);
    }
  }
}

void check_ce(const char* op, const Tensor& logits, const Tensor& target) {
  check_cuda(op, logits);
  check_cuda(op, target);
  MINIDP_CHECK(logits.dim() == 2 && logits.is_contiguous(), op, " (CUDA): expected contiguous logits [N, C], got ",
               logits.describe());
  MINIDP_CHECK(target.dtype() == kInt64 && target.is_contiguous() && target.numel() == logits.size(0), op,
               " (CUDA): expected a contiguous int64 target of ", logits.size(0), " elements, got ",
               target.describe());
}

}  // namespace

void cross_entropy_forward(const Tensor& logits, const Tensor& target, std::int64_t ignore, double smoothing,
                           const Tensor& loss) {
  check_ce("cross_entropy_forward", logits, target);
  const std::int64_t n = logits.size(0), c = logits.size(1);
  if (n == 0) return;
  Launch l(loss);
  float_dispatch(logits, "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    ce_forward_kernel<T><<<grid_for(n * 32), kThreads, 0, l.stream>>>(
        static_cast<const T*>(logits.raw_data()), static_cast<const std::int64_t*>(target.raw_data()),
        static_cast<T*>(loss.raw_data()), n, c, ignore, smoothing, device_error_record(l));
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

void cross_entropy_backward(const Tensor& logits, const Tensor& target, std::int64_t ignore, double smoothing,
                            const Tensor& gloss, const Tensor& glogits) {
  check_ce("cross_entropy_backward", logits, target);
  check_cuda("cross_entropy_backward", gloss);
  const std::int64_t n = logits.size(0), c = logits.size(1);
  if (n == 0) return;
  Launch l(glogits);
  float_dispatch(logits, "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    ce_backward_kernel<T><<<grid_for(n * 32), kThreads, 0, l.stream>>>(
        static_cast<const T*>(logits.raw_data()), static_cast<const std::int64_t*>(target.raw_data()),
        static_cast<const T*>(gloss.raw_data()), static_cast<T*>(glogits.raw_data()), n, c, ignore, smoothing,
        device_error_record(l));
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace minidp::kernels::cuda
