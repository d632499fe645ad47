// minidp/core/ops/elementwise.cpp — pointwise ops, each backward beside its forward.
//
// Binary ops broadcast; their backward sums the gradient back down to each
// input's shape (sum_to), because an input broadcast along a dimension was
// used once per element of that dimension.
#include <cmath>
#include <limits>

#include "minidp/core/ops/op_utils.h"

namespace minidp {

using detail::check_floating;
using detail::check_same;
using detail::contig;
using kernels::BinaryOp;
using kernels::UnaryOp;
using G = std::vector<Tensor>;

namespace {

Tensor unary_raw(const char* name, UnaryOp op, const Tensor& x, double a = 0, double b = 0) {
  check_floating(name, x);
  Tensor xc = contig(x);
  Tensor y = Tensor::empty(x.shape(), x.options());
  MINIDP_KERNEL(x.device(), unary, op, xc, y, a, b);
  return y;
}

Tensor binary_raw(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_same(name, a, b);
  const Shape shape = detail::broadcast_shapes(name, a.shape(), b.shape());
  Tensor out = Tensor::empty(shape, a.options());
  MINIDP_KERNEL(a.device(), binary, op, detail::expand_to(a, shape), detail::expand_to(b, shape), out);
  return out;
}

// Gradient `g` of a broadcast result, reduced to input `t`'s shape.
Tensor unbroadcast(const Tensor& g, const Tensor& t) {
  return g.shape() == t.shape() ? g : sum_to(g, t.shape());
}

}  // namespace

// ------------------------------------------------------------------ binary
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw("add", BinaryOp::Add, a, b);
  return record("add", y, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
    return G{unbroadcast(g, a), unbroadcast(g, b)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw("sub", BinaryOp::Sub, a, b);
  return record("sub", y, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
    return G{unbroadcast(g, a), unbroadcast(neg(g), b)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw("mul", BinaryOp::Mul, a, b);
  const bool ga = needs_grad(a), gb = needs_grad(b);
  return record("mul", y, {a, b}, [a = a.detach(), b = b.detach(), ga, gb](const Tensor& g) {
    return G{ga ? unbroadcast(mul(g, b), a) : Tensor(), gb ? unbroadcast(mul(g, a), b) : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw("div", BinaryOp::Div, a, b);
  const bool gb = needs_grad(b);
  return record("div", y, {a, b}, [a = a.detach(), b = b.detach(), y = y.detach(), gb](const Tensor& g) {
    Tensor ga = div(g, b);  // d(a/b)/da = 1/b
    return G{unbroadcast(ga, a), gb ? unbroadcast(neg(mul(ga, y)), b) : Tensor()};  // d/db = -a/b^2
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw("pow", BinaryOp::Pow, a, b);
  const bool ga = needs_grad(a), gb = needs_grad(b);
  return record("pow", y, {a, b}, [a = a.detach(), b = b.detach(), y = y.detach(), ga, gb](const Tensor& g) {
    // d a^b / da = b a^(b-1);  d a^b / db = a^b log(a)
    return G{ga ? unbroadcast(mul(g, mul(b, pow(a, sub(b, 1.0)))), a) : Tensor(),
             gb ? unbroadcast(mul(g, mul(y, log(a))), b) : Tensor()};
  });
}

namespace {
// maximum/minimum send the gradient to the larger (smaller) input, half to each on ties.
Tensor extremum(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw(name, op, a, b);
  const bool is_max = op == BinaryOp::Max;
  return record(name, y, {a, b}, [a = a.detach(), b = b.detach(), is_max](const Tensor& g) {
    Tensor wins_a = add(gt(is_max ? sub(a, b) : sub(b, a), 0.0), mul(eq(a, b), 0.5));
    Tensor ga = mul(g, wins_a);
    return G{unbroadcast(ga, a), unbroadcast(sub(g, ga), b)};
  });
}
}  // namespace
Tensor maximum(const Tensor& a, const Tensor& b) { return extremum("maximum", BinaryOp::Max, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum("minimum", BinaryOp::Min, a, b); }

Tensor eq(const Tensor& a, const Tensor& b) {
  NoGradGuard ng;
  return binary_raw("eq", BinaryOp::Eq, a.detach(), b.detach());
}

Tensor gt(const Tensor& a, double s) { return unary_raw("gt", UnaryOp::GtScalar, a, s); }

// ------------------------------------------------------------------ with a scalar
namespace {
// y = alpha * x + beta, the shared kernel of the scalar ops.
Tensor affine(const char* name, const Tensor& x, double alpha, double beta) {
  Tensor y = unary_raw(name, UnaryOp::Affine, x, alpha, beta);
  return record(name, y, {x}, [alpha](const Tensor& g) { return G{alpha == 1.0 ? g : mul(g, alpha)}; });
}
}  // namespace
Tensor add(const Tensor& a, double s) { return affine("add", a, 1.0, s); }
Tensor sub(const Tensor& a, double s) { return affine("sub", a, 1.0, -s); }
Tensor mul(const Tensor& a, double s) { return affine("mul", a, s, 0.0); }
Tensor div(const Tensor& a, double s) {
  MINIDP_CHECK(s != 0.0, "div: division of ", a.describe(), " by the scalar 0");
  return affine("div", a, 1.0 / s, 0.0);
}
Tensor rsub(const Tensor& a, double s) { return affine("rsub", a, -1.0, s); }
Tensor neg(const Tensor& x) { return affine("neg", x, -1.0, 0.0); }

Tensor pow(const Tensor& a, double e) {
  Tensor y = unary_raw("pow", UnaryOp::Pow, a, e);
  return record("pow", y, {a}, [a = a.detach(), e](const Tensor& g) {
    return G{mul(g, unary_raw("pow", UnaryOp::PowGrad, a, e))};  // e * a^(e-1)
  });
}

// ------------------------------------------------------------------ unary
Tensor exp(const Tensor& x) {
  Tensor y = unary_raw("exp", UnaryOp::Exp, x);
  return record("exp", y, {x}, [y = y.detach()](const Tensor& g) { return G{mul(g, y)}; });
}

Tensor log(const Tensor& x) {
  Tensor y = unary_raw("log", UnaryOp::Log, x);
  return record("log", y, {x}, [x = x.detach()](const Tensor& g) { return G{div(g, x)}; });
}

Tensor sqrt(const Tensor& x) {
  Tensor y = unary_raw("sqrt", UnaryOp::Sqrt, x);
  return record("sqrt", y, {x}, [y = y.detach()](const Tensor& g) { return G{div(g, mul(y, 2.0))}; });
}

Tensor abs(const Tensor& x) {
  Tensor y = unary_raw("abs", UnaryOp::Abs, x);
  return record("abs", y, {x}, [x = x.detach()](const Tensor& g) {
    return G{mul(g, unary_raw("abs", UnaryOp::AbsGrad, x))};
  });
}

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  const double lo = min.value_or(-std::numeric_limits<double>::infinity());
  const double hi = max.value_or(std::numeric_limits<double>::infinity());
  MINIDP_CHECK(lo <= hi, "clamp: min ", lo, " is greater than max ", hi);
  Tensor y = unary_raw("clamp", UnaryOp::Clamp, x, lo, hi);
  return record("clamp", y, {x}, [x = x.detach(), lo, hi](const Tensor& g) {
    return G{mul(g, unary_raw("clamp", UnaryOp::ClampGrad, x, lo, hi))};  // 1 inside [lo, hi]
  });
}

Tensor relu(const Tensor& x) {
  Tensor y = unary_raw("relu", UnaryOp::Relu, x);
  return record("relu", y, {x}, [x = x.detach()](const Tensor& g) {
    return G{binary_raw("relu", BinaryOp::ReluBackward, g, x)};  // g where x > 0, else 0: one pass
  });
}

Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor y = unary_raw("leaky_relu", UnaryOp::LeakyRelu, x, slope);
  return record("leaky_relu", y, {x}, [x = x.detach(), slope](const Tensor& g) {
    return G{mul(g, unary_raw("leaky_relu", UnaryOp::LeakyReluGrad, x, slope))};
  });
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = unary_raw("sigmoid", UnaryOp::Sigmoid, x);
  return record("sigmoid", y, {x}, [y = y.detach()](const Tensor& g) {
    return G{mul(g, mul(y, rsub(y, 1.0)))};  // s (1 - s)
  });
}

Tensor tanh(const Tensor& x) {
  Tensor y = unary_raw("tanh", UnaryOp::Tanh, x);
  return record("tanh", y, {x}, [y = y.detach()](const Tensor& g) {
    return G{mul(g, rsub(mul(y, y), 1.0))};  // 1 - tanh^2
  });
}

Tensor gelu(const Tensor& x) {
  Tensor y = unary_raw("gelu", UnaryOp::Gelu, x);
  return record("gelu", y, {x}, [x = x.detach()](const Tensor& g) {
    return G{mul(g, unary_raw("gelu", UnaryOp::GeluGrad, x))};  // Phi(x) + x phi(x)
  });
}

}  // namespace minidp
