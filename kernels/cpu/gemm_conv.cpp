// minidp/kernels/cpu/gemm_conv.cpp — matrix products through Eigen, and 2-D
// convolution as im2col + GEMM.
//
// im2col copies, for one image, every kH x kW patch into a column: a matrix
// [C*kH*kW, Ho*Wo]. The convolution is then one GEMM with the weight viewed as
// [OC, C*kH*kW]. The backward passes are the two other GEMMs, and col2im adds
// the patch gradients back onto the image (overlapping patches sum).
#include <Eigen/Core>

#include "kernels/cpu/float_dispatch.h"
#include "kernels/kernels.h"

namespace minidp::kernels::cpu {

namespace {
template <typename T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MapC = Eigen::Map<const Mat<T>>;
template <typename T>
using Map = Eigen::Map<Mat<T>>;

// c = alpha op(a) op(b) + beta c, all row-major.
template <typename T>
void gemm_t(bool ta, bool tb, T alpha, const T* a, std::int64_t ar, std::int64_t ac, const T* b, std::int64_t br,
            std::int64_t bc, T beta, T* c, std::int64_t cr, std::int64_t cc) {
  MapC<T> A(a, ar, ac), B(b, br, bc);
  Map<T> C(c, cr, cc);
  auto run = [&](const auto& opa, const auto& opb) {
    if (beta == T(0)) {
      C.noalias() = alpha * (opa * opb);  // never read c: it may be uninitialised
    } else {
      C *= beta;
      C.noalias() += alpha * (opa * opb);
    }
  };
  if (!ta && !tb) run(A, B);
  else if (ta && !tb) run(A.transpose(), B);
  else if (!ta && tb) run(A, B.transpose());
  else run(A.transpose(), B.transpose());
}

struct ConvGeom {
  std::int64_t n, c, h, w, oc, kh, kw, ho, wo;
};
ConvGeom geom(const Tensor& x, const Tensor& w, const Tensor& y) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3), y.size(2), y.size(3)};
}

template <typename T>
void im2col(const T* img, const ConvGeom& g, const Conv2dOptions& o, T* cols) {
  const std::int64_t hw = g.ho * g.wo;
  for (std::int64_t ch = 0; ch < g.c; ++ch)
    for (std::int64_t ki = 0; ki < g.kh; ++ki)
      for (std::int64_t kj = 0; kj < g.kw; ++kj) {
        T* row = cols + ((ch * g.kh + ki) * g.kw + kj) * hw;
        for (std::int64_t oy = 0; oy < g.ho; ++oy) {
          const std::int64_t iy = oy * o.stride_h - o.pad_h + ki * o.dilation_h;
          for (std::int64_t ox = 0; ox < g.wo; ++ox) {
            const std::int64_t ix = ox * o.stride_w - o.pad_w + kj * o.dilation_w;
            row[oy * g.wo + ox] =
                (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) ? img[(ch * g.h + iy) * g.w + ix] : T(0);
          }
        }
      }
}

template <typename T>
void col2im_add(const T* cols, const ConvGeom& g, const Conv2dOptions& o, T* img) {
  const std::int64_t hw = g.ho * g.wo;
  for (std::int64_t ch = 0; ch < g.c; ++ch)
    for (std::int64_t ki = 0; ki < g.kh; ++ki)
      for (std::int64_t kj = 0; kj < g.kw; ++kj) {
        const T* row = cols + ((ch * g.kh + ki) * g.kw + kj) * hw;
        for (std::int64_t oy = 0; oy < g.ho; ++oy) {
          const std::int64_t iy = oy * o.stride_h - o.pad_h + ki * o.dilation_h;
          if (iy < 0 || iy >= g.h) continue;
          for (std::int64_t ox = 0; ox < g.wo; ++ox) {
            const std::int64_t ix = ox * o.stride_w - o.pad_w + kj * o.dilation_w;
            if (ix >= 0 && ix < g.w) img[(ch * g.h + iy) * g.w + ix] += row[oy * g.wo + ox];
          }
        }
      }
}

}  // namespace

void gemm(bool ta, bool tb, double alpha, const Tensor& a, const Tensor& b, double beta, const Tensor& c) {
  float_only(a, "gemm", [&](auto tag) {
    using T = decltype(tag);
    gemm_t<T>(ta, tb, static_cast<T>(alpha), static_cast<const T*>(a.raw_data()), a.size(0), a.size(1),
              static_cast<const T*>(b.raw_data()), b.size(0), b.size(1), static_cast<T>(beta),
              static_cast<T*>(c.raw_data()), c.size(0), c.size(1));
  });
}

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& out, const Conv2dOptions& o) {
  const ConvGeom g = geom(x, w, out);
  float_only(x, "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t k = g.c * g.kh * g.kw, hw = g.ho * g.wo;
    std::vector<T> cols(static_cast<std::size_t>(k * hw));
    const T* px = static_cast<const T*>(x.raw_data());
    const T* pw = static_cast<const T*>(w.raw_data());
    T* py = static_cast<T*>(out.raw_data());
    for (std::int64_t i = 0; i < g.n; ++i) {
      im2col(px + i * g.c * g.h * g.w, g, o, cols.data());
      gemm_t<T>(false, false, T(1), pw, g.oc, k, cols.data(), k, hw, T(0), py + i * g.oc * hw, g.oc, hw);
    }
  });
}

void conv2d_backward_input(const Tensor& gout, const Tensor& w, const Tensor& gx, const Conv2dOptions& o) {
  const ConvGeom g = geom(gx, w, gout);
  float_only(gout, "conv2d_backward_input", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t k = g.c * g.kh * g.kw, hw = g.ho * g.wo;
    std::vector<T> cols(static_cast<std::size_t>(k * hw));
    const T* pg = static_cast<const T*>(gout.raw_data());
    const T* pw = static_cast<const T*>(w.raw_data());
    T* pgx = static_cast<T*>(gx.raw_data());  // zeroed by the caller
    for (std::int64_t i = 0; i < g.n; ++i) {
      // d cols = W^T [k, OC] @ d out [OC, hw]
      gemm_t<T>(true, false, T(1), pw, g.oc, k, pg + i * g.oc * hw, g.oc, hw, T(0), cols.data(), k, hw);
      col2im_add(cols.data(), g, o, pgx + i * g.c * g.h * g.w);
    }
  });
}

void conv2d_backward_weight(const Tensor& gout, const Tensor& x, const Tensor& gw, const Conv2dOptions& o) {
  const ConvGeom g = geom(x, gw, gout);
  float_only(gout, "conv2d_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t k = g.c * g.kh * g.kw, hw = g.ho * g.wo;
    std::vector<T> cols(static_cast<std::size_t>(k * hw));
    const T* pg = static_cast<const T*>(gout.raw_data());
    const T* px = static_cast<const T*>(x.raw_data());
    T* pgw = static_cast<T*>(gw.raw_data());
    for (std::int64_t i = 0; i < g.n; ++i) {
      im2col(px + i * g.c * g.h * g.w, g, o, cols.data());
      // d W [OC, k] += d out [OC, hw] @ cols^T [hw, k]
      gemm_t<T>(false, true, T(1), pg + i * g.oc * hw, g.oc, hw, cols.data(), k, hw, i == 0 ? T(0) : T(1), pgw,
                g.oc, k);
    }
    if (g.n == 0) std::fill(pgw, pgw + gw.numel(), T(0));
  });
}

}  // namespace minidp::kernels::cpu
