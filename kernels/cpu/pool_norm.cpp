// minidp/kernels/cpu/pool_norm.cpp — max/avg pooling and batch normalisation.
//
// Each chunk on the CPU's threads owns whole planes (pooling) or whole
// channels (batch norm statistics and gradients): no sum ever crosses a chunk,
// so the results do not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "minidp/kernels/cpu/float_dispatch.h"
#include "minidp/kernels/cpu/parallel.h"
#include "minidp/kernels/kernels.h"

namespace minidp::kernels::cpu {


namespace {
// Planes ([N*C] images of H*W) per chunk: about kGrain input values.
std::int64_t planes_per_chunk(std::int64_t plane_size) {
  return std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(1, plane_size));
}

// One plane; kInside: every window lies inside the image (no padding, no
// ceil-mode overhang), so the loop needs no bounds checks.
template <bool kInside, typename T>
void max_pool_plane(const T* x, std::int64_t h, std::int64_t w, T* y, std::int32_t* idx, std::int64_t ho,
                    std::int64_t wo, const Pool2dOptions& o) {
  for (std::int64_t oy = 0; oy < ho; ++oy)
    for (std::int64_t ox = 0; ox < wo; ++ox) {
      T best = -std::numeric_limits<T>::infinity();
      std::int64_t best_i = -1;
      for (std::int64_t ky = 0; ky < o.kernel_h; ++ky) {
        const std::int64_t iy = oy * o.stride_h - o.pad_h + ky;
        if (!kInside && (iy < 0 || iy >= h)) continue;
        for (std::int64_t kx = 0; kx < o.kernel_w; ++kx) {
          const std::int64_t ix = ox * o.stride_w - o.pad_w + kx;
          if (!kInside && (ix < 0 || ix >= w)) continue;
          const T v = x[iy * w + ix];
          if (best_i < 0 || v > best || v != v) {
            best = v;
            best_i = iy * w + ix;
          }
        }
      }
      y[oy * wo + ox] = best;
      idx[oy * wo + ox] = static_cast<std::int32_t>(best_i);
    }
}

#if defined(__SSE2__)
// Outputs ox .. ox + 3 of one row (float), with SSE2 — every x86-64 processor
// has it. Four windows side by side: the even and odd columns of the two rows
// are separated by shuffles, then the same comparisons as the scalar loop
// below, in the same order, choose by bit masks (no arithmetic): the same
// values and the same indices, NaN included. i0: the index of r0[0].
inline void max_pool_2x2_four(const float* r0, const float* r1, std::int32_t i0, std::int32_t w, float* y,
                              std::int32_t* idx) {
  const __m128 a0 = _mm_loadu_ps(r0), a1 = _mm_loadu_ps(r0 + 4), b0 = _mm_loadu_ps(r1), b1 = _mm_loadu_ps(r1 + 4);
  const __m128 v1 = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1)), v2 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0));
  const __m128 v3 = _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1));
  const __m128i at = _mm_add_epi32(_mm_set1_epi32(i0), _mm_setr_epi32(0, 2, 4, 6));
  __m128 best = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
  __m128i bi = at;
  auto take = [&](__m128 v, std::int32_t offset) {  // best = v where v > best or v is NaN
    const __m128 t = _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v));
    best = _mm_or_ps(_mm_and_ps(t, v), _mm_andnot_ps(t, best));
    const __m128i ti = _mm_castps_si128(t), vi = _mm_add_epi32(at, _mm_set1_epi32(offset));
    bi = _mm_or_si128(_mm_and_si128(ti, vi), _mm_andnot_si128(ti, bi));
  };
  take(v1, 1);
  take(v2, w);
  take(v3, w + 1);
  _mm_storeu_ps(y, best);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(idx), bi);
}
#endif

// The common 2x2 window, stride 2, inside the image: the same comparisons in
// the same order as max_pool_plane, written without branches (| rather than
// ||, and selects) so that the compiler emits no jumps the data decides.
// Float rows take four windows at a time (max_pool_2x2_four), the rest here.
template <typename T>
void max_pool_plane_2x2(const T* x, std::int64_t w, T* y, std::int32_t* idx, std::int64_t ho, std::int64_t wo) {
  for (std::int64_t oy = 0; oy < ho; ++oy) {
    const T* r0 = x + 2 * oy * w;
    const T* r1 = r0 + w;
    std::int64_t ox = 0;
#if defined(__SSE2__)
    if constexpr (std::is_same_v<T, float>)
      for (; ox + 4 <= wo; ox += 4)
        max_pool_2x2_four(r0 + 2 * ox, r1 + 2 * ox, static_cast<std::int32_t>(2 * oy * w + 2 * ox),
                          static_cast<std::int32_t>(w), y + oy * wo + ox, idx + oy * wo + ox);
#endif
    for (; ox < wo; ++ox) {
      const std::int64_t i0 = 2 * oy * w + 2 * ox;
      T best = r0[2 * ox];
      std::int64_t bi = i0;
      const T v1 = r0[2 * ox + 1], v2 = r1[2 * ox], v3 = r1[2 * ox + 1];
      const bool t1 = (v1 > best) | (v1 != v1);
      best = t1 ? v1 : best;
      bi = t1 ? i0 + 1 : bi;
      const bool t2 = (v2 > best) | (v2 != v2);
      best = t2 ? v2 : best;
      bi = t2 ? i0 + w : bi;
      const bool t3 = (v3 > best) | (v3 != v3);
      best = t3 ? v3 : best;
      bi = t3 ? i0 + w + 1 : bi;
      y[oy * wo + ox] = best;
      idx[oy * wo + ox] = static_cast<std::int32_t>(bi);
    }
  }
}
}  // namespace

// Planes are independent: chunks of them on the CPU's threads.
void max_pool2d_forward(const Tensor& x, const Tensor& out, const Tensor& indices, const Pool2dOptions& o) {
  const std::int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const std::int64_t ho = out.size(2), wo = out.size(3);
  std::int32_t* pi = static_cast<std::int32_t*>(indices.raw_data());
  const bool inside = o.pad_h == 0 && o.pad_w == 0 && (ho - 1) * o.stride_h + o.kernel_h <= h &&
                      (wo - 1) * o.stride_w + o.kernel_w <= w;
  const bool two_by_two = inside && o.kernel_h == 2 && o.kernel_w == 2 && o.stride_h == 2 && o.stride_w == 2;
  float_only(x, "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw_data());
    T* py = static_cast<T*>(out.raw_data());
    parallel_for(planes, planes_per_chunk(h * w), [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t p = lo; p < hi; ++p) {
        if (two_by_two) max_pool_plane_2x2(px + p * h * w, w, py + p * ho * wo, pi + p * ho * wo, ho, wo);
        else if (inside) max_pool_plane<true>(px + p * h * w, h, w, py + p * ho * wo, pi + p * ho * wo, ho, wo, o);
        else max_pool_plane<false>(px + p * h * w, h, w, py + p * ho * wo, pi + p * ho * wo, ho, wo, o);
      }
    });
  });
}

// Each plane is zeroed, then grad_out scattered into it in ascending output
// order; so an input element gets 0 + g_j1 + g_j2 + ... (j1 < j2 < ...). The
// CUDA kernel (kernels/cuda/pool.cu) gathers in the same order, bit for bit.
// `o` is not needed here (the indices say where each gradient goes); the
// CUDA gather uses it to find the windows covering an element.
void max_pool2d_backward(const Tensor& gout, const Tensor& indices, const Tensor& gx, const Pool2dOptions& o) {
  (void)o;
  const std::int64_t planes = gx.size(0) * gx.size(1), hw = gx.size(2) * gx.size(3);
  const std::int64_t ohw = gout.size(2) * gout.size(3);
  const std::int32_t* pi = static_cast<const std::int32_t*>(indices.raw_data());
  float_only(gout, "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout.raw_data());
    T* pd = static_cast<T*>(gx.raw_data());
    parallel_for(planes, planes_per_chunk(hw), [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t p = lo; p < hi; ++p) {  // a plane's gradients stay in the plane: chunks never collide
        std::fill(pd + p * hw, pd + (p + 1) * hw, T(0));
        for (std::int64_t j = 0; j < ohw; ++j) pd[p * hw + pi[p * ohw + j]] += pg[p * ohw + j];
      }
    });
  });
}

void avg_pool2d_forward(const Tensor& x, const Tensor& out, const Pool2dOptions& o) {
  const std::int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const std::int64_t ho = out.size(2), wo = out.size(3);
  const double inv = 1.0 / static_cast<double>(o.kernel_h * o.kernel_w);  // padding counts (PyTorch default)
  float_only(x, "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw_data());
    T* py = static_cast<T*>(out.raw_data());
    parallel_for(planes, planes_per_chunk(h * w), [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t p = lo; p < hi; ++p)
      for (std::int64_t oy = 0; oy < ho; ++oy)
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          double s = 0;
          for (std::int64_t ky = 0; ky < o.kernel_h; ++ky) {
            const std::int64_t iy = oy * o.stride_h - o.pad_h + ky;
            if (iy < 0 || iy >= h) continue;
            for (std::int64_t kx = 0; kx < o.kernel_w; ++kx) {
              const std::int64_t ix = ox * o.stride_w - o.pad_w + kx;
              if (ix >= 0 && ix < w) s += static_cast<double>(px[p * h * w + iy * w + ix]);
            }
          }
          py[(p * ho + oy) * wo + ox] = static_cast<T>(s * inv);
        }
    });
  });
}

void avg_pool2d_backward(const Tensor& gout, const Tensor& gx, const Pool2dOptions& o) {
  const std::int64_t planes = gx.size(0) * gx.size(1), h = gx.size(2), w = gx.size(3);
  const std::int64_t ho = gout.size(2), wo = gout.size(3);
  const double inv = 1.0 / static_cast<double>(o.kernel_h * o.kernel_w);
  float_only(gout, "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout.raw_data());
    T* pd = static_cast<T*>(gx.raw_data());
    parallel_for(planes, planes_per_chunk(h * w), [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t p = lo; p < hi; ++p)
      for (std::int64_t oy = 0; oy < ho; ++oy)
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          const T gv = static_cast<T>(pg[(p * ho + oy) * wo + ox] * inv);
          for (std::int64_t ky = 0; ky < o.kernel_h; ++ky) {
            const std::int64_t iy = oy * o.stride_h - o.pad_h + ky;
            if (iy < 0 || iy >= h) continue;
            for (std::int64_t kx = 0; kx < o.kernel_w; ++kx) {
              const std::int64_t ix = ox * o.stride_w - o.pad_w + kx;
              if (ix >= 0 && ix < w) pd[p * h * w + iy * w + ix] += gv;
            }
          }
        }
    });
  });
}

namespace {
// x [N, C, S] with S = H*W (or 1): calls f(n, c, pointer to the S values).
struct BnGeom {
  std::int64_t n, c, s;
};
BnGeom bn_geom(const Tensor& x) {
  const std::int64_t s = x.dim() == 4 ? x.size(2) * x.size(3) : 1;
  return {x.size(0), x.size(1), s};
}
}  // namespace

void batch_norm_stats(const Tensor& x, double eps, const Tensor& mean, const Tensor& invstd) {
  const BnGeom g = bn_geom(x);
  float_only(x, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw_data());
    T* pm = static_cast<T*>(mean.raw_data());
    T* pv = static_cast<T*>(invstd.raw_data());
    const double count = static_cast<double>(g.n * g.s);
    parallel_for(g.c, 1, [&](std::int64_t c_lo, std::int64_t c_hi) {  // channels are independent
    for (std::int64_t c = c_lo; c < c_hi; ++c) {
      double s = 0;
      for (std::int64_t n = 0; n < g.n; ++n)
        for (std::int64_t i = 0; i < g.s; ++i) s += static_cast<double>(px[(n * g.c + c) * g.s + i]);
      const double mu = s / count;
      double ss = 0;  // two passes: no cancellation
      for (std::int64_t n = 0; n < g.n; ++n)
        for (std::int64_t i = 0; i < g.s; ++i) {
          const double d = static_cast<double>(px[(n * g.c + c) * g.s + i]) - mu;
          ss += d * d;
        }
      pm[c] = static_cast<T>(mu);
      pv[c] = static_cast<T>(1.0 / std::sqrt(ss / count + eps));
    }
    });
  });
}

void batch_norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w, const Tensor& b,
                      const Tensor& y) {
  const BnGeom g = bn_geom(x);
  float_only(x, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const T *px = static_cast<const T*>(x.raw_data()), *pm = static_cast<const T*>(mean.raw_data());
    const T *pv = static_cast<const T*>(invstd.raw_data()), *pw = static_cast<const T*>(w.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    T* py = static_cast<T*>(y.raw_data());
    parallel_for(g.n, std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(1, g.c * g.s)), [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t n = lo; n < hi; ++n)
      for (std::int64_t c = 0; c < g.c; ++c) {
        const T scale = pv[c] * pw[c], shift = pb[c] - pm[c] * pv[c] * pw[c];
        for (std::int64_t i = 0; i < g.s; ++i) {
          const std::int64_t k = (n * g.c + c) * g.s + i;
          py[k] = px[k] * scale + shift;
        }
      }
    });
  });
}

void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w,
                         const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  const BnGeom g = bn_geom(x);
  float_only(x, "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *pg = static_cast<const T*>(gy.raw_data()), *px = static_cast<const T*>(x.raw_data());
    const T *pm = static_cast<const T*>(mean.raw_data()), *pv = static_cast<const T*>(invstd.raw_data());
    const T* pw = static_cast<const T*>(w.raw_data());
    T* pgx = static_cast<T*>(gx.raw_data());
    const double m = static_cast<double>(g.n * g.s);
    parallel_for(g.c, 1, [&](std::int64_t c_lo, std::int64_t c_hi) {  // channels are independent
    for (std::int64_t c = c_lo; c < c_hi; ++c) {
      // sums of g and g * xhat over the channel
      double sg = 0, sgx = 0;
      for (std::int64_t n = 0; n < g.n; ++n)
        for (std::int64_t i = 0; i < g.s; ++i) {
          const std::int64_t k = (n * g.c + c) * g.s + i;
          const double xhat = (static_cast<double>(px[k]) - pm[c]) * pv[c];
          sg += pg[k];
          sgx += pg[k] * xhat;
        }
      if (gw.defined()) static_cast<T*>(gw.raw_data())[c] = static_cast<T>(sgx);
      if (gb.defined()) static_cast<T*>(gb.raw_data())[c] = static_cast<T>(sg);
      // dx = w invstd (g - mean(g) - xhat mean(g xhat))
      const double k1 = static_cast<double>(pw[c]) * pv[c];
      for (std::int64_t n = 0; n < g.n; ++n)
        for (std::int64_t i = 0; i < g.s; ++i) {
          const std::int64_t k = (n * g.c + c) * g.s + i;
          const double xhat = (static_cast<double>(px[k]) - pm[c]) * pv[c];
          pgx[k] = static_cast<T>(k1 * (pg[k] - sg / m - xhat * sgx / m));
        }
    }
    });
  });
}

}  // namespace minidp::kernels::cpu
