// The CPU's two convolution paths: oneDNN's (the float32 default in builds
// with oneDNN, kernels/cpu/conv_onednn.cpp) against the reference im2col +
// GEMM (kernels/cpu/conv.cpp) and the float64 reference, against finite
// differences, and each against itself over thread counts, bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "gradcheck.h"
#include "minidp/kernels/cpu/conv_onednn.h"
#include "minidp/minidp.h"
#include "test_util.h"

using namespace minidp;
using namespace minidp::test;

namespace {

bool have_onednn() {
  if (cpu_conv() == "onednn") return true;
  MESSAGE("skipped: this build has no oneDNN (or MINIDP_CPU_CONV=reference): the reference runs every convolution");
  return false;
}

// The convolution path for a scope, then back to the default.
struct Path {
  explicit Path(const std::string& p) : prev(cpu_conv()) { set_cpu_conv(p); }
  ~Path() { set_cpu_conv(prev); }
  std::string prev;
};

struct Case {
  Shape x, w;
  Conv2dOptions o;
  bool bias;
};
// Blocked layouts want 16 channels: cases with 1, 3, 16, 32 and 40 of them;
// batches that make a smaller last group; stride, padding, dilation, odd
// kernels, a 1x1, a kernel larger than the unpadded input, and the CNN's two
// convolutions at the benchmark's per-replica batch.
const std::vector<Case> kCases = {
    {{5, 3, 9, 8}, {16, 3, 3, 3}, Conv2dOptions::make(1, 1), true},
    {{3, 16, 11, 10}, {32, 16, 3, 3}, Conv2dOptions::make(2, 1), false},
    {{2, 32, 9, 9}, {16, 32, 3, 2}, Conv2dOptions{1, 2, 0, 1, 2, 1}, true},
    {{4, 40, 7, 7}, {24, 40, 1, 1}, Conv2dOptions::make(1, 0), true},
    {{2, 1, 2, 2}, {4, 1, 3, 3}, Conv2dOptions::make(1, 1), false},
    {{3, 16, 12, 12}, {16, 16, 5, 5}, Conv2dOptions::make(3, 2), true},
    {{37, 1, 28, 28}, {32, 1, 3, 3}, Conv2dOptions::make(1, 1), true},
    {{29, 32, 14, 14}, {64, 32, 3, 3}, Conv2dOptions::make(1, 1), true},
    // The last window stops short of the edge (oneDNN's right padding is -1),
    // and a stride larger than the kernel: pixels no window covers get a zero gradient.
    {{2, 16, 10, 10}, {16, 16, 3, 3}, Conv2dOptions::make(2, 0), true},
    {{2, 16, 8, 8}, {32, 16, 1, 1}, Conv2dOptions::make(2, 0), false},
};

struct Result {
  Tensor y, gx, gw, gb;
};
// y = conv2d(x, w, b); the gradients of sum(y * r).
Result run(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& r, const Conv2dOptions& o) {
  Tensor x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_();
  Tensor b = b0.defined() ? b0.detach().requires_grad_() : Tensor();
  Tensor y = conv2d(x, w, b, o);
  sum(mul(y, r)).backward();
  return {y.detach(), x.grad(), w.grad(), b.defined() ? b.grad() : Tensor()};
}

std::vector<std::uint32_t> bits(const Tensor& t) {
  const std::vector<float> v = t.to_vector<float>();
  std::vector<std::uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
  return out;
}

}  // namespace

TEST_CASE("conv paths: oneDNN's float32 convolutions match the reference path and float64") {
  if (!have_onednn()) return;
  const std::int64_t fallbacks = kernels::cpu::conv_fallbacks();
  std::uint64_t seed = 11;
  for (const Case& c : kCases) {
    const Tensor x = uniform64(c.x, seed), w = uniform64(c.w, seed + 1), b = uniform64({c.w[0]}, seed + 2);
    const Tensor y_shape = conv2d(x, w, Tensor(), c.o);
    const Tensor r = uniform64(y_shape.shape(), seed + 3);
    seed += 4;
    INFO("x " << shape_str(c.x) << " w " << shape_str(c.w) << " stride " << c.o.stride_h << "x" << c.o.stride_w
              << " pad " << c.o.pad_h << "x" << c.o.pad_w << " dilation " << c.o.dilation_h << "x" << c.o.dilation_w);
    const Tensor bias64 = c.bias ? b : Tensor();
    const Result f64 = run(x, w, bias64, r, c.o);  // float64: the reference path
    auto f32 = [&](const std::string& path) {
      Path p(path);
      return run(x.to(kFloat32), w.to(kFloat32), c.bias ? b.to(kFloat32) : Tensor(), r.to(kFloat32), c.o);
    };
    const Result dnn = f32("onednn"), ref = f32("reference");
    // Every value of the sums is O(sqrt(C kH kW)) with inputs in [-1, 1); float32 rounding stays below 1e-4 of it.
    const double atol = 1e-4 * std::sqrt(static_cast<double>(c.w[1] * c.w[2] * c.w[3] * c.x[0]));
    CHECK(allclose(dnn.y, ref.y, 1e-4, atol));
    CHECK(allclose(dnn.gx, ref.gx, 1e-4, atol));
    CHECK(allclose(dnn.gw, ref.gw, 1e-4, atol));
    CHECK(allclose(dnn.y, f64.y, 1e-4, atol));
    CHECK(allclose(dnn.gx, f64.gx, 1e-4, atol));
    CHECK(allclose(dnn.gw, f64.gw, 1e-4, atol));
    if (c.bias) CHECK(allclose(dnn.gb, f64.gb, 1e-4, atol));
  }
  // oneDNN ran every case (none fell back to the reference), and the report names its kernels.
  CHECK(kernels::cpu::conv_fallbacks() == fallbacks);
  CHECK(contains(cpu_conv_kernels(), "oneDNN"));
  CHECK(contains(cpu_conv_kernels(), "("));
  {
    Path p("reference");
    CHECK(cpu_conv_kernels() == "im2col + GEMM (reference)");
  }
}

TEST_CASE("conv paths: oneDNN's gradients match finite differences") {
  if (!have_onednn()) return;
  // L = sum(conv(x, w) * r) is linear in x and in w, so a central difference
  // is exact but for rounding: L in float64 from float32 outputs.
  const Conv2dOptions o = Conv2dOptions::make(2, 1);
  const Tensor x = uniform64({3, 16, 7, 6}, 5).to(kFloat32), w = uniform64({16, 16, 3, 3}, 6).to(kFloat32);
  const Tensor r = uniform64(conv2d(x, w, Tensor(), o).shape(), 7).to(kFloat32);
  const Result g = run(x, w, Tensor(), r, o);
  auto loss = [&](const Tensor& xx, const Tensor& ww) {
    const std::vector<double> y = conv2d(xx, ww, Tensor(), o).to_vector<double>(), rv = r.to_vector<double>();
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += y[i] * rv[i];
    return s;
  };
  const double h = 0.05;
  auto check = [&](const Tensor& t, const Tensor& grad, bool is_x) {
    const std::vector<float> v = t.to_vector<float>();
    const std::vector<double> gv = grad.to_vector<double>();
    for (std::size_t i = 0; i < v.size(); i += 37) {  // 1 element in 37: a spread over images, channels and taps
      std::vector<float> up = v, down = v;
      up[i] += static_cast<float>(h), down[i] -= static_cast<float>(h);
      const Tensor tu = from_vector<float>(up, t.shape()), td = from_vector<float>(down, t.shape());
      const double fd = is_x ? (loss(tu, w) - loss(td, w)) / (2 * h) : (loss(x, tu) - loss(x, td)) / (2 * h);
      INFO((is_x ? "x" : "w") << " element " << i << ": oneDNN " << gv[i] << ", finite difference " << fd);
      CHECK(std::abs(gv[i] - fd) <= 2e-3 + 1e-3 * std::abs(fd));
    }
  };
  check(x, g.gx, true);
  check(w, g.gw, false);
}

TEST_CASE("conv paths: each path gives the same bits for 1, 2, 3 and 4 threads") {
  // The CNN's second convolution at a batch of several groups (and a smaller last one).
  const Case c{{61, 32, 14, 14}, {64, 32, 3, 3}, Conv2dOptions::make(1, 1), true};
  const Tensor x = uniform64(c.x, 21).to(kFloat32), w = uniform64(c.w, 22).to(kFloat32);
  const Tensor b = uniform64({64}, 23).to(kFloat32), r = uniform64({61, 64, 14, 14}, 24).to(kFloat32);
  const int before = num_threads();
  std::vector<std::string> paths{"reference"};
  if (cpu_conv() == "onednn") paths.push_back("onednn");
  else MESSAGE("oneDNN's path skipped: this build has no oneDNN (or MINIDP_CPU_CONV=reference)");
  std::vector<Result> one_thread;
  for (const std::string& path : paths) {
    Path p(path);
    set_num_threads(1);
    const Result base = run(x, w, b, r, c.o);
    one_thread.push_back(base);
    for (int t : {2, 3, 4}) {
      set_num_threads(t);
      const Result res = run(x, w, b, r, c.o);
      INFO(path << ": " << t << " threads against 1");
      CHECK(bits(res.y) == bits(base.y));
      CHECK(bits(res.gx) == bits(base.gx));
      CHECK(bits(res.gw) == bits(base.gw));
      CHECK(bits(res.gb) == bits(base.gb));
    }
  }
  set_num_threads(before);
  // The comparison can fail: the two paths sum in other orders, so their bits differ.
  if (one_thread.size() == 2) CHECK(bits(one_thread[0].gw) != bits(one_thread[1].gw));
}

TEST_CASE("conv paths: the switch refuses unknown paths and names the expected ones") {
  CHECK_THROWS_WITH_AS(set_cpu_conv("fast"), doctest::Contains("expected 'onednn' or 'reference'"), Error);
  const std::string before = cpu_conv();
  set_cpu_conv("reference");
  CHECK(cpu_conv() == "reference");
  set_cpu_conv(before);
  CHECK(cpu_conv() == before);
}
