// minidp/kernels/cuda/pool.cu — max and average pooling (own kernels).
//
// Why not cuDNN pooling: minidp's max pooling records the arg-max of every
// window (an int64 index, as the CPU kernel and PyTorch do), and its backward
// pass gets only those indices — cuDNN's max pooling has neither.
//
// Forward passes: one thread per output element, walking its window exactly
// as kernels/cpu/pool_norm.cpp does (same tie and NaN rules, same sum order).
//
// Backward passes must add overlapping contributions without float atomics:
//  * average pooling gathers: one thread per *input* element sums the outputs
//    whose windows cover it, in the CPU's order — bitwise equal results;
//  * max pooling knows only the indices, not the window geometry, so one warp
//    owns one (n, c) plane and walks its outputs 32 at a time; lanes whose
//    indices collide (__match_any_sync) are summed by the lowest such lane in
//    lane order, then added. A fixed order, so the result is deterministic.
#include "kernels/cuda/common.cuh"

namespace minidp::kernels::cuda {

namespace {

struct PoolGeom {
  std::int64_t planes, h, w, ho, wo;
  std::int64_t kh, kw, sh, sw, ph, pw;
};

PoolGeom pool_geom(const Tensor& x, const Tensor& y, const Pool2dOptions& o) {
  return {x.size(0) * x.size(1), x.size(2), x.size(3), y.size(2), y.size(3),
          o.kernel_h, o.kernel_w, o.stride_h, o.stride_w, o.pad_h, o.pad_w};
}

template <typename T>
__global__ void max_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, std::int32_t* __restrict__ idx,
                                        PoolGeom g) {
  MINIDP_GRID_STRIDE(t, g.planes * g.ho * g.wo) {
    const std::int64_t ox = t % g.wo, oy = (t / g.wo) % g.ho, p = t / (g.wo * g.ho);
    const T* plane = x + p * g.h * g.w;
    T best = -INFINITY;
    std::int64_t best_i = -1;
    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
      const std::int64_t iy = oy * g.sh - g.ph + ky;
      if (iy < 0 || iy >= g.h) continue;
      for (std::int64_t kx = 0; kx < g.kw; ++kx) {
        const std::int64_t ix = ox * g.sw - g.pw + kx;
        if (ix < 0 || ix >= g.w) continue;
        const T v = plane[iy * g.w + ix];
        if (best_i < 0 || v > best || v != v) {
          best = v;
          best_i = iy * g.w + ix;
        }
      }
    }
    y[t] = best;
    idx[t] = static_cast<std::int32_t>(best_i);  // < h * w, which max_pool2d checked fits
  }
}

// One warp per plane; see the file comment.
template <typename T>
__global__ void max_pool_backward_kernel(const T* __restrict__ gout, const std::int32_t* __restrict__ idx,
                                         T* __restrict__ gx, std::int64_t planes, std::int64_t hw,
                                         std::int64_t ohw) {
  const int lane = threadIdx.x % 32;
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * (blockDim.x / 32);
  for (std::int64_t p = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; p < planes;
       p += warps) {
    const T* gp = gout + p * ohw;
    const std::int32_t* ip = idx + p * ohw;
    T* xp = gx + p * hw;
    for (std::int64_t base = 0; base < ohw; base += 32) {
      const std::int64_t j = base + lane;
      std::int64_t q = -1 - lane;  // a key no other lane has
      T v = T(0);
      if (j < ohw) {
        const std::int64_t i = ip[j];
        if (i >= 0 && i < hw) {
          q = i;
          v = gp[j];
        }
      }
      const unsigned peers = __match_any_sync(0xffffffffu, static_cast<unsigned long long>(q));
      T s = T(0);
      for (int k = 0; k < 32; ++k) {
        const T vk = __shfl_sync(0xffffffffu, v, k);
        if (peers & (1u << k)) s += vk;
      }
      if (q >= 0 && lane == __ffs(peers) - 1) xp[q] += s;
      __syncwarp();  // this chunk's writes land before the next chunk reads
    }
  }
}

template <typename T>
__global__ void avg_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, PoolGeom g, double inv) {
  MINIDP_GRID_STRIDE(t, g.planes * g.ho * g.wo) {
    const std::int64_t ox = t % g.wo, oy = (t / g.wo) % g.ho, p = t / (g.wo * g.ho);
    const T* plane = x + p * g.h * g.w;
    double s = 0;
    for (std::int64_t ky = 0; ky < g.kh; ++ky) {
      const std::int64_t iy = oy * g.sh - g.ph + ky;
      if (iy < 0 || iy >= g.h) continue;
      for (std::int64_t kx = 0; kx < g.kw; ++kx) {
        const std::int64_t ix = ox * g.sw - g.pw + kx;
        if (ix >= 0 && ix < g.w) s += static_cast<double>(plane[iy * g.w + ix]);
      }
    }
    y[t] = static_cast<T>(s * inv);
  }
}

// Outputs o whose window [o*s - p, o*s - p + k) contains i: o in [lo, hi].
__device__ inline void covering(std::int64_t i, std::int64_t k, std::int64_t s, std::int64_t pad, std::int64_t n_out,
                                std::int64_t& lo, std::int64_t& hi) {
  const std::int64_t a = i + pad - k + 1;  // o*s >= a
  lo = a <= 0 ? 0 : (a + s - 1) / s;
  hi = (i + pad) / s;                      // o*s <= i + pad
  if (hi > n_out - 1) hi = n_out - 1;
}

template <typename T>
__global__ void avg_pool_backward_kernel(const T* __restrict__ gout, T* __restrict__ gx, PoolGeom g, double inv) {
  MINIDP_GRID_STRIDE(t, g.planes * g.h * g.w) {
    const std::int64_t ix = t % g.w, iy = (t / g.w) % g.h, p = t / (g.w * g.h);
    std::int64_t y0, y1, x0, x1;
    covering(iy, g.kh, g.sh, g.ph, g.ho, y0, y1);
    covering(ix, g.kw, g.sw, g.pw, g.wo, x0, x1);
    const T* gp = gout + p * g.ho * g.wo;
    T acc = gx[t];
    for (std::int64_t oy = y0; oy <= y1; ++oy)
      for (std::int64_t ox = x0; ox <= x1; ++ox)  // __dmul_rn: never fused into the add, as on the CPU
        acc += static_cast<T>(__dmul_rn(static_cast<double>(gp[oy * g.wo + ox]), inv));
    gx[t] = acc;
  }
}

void check_pool(const char* op, const Tensor& a, const Tensor& b) {
  check_cuda(op, a);
  check_cuda(op, b);
  MINIDP_CHECK(a.dim() == 4 && b.dim() == 4 && a.is_contiguous() && b.is_contiguous() && a.dtype() == b.dtype(), op,
               " (CUDA): expected contiguous 4-D tensors of one dtype, got ", a.describe(), " and ", b.describe());
}

}  // namespace

void max_pool2d_forward(const Tensor& x, const Tensor& out, const Tensor& indices, const Pool2dOptions& o) {
  check_pool("max_pool2d_forward", x, out);
  check_cuda("max_pool2d_forward", indices);
  MINIDP_CHECK(indices.dtype() == kInt32 && indices.is_contiguous() && indices.numel() == out.numel(),
               "max_pool2d_forward (CUDA): expected contiguous int32 indices shaped like ", out.describe(), ", got ",
               indices.describe());
  const PoolGeom g = pool_geom(x, out, o);
  const std::int64_t n = out.numel();
  if (n == 0) return;
  Launch l(out);
  float_dispatch(x, "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    max_pool_forward_kernel<T><<<grid_for(n), kThreads, 0, l.stream>>>(
        static_cast<const T*>(x.raw_data()), static_cast<T*>(out.raw_data()),
        static_cast<std::int32_t*>(indices.raw_data()), g);
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

void max_pool2d_backward(const Tensor& gout, const Tensor& indices, const Tensor& gx) {
  check_pool("max_pool2d_backward", gout, gx);
  check_cuda("max_pool2d_backward", indices);
  MINIDP_CHECK(indices.dtype() == kInt32 && indices.is_contiguous() && indices.numel() == gout.numel(),
               "max_pool2d_backward (CUDA): expected contiguous int32 indices shaped like ", gout.describe(), ", got ",
               indices.describe());
  const std::int64_t planes = gx.size(0) * gx.size(1), hw = gx.size(2) * gx.size(3);
  const std::int64_t ohw = gout.size(2) * gout.size(3);
  if (planes == 0 || ohw == 0) return;
  Launch l(gx);
  float_dispatch(gout, "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    max_pool_backward_kernel<T><<<grid_for(planes * 32), kThreads, 0, l.stream>>>(
        static_cast<const T*>(gout.raw_data()), static_cast<const std::int32_t*>(indices.raw_data()),
        static_cast<T*>(gx.raw_data()), planes, hw, ohw);
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

void avg_pool2d_forward(const Tensor& x, const Tensor& out, const Pool2dOptions& o) {
  check_pool("avg_pool2d_forward", x, out);
  const PoolGeom g = pool_geom(x, out, o);
  const std::int64_t n = out.numel();
  if (n == 0) return;
  const double inv = 1.0 / static_cast<double>(o.kernel_h * o.kernel_w);  // padding counts (PyTorch default)
  Launch l(out);
  float_dispatch(x, "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_forward_kernel<T><<<grid_for(n), kThreads, 0, l.stream>>>(static_cast<const T*>(x.raw_data()),
                                                                       static_cast<T*>(out.raw_data()), g, inv);
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

void avg_pool2d_backward(const Tensor& gout, const Tensor& gx, const Pool2dOptions& o) {
  check_pool("avg_pool2d_backward", gout, gx);
  const PoolGeom g = pool_geom(gx, gout, o);
  const std::int64_t n = gx.numel();
  if (n == 0 || gout.numel() == 0) return;
  const double inv = 1.0 / static_cast<double>(o.kernel_h * o.kernel_w);
  Launch l(gx);
  float_dispatch(gout, "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_backward_kernel<T><<<grid_for(n), kThreads, 0, l.stream>>>(static_cast<const T*>(gout.raw_data()),
                                                                        static_cast<T*>(gx.raw_data()), g, inv);
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace minidp::kernels::cuda
