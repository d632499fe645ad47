// minidp/kernels/cpu/pool_norm.cpp — max/avg pooling and batch normalisation.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/float_dispatch.h"
#include "kernels/kernels.h"

namespace minidp::kernels::cpu {


void max_pool2d_forward(const Tensor& x, const Tensor& out, const Tensor& indices, const Pool2dOptions& o) {
  const std::int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const std::int64_t ho = out.size(2), wo = out.size(3);
  std::int64_t* pi = static_cast<std::int64_t*>(indices.raw_data());
  float_only(x, "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw_data());
    T* py = static_cast<T*>(out.raw_data());
    for (std::int64_t p = 0; p < planes; ++p)
      for (std::int64_t oy = 0; oy < ho; ++oy)
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          T best = -std::numeric_limits<T>::infinity();
          std::int64_t best_i = -1;
          for (std::int64_t ky = 0; ky < o.kernel_h; ++ky) {
            const std::int64_t iy = oy * o.stride_h - o.pad_h + ky;
            if (iy < 0 || iy >= h) continue;
            for (std::int64_t kx = 0; kx < o.kernel_w; ++kx) {
              const std::int64_t ix = ox * o.stride_w - o.pad_w + kx;
              if (ix < 0 || ix >= w) continue;
              const T v = px[p * h * w + iy * w + ix];
              if (best_i < 0 || v > best || v != v) {
                best = v;
                best_i = iy * w + ix;
              }
            }
          }
          py[(p * ho + oy) * wo + ox] = best;
          pi[(p * ho + oy) * wo + ox] = best_i;
        }
  });
}

void max_pool2d_backward(const Tensor& gout, const Tensor& indices, const Tensor& gx) {
  const std::int64_t planes = gx.size(0) * gx.size(1), hw = gx.size(2) * gx.size(3);
  const std::int64_t ohw = gout.size(2) * gout.size(3);
  const std::int64_t* pi = static_cast<const std::int64_t*>(indices.raw_data());
  float_only(gout, "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout.raw_data());
    T* pd = static_cast<T*>(gx.raw_data());
    for (std::int64_t p = 0; p < planes; ++p)
      for (std::int64_t j = 0; j < ohw; ++j) pd[p * hw + pi[p * ohw + j]] += pg[p * ohw + j];
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
    for (std::int64_t p = 0; p < planes; ++p)
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
}

void avg_pool2d_backward(const Tensor& gout, const Tensor& gx, const Pool2dOptions& o) {
  const std::int64_t planes = gx.size(0) * gx.size(1), h = gx.size(2), w = gx.size(3);
  const std::int64_t ho = gout.size(2), wo = gout.size(3);
  const double inv = 1.0 / static_cast<double>(o.kernel_h * o.kernel_w);
  float_only(gout, "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout.raw_data());
    T* pd = static_cast<T*>(gx.raw_data());
    for (std::int64_t p = 0; p < planes; ++p)
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
    for (std::int64_t c = 0; c < g.c; ++c) {
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
    for (std::int64_t n = 0; n < g.n; ++n)
      for (std::int64_t c = 0; c < g.c; ++c) {
        const T scale = pv[c] * pw[c], shift = pb[c] - pm[c] * pv[c] * pw[c];
        for (std::int64_t i = 0; i < g.s; ++i) {
          const std::int64_t k = (n * g.c + c) * g.s + i;
          py[k] = px[k] * scale + shift;
        }
      }
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
    for (std::int64_t c = 0; c < g.c; ++c) {
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
}

}  // namespace minidp::kernels::cpu
