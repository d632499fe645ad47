// minidp/kernels/cuda/batchnorm.cu — batch normalisation statistics, the
// per-channel affine map, and the training-mode backward pass (own kernels).
//
// Why not cuDNN's batch norm: minidp's interface splits statistics, apply and
// backward (the parallel layer may reduce statistics across replicas in
// between), and the CPU reference accumulates in double with a two-pass
// variance. Here too: every per-channel sum is in double, over a fixed
// partition of the channel's N*H*W values into splits (chosen from the shape
// only), each split summed by one block as a fixed tree, and the splits summed
// in order by a second kernel. Deterministic, and within ~1 ulp of the CPU.
//
// x is [N, C, S] (S = H*W, or 1 for [N, C]). For S > 1 a block of 256 threads
// walks one channel's planes (contiguous runs of S values); for S == 1 the
// values of a channel are C apart, so a block takes 32 neighbouring channels
// instead (threadIdx.x) and 8 rows at a time (threadIdx.y): coalesced either way.
#include "minidp/kernels/cuda/common.cuh"

namespace minidp::kernels::cuda {

namespace {

struct BnGeom {
  std::int64_t n, c, s;
  std::int64_t count;  // n * s values per channel
  std::int64_t chunk;  // values per split
  int splits;
};

BnGeom bn_geom(const Tensor& x) {
  BnGeom g{};
  g.n = x.size(0);
  g.c = x.size(1);
  g.s = x.dim() == 4 ? x.size(2) * x.size(3) : 1;
  g.count = g.n * g.s;
  const std::int64_t per = 16384;  // values per block, give or take
  g.splits = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(64, (g.count + per - 1) / per)));
  g.chunk = (g.count + g.splits - 1) / g.splits;
  return g;
}

enum class BnSum : int { X, SquaredDev, GradAndGradXhat };

// partial[(c * splits + split) * 2 + {0, 1}]: one or two sums of this split's values.
template <typename T, bool kColumn>
__global__ void bn_partial_kernel(const T* __restrict__ x, const T* __restrict__ gy, const double* __restrict__ mean_d,
                                  const T* __restrict__ mean, const T* __restrict__ invstd, double* __restrict__ partial,
                                  BnGeom g, BnSum what) {
  __shared__ double sh0[kThreads], sh1[kThreads];
  const int tid = threadIdx.x + threadIdx.y * blockDim.x;
  const std::int64_t c = kColumn ? static_cast<std::int64_t>(blockIdx.x) * 32 + threadIdx.x : blockIdx.x;
  const int split = blockIdx.y;
  const int lane = kColumn ? threadIdx.y : threadIdx.x;
  const int lanes = kColumn ? blockDim.y : blockDim.x;
  double a0 = 0, a1 = 0;
  if (c < g.c) {
    const std::int64_t e0 = split * g.chunk;
    const std::int64_t e1 = e0 + g.chunk < g.count ? e0 + g.chunk : g.count;
    const double mu = what == BnSum::SquaredDev ? mean_d[c] : 0.0;
    const double m = what == BnSum::GradAndGradXhat ? static_cast<double>(mean[c]) : 0.0;
    const double v = what == BnSum::GradAndGradXhat ? static_cast<double>(invstd[c]) : 0.0;
    for (std::int64_t e = e0 + lane; e < e1; e += lanes) {
      const std::int64_t n = e / g.s, i = e - n * g.s;
      const std::int64_t k = (n * g.c + c) * g.s + i;
      const double xv = static_cast<double>(x[k]);
      if (what == BnSum::X) {
        a0 += xv;
      } else if (what == BnSum::SquaredDev) {
        const double d = xv - mu;
        a0 += d * d;
      } else {
        const double gv = static_cast<double>(gy[k]);
        a0 += gv;
        a1 += gv * ((xv - m) * v);
      }
    }
  }
  sh0[tid] = a0;
  sh1[tid] = a1;
  __syncthreads();
  // Tree over the lanes of one channel (all 256 threads, or the 8 rows of a column block).
  for (int s = lanes / 2; s > 0; s >>= 1) {
    if (lane < s) {
      const int other = kColumn ? tid + s * blockDim.x : tid + s;
      sh0[tid] += sh0[other];
      sh1[tid] += sh1[other];
    }
    __syncthreads();
  }
  if (lane == 0 && c < g.c) {
    partial[(c * g.splits + split) * 2] = sh0[tid];
    partial[(c * g.splits + split) * 2 + 1] = sh1[tid];
  }
}

// One thread per channel: add the splits in order and finish the statistic.
//   X:               sums[c] = mean (double)
//   SquaredDev:      mean_out[c] = mean, invstd_out[c] = 1/sqrt(var + eps)
//   GradAndGradXhat: sums[2c], sums[2c+1] = sum g, sum g*xhat; gb, gw written when given
template <typename T>
__global__ void bn_finish_kernel(const double* __restrict__ partial, double* __restrict__ sums, BnGeom g, BnSum what,
                                 double eps, T* mean_out, T* invstd_out, T* gw, T* gb) {
  MINIDP_GRID_STRIDE(c, g.c) {
    double s0 = 0, s1 = 0;
    for (int k = 0; k < g.splits; ++k) {
      s0 += partial[(c * g.splits + k) * 2];
      s1 += partial[(c * g.splits + k) * 2 + 1];
    }
    const double count = static_cast<double>(g.count);
    if (what == BnSum::X) {
      sums[c] = s0 / count;
    } else if (what == BnSum::SquaredDev) {
      mean_out[c] = static_cast<T>(sums[c]);
      invstd_out[c] = static_cast<T>(1.0 / ::sqrt(s0 / count + eps));
    } else {
      sums[2 * c] = s0;
      sums[2 * c + 1] = s1;
      if (gw != nullptr) gw[c] = static_cast<T>(s1);
      if (gb != nullptr) gb[c] = static_cast<T>(s0);
    }
  }
}

template <typename T>
__global__ void bn_apply_kernel(const T* __restrict__ x, const T* __restrict__ mean, const T* __restrict__ invstd,
                                const T* __restrict__ w, const T* __restrict__ b, T* __restrict__ y, std::int64_t total,
                                std::int64_t c_count, std::int64_t s) {
  MINIDP_GRID_STRIDE(k, total) {
    const std::int64_t c = (k / s) % c_count;
    const T scale = invstd[c] * w[c], shift = b[c] - mean[c] * invstd[c] * w[c];
    y[k] = x[k] * scale + shift;
  }
}

template <typename T>
__global__ void bn_backward_input_kernel(const T* __restrict__ gy, const T* __restrict__ x, const T* __restrict__ mean,
                                         const T* __restrict__ invstd, const T* __restrict__ w,
                                         const double* __restrict__ sums, T* __restrict__ gx, std::int64_t total,
                                         std::int64_t c_count, std::int64_t s, double m) {
  MINIDP_GRID_STRIDE(k, total) {
    const std::int64_t c = (k / s) % c_count;
    const double xhat = (static_cast<double>(x[k]) - static_cast<double>(mean[c])) * static_cast<double>(invstd[c]);
    const double k1 = static_cast<double>(w[c]) * static_cast<double>(invstd[c]);
    // dx = w invstd (g - mean(g) - xhat mean(g xhat))
    gx[k] = static_cast<T>(k1 * (static_cast<double>(gy[k]) - sums[2 * c] / m - xhat * sums[2 * c + 1] / m));
  }
}

// Sums over every channel: `what` selects which; results in partial -> finish.
template <typename T>
void channel_sums(const BnGeom& g, const T* x, const T* gy, const double* mean_d, const T* mean, const T* invstd,
                  double* partial, BnSum what, const Launch& l) {
  if (g.s > 1) {
    bn_partial_kernel<T, false><<<dim3(static_cast<unsigned>(g.c), g.splits), kThreads, 0, l.stream>>>(
        x, gy, mean_d, mean, invstd, partial, g, what);
  } else {
    bn_partial_kernel<T, true><<<dim3(static_cast<unsigned>((g.c + 31) / 32), g.splits), dim3(32, 8), 0, l.stream>>>(
        x, gy, mean_d, mean, invstd, partial, g, what);
  }
  MINIDP_CUDA_CHECK_LAUNCH();
}

void check_bn(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    check_cuda(op, *t);
    MINIDP_CHECK(t->is_contiguous(), op, " (CUDA): expected contiguous tensors, got ", t->describe());
  }
}

}  // namespace

void batch_norm_stats(const Tensor& x, double eps, const Tensor& mean, const Tensor& invstd) {
  check_bn("batch_norm_stats", {&x, &mean, &invstd});
  const BnGeom g = bn_geom(x);
  if (g.c == 0) return;
  Launch l(mean);
  float_dispatch(x, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const std::size_t partial_bytes = static_cast<std::size_t>(g.c) * g.splits * 2 * sizeof(double);
    Workspace ws(partial_bytes + static_cast<std::size_t>(g.c) * sizeof(double), l);
    double* partial = ws.as<double>();
    double* mean_d = ws.as<double>(partial_bytes);
    const T* px = static_cast<const T*>(x.raw_data());
    T* pm = static_cast<T*>(mean.raw_data());
    T* pv = static_cast<T*>(invstd.raw_data());
    // Two passes, as on the CPU: the mean, then the squared deviations from it (no cancellation).
    channel_sums<T>(g, px, nullptr, nullptr, nullptr, nullptr, partial, BnSum::X, l);
    bn_finish_kernel<T><<<grid_for(g.c), kThreads, 0, l.stream>>>(partial, mean_d, g, BnSum::X, eps, pm, pv, nullptr,
                                                                  nullptr);
    MINIDP_CUDA_CHECK_LAUNCH();
    channel_sums<T>(g, px, nullptr, mean_d, nullptr, nullptr, partial, BnSum::SquaredDev, l);
    bn_finish_kernel<T><<<grid_for(g.c), kThreads, 0, l.stream>>>(partial, mean_d, g, BnSum::SquaredDev, eps, pm, pv,
                                                                  nullptr, nullptr);
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

void batch_norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w, const Tensor& b,
                      const Tensor& y) {
  check_bn("batch_norm_apply", {&x, &mean, &invstd, &w, &b, &y});
  const BnGeom g = bn_geom(x);
  const std::int64_t total = x.numel();
  if (total == 0) return;
  Launch l(y);
  float_dispatch(x, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    bn_apply_kernel<T><<<grid_for(total), kThreads, 0, l.stream>>>(
        static_cast<const T*>(x.raw_data()), static_cast<const T*>(mean.raw_data()),
        static_cast<const T*>(invstd.raw_data()), static_cast<const T*>(w.raw_data()),
        static_cast<const T*>(b.raw_data()), static_cast<T*>(y.raw_data()), total, g.c, g.s);
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w,
                         const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  check_bn("batch_norm_backward", {&gy, &x, &mean, &invstd, &w, &gx, &gw, &gb});
  const BnGeom g = bn_geom(x);
  if (g.c == 0) return;
  Launch l(gx);
  float_dispatch(x, "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const std::size_t partial_bytes = static_cast<std::size_t>(g.c) * g.splits * 2 * sizeof(double);
    Workspace ws(partial_bytes + static_cast<std::size_t>(g.c) * 2 * sizeof(double), l);
    double* partial = ws.as<double>();
    double* sums = ws.as<double>(partial_bytes);
    const T* px = static_cast<const T*>(x.raw_data());
    const T* pg = static_cast<const T*>(gy.raw_data());
    const T* pm = static_cast<const T*>(mean.raw_data());
    const T* pv = static_cast<const T*>(invstd.raw_data());
    channel_sums<T>(g, px, pg, nullptr, pm, pv, partial, BnSum::GradAndGradXhat, l);
    bn_finish_kernel<T><<<grid_for(g.c), kThreads, 0, l.stream>>>(
        partial, sums, g, BnSum::GradAndGradXhat, 0.0, nullptr, nullptr,
        gw.defined() ? static_cast<T*>(gw.raw_data()) : nullptr, gb.defined() ? static_cast<T*>(gb.raw_data()) : nullptr);
    MINIDP_CUDA_CHECK_LAUNCH();
    const std::int64_t total = x.numel();
    if (total == 0) return;
    bn_backward_input_kernel<T><<<grid_for(total), kThreads, 0, l.stream>>>(
        pg, px, pm, pv, static_cast<const T*>(w.raw_data()), sums, static_cast<T*>(gx.raw_data()), total, g.c, g.s,
        static_cast<double>(g.count));
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace minidp::kernels::cuda
