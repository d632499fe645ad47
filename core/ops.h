// minidp/core/ops.h — every differentiable operation, with PyTorch's semantics.
//
// Each op checks its inputs (shapes, dtypes, devices) and raises minidp::Error
// naming what it got and what it expected; computes its forward through the
// backend of the inputs' device (kernels/cpu or kernels/cuda); and records its
// backward in the autograd graph. The implementations are grouped by family in
// core/ops/*.cpp, each op's backward right beside its forward.
//
//   Tensor logits = add(matmul(x, w, false, true), b);     // x @ w^T + b
//   Tensor loss = cross_entropy(logits, labels);            // mean over the batch
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "minidp/core/rng.h"
#include "minidp/core/tensor.h"

namespace minidp {

using Dims = std::vector<std::int64_t>;
enum class Reduction { None, Mean, Sum };

// ---------------------------------------------------------------- factories
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor arange(std::int64_t end, TensorOptions opts = kInt64);
Tensor arange(double start, double end, double step, TensorOptions opts = {});
// A tensor holding a copy of `values` (row-major) with the given shape.
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opts = dtype_of<T>);
Tensor scalar_tensor(double value, TensorOptions opts = {});
// Random tensors from a counter-based generator (core/rng.h): the same seed
// gives the same numbers on every device and for any split of the work.
Tensor rand(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);  // U[0,1)
Tensor randn(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);  // N(0,1)
Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts = {},
               Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts = {},
              Generator* gen = nullptr);
Tensor bernoulli(const Shape& shape, double p, TensorOptions opts = {}, Generator* gen = nullptr);
// Random integers in [low, high).
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions opts = kInt64,
               Generator* gen = nullptr);

// ---------------------------------------------------------------- elementwise
// Binary ops broadcast like NumPy/PyTorch; both inputs need the same dtype and device.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);  // a > 0 where b is differentiated
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor sub(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor div(const Tensor& a, double s);
Tensor pow(const Tensor& a, double exponent);
Tensor rsub(const Tensor& a, double s);  // s - a

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact (erf) form, PyTorch's default

// Comparisons give 0/1 in the inputs' dtype and are not differentiable.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, double s);

// ---------------------------------------------------------------- reductions
// `dims` empty = all dimensions. Negative dims count from the end.
Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// max/min over one dim return the values; the gradient goes to the first
// extreme element, like PyTorch's max(dim). Over all dims it is split evenly
// among ties, like PyTorch's max().
Tensor max(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor min(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);  // int64, first max
// Sum `x` down to `shape` (undoes broadcasting; used by backward passes).
Tensor sum_to(const Tensor& x, const Shape& shape);

Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

// ---------------------------------------------------------------- linear algebra
// a @ b for 2-D tensors, with either operand taken transposed.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
// x @ weight^T + bias, with weight [out, in] as in nn.Linear.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---------------------------------------------------------------- shape
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, std::int64_t start = 0, std::int64_t end = -1);
Tensor transpose(const Tensor& x, std::int64_t d0, std::int64_t d1);
Tensor permute(const Tensor& x, const Dims& dims);
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length);
Tensor cat(const std::vector<Tensor>& xs, std::int64_t dim);
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t dim);
// rows of `weight` picked by integer `index` (any shape): out[..., :] = weight[index[...], :]
Tensor embedding(const Tensor& weight, const Tensor& index);
// index_select along dim 0: out[i] = x[index[i]]
Tensor index_select(const Tensor& x, const Tensor& index);

// ---------------------------------------------------------------- neural-network ops
struct Conv2dOptions {
  std::int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  static Conv2dOptions make(std::int64_t stride, std::int64_t padding, std::int64_t dilation = 1) {
    return {stride, stride, padding, padding, dilation, dilation};
  }
};
// x [N, C, H, W], weight [OC, C, KH, KW], bias [OC] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              Conv2dOptions opts = {});

struct Pool2dOptions {
  std::int64_t kernel_h = 2, kernel_w = 2, stride_h = 2, stride_w = 2, pad_h = 0, pad_w = 0;
  // kernel k, stride (0 = same as kernel), padding p
  static Pool2dOptions make(std::int64_t k, std::int64_t stride = 0, std::int64_t padding = 0) {
    const std::int64_t s = stride == 0 ? k : stride;
    return {k, k, s, s, padding, padding};
  }
};
Tensor max_pool2d(const Tensor& x, Pool2dOptions opts = {});
Tensor avg_pool2d(const Tensor& x, Pool2dOptions opts = {});  // count_include_pad = true

// x [N, C] or [N, C, H, W]. In training the batch statistics normalise and the
// running buffers are updated in place (running_var with the unbiased
// variance, as PyTorch); in evaluation the running statistics are used.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// Zeroes each element with probability p (seeded), scales the rest by 1/(1-p).
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// ---------------------------------------------------------------- losses
struct CrossEntropyOptions {
  Reduction reduction = Reduction::Mean;
  std::int64_t ignore_index = -100;
  double label_smoothing = 0.0;
};
// logits [N, C], target int64 [N] with values in [0, C) or ignore_index.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions opts = {});
// logits and target of one shape; pos_weight broadcasts over the last dim.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        const Tensor& pos_weight = Tensor(),
                                        Reduction reduction = Reduction::Mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

// Operators for readable formulas.
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return sub(a, s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return div(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace minidp
