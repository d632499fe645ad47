// minidp/kernels/cpu/conv.cpp — 2-D convolution as im2col + GEMM, a group of
// images at a time, the groups on the CPU's threads: the reference.
//
// In builds with oneDNN, float32 convolutions run through it by default
// (kernels/cpu/conv_onednn.cpp: 2-3x faster, the same promise about threads);
// each kernel below first offers its call there. This file is the path the
// docs teach, the one float64 takes, and the one the tests compare oneDNN's
// with (set_cpu_conv("reference"), or MINIDP_CPU_CONV=reference).
//
// im2col copies, for each image, every kH x kW patch into a column: for a
// group of g images, a matrix cols [K = C*kH*kW, g*Ho*Wo]. The convolution is
// one GEMM with the weight viewed as [OC, K]; the backward passes are the two
// other GEMMs, and col2im adds the patch gradients back onto each image
// (overlapping patches sum). One GEMM per group of images rather than per
// image keeps the products large enough to run near the machine's peak.
//
// The group size depends only on the shapes (about 256 K values of cols), so
// the work, and the order of every sum, is the same for any number of threads:
// forward and backward-input write each image's own outputs; backward-weight
// keeps one partial per group and adds the partials in group order.
#include <algorithm>
#include <vector>

#include "minidp/kernels/cpu/conv_onednn.h"
#include "minidp/kernels/cpu/float_dispatch.h"
#include "minidp/kernels/cpu/gemm.h"
#include "minidp/kernels/cpu/parallel.h"
#include "minidp/kernels/kernels.h"

namespace minidp::kernels::cpu {

namespace {
struct ConvGeom {
  std::int64_t n, c, h, w, oc, kh, kw, ho, wo;
  std::int64_t k() const { return c * kh * kw; }
  std::int64_t hw() const { return ho * wo; }
  // Images per group: about 256 K values of cols, at least 1.
  std::int64_t group() const { return std::max<std::int64_t>(1, (std::int64_t(1) << 18) / std::max<std::int64_t>(1, k() * hw())); }
};
ConvGeom geom(const Tensor& x, const Tensor& w, const Tensor& y) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3), y.size(2), y.size(3)};
}

// Scratch memory of the calling thread, kept between calls (no allocation per
// op once a training step has run).
template <typename T>
T* scratch(std::size_t slot, std::size_t n) {
  thread_local std::vector<std::vector<T>> buffers;
  if (buffers.size() <= slot) buffers.resize(slot + 1);
  if (buffers[slot].size() < n) buffers[slot].resize(n);
  return buffers[slot].data();
}

// The output columns ox whose input column ox * stride - pad + kj * dilation
// lies inside [0, w): [lo, hi). Outside it the patch reads padding (zeros).
struct ColumnRange {
  std::int64_t lo, hi;
};
ColumnRange inside_columns(std::int64_t kj, const ConvGeom& g, const Conv2dOptions& o) {
  const std::int64_t x0 = kj * o.dilation_w - o.pad_w, s = o.stride_w;  // ix = ox * s + x0
  const std::int64_t lo = x0 >= 0 ? 0 : (-x0 + s - 1) / s;
  const std::int64_t hi = x0 >= g.w ? 0 : std::min(g.wo, (g.w - x0 + s - 1) / s);
  return {std::min(lo, g.wo), std::max(std::min(lo, g.wo), hi)};
}

// Image `img` into columns starting at `cols`, row stride `ld` (g * hw for a group).
template <typename T>
void im2col(const T* img, const ConvGeom& g, const Conv2dOptions& o, T* cols, std::int64_t ld) {
  for (std::int64_t ch = 0; ch < g.c; ++ch)
    for (std::int64_t ki = 0; ki < g.kh; ++ki)
      for (std::int64_t kj = 0; kj < g.kw; ++kj) {
        T* row = cols + ((ch * g.kh + ki) * g.kw + kj) * ld;
        const ColumnRange in = inside_columns(kj, g, o);
        const std::int64_t x0 = kj * o.dilation_w - o.pad_w;
        for (std::int64_t oy = 0; oy < g.ho; ++oy) {
          T* dst = row + oy * g.wo;
          const std::int64_t iy = oy * o.stride_h - o.pad_h + ki * o.dilation_h;
          if (iy < 0 || iy >= g.h) {
            std::fill(dst, dst + g.wo, T(0));
            continue;
          }
          const T* line = img + (ch * g.h + iy) * g.w;  // input column of ox: ox * stride + x0
          std::fill(dst, dst + in.lo, T(0));
          if (o.stride_w == 1) std::copy(line + in.lo + x0, line + in.hi + x0, dst + in.lo);
          else
            for (std::int64_t ox = in.lo; ox < in.hi; ++ox) dst[ox] = line[ox * o.stride_w + x0];
          std::fill(dst + in.hi, dst + g.wo, T(0));
        }
      }
}

// The adjoint of im2col: each column value added back onto the input pixel it was copied from.
template <typename T>
void col2im_add(const T* cols, const ConvGeom& g, const Conv2dOptions& o, T* img, std::int64_t ld) {
  for (std::int64_t ch = 0; ch < g.c; ++ch)
    for (std::int64_t ki = 0; ki < g.kh; ++ki)
      for (std::int64_t kj = 0; kj < g.kw; ++kj) {
        const T* row = cols + ((ch * g.kh + ki) * g.kw + kj) * ld;
        const ColumnRange in = inside_columns(kj, g, o);
        const std::int64_t x0 = kj * o.dilation_w - o.pad_w;
        for (std::int64_t oy = 0; oy < g.ho; ++oy) {
          const std::int64_t iy = oy * o.stride_h - o.pad_h + ki * o.dilation_h;
          if (iy < 0 || iy >= g.h) continue;
          const T* src = row + oy * g.wo;
          T* line = img + (ch * g.h + iy) * g.w;
          for (std::int64_t ox = in.lo; ox < in.hi; ++ox) line[ox * o.stride_w + x0] += src[ox];
        }
      }
}

// The output gradients of images first .. first + count, from [image][OC][hw]
// to the products' layout [OC, count * hw].
template <typename T>
void group_layout(const T* gout, const ConvGeom& g, std::int64_t first, std::int64_t count, T* grads) {
  const std::int64_t hw = g.hw(), ld = count * hw;
  for (std::int64_t i = 0; i < count; ++i)
    for (std::int64_t c = 0; c < g.oc; ++c) std::copy_n(gout + ((first + i) * g.oc + c) * hw, hw, grads + c * ld + i * hw);
}

// Runs fn(first image, images in the group) for every group, on the CPU's threads.
template <typename F>
void for_each_group(const ConvGeom& g, F&& fn) {
  const std::int64_t size = g.group();
  parallel_for(num_chunks(g.n, size), 1, [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t grp = lo; grp < hi; ++grp) fn(grp * size, std::min(size, g.n - grp * size));
  });
}
}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dOptions& o) {
  if (onednn_conv2d_forward(x, w, bias, out, o)) return;
  const ConvGeom g = geom(x, w, out);
  float_only(x, "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw_data());
    const T* pw = static_cast<const T*>(w.raw_data());
    T* py = static_cast<T*>(out.raw_data());
    const T* pb = bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr;
    const std::int64_t k = g.k(), hw = g.hw();
    for_each_group(g, [&](std::int64_t first, std::int64_t count) {
      const std::int64_t ld = count * hw;
      T* cols = scratch<T>(0, static_cast<std::size_t>(k * ld));
      T* res = scratch<T>(1, static_cast<std::size_t>(g.oc * ld));
      for (std::int64_t i = 0; i < count; ++i) im2col(px + (first + i) * g.c * g.h * g.w, g, o, cols + i * hw, ld);
      gemm_serial<T>(false, false, g.oc, ld, k, T(1), pw, k, cols, ld, T(0), res, ld);  // [OC, g*hw]
      for (std::int64_t i = 0; i < count; ++i)  // into [image][OC][hw], adding the bias on the way
        for (std::int64_t c = 0; c < g.oc; ++c) {
          const T* src = res + c * ld + i * hw;
          T* dst = py + ((first + i) * g.oc + c) * hw;
          if (pb == nullptr) {
            std::copy_n(src, hw, dst);
          } else {
            const T b = pb[c];
            for (std::int64_t j = 0; j < hw; ++j) dst[j] = src[j] + b;
          }
        }
    });
  });
}

void conv2d_backward_input(const Tensor& gout, const Tensor& w, const Tensor& gx, const Conv2dOptions& o) {
  if (onednn_conv2d_backward_input(gout, w, gx, o)) return;
  const ConvGeom g = geom(gx, w, gout);
  float_only(gout, "conv2d_backward_input", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout.raw_data());
    const T* pw = static_cast<const T*>(w.raw_data());
    T* pgx = static_cast<T*>(gx.raw_data());  // zeroed by the caller
    const std::int64_t k = g.k(), hw = g.hw();
    for_each_group(g, [&](std::int64_t first, std::int64_t count) {
      const std::int64_t ld = count * hw;
      T* grads = scratch<T>(0, static_cast<std::size_t>(g.oc * ld));
      T* cols = scratch<T>(1, static_cast<std::size_t>(k * ld));
      group_layout(pg, g, first, count, grads);
      gemm_serial<T>(true, false, k, ld, g.oc, T(1), pw, k, grads, ld, T(0), cols, ld);  // d cols = W^T d out
      for (std::int64_t i = 0; i < count; ++i) col2im_add(cols + i * hw, g, o, pgx + (first + i) * g.c * g.h * g.w, ld);
    });
  });
}

void conv2d_backward_weight(const Tensor& gout, const Tensor& x, const Tensor& gw, const Conv2dOptions& o) {
  if (onednn_conv2d_backward_weight(gout, x, gw, o)) return;
  const ConvGeom g = geom(x, gw, gout);
  float_only(gout, "conv2d_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout.raw_data());
    const T* px = static_cast<const T*>(x.raw_data());
    T* pgw = static_cast<T*>(gw.raw_data());
    const std::int64_t k = g.k(), hw = g.hw(), wsize = g.oc * k;
    const std::int64_t groups = num_chunks(g.n, g.group());
    // One partial d W per group, summed in group order below: the same sums for any thread count.
    T* partials = scratch<T>(2, static_cast<std::size_t>(std::max<std::int64_t>(groups, 1) * wsize));
    for_each_group(g, [&](std::int64_t first, std::int64_t count) {
      const std::int64_t ld = count * hw;
      T* grads = scratch<T>(0, static_cast<std::size_t>(g.oc * ld));
      T* cols = scratch<T>(1, static_cast<std::size_t>(k * ld));
      for (std::int64_t i = 0; i < count; ++i) im2col(px + (first + i) * g.c * g.h * g.w, g, o, cols + i * hw, ld);
      group_layout(pg, g, first, count, grads);
      // d W [OC, K] = d out [OC, g*hw] @ cols^T [g*hw, K]
      gemm_serial<T>(false, true, g.oc, k, ld, T(1), grads, ld, cols, ld, T(0), partials + (first / g.group()) * wsize, k);
    });
    std::fill(pgw, pgw + wsize, T(0));
    parallel_for(wsize, 4096, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t grp = 0; grp < groups; ++grp) {
        const T* part = partials + grp * wsize;
        for (std::int64_t e = lo; e < hi; ++e) pgw[e] += part[e];
      }
    });
  });
}

}  // namespace minidp::kernels::cpu
