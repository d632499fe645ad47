// minidp/core/ops/factory.cpp — tensors made from values or from the random generator.
#include <cmath>

#include "minidp/core/ops/op_utils.h"

namespace minidp {

using kernels::UnaryOp;

Tensor full(const Shape& shape, double value, TensorOptions opts) {
  Tensor t = Tensor::empty(shape, opts.with_requires_grad(false));
  MINIDP_KERNEL(t.device(), fill, t, value);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions opts) { return full(shape, 0.0, opts); }
Tensor ones(const Shape& shape, TensorOptions opts) { return full(shape, 1.0, opts); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.options()); }
Tensor scalar_tensor(double value, TensorOptions opts) { return full({}, value, opts); }

Tensor arange(std::int64_t end, TensorOptions opts) { return arange(0.0, static_cast<double>(end), 1.0, opts); }

Tensor arange(double start, double end, double step, TensorOptions opts) {
  MINIDP_CHECK(step != 0.0 && (end - start) / step >= 0, "arange: cannot go from ", start, " to ", end,
               " in steps of ", step);
  const auto n = static_cast<std::int64_t>(std::ceil((end - start) / step));
  std::vector<double> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = start + static_cast<double>(i) * step;
  return from_vector(v, {n}, kFloat64).to(opts.dtype).to(opts.device);
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opts) {
  MINIDP_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape), "from_vector: ",
               values.size(), " values cannot fill shape ", shape_str(shape), " (", shape_numel(shape),
               " elements)");
  Tensor host = Tensor::empty(shape, TensorOptions(dtype_of<T>));
  std::copy(values.begin(), values.end(), host.data<T>());
  Tensor t = host.to(opts.dtype).to(opts.device);
  if (t.same_as(host) && opts.requires_grad) t = t.detach();
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector<std::int32_t>(const std::vector<std::int32_t>&, const Shape&, TensorOptions);
template Tensor from_vector<std::int64_t>(const std::vector<std::int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector<std::uint8_t>(const std::vector<std::uint8_t>&, const Shape&, TensorOptions);

// Random tensors: each element i gets Philox counter (offset + i/4); the
// generator advances by the number of 4-word blocks used, so consecutive calls
// never reuse numbers.
namespace {
Tensor random_float(const Shape& shape, TensorOptions opts, Generator* gen, bool normal_dist) {
  MINIDP_CHECK(is_floating(opts.dtype), normal_dist ? "randn" : "rand",
               ": random values need a float dtype, got ", dtype_name(opts.dtype));
  Generator& g = gen ? *gen : default_generator();
  Tensor t = Tensor::empty(shape, opts.with_requires_grad(false));
  const std::uint64_t blocks = (static_cast<std::uint64_t>(t.numel()) + 3) / 4;
  const std::uint64_t offset = g.advance(blocks);
  if (normal_dist) {
    MINIDP_KERNEL(t.device(), random_normal, t, g.seed(), offset);
  } else {
    MINIDP_KERNEL(t.device(), random_uniform, t, g.seed(), offset);
  }
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}
}  // namespace

Tensor rand(const Shape& shape, TensorOptions opts, Generator* gen) { return random_float(shape, opts, gen, false); }
Tensor randn(const Shape& shape, TensorOptions opts, Generator* gen) { return random_float(shape, opts, gen, true); }

Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts, Generator* gen) {
  MINIDP_CHECK(low <= high, "uniform: low ", low, " is greater than high ", high);
  Tensor t = random_float(shape, opts.with_requires_grad(false), gen, false);
  MINIDP_KERNEL(t.device(), unary, UnaryOp::Affine, t, t, high - low, low);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts, Generator* gen) {
  MINIDP_CHECK(std >= 0, "normal: std must be >= 0, got ", std);
  Tensor t = random_float(shape, opts.with_requires_grad(false), gen, true);
  MINIDP_KERNEL(t.device(), unary, UnaryOp::Affine, t, t, std, mean);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor bernoulli(const Shape& shape, double p, TensorOptions opts, Generator* gen) {
  MINIDP_CHECK(p >= 0 && p <= 1, "bernoulli: p must be in [0, 1], got ", p);
  const DType out = opts.dtype;
  Tensor u = random_float(shape, opts.with_dtype(is_floating(out) ? out : kFloat64).with_requires_grad(false),
                          gen, false);
  // 1 where u < p: compare 1 - u > 1 - p, so that p = 1 always gives 1.
  Tensor keep = Tensor::empty(shape, u.options());
  MINIDP_KERNEL(u.device(), unary, UnaryOp::Affine, u, keep, -1.0, 1.0);
  MINIDP_KERNEL(u.device(), unary, UnaryOp::GtScalar, keep, keep, 1.0 - p, 0.0);
  return keep.to(out);
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions opts, Generator* gen) {
  MINIDP_CHECK(low < high, "randint: empty range [", low, ", ", high, ")");
  Tensor u = random_float(shape, TensorOptions(kFloat64).with_device(opts.device), gen, false);
  std::vector<double> v = u.to_vector<double>();
  std::vector<std::int64_t> r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    r[i] = low + static_cast<std::int64_t>(std::floor(v[i] * static_cast<double>(high - low)));
  return from_vector(r, shape, kInt64).to(opts.dtype).to(opts.device);
}

}  // namespace minidp
