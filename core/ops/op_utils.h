// minidp/core/ops/op_utils.h — argument checks and shape helpers shared by the ops.
// Private to core/ops: users never include it.
#pragma once

#include <algorithm>
#include <string>

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"
#include "minidp/kernels/kernels.h"

namespace minidp::detail {

// Raise unless `t` is defined.
void check_defined(const char* op, const Tensor& t, const char* what);
// Raise unless `t` holds float32 or float64.
void check_floating(const char* op, const Tensor& t);
// Raise unless a and b share dtype and device (no op moves data silently).
void check_same(const char* op, const Tensor& a, const Tensor& b);
// Raise unless t.dim() == n.
void check_dim(const char* op, const Tensor& t, std::int64_t n, const char* what);
// Map a possibly negative dim into [0, rank).
std::int64_t wrap_dim(const char* op, std::int64_t dim, std::int64_t rank);
// NumPy broadcasting of two shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
// A view of `t` expanded to `shape` (stride 0 on broadcast dims).
Tensor expand_to(const Tensor& t, const Shape& shape);
// Shape with `dims` kept as size 1 (keepdim form) and the sorted list of reduced dims.
Shape reduced_shape(const char* op, const Shape& s, const Dims& dims, Dims* wrapped);

}  // namespace minidp::detail

namespace minidp::detail {
// `x` itself when contiguous, else a contiguous copy made outside the autograd
// graph (the op that calls this records its own backward).
Tensor contig(const Tensor& x);
}  // namespace minidp::detail
