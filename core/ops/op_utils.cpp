// minidp/core/ops/op_utils.cpp — argument checks and shape helpers shared by the ops.
#include "minidp/core/ops/op_utils.h"

#include <algorithm>

namespace minidp::detail {

void check_defined(const char* op, const Tensor& t, const char* what) {
  MINIDP_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

void check_floating(const char* op, const Tensor& t) {
  check_defined(op, t, "input");
  MINIDP_CHECK(is_floating(t.dtype()), op, ": expected a float32 or float64 tensor, got ", t.describe());
}

void check_same(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a, "first input");
  check_defined(op, b, "second input");
  MINIDP_CHECK(a.device() == b.device(), op, ": inputs are on different devices: ", a.describe(),
               " and ", b.describe(), "; move one with .to(device) first");
  MINIDP_CHECK(a.dtype() == b.dtype(), op, ": inputs have different dtypes: ", a.describe(), " and ",
               b.describe(), "; convert one with .to(dtype) first");
}

void check_dim(const char* op, const Tensor& t, std::int64_t n, const char* what) {
  MINIDP_CHECK(t.dim() == n, op, ": expected ", what, " with ", n, " dimensions, got ", t.describe());
}

std::int64_t wrap_dim(const char* op, std::int64_t dim, std::int64_t rank) {
  const std::int64_t r = std::max<std::int64_t>(rank, 1);
  MINIDP_CHECK(dim >= -r && dim < r, op, ": dim ", dim, " out of range for a tensor of ", rank,
               " dimensions (expected in [", -r, ", ", r - 1, "])");
  return dim < 0 ? dim + r : dim;
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    MINIDP_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
                 " cannot be broadcast together (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor expand_to(const Tensor& t, const Shape& shape) {
  const std::size_t n = shape.size(), k = t.shape().size();
  Shape strides(n, 0);
  for (std::size_t i = 0; i < k; ++i) {
    const std::size_t j = n - k + i;
    strides[j] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  }
  return make_view(t, shape, strides, t.offset());
}

Shape reduced_shape(const char* op, const Shape& s, const Dims& dims, Dims* wrapped) {
  Shape out = s;
  Dims w;
  if (dims.empty()) {
    for (std::size_t i = 0; i < s.size(); ++i) w.push_back(static_cast<std::int64_t>(i));
  } else {
    for (auto d : dims) w.push_back(wrap_dim(op, d, static_cast<std::int64_t>(s.size())));
  }
  std::sort(w.begin(), w.end());
  MINIDP_CHECK(std::adjacent_find(w.begin(), w.end()) == w.end(), op, ": a dim appears twice in the list");
  for (auto d : w)
    if (d < static_cast<std::int64_t>(out.size())) out[d] = 1;
  if (wrapped) *wrapped = w;
  return out;
}

}  // namespace minidp::detail

namespace minidp::detail {
Tensor contig(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), x.options());
  MINIDP_KERNEL(x.device(), copy, x, out);
  return out;
}
}  // namespace minidp::detail
