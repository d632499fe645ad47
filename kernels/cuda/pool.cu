// minidp/kernels/cuda/pool.cu — max and average pooling (own kernels).
//
// Why not cuDNN pooling: minidp's max pooling records the arg-max of every
// window (an int32 position in its image plane, as the CPU kernel does), and
// its backward pass routes each gradient to that position — cuDNN's max
// pooling has neither.
//
// Forward passes: one thread per output element, walking its window exactly
// as kernels/cpu/pool_norm.cpp does (same tie and NaN rules, same sum order).
//
// Backward passes add overlapping contributions without atomics, by
// gathering: one thread per *input* element finds the windows that cover it
// (`covering` below: for kernel k, stride s, padding p, the outputs o with
// o*s - p <= i < o*s - p + k) and sums over them in the CPU's order —
// output row by row, column by column, i.e. ascending output index:
//  * average pooling adds every covering window's share;
//  * max pooling adds the windows whose recorded arg-max is this element.
//    The CPU (max_pool2d_backward in kernels/cpu/pool_norm.cpp) zeroes each
//    plane and scatters grad_out[j] into gx[indices[j]] for ascending j, so
//    each input element receives 0 + g_j1 + g_j2 + ... in ascending j: the
//    gather starts from 0 and adds in that order, so the results are bitwise
//    the CPU's, the same in every run, and every element of gx is written
//    (no zero-fill pass before). The common 2x2, stride-2, unpadded window
//    has a fast path: each input lies in at most one window, so one thread
//    per window writes its four inputs.
#include "minidp/kernels/cuda/common.cuh"

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

// Max-pool backward, the general case: one thread per input element gathers
// grad_out over the covering windows whose arg-max is this element, in
// ascending output index (the CPU's scatter order, see the file comment).
// Indices that no window could have recorded for this element (out of range,
// or from another geometry) never match: they are dropped, not written.
template <typename T>
__global__ void max_pool_backward_kernel(const T* __restrict__ gout, const std::int32_t* __restrict__ idx,
                                         T* __restrict__ gx, PoolGeom g) {
  MINIDP_GRID_STRIDE(t, g.planes * g.h * g.w) {
    const std::int64_t ix = t % g.w, iy = (t / g.w) % g.h, p = t / (g.w * g.h);
    std::int64_t y0, y1, x0, x1;
    covering(iy, g.kh, g.sh, g.ph, g.ho, y0, y1);
    covering(ix, g.kw, g.sw, g.pw, g.wo, x0, x1);
    const std::int64_t me = iy * g.w + ix;  // the index forward recorded for this element
    const T* gp = gout + p * g.ho * g.wo;
    const std::int32_t* ip = idx + p * g.ho * g.wo;
    T acc = T(0);  // the CPU's zeroed plane: 0 + g is +0 for g = -0, as there
    for (std::int64_t oy = y0; oy <= y1; ++oy)
      for (std::int64_t ox = x0; ox <= x1; ++ox) {
        const std::int64_t j = oy * g.wo + ox;
        if (static_cast<std::int64_t>(ip[j]) == me) acc += gp[j];
      }
    gx[t] = acc;
  }
}

// Max-pool backward for the 2x2 window, stride 2, no padding: the windows tile
// the image, so an input element lies in at most one (none in the last row or
// column of an odd-sized image). One thread per 2x2 block of the input reads
// its window's index and gradient once and writes all four elements: the
// gradient (as 0 + g, the CPU's sum) where the arg-max is, 0 elsewhere.
template <typename T>
__global__ void max_pool_backward_2x2_kernel(const T* __restrict__ gout, const std::int32_t* __restrict__ idx,
                                             T* __restrict__ gx, PoolGeom g) {
  const std::int64_t hb = (g.h + 1) / 2, wb = (g.w + 1) / 2;
  MINIDP_GRID_STRIDE(t, g.planes * hb * wb) {
    const std::int64_t bx = t % wb, by = (t / wb) % hb, p = t / (wb * hb);
    const std::int64_t iy = 2 * by, ix = 2 * bx, base = iy * g.w + ix;
    T v00 = T(0), v01 = T(0), v10 = T(0), v11 = T(0);
    if (by < g.ho && bx < g.wo) {  // a whole window (then iy + 1 < h and ix + 1 < w)
      const std::int64_t j = (p * g.ho + by) * g.wo + bx;
      const std::int64_t i = idx[j];
      const T gv = T(0) + gout[j];
      v00 = i == base ? gv : T(0);
      v01 = i == base + 1 ? gv : T(0);
      v10 = i == base + g.w ? gv : T(0);
      v11 = i == base + g.w + 1 ? gv : T(0);
    }
    T* row = gx + p * g.h * g.w + base;
    row[0] = v00;
    if (ix + 1 < g.w) row[1] = v01;
    if (iy + 1 < g.h) {
      row[g.w] = v10;
      if (ix + 1 < g.w) row[g.w + 1] = v11;
    }
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

// Matches kernels/cpu/pool_norm.cpp max_pool2d_backward bit for bit; gx is
// written in full (it need not be zeroed).
void max_pool2d_backward(const Tensor& gout, const Tensor& indices, const Tensor& gx, const Pool2dOptions& o) {
  check_pool("max_pool2d_backward", gout, gx);
  check_cuda("max_pool2d_backward", indices);
  MINIDP_CHECK(indices.dtype() == kInt32 && indices.is_contiguous() && indices.numel() == gout.numel(),
               "max_pool2d_backward (CUDA): expected contiguous int32 indices shaped like ", gout.describe(), ", got ",
               indices.describe());
  MINIDP_CHECK(gout.size(0) == gx.size(0) && gout.size(1) == gx.size(1), "max_pool2d_backward (CUDA): gradient ",
               gout.describe(), " and input gradient ", gx.describe(), " differ in batch or channels");
  const PoolGeom g = pool_geom(gx, gout, o);
  const std::int64_t n = gx.numel();
  if (n == 0) return;
  const bool two_by_two = o.kernel_h == 2 && o.kernel_w == 2 && o.stride_h == 2 && o.stride_w == 2 && o.pad_h == 0 &&
                          o.pad_w == 0 && g.ho == g.h / 2 && g.wo == g.w / 2;
  Launch l(gx);
  float_dispatch(gout, "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout.raw_data());
    const std::int32_t* pi = static_cast<const std::int32_t*>(indices.raw_data());
    T* px = static_cast<T*>(gx.raw_data());
    if (two_by_two) {
      const std::int64_t blocks = g.planes * ((g.h + 1) / 2) * ((g.w + 1) / 2);
      max_pool_backward_2x2_kernel<T><<<grid_for(blocks), kThreads, 0, l.stream>>>(pg, pi, px, g);
    } else {
      max_pool_backward_kernel<T><<<grid_for(n), kThreads, 0, l.stream>>>(pg, pi, px, g);
    }
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
