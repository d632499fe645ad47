// minidp/core/ops/shape.cpp — reshaping, views, concatenation and gathers.
//
// Views (reshape of a contiguous tensor, transpose, permute, narrow) share the
// input's storage; their backward re-shapes the gradient the opposite way.
#include <numeric>

#include "minidp/core/ops/op_utils.h"

namespace minidp {

using G = std::vector<Tensor>;

namespace {
Shape infer_shape(const Tensor& x, Shape shape) {
  std::int64_t known = 1, infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      MINIDP_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(shape));
      infer = static_cast<std::int64_t>(i);
    } else {
      MINIDP_CHECK(shape[i] >= 0, "reshape: negative size in ", shape_str(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    MINIDP_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot reshape ", x.describe(), " into ",
                 shape_str(shape));
    shape[infer] = x.numel() / known;
  }
  MINIDP_CHECK(shape_numel(shape) == x.numel(), "reshape: cannot reshape ", x.describe(), " (", x.numel(),
               " elements) into ", shape_str(shape), " (", shape_numel(shape), " elements)");
  return shape;
}
}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  detail::check_defined("reshape", x, "input");
  const Shape s = infer_shape(x, shape);
  Tensor base = detail::contig(x);
  Tensor y = make_view(base, s, contiguous_strides(s), base.offset());
  return record("reshape", y, {x}, [in_shape = x.shape()](const Tensor& g) { return G{g.reshape(in_shape)}; });
}

Tensor flatten(const Tensor& x, std::int64_t start, std::int64_t end) {
  detail::check_defined("flatten", x, "input");
  if (x.dim() == 0) return x.reshape({1});
  const std::int64_t s = detail::wrap_dim("flatten", start, x.dim()), e = detail::wrap_dim("flatten", end, x.dim());
  MINIDP_CHECK(s <= e, "flatten: start dim ", start, " comes after end dim ", end);
  Shape out(x.shape().begin(), x.shape().begin() + s);
  std::int64_t n = 1;
  for (std::int64_t i = s; i <= e; ++i) n *= x.shape()[i];
  out.push_back(n);
  out.insert(out.end(), x.shape().begin() + e + 1, x.shape().end());
  return x.reshape(out);
}

Tensor transpose(const Tensor& x, std::int64_t d0, std::int64_t d1) {
  detail::check_defined("transpose", x, "input");
  const std::int64_t a = detail::wrap_dim("transpose", d0, x.dim()), b = detail::wrap_dim("transpose", d1, x.dim());
  if (x.dim() < 2) return x;
  Shape s = x.shape(), st = x.strides();
  std::swap(s[a], s[b]);
  std::swap(st[a], st[b]);
  Tensor y = make_view(x, s, st, x.offset());
  return record("transpose", y, {x}, [a, b](const Tensor& g) { return G{transpose(g, a, b)}; });
}

Tensor permute(const Tensor& x, const Dims& dims) {
  detail::check_defined("permute", x, "input");
  MINIDP_CHECK(static_cast<std::int64_t>(dims.size()) == x.dim(), "permute: ", dims.size(),
               " dims given for ", x.describe());
  Dims w(dims.size()), inverse(dims.size());
  std::vector<bool> used(dims.size(), false);
  Shape s(dims.size()), st(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i) {
    w[i] = detail::wrap_dim("permute", dims[i], x.dim());
    MINIDP_CHECK(!used[w[i]], "permute: dim ", w[i], " appears twice");
    used[w[i]] = true;
    s[i] = x.shape()[w[i]];
    st[i] = x.strides()[w[i]];
    inverse[w[i]] = static_cast<std::int64_t>(i);
  }
  Tensor y = make_view(x, s, st, x.offset());
  return record("permute", y, {x}, [inverse](const Tensor& g) { return G{permute(g, inverse)}; });
}

Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
  detail::check_defined("narrow", x, "input");
  MINIDP_CHECK(x.dim() >= 1, "narrow: expected at least 1 dimension, got ", x.describe());
  const std::int64_t d = detail::wrap_dim("narrow", dim, x.dim());
  MINIDP_CHECK(start >= 0 && length >= 0 && start + length <= x.shape()[d], "narrow: [", start, ", ",
               start + length, ") is out of range for dim ", d, " of ", x.describe());
  Shape s = x.shape();
  s[d] = length;
  Tensor y = make_view(x, s, x.strides(), x.offset() + start * x.strides()[d]);
  return record("narrow", y, {x}, [full_shape = x.shape(), d, start, length](const Tensor& g) {
    Tensor gx = zeros(full_shape, g.options());
    gx.narrow(d, start, length).copy_(g);
    return G{gx};
  });
}

Tensor cat(const std::vector<Tensor>& xs, std::int64_t dim) {
  MINIDP_CHECK(!xs.empty(), "cat: expected at least one tensor");
  const Tensor& first = xs[0];
  detail::check_defined("cat", first, "tensor 0");
  const std::int64_t d = detail::wrap_dim("cat", dim, first.dim());
  Shape out = first.shape();
  out[d] = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    detail::check_same("cat", first, xs[i]);
    MINIDP_CHECK(xs[i].dim() == first.dim(), "cat: tensor ", i, " ", xs[i].describe(), " has a different rank from ",
                 first.describe());
    for (std::int64_t k = 0; k < first.dim(); ++k)
      MINIDP_CHECK(k == d || xs[i].shape()[k] == first.shape()[k], "cat: tensor ", i, " ", xs[i].describe(),
                   " does not match ", first.describe(), " outside dim ", d);
    out[d] += xs[i].shape()[d];
  }
  Tensor y = Tensor::empty(out, first.options());
  std::vector<std::int64_t> sizes;
  {
    NoGradGuard ng;
    std::int64_t off = 0;
    for (const auto& x : xs) {
      y.narrow(d, off, x.shape()[d]).copy_(x.detach());
      sizes.push_back(x.shape()[d]);
      off += x.shape()[d];
    }
  }
  return record("cat", y, xs, [sizes, d](const Tensor& g) { return split(g, sizes, d); });
}

std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t dim) {
  detail::check_defined("split", x, "input");
  const std::int64_t d = detail::wrap_dim("split", dim, x.dim());
  const std::int64_t total = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
  MINIDP_CHECK(total == x.shape()[d], "split: sizes add up to ", total, " but dim ", d, " of ", x.describe(),
               " has ", x.shape()[d]);
  std::vector<Tensor> out;
  std::int64_t off = 0;
  for (auto s : sizes) {
    out.push_back(narrow(x, d, off, s));
    off += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim) {
  detail::check_defined("split", x, "input");
  MINIDP_CHECK(split_size > 0, "split: split_size must be positive, got ", split_size);
  const std::int64_t n = x.size(detail::wrap_dim("split", dim, x.dim()));
  std::vector<std::int64_t> sizes;
  for (std::int64_t off = 0; off < n; off += split_size) sizes.push_back(std::min(split_size, n - off));
  return split(x, sizes, dim);
}

Tensor index_select(const Tensor& x, const Tensor& index) {
  detail::check_defined("index_select", x, "input");
  detail::check_defined("index_select", index, "index");
  MINIDP_CHECK(index.dtype() == kInt64 || index.dtype() == kInt32, "index_select: index must be int64 or int32, got ",
               index.describe());
  MINIDP_CHECK(index.device() == x.device(), "index_select: index ", index.describe(), " and input ", x.describe(),
               " are on different devices");
  MINIDP_CHECK(index.dim() == 1, "index_select: expected a 1-D index, got ", index.describe());
  MINIDP_CHECK(x.dim() >= 1, "index_select: expected at least 1 dimension, got ", x.describe());
  Shape out = x.shape();
  out[0] = index.size(0);
  Tensor idx = detail::contig(index.to(kInt64));
  Tensor y = Tensor::empty(out, x.options());
  MINIDP_KERNEL(x.device(), index_select, detail::contig(x), idx, y);
  return record("index_select", y, {x}, [idx, full_shape = x.shape()](const Tensor& g) {
    Tensor gx = zeros(full_shape, g.options());
    MINIDP_KERNEL(g.device(), index_add, detail::contig(g), idx, gx);
    return G{gx};
  });
}

Tensor embedding(const Tensor& weight, const Tensor& index) {
  detail::check_defined("embedding", weight, "weight");
  detail::check_dim("embedding", weight, 2, "weight [num_embeddings, embedding_dim]");
  detail::check_defined("embedding", index, "index");
  Tensor rows = index_select(weight, index.reshape({-1}));
  Shape out = index.shape();
  out.push_back(weight.size(1));
  return rows.reshape(out);
}

}  // namespace minidp
