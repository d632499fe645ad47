// minidp/core/ops/reduce.cpp — sums, means, extremes and softmax, each backward beside its forward.
#include "minidp/core/ops/op_utils.h"

namespace minidp {

using detail::contig;
using kernels::ReduceOp;
using G = std::vector<Tensor>;

namespace {

// Reduce `x` over `dims` into the keepdim shape.
Tensor reduce_keep(const char* name, ReduceOp op, const Tensor& x, const Dims& dims, Dims* wrapped) {
  detail::check_defined(name, x, "input");
  const Shape keep = detail::reduced_shape(name, x.shape(), dims, wrapped);
  MINIDP_CHECK(op == ReduceOp::Sum || x.numel() > 0, name, ": cannot take the extreme of an empty tensor ",
               x.describe());
  Tensor out = Tensor::empty(keep, x.options());
  MINIDP_KERNEL(x.device(), reduce, op, contig(x), out);
  return out;
}

Shape drop_dims(const Shape& keep, const Dims& wrapped) {
  Shape s;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(keep.size()); ++i)
    if (std::find(wrapped.begin(), wrapped.end(), i) == wrapped.end()) s.push_back(keep[i]);
  return s;
}

// Broadcast a keepdim-shaped gradient back over the input's shape.
Tensor spread(const Tensor& g, const Shape& keep, const Shape& full_shape) {
  return contig(detail::expand_to(g.reshape(keep), full_shape));
}

}  // namespace

Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) {
  Dims w;
  Tensor out = reduce_keep("sum", ReduceOp::Sum, x, dims, &w);
  const Shape keep = out.shape();
  if (!keepdim) out = out.detach().reshape(drop_dims(keep, w));
  return record("sum", out, {x}, [keep, full_shape = x.shape()](const Tensor& g) {
    return G{spread(g, keep, full_shape)};
  });
}

Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
  detail::check_floating("mean", x);
  Dims w;
  detail::reduced_shape("mean", x.shape(), dims, &w);
  std::int64_t count = 1;
  for (auto d : w) count *= x.dim() == 0 ? 1 : x.shape()[d];
  MINIDP_CHECK(count > 0, "mean: reducing over an empty dimension of ", x.describe());
  return div(sum(x, dims, keepdim), static_cast<double>(count));
}

namespace {
Tensor extreme_dim(const char* name, bool is_max, const Tensor& x, std::int64_t dim, bool keepdim) {
  detail::check_floating(name, x);
  Dims w;
  Tensor out = reduce_keep(name, is_max ? ReduceOp::Max : ReduceOp::Min, x, {dim}, &w);
  const Shape keep = out.shape();
  Tensor idx = Tensor::empty(keep, TensorOptions(kInt64).with_device(x.device()));
  MINIDP_KERNEL(x.device(), arg_reduce, is_max, contig(x), w[0], idx);
  if (!keepdim) out = out.detach().reshape(drop_dims(keep, w));
  return record(name, out, {x}, [idx, keep, full_shape = x.shape(), d = w[0]](const Tensor& g) {
    // one-hot of the winning position along `d`, times the gradient
    Shape pos_shape(full_shape.size(), 1);
    pos_shape[d] = full_shape[d];
    Tensor pos = arange(full_shape[d], TensorOptions(kInt64).with_device(g.device())).reshape(pos_shape);
    Tensor onehot = eq(detail::expand_to(pos, full_shape), detail::expand_to(idx, full_shape)).to(g.dtype());
    return G{mul(onehot, g.reshape(keep))};
  });
}

Tensor extreme_all(const char* name, bool is_max, const Tensor& x) {
  detail::check_floating(name, x);
  Tensor out = reduce_keep(name, is_max ? ReduceOp::Max : ReduceOp::Min, x, {}, nullptr).detach().reshape({});
  return record(name, out, {x}, [x = x.detach(), out = out.detach()](const Tensor& g) {
    Tensor ties = eq(x, out).to(x.dtype());  // split evenly among equal extremes
    return G{mul(ties, div(g, sum(ties)))};
  });
}
}  // namespace

Tensor max(const Tensor& x, std::int64_t dim, bool keepdim) { return extreme_dim("max", true, x, dim, keepdim); }
Tensor min(const Tensor& x, std::int64_t dim, bool keepdim) { return extreme_dim("min", false, x, dim, keepdim); }
Tensor max(const Tensor& x) { return extreme_all("max", true, x); }
Tensor min(const Tensor& x) { return extreme_all("min", false, x); }

Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  detail::check_defined("argmax", x, "input");
  MINIDP_CHECK(x.numel() > 0, "argmax: empty input ", x.describe());
  Dims w;
  const Shape keep = detail::reduced_shape("argmax", x.shape(), {dim}, &w);
  Tensor idx = Tensor::empty(keep, TensorOptions(kInt64).with_device(x.device()));
  MINIDP_KERNEL(x.device(), arg_reduce, true, contig(x), w[0], idx);
  return keepdim ? idx : idx.reshape(drop_dims(keep, w));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const std::int64_t lead = x.dim() - static_cast<std::int64_t>(shape.size());
  MINIDP_CHECK(lead >= 0, "sum_to: cannot reduce ", x.describe(), " to the larger shape ", shape_str(shape));
  Dims dims;
  for (std::int64_t i = 0; i < x.dim(); ++i) {
    if (i < lead) {
      dims.push_back(i);
    } else if (shape[i - lead] == 1 && x.shape()[i] != 1) {
      dims.push_back(i);
    } else {
      MINIDP_CHECK(shape[i - lead] == x.shape()[i], "sum_to: cannot reduce ", x.describe(), " to ",
                   shape_str(shape));
    }
  }
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

namespace {
Tensor softmax_raw(const char* name, const Tensor& x, std::int64_t dim, bool log) {
  detail::check_floating(name, x);
  MINIDP_CHECK(x.dim() >= 1, name, ": expected at least 1 dimension, got ", x.describe());
  const std::int64_t d = detail::wrap_dim(name, dim, x.dim());
  Tensor y = Tensor::empty(x.shape(), x.options());
  MINIDP_KERNEL(x.device(), softmax, contig(x), d, log, y);
  return y;
}
}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim) {
  Tensor y = softmax_raw("softmax", x, dim, false);
  return record("softmax", y, {x}, [y = y.detach(), dim](const Tensor& g) {
    return G{mul(y, sub(g, sum(mul(g, y), {dim}, true)))};  // y (g - <g, y>)
  });
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  Tensor y = softmax_raw("log_softmax", x, dim, true);
  return record("log_softmax", y, {x}, [y = y.detach(), dim](const Tensor& g) {
    return G{sub(g, mul(exp(y), sum(g, {dim}, true)))};  // g - softmax * sum(g)
  });
}

}  // namespace minidp
