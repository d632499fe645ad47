// Forward values against independent references: naive loops written here,
// hand-computed small cases, and PyTorch's documented formulas.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "gradcheck.h"
#include "minidp/minidp.h"

using namespace minidp;
using namespace minidp::test;

namespace {

// Naive direct convolution, PyTorch semantics (cross-correlation, zero padding).
std::vector<double> naive_conv2d(const std::vector<double>& x, const Shape& xs, const std::vector<double>& w,
                                 const Shape& ws, const std::vector<double>* bias, const Conv2dOptions& o,
                                 Shape* out_shape) {
  const std::int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], OC = ws[0], KH = ws[2], KW = ws[3];
  const std::int64_t HO = (H + 2 * o.pad_h - o.dilation_h * (KH - 1) - 1) / o.stride_h + 1;
  const std::int64_t WO = (W + 2 * o.pad_w - o.dilation_w * (KW - 1) - 1) / o.stride_w + 1;
  *out_shape = {N, OC, HO, WO};
  std::vector<double> y(N * OC * HO * WO);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t oc = 0; oc < OC; ++oc)
      for (std::int64_t oy = 0; oy < HO; ++oy)
        for (std::int64_t ox = 0; ox < WO; ++ox) {
          double s = bias ? (*bias)[oc] : 0.0;
          for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t ky = 0; ky < KH; ++ky)
              for (std::int64_t kx = 0; kx < KW; ++kx) {
                const std::int64_t iy = oy * o.stride_h - o.pad_h + ky * o.dilation_h;
                const std::int64_t ix = ox * o.stride_w - o.pad_w + kx * o.dilation_w;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += x[((n * C + c) * H + iy) * W + ix] * w[((oc * C + c) * KH + ky) * KW + kx];
              }
          y[((n * OC + oc) * HO + oy) * WO + ox] = s;
        }
  return y;
}

// Naive pooling: max over the window's real elements (padding never wins);
// average over the whole window including padding (count_include_pad = true).
std::vector<double> naive_pool2d(const std::vector<double>& x, const Shape& xs, const Pool2dOptions& o, bool is_max,
                                 Shape* out_shape) {
  const std::int64_t P = xs[0] * xs[1], H = xs[2], W = xs[3];
  const std::int64_t HO = (H + 2 * o.pad_h - o.kernel_h) / o.stride_h + 1;
  const std::int64_t WO = (W + 2 * o.pad_w - o.kernel_w) / o.stride_w + 1;
  *out_shape = {xs[0], xs[1], HO, WO};
  std::vector<double> y(P * HO * WO);
  for (std::int64_t p = 0; p < P; ++p)
    for (std::int64_t oy = 0; oy < HO; ++oy)
      for (std::int64_t ox = 0; ox < WO; ++ox) {
        double best = -std::numeric_limits<double>::infinity(), s = 0;
        for (std::int64_t ky = 0; ky < o.kernel_h; ++ky)
          for (std::int64_t kx = 0; kx < o.kernel_w; ++kx) {
            const std::int64_t iy = oy * o.stride_h - o.pad_h + ky, ix = ox * o.stride_w - o.pad_w + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const double v = x[(p * H + iy) * W + ix];
            best = std::max(best, v);
            s += v;
          }
        y[(p * HO + oy) * WO + ox] = is_max ? best : s / static_cast<double>(o.kernel_h * o.kernel_w);
      }
  return y;
}

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

// ---------------------------------------------------------------- conv and pooling vs naive loops
TEST_CASE("forward: conv2d matches a naive direct convolution") {
  struct Case {
    Shape x, w;
    Conv2dOptions o;
    bool bias;
  };
  const std::vector<Case> cases = {
      {{2, 3, 5, 6}, {4, 3, 3, 3}, Conv2dOptions::make(1, 0), true},
      {{1, 2, 7, 5}, {3, 2, 3, 2}, Conv2dOptions::make(2, 1), false},
      {{2, 1, 9, 8}, {2, 1, 3, 3}, Conv2dOptions::make(1, 2, 2), true},
      {{1, 2, 6, 7}, {2, 2, 2, 3}, Conv2dOptions{1, 2, 0, 1, 2, 1}, true},
      {{1, 1, 1, 1}, {1, 1, 1, 1}, Conv2dOptions::make(1, 0), true},
      {{1, 1, 2, 2}, {1, 1, 3, 3}, Conv2dOptions::make(1, 1), false},  // kernel larger than the unpadded input
  };
  std::uint64_t seed = 1;
  for (const auto& c : cases) {
    const Tensor x = uniform64(c.x, seed), w = uniform64(c.w, seed + 1), b = uniform64({c.w[0]}, seed + 2);
    seed += 3;
    const std::vector<double> bv = b.to_vector<double>();
    Shape ref_shape;
    const auto ref = naive_conv2d(x.to_vector<double>(), c.x, w.to_vector<double>(), c.w, c.bias ? &bv : nullptr, c.o,
                                  &ref_shape);
    const Tensor y = conv2d(x, w, c.bias ? b : Tensor(), c.o);
    INFO("x " << shape_str(c.x) << " w " << shape_str(c.w));
    CHECK(y.shape() == ref_shape);
    CHECK(allclose(y, ref, 1e-12, 1e-12));
    // float32 computes the same up to float rounding
    const Tensor y32 = conv2d(x.to(kFloat32), w.to(kFloat32), c.bias ? b.to(kFloat32) : Tensor(), c.o);
    CHECK(y32.dtype() == kFloat32);
    CHECK(allclose(y32, ref, 1e-4, 1e-5));
  }
}

TEST_CASE("forward: conv2d hand-computed 3x3 image, 2x2 kernel") {
  const Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  const Tensor w = from_vector<float>({1, 0, 0, -1}, {1, 1, 2, 2});  // x[i,j] - x[i+1,j+1]
  const Tensor b = from_vector<float>({10}, {1});
  CHECK(conv2d(x, w, b).to_vector<float>() == std::vector<float>{6, 6, 6, 6});
  // padding 1, stride 2: corners of the padded image
  const Tensor y = conv2d(x, w, Tensor(), Conv2dOptions::make(2, 1));
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y.to_vector<float>() == std::vector<float>{-1, -3, -7, -4});
}

TEST_CASE("forward: max_pool2d and avg_pool2d match naive loops") {
  const std::vector<Pool2dOptions> opts = {
      Pool2dOptions::make(2),       Pool2dOptions::make(3, 2, 1), Pool2dOptions::make(3, 1, 1),
      Pool2dOptions{2, 3, 1, 2, 0, 1}, Pool2dOptions::make(1),
  };
  std::uint64_t seed = 50;
  for (const auto& o : opts)
    for (const Shape& s : {Shape{2, 3, 5, 6}, Shape{1, 1, 4, 4}, Shape{1, 2, 3, 7}}) {
      const Tensor x = uniform64(s, seed++, -3.0, -1.0);  // all negative: a padded zero must never win a max
      Shape ms, as;
      const auto xv = x.to_vector<double>();
      const auto mref = naive_pool2d(xv, s, o, true, &ms);
      const auto aref = naive_pool2d(xv, s, o, false, &as);
      INFO("shape " << shape_str(s) << " kernel " << o.kernel_h << "x" << o.kernel_w << " stride " << o.stride_h << "x"
                    << o.stride_w << " pad " << o.pad_h << "x" << o.pad_w);
      const Tensor my = max_pool2d(x, o), ay = avg_pool2d(x, o);
      CHECK(my.shape() == ms);
      CHECK(ay.shape() == as);
      CHECK(allclose(my, mref, 0, 0));
      CHECK(allclose(ay, aref, 1e-13, 1e-13));
    }
}

TEST_CASE("forward: 2x2 max pooling picks PyTorch's element: a window's first maximum, or its last NaN") {
  // Rows of 9 outputs: the float loop's four windows at a time, twice, and one
  // window alone; values 0, 1, 2 (ties everywhere) and a few NaNs.
  const Shape s{2, 3, 6, 19};
  const std::int64_t h = 6, w = 19, ho = 3, wo = 9, planes = 6;
  std::vector<float> xv(static_cast<std::size_t>(planes * h * w));
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>((i * 7919 + i / 5) % 3);
  for (std::size_t i : {3, 4, 41, 60, 62, 250, 251, 269, 270, 500}) xv[i] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> want(static_cast<std::size_t>(planes * ho * wo)), gx_want(xv.size(), 0.0f), g(want.size());
  for (std::size_t j = 0; j < g.size(); ++j) g[j] = static_cast<float>(j + 1);
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t oy = 0; oy < ho; ++oy)
      for (std::int64_t ox = 0; ox < wo; ++ox) {
        const std::int64_t at[4] = {2 * oy * w + 2 * ox, 2 * oy * w + 2 * ox + 1, (2 * oy + 1) * w + 2 * ox,
                                    (2 * oy + 1) * w + 2 * ox + 1};
        std::int64_t best = at[0];
        for (int k = 1; k < 4; ++k) {
          const float v = xv[p * h * w + at[k]];
          if (v > xv[p * h * w + best] || std::isnan(v)) best = at[k];  // PyTorch's CPU kernel's test
        }
        const std::size_t j = static_cast<std::size_t>((p * ho + oy) * wo + ox);
        want[j] = xv[p * h * w + best];
        gx_want[p * h * w + best] += g[j];
      }
  Tensor x = from_vector<float>(xv, s).requires_grad_();
  const Tensor y = max_pool2d(x);
  const std::vector<float> got = y.to_vector<float>();
  std::vector<std::uint32_t> got_bits(got.size()), want_bits(want.size());
  std::memcpy(got_bits.data(), got.data(), got.size() * 4);
  std::memcpy(want_bits.data(), want.data(), want.size() * 4);
  CHECK(got_bits == want_bits);
  y.backward(from_vector<float>(g, y.shape()));
  CHECK(x.grad().to_vector<float>() == gx_want);  // each gradient went to the element the forward picked
}

TEST_CASE("forward: pooling hand-computed 4x4") {
  const Tensor x = arange(0.0, 16.0, 1.0).reshape({1, 1, 4, 4});
  CHECK(max_pool2d(x).to_vector<float>() == std::vector<float>{5, 7, 13, 15});
  CHECK(avg_pool2d(x).to_vector<float>() == std::vector<float>{2.5, 4.5, 10.5, 12.5});
  // padding counts in the average: corner window of 3x3 / pad 1 holds 0,1,4,5 -> 10 / 9
  const Tensor a = avg_pool2d(x, Pool2dOptions::make(3, 2, 1));
  CHECK(a.shape() == Shape{1, 1, 2, 2});
  CHECK(a.to_vector<double>()[0] == doctest::Approx(10.0 / 9.0));
}

// ---------------------------------------------------------------- linear algebra
TEST_CASE("forward: matmul hand-computed and all transpose combinations against naive loops") {
  const Tensor a = from_vector<float>({1, 2, 3, 4}, {2, 2});
  const Tensor b = from_vector<float>({5, 6, 7, 8}, {2, 2});
  CHECK(matmul(a, b).to_vector<float>() == std::vector<float>{19, 22, 43, 50});
  CHECK(matmul(a, b, true, false).to_vector<float>() == std::vector<float>{26, 30, 38, 44});
  CHECK(matmul(a, b, false, true).to_vector<float>() == std::vector<float>{17, 23, 39, 53});
  CHECK(matmul(a, b, true, true).to_vector<float>() == std::vector<float>{23, 31, 34, 46});

  const std::int64_t m = 3, k = 5, n = 2;
  const Tensor A = uniform64({m, k}, 7), B = uniform64({k, n}, 8);
  const auto av = A.to_vector<double>(), bv = B.to_vector<double>();
  std::vector<double> ref(m * n, 0.0);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t p = 0; p < k; ++p) ref[i * n + j] += av[i * k + p] * bv[p * n + j];
  CHECK(allclose(matmul(A, B), ref));
  CHECK(allclose(matmul(A.t().contiguous(), B, true, false), ref));
  CHECK(allclose(matmul(A, B.t().contiguous(), false, true), ref));
  CHECK(allclose(matmul(A.t().contiguous(), B.t().contiguous(), true, true), ref));
  CHECK(allclose(matmul(A.t().t(), B), ref));  // a view whose strides round-trip
  CHECK(allclose(matmul(A.t().contiguous().t(), B), ref));  // a genuinely strided operand
}

TEST_CASE("forward: linear is x @ W^T + b, for 1-D, 2-D and 3-D input") {
  const Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor w = from_vector<float>({1, 0, -1, 2, 1, 0}, {2, 3});
  const Tensor b = from_vector<float>({0.5, -1}, {2});
  CHECK(linear(x, w, b).to_vector<float>() == std::vector<float>{-1.5, 3, -1.5, 12});
  CHECK(linear(x, w).to_vector<float>() == std::vector<float>{-2, 4, -2, 13});
  const Tensor y3 = linear(x.reshape({2, 1, 3}), w, b);
  CHECK(y3.shape() == Shape{2, 1, 2});
  CHECK(y3.to_vector<float>() == std::vector<float>{-1.5, 3, -1.5, 12});
  const Tensor y1 = linear(from_vector<float>({1, 2, 3}, {3}), w, b);
  CHECK(y1.shape() == Shape{2});
  CHECK(y1.to_vector<float>() == std::vector<float>{-1.5, 3});
}

// ---------------------------------------------------------------- elementwise
TEST_CASE("forward: unary ops hand-computed") {
  const Tensor x = from_vector<double>({-2.0, -0.5, 0.0, 0.5, 3.0}, {5});
  const std::vector<double> xv = x.to_vector<double>();
  auto ref = [&](auto f) {
    std::vector<double> r;
    for (double v : xv) r.push_back(f(v));
    return r;
  };
  CHECK(allclose(neg(x), ref([](double v) { return -v; })));
  CHECK(allclose(exp(x), ref([](double v) { return std::exp(v); })));
  CHECK(allclose(abs(x), {2, 0.5, 0, 0.5, 3}));
  CHECK(allclose(relu(x), {0, 0, 0, 0.5, 3}));
  CHECK(allclose(leaky_relu(x, 0.1), {-0.2, -0.05, 0, 0.5, 3}));
  CHECK(allclose(leaky_relu(x), {-0.02, -0.005, 0, 0.5, 3}));
  CHECK(allclose(clamp(x, -1.0, 1.0), {-1, -0.5, 0, 0.5, 1}));
  CHECK(allclose(clamp(x, std::nullopt, 0.2), {-2, -0.5, 0, 0.2, 0.2}));
  CHECK(allclose(clamp(x, 0.2, std::nullopt), {0.2, 0.2, 0.2, 0.5, 3}));
  CHECK(allclose(sigmoid(x), ref(sigmoid_ref)));
  CHECK(allclose(tanh(x), ref([](double v) { return std::tanh(v); })));
  // GELU(x) = x Phi(x); Phi(1) = 0.8413447460685429
  CHECK(allclose(gelu(from_vector<double>({1.0, -1.0, 0.0}, {3})), {0.8413447460685429, -0.15865525393145707, 0.0},
                 1e-14, 1e-15));
  const Tensor p = from_vector<double>({0.25, 1.0, 4.0}, {3});
  CHECK(allclose(sqrt(p), {0.5, 1.0, 2.0}));
  CHECK(allclose(log(p), {std::log(0.25), 0.0, std::log(4.0)}));
  CHECK(allclose(pow(p, 1.5), {0.125, 1.0, 8.0}));
  CHECK(allclose(pow(p, -1.0), {4.0, 1.0, 0.25}));
  // sigmoid stays finite and exact at the extremes
  const auto s = sigmoid(from_vector<float>({-100.f, 100.f}, {2})).to_vector<float>();
  CHECK(s[0] >= 0.0f);
  CHECK(s[0] < 1e-40f);
  CHECK(s[1] == 1.0f);
}

TEST_CASE("forward: binary ops broadcast like NumPy") {
  const Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor row = from_vector<float>({10, 20, 30}, {3});
  const Tensor col = from_vector<float>({100, 200}, {2, 1});
  Tensor s = add(a, row);
  CHECK(s.shape() == Shape{2, 3});
  CHECK(s.to_vector<float>() == std::vector<float>{11, 22, 33, 14, 25, 36});
  CHECK(add(a, col).to_vector<float>() == std::vector<float>{101, 102, 103, 204, 205, 206});
  const Tensor outer = mul(row.reshape({1, 3}), col);  // [2,1] x [1,3] -> [2,3]
  CHECK(outer.shape() == Shape{2, 3});
  CHECK(outer.to_vector<float>() == std::vector<float>{1000, 2000, 3000, 2000, 4000, 6000});
  CHECK(sub(a, 1.0).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(rsub(a, 1.0).to_vector<float>() == std::vector<float>{0, -1, -2, -3, -4, -5});
  CHECK(div(a, row).to_vector<float>() == std::vector<float>{0.1f, 0.1f, 0.1f, 0.4f, 0.25f, 0.2f});
  CHECK(pow(a, from_vector<float>({2}, {1})).to_vector<float>() == std::vector<float>{1, 4, 9, 16, 25, 36});
  CHECK(maximum(a, from_vector<float>({3.5}, {})).to_vector<float>() == std::vector<float>{3.5, 3.5, 3.5, 4, 5, 6});
  CHECK(minimum(a, row.reshape({1, 3}) / 10.0).to_vector<float>() == std::vector<float>{1, 2, 3, 1, 2, 3});
  CHECK(eq(a, from_vector<float>({2, 2, 3}, {3})).to_vector<float>() == std::vector<float>{0, 1, 1, 0, 0, 0});
  CHECK(gt(a, 3.5).to_vector<float>() == std::vector<float>{0, 0, 0, 1, 1, 1});
  // 0-d with 0-d stays 0-d
  const Tensor z = add(scalar_tensor(2.0), scalar_tensor(3.0));
  CHECK(z.dim() == 0);
  CHECK(z.item() == 5.0);
}

TEST_CASE("forward: maximum/minimum send half the gradient to each side on ties") {
  const Tensor a = from_vector<double>({1.0, 2.0, 3.0}, {3}).requires_grad_();
  const Tensor b = from_vector<double>({2.0, 2.0, 1.0}, {3}).requires_grad_();
  sum(maximum(a, b)).backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{0, 0.5, 1});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 0.5, 0});
}

// ---------------------------------------------------------------- reductions
TEST_CASE("forward: sum and mean over dims, keepdim shapes") {
  const Tensor x = arange(0.0, 24.0, 1.0, kFloat64).reshape({2, 3, 4});
  CHECK(sum(x).item() == 276.0);
  CHECK(sum(x).dim() == 0);
  CHECK(mean(x).item() == 11.5);
  const Tensor s0 = sum(x, {0});
  CHECK(s0.shape() == Shape{3, 4});
  CHECK(s0.to_vector<double>() == std::vector<double>{12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
  const Tensor s1k = sum(x, {1}, true);
  CHECK(s1k.shape() == Shape{2, 1, 4});
  CHECK(s1k.to_vector<double>() == std::vector<double>{12, 15, 18, 21, 48, 51, 54, 57});
  const Tensor m02 = mean(x, {0, -1});
  CHECK(m02.shape() == Shape{3});
  CHECK(m02.to_vector<double>() == std::vector<double>{7.5, 11.5, 15.5});
  CHECK(mean(x, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(sum(x, {}, true).shape() == Shape{1, 1, 1});
  // sum of integers stays integer
  const Tensor ints = from_vector<std::int64_t>({1, 2, 3}, {3});
  CHECK(sum(ints).dtype() == kInt64);
  CHECK(sum(ints).item<std::int64_t>() == 6);
  // sum over a non-contiguous view
  CHECK(sum(x.transpose(0, 2), {0}).to_vector<double>() == sum(x, {2}).t().contiguous().to_vector<double>());
}

TEST_CASE("forward: max/min/argmax values, gradient to the first extreme over a dim, split over all") {
  const Tensor x = from_vector<double>({3, 1, 3, 0, 5, 5, 2, 1}, {2, 4});
  CHECK(max(x, 1).to_vector<double>() == std::vector<double>{3, 5});
  CHECK(min(x, 1).to_vector<double>() == std::vector<double>{0, 1});
  CHECK(max(x, 0, true).shape() == Shape{1, 4});
  CHECK(max(x, 0, true).to_vector<double>() == std::vector<double>{5, 5, 3, 1});
  CHECK(argmax(x, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0});  // first of the ties
  CHECK(argmax(x, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 1, 0, 1});
  CHECK(max(x).item() == 5.0);
  CHECK(min(x).item() == 0.0);

  Tensor xg = x.clone().requires_grad_();
  sum(max(xg, 1)).backward();  // ties: PyTorch's max(dim) sends the gradient to one index
  CHECK(xg.grad().to_vector<double>() == std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0});
  Tensor xa = x.clone().requires_grad_();
  max(xa).backward();  // ties over all: split evenly
  CHECK(xa.grad().to_vector<double>() == std::vector<double>{0, 0, 0, 0, 0.5, 0.5, 0, 0});
  Tensor xm = x.clone().requires_grad_();
  min(xm, 0).backward(from_vector<double>({1, 2, 3, 4}, {4}));
  CHECK(xm.grad().to_vector<double>() == std::vector<double>{1, 2, 0, 4, 0, 0, 3, 0});
}

TEST_CASE("forward: max and min of infinities are infinities, in float32 and float64") {
  const double inf = std::numeric_limits<double>::infinity();
  for (DType t : {kFloat32, kFloat64}) {
    const Tensor neg_inf = full({2, 3}, -inf, TensorOptions(t));
    const Tensor pos_inf = full({2, 3}, inf, TensorOptions(t));
    CHECK(max(neg_inf).item() == -inf);  // an identity of -DBL_MAX would give -1.8e308 in float64
    CHECK(min(pos_inf).item() == inf);
    CHECK(max(neg_inf, 1).to_vector<double>() == std::vector<double>{-inf, -inf});
    CHECK(min(pos_inf, 0).to_vector<double>() == std::vector<double>{inf, inf, inf});
  }
}

TEST_CASE("forward: integer pow is exact, wraps like PyTorch's, and follows its negative-exponent rule") {
  // 3^39 = 4052555153018976267 needs 62 bits; a trip through double pow rounds it.
  const Tensor a = from_vector<std::int64_t>({3, 2, 10, -3, 7, 0}, {6});
  const Tensor b = from_vector<std::int64_t>({39, 62, 18, 3, 0, 0}, {6});
  CHECK(pow(a, b).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{4052555153018976267LL, 4611686018427387904LL, 1000000000000000000LL, -27, 1, 1});
  // Negative exponents: the integer quotient 1 / a^|b| (torch.pow on int64 tensors).
  const Tensor c = from_vector<std::int64_t>({1, -1, -1, 2, -5}, {5});
  const Tensor e = from_vector<std::int64_t>({-3, -3, -2, -1, -2}, {5});
  CHECK(pow(c, e).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -1, 1, 0, 0});
  // int32 overflow wraps: 2^31 -> INT32_MIN, as torch.pow(torch.tensor([2], dtype=torch.int32), 31).
  const Tensor two = from_vector<std::int64_t>({2, 3}, {2}).to(kInt32);
  const Tensor exps = from_vector<std::int64_t>({31, 20}, {2}).to(kInt32);
  CHECK(pow(two, exps).to_vector<std::int64_t>() == std::vector<std::int64_t>{-2147483648LL, 3486784401LL - 4294967296LL});
}

TEST_CASE("forward: softmax and log_softmax values, normalisation and stability") {
  const Tensor x = from_vector<double>({1, 2, 3}, {3});
  CHECK(allclose(softmax(x, 0), {0.09003057317038046, 0.24472847105479767, 0.6652409557748219}, 1e-14, 0));
  CHECK(allclose(log_softmax(x, 0), {-2.4076059644443806, -1.4076059644443806, -0.4076059644443806}, 1e-14, 0));
  // huge logits: no overflow, shift-invariant
  const Tensor big = from_vector<float>({1000, 1001, 1002}, {3});
  CHECK(allclose(softmax(big, 0), softmax(x, 0).to_vector<double>(), 1e-6, 1e-7));
  CHECK(allclose(log_softmax(big, -1), log_softmax(x, -1).to_vector<double>(), 1e-6, 1e-6));
  // along a middle dim every slice sums to 1
  const Tensor y = softmax(uniform64({2, 3, 4}, 5, -3, 3), 1);
  CHECK(allclose(sum(y, {1}), std::vector<double>(8, 1.0), 1e-14, 1e-14));
}

// ---------------------------------------------------------------- losses (PyTorch formulas)
namespace {
// -log softmax(logits[i])[target[i]] and the mean of -log softmax over classes, in plain loops.
void ce_reference(const std::vector<double>& x, std::int64_t n, std::int64_t c, std::vector<double>* nll,
                  std::vector<double>* smooth) {
  for (std::int64_t i = 0; i < n; ++i) {
    double m = -1e300, s = 0, mean_logp = 0;
    for (std::int64_t j = 0; j < c; ++j) m = std::max(m, x[i * c + j]);
    for (std::int64_t j = 0; j < c; ++j) s += std::exp(x[i * c + j] - m);
    const double lse = m + std::log(s);
    for (std::int64_t j = 0; j < c; ++j) mean_logp += (x[i * c + j] - lse) / static_cast<double>(c);
    nll->push_back(lse);  // minus x[target] added by the caller
    smooth->push_back(-mean_logp);
  }
}
}  // namespace

TEST_CASE("forward: cross_entropy reductions, ignore_index and label smoothing follow PyTorch") {
  const std::int64_t n = 5, c = 4;
  const Tensor logits = uniform64({n, c}, 11, -2, 2);
  const auto xv = logits.to_vector<double>();
  const std::vector<std::int64_t> tv = {0, 3, 1, 3, 2};
  std::vector<double> lse, smooth;
  ce_reference(xv, n, c, &lse, &smooth);
  std::vector<double> nll(n);
  for (std::int64_t i = 0; i < n; ++i) nll[i] = lse[i] - xv[i * c + tv[i]];
  const Tensor target = from_vector(tv, {n});

  CrossEntropyOptions none;
  none.reduction = Reduction::None;
  CHECK(allclose(cross_entropy(logits, target, none), nll));
  double total = 0;
  for (double v : nll) total += v;
  CrossEntropyOptions sum_o;
  sum_o.reduction = Reduction::Sum;
  CHECK(cross_entropy(logits, target, sum_o).item() == doctest::Approx(total).epsilon(1e-13));
  CHECK(cross_entropy(logits, target).item() == doctest::Approx(total / n).epsilon(1e-13));

  // ignore_index: ignored samples contribute 0, and mean divides by the number NOT ignored (3 here)
  const Tensor tign = from_vector<std::int64_t>({0, -100, 1, 3, -100}, {n});
  const double kept = nll[0] + nll[2] + nll[3];
  CHECK(cross_entropy(logits, tign).item() == doctest::Approx(kept / 3.0).epsilon(1e-13));
  CHECK(allclose(cross_entropy(logits, tign, none), {nll[0], 0.0, nll[2], nll[3], 0.0}));
  CHECK(cross_entropy(logits, tign, sum_o).item() == doctest::Approx(kept).epsilon(1e-13));
  CrossEntropyOptions ign3;
  ign3.ignore_index = 3;  // a valid class index can be the ignored one
  CHECK(cross_entropy(logits, target, ign3).item() == doctest::Approx((nll[0] + nll[2] + nll[4]) / 3.0).epsilon(1e-13));
  // every target ignored: mean is 0/0 = NaN (as PyTorch)
  CHECK(std::isnan(cross_entropy(logits, full({n}, -100, kInt64)).item()));

  // label smoothing e: (1 - e) nll + e * mean_j(-log p_j), mean over non-ignored samples
  const double e = 0.2;
  CrossEntropyOptions ls;
  ls.label_smoothing = e;
  double ls_total = 0;
  std::vector<double> ls_per(n);
  for (std::int64_t i = 0; i < n; ++i) {
    ls_per[i] = (1 - e) * nll[i] + e * smooth[i];
    ls_total += ls_per[i];
  }
  CHECK(cross_entropy(logits, target, ls).item() == doctest::Approx(ls_total / n).epsilon(1e-13));
  ls.ignore_index = -100;
  const double ls_kept = ls_per[0] + ls_per[2] + ls_per[3];
  CHECK(cross_entropy(logits, tign, ls).item() == doctest::Approx(ls_kept / 3.0).epsilon(1e-13));

  // hand case: uniform logits over 4 classes -> log 4 whatever the target
  CHECK(cross_entropy(zeros({2, 4}), from_vector<std::int64_t>({1, 3}, {2})).item() ==
        doctest::Approx(std::log(4.0)).epsilon(1e-6));
  // gradient of the mean with ignore: (softmax - onehot) / 3 on kept rows, 0 on ignored rows
  Tensor lg = logits.clone().requires_grad_();
  cross_entropy(lg, tign).backward();
  const auto g = lg.grad().to_vector<double>();
  const auto p = softmax(logits, 1).to_vector<double>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j) {
      const bool ignored = i == 1 || i == 4;
      const double expect = ignored ? 0.0 : (p[i * c + j] - (j == tv[i] ? 1.0 : 0.0)) / 3.0;
      CHECK(g[i * c + j] == doctest::Approx(expect).epsilon(1e-12));
    }
}

TEST_CASE("forward: binary_cross_entropy_with_logits and pos_weight follow PyTorch's formula") {
  // loss = -[pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]
  const std::vector<double> xv = {-2.0, -0.3, 0.0, 0.7, 4.0, 1.5};
  const std::vector<double> yv = {0.0, 1.0, 0.5, 1.0, 0.0, 0.25};
  const std::vector<double> pwv = {3.0, 0.5};
  const Tensor x = from_vector(xv, {3, 2}), y = from_vector(yv, {3, 2}), pw = from_vector(pwv, {2});
  std::vector<double> plain, weighted;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const double s = sigmoid_ref(xv[i]);
    plain.push_back(-(yv[i] * std::log(s) + (1 - yv[i]) * std::log(1 - s)));
    weighted.push_back(-(pwv[i % 2] * yv[i] * std::log(s) + (1 - yv[i]) * std::log(1 - s)));
  }
  CHECK(allclose(binary_cross_entropy_with_logits(x, y, Tensor(), Reduction::None), plain, 1e-12, 1e-14));
  CHECK(allclose(binary_cross_entropy_with_logits(x, y, pw, Reduction::None), weighted, 1e-12, 1e-14));
  double sp = 0, sw = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    sp += plain[i];
    sw += weighted[i];
  }
  CHECK(binary_cross_entropy_with_logits(x, y).item() == doctest::Approx(sp / 6).epsilon(1e-12));
  CHECK(binary_cross_entropy_with_logits(x, y, pw, Reduction::Sum).item() == doctest::Approx(sw).epsilon(1e-12));
  // stable for large logits: log(1 + e^100) = 100, not inf
  const Tensor big = from_vector<float>({100.f, -100.f}, {2});
  const auto l = binary_cross_entropy_with_logits(big, from_vector<float>({0.f, 1.f}, {2}), Tensor(), Reduction::None)
                     .to_vector<float>();
  CHECK(l[0] == doctest::Approx(100.0));
  CHECK(l[1] == doctest::Approx(100.0));
}

TEST_CASE("forward: mse_loss reductions") {
  const Tensor a = from_vector<double>({1, 2, 3, 4}, {2, 2}), b = from_vector<double>({0, 2, 5, 1}, {2, 2});
  CHECK(allclose(mse_loss(a, b, Reduction::None), {1, 0, 4, 9}));
  CHECK(mse_loss(a, b, Reduction::Sum).item() == 14.0);
  CHECK(mse_loss(a, b).item() == 3.5);
}

// ---------------------------------------------------------------- batch norm, dropout
TEST_CASE("forward: batch_norm training normalises and updates running stats (unbiased var, momentum 0.1)") {
  // two channels, four samples
  const std::vector<double> xv = {1, 10, 2, 20, 3, 30, 6, 40};
  const Tensor x = from_vector(xv, {4, 2});
  const Tensor w = from_vector<double>({2.0, 0.5}, {2}), b = from_vector<double>({1.0, -1.0}, {2});
  Tensor rm = zeros({2}, kFloat64), rv = ones({2}, kFloat64);
  const double eps = 1e-5;
  const Tensor y = batch_norm(x, w, b, rm, rv, true, 0.1, eps);
  double mu[2] = {0, 0}, var[2] = {0, 0};
  for (int c = 0; c < 2; ++c) {
    for (int n = 0; n < 4; ++n) mu[c] += xv[n * 2 + c] / 4;
    for (int n = 0; n < 4; ++n) var[c] += (xv[n * 2 + c] - mu[c]) * (xv[n * 2 + c] - mu[c]) / 4;  // biased
  }
  std::vector<double> ref;
  const double wv[2] = {2.0, 0.5}, bv[2] = {1.0, -1.0};
  for (int n = 0; n < 4; ++n)
    for (int c = 0; c < 2; ++c) ref.push_back((xv[n * 2 + c] - mu[c]) / std::sqrt(var[c] + eps) * wv[c] + bv[c]);
  CHECK(allclose(y, ref, 1e-12, 1e-12));
  // running_mean = 0.9 * 0 + 0.1 * mean; running_var = 0.9 * 1 + 0.1 * var * n / (n - 1)
  CHECK(allclose(rm, {0.1 * mu[0], 0.1 * mu[1]}, 1e-12, 1e-12));
  CHECK(allclose(rv, {0.9 + 0.1 * var[0] * 4 / 3, 0.9 + 0.1 * var[1] * 4 / 3}, 1e-9, 1e-12));
  // a second step compounds
  batch_norm(x, w, b, rm, rv, true, 0.1, eps);
  CHECK(allclose(rm, {0.19 * mu[0], 0.19 * mu[1]}, 1e-12, 1e-12));
  // custom momentum
  Tensor rm2 = zeros({2}, kFloat64), rv2 = ones({2}, kFloat64);
  batch_norm(x, Tensor(), Tensor(), rm2, rv2, true, 0.5, eps);
  CHECK(allclose(rm2, {0.5 * mu[0], 0.5 * mu[1]}, 1e-12, 1e-12));
  CHECK(allclose(rv2, {0.5 + 0.5 * var[0] * 4 / 3, 0.5 + 0.5 * var[1] * 4 / 3}, 1e-9, 1e-12));
}

TEST_CASE("forward: batch_norm on 4-D input uses per-channel statistics over N, H, W") {
  const Tensor x = uniform64({3, 2, 2, 3}, 21, -2, 4);
  Tensor rm = zeros({2}, kFloat64), rv = ones({2}, kFloat64);
  const Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true);
  // each channel of the output has mean 0 and biased variance var / (var + eps) ~ 1
  const Tensor ym = mean(y, {0, 2, 3});
  CHECK(allclose(ym, {0.0, 0.0}, 0, 1e-12));
  const Tensor yv = mean(mul(y, y), {0, 2, 3});
  CHECK(allclose(yv, {1.0, 1.0}, 0, 1e-3));
  const Tensor xm = mean(x, {0, 2, 3});
  CHECK(allclose(rm, mul(xm, 0.1).to_vector<double>(), 1e-12, 1e-14));
  // unbiased variance over the 18 values of each channel
  const Tensor d = sub(x, xm.reshape({1, 2, 1, 1}));
  const Tensor unbiased = div(sum(mul(d, d), {0, 2, 3}), 17.0);
  CHECK(allclose(rv, add(mul(unbiased, 0.1), 0.9).to_vector<double>(), 1e-9, 1e-12));
}

TEST_CASE("forward: batch_norm in evaluation uses the running statistics and leaves them alone") {
  const Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor rm = from_vector<double>({2.0, 1.0}, {2}), rv = from_vector<double>({4.0, 0.25}, {2});
  const Tensor w = from_vector<double>({1.0, 3.0}, {2}), b = from_vector<double>({0.0, 1.0}, {2});
  const double eps = 1e-5;
  const Tensor y = batch_norm(x, w, b, rm, rv, false, 0.1, eps);
  std::vector<double> ref;
  const double xv[6] = {1, 2, 3, 4, 5, 6}, m[2] = {2, 1}, v[2] = {4, 0.25}, wv[2] = {1, 3}, bv[2] = {0, 1};
  for (int i = 0; i < 6; ++i) ref.push_back((xv[i] - m[i % 2]) / std::sqrt(v[i % 2] + eps) * wv[i % 2] + bv[i % 2]);
  CHECK(allclose(y, ref, 1e-12, 1e-12));
  CHECK(rm.to_vector<double>() == std::vector<double>{2.0, 1.0});
  CHECK(rv.to_vector<double>() == std::vector<double>{4.0, 0.25});
  // one sample is fine in evaluation
  CHECK(batch_norm(x.slice(0, 1), w, b, rm, rv, false).shape() == Shape{1, 2});
}

TEST_CASE("forward: dropout drops at rate p, scales by 1/(1-p), is reproducible and off in eval") {
  const Tensor x = ones({100000});
  Generator g(5);
  const auto y = dropout(x, 0.25, true, &g).to_vector<float>();
  std::int64_t dropped = 0;
  bool values_ok = true;
  for (float v : y) {
    dropped += v == 0.0f;
    values_ok = values_ok && (v == 0.0f || std::abs(v - 1.0f / 0.75f) < 1e-6f);
  }
  CHECK(values_ok);
  // binomial(1e5, 0.25): std 137; allow 5 sigma
  CHECK(std::abs(static_cast<double>(dropped) - 25000.0) < 700.0);
  // same generator state, same mask; the generator advanced, so the next mask differs
  const Tensor x64 = x.slice(0, 64);
  Generator g1(5), g2(5);
  const auto m1 = dropout(x64, 0.5, true, &g1).to_vector<float>();
  CHECK(m1 == dropout(x64, 0.5, true, &g2).to_vector<float>());
  CHECK(m1 != dropout(x64, 0.5, true, &g1).to_vector<float>());
  Generator g3(6);
  CHECK(m1 != dropout(x64, 0.5, true, &g3).to_vector<float>());
  // evaluation and p = 0 return the input; p = 1 gives zeros
  const Tensor small = from_vector<float>({1, 2, 3}, {3});
  CHECK(dropout(small, 0.5, false).to_vector<float>() == std::vector<float>{1, 2, 3});
  CHECK(dropout(small, 0.0, true).to_vector<float>() == std::vector<float>{1, 2, 3});
  CHECK(dropout(small, 1.0, true).to_vector<float>() == std::vector<float>{0, 0, 0});
}

// ---------------------------------------------------------------- gathers and shape ops
TEST_CASE("forward: embedding and index_select pick rows") {
  const Tensor w = arange(0.0, 10.0, 1.0).reshape({5, 2});
  const Tensor e = embedding(w, from_vector<std::int64_t>({4, 0, 4, 1}, {2, 2}));
  CHECK(e.shape() == Shape{2, 2, 2});
  CHECK(e.to_vector<float>() == std::vector<float>{8, 9, 0, 1, 8, 9, 2, 3});
  const Tensor s = index_select(w, from_vector<std::int32_t>({3, 3}, {2}));
  CHECK(s.to_vector<float>() == std::vector<float>{6, 7, 6, 7});
  // repeated rows accumulate their gradients
  Tensor wg = w.to(kFloat64).requires_grad_();
  sum(embedding(wg, from_vector<std::int64_t>({4, 0, 4, 1}, {2, 2}))).backward();
  CHECK(wg.grad().to_vector<double>() == std::vector<double>{1, 1, 1, 1, 0, 0, 0, 0, 2, 2});
}

TEST_CASE("forward: cat and split round-trip") {
  const Tensor a = from_vector<float>({1, 2, 3, 4}, {2, 2}), b = from_vector<float>({5, 6}, {2, 1});
  const Tensor c1 = cat({a, b}, 1);
  CHECK(c1.shape() == Shape{2, 3});
  CHECK(c1.to_vector<float>() == std::vector<float>{1, 2, 5, 3, 4, 6});
  const Tensor c0 = cat({a, b.t()}, 0);
  CHECK(c0.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  const auto parts = split(c1, 2, 1);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].to_vector<float>() == a.to_vector<float>());
  CHECK(parts[1].to_vector<float>() == b.to_vector<float>());
  const auto p2 = split(arange(7), std::vector<std::int64_t>{2, 0, 5}, 0);
  REQUIRE(p2.size() == 3);
  CHECK(p2[1].numel() == 0);
  CHECK(p2[2].to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 3, 4, 5, 6});
  const auto p3 = split(arange(7), 3, 0);
  REQUIRE(p3.size() == 3);
  CHECK(p3[2].to_vector<std::int64_t>() == std::vector<std::int64_t>{6});
}
