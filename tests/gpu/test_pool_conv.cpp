// Max-pool backward as a gather (bitwise the CPU's, every element written,
// the same bits in every run) and cuDNN's benchmark mode (the chosen
// algorithms still match the CPU, and are listed).
#include <cmath>

#include "gpu_test.h"

using namespace minidp;
using namespace minidp::test;
namespace kc = minidp::kernels::cpu;
namespace kg = minidp::kernels::cuda;

namespace {

Shape pool_out(const Shape& xs, const Pool2dOptions& o) {
  return {xs[0], xs[1], (xs[2] + 2 * o.pad_h - o.kernel_h) / o.stride_h + 1,
          (xs[3] + 2 * o.pad_w - o.kernel_w) / o.stride_w + 1};
}

// Input values: continuous, or small integers (many ties, so one element is
// the arg-max of several windows and their gradients are summed).
Tensor pool_input(const Shape& xs, DType t, bool ties, std::uint64_t seed) {
  return ties ? random_cpu(xs, kInt32, 0, 3, seed).to(t) : random_cpu(xs, t, -1, 1, seed);
}

struct PoolCase {
  Shape x;
  Pool2dOptions o;
};

const PoolCase kPoolCases[] = {
    {{2, 3, 11, 9}, Pool2dOptions::make(3, 2, 1)},   // overlapping windows, padding
    {{3, 4, 8, 8}, Pool2dOptions::make(2)},          // 2x2 stride 2: the fast path
    {{2, 3, 7, 5}, Pool2dOptions::make(2)},          // fast path, odd sizes: last row and column get 0
    {{1, 2, 9, 10}, Pool2dOptions::make(3, 1, 1)},   // up to 9 windows per element
    {{2, 2, 6, 7}, Pool2dOptions::make(2, 2, 1)},    // 2x2 stride 2 but padded: the general kernel
    {{2, 3, 10, 11}, Pool2dOptions::make(2, 3)},     // stride > kernel: elements no window covers
    {{3, 2, 10, 13}, Pool2dOptions{3, 2, 1, 2, 1, 1}},  // rectangular kernel, strides and padding
    {{1, 1, 1, 1}, Pool2dOptions::make(1)},
    {{4, 5, 1, 9}, Pool2dOptions{1, 3, 1, 2, 0, 1}},
};

}  // namespace

GPU_TEST_CASE("max_pool2d backward (gather): bitwise the CPU's, every element written") {
  for (DType t : {kFloat32, kFloat64})
    for (const PoolCase& c : kPoolCases)
      for (bool ties : {false, true}) {
        INFO(dtype_name(t), " x ", shape_str(c.x), " kernel ", c.o.kernel_h, "x", c.o.kernel_w, " stride ",
             c.o.stride_h, "x", c.o.stride_w, " pad ", c.o.pad_h, "x", c.o.pad_w, ties ? " with ties" : "");
        const Tensor x = pool_input(c.x, t, ties, 71 + (&c - kPoolCases));
        const Shape ys = pool_out(c.x, c.o);
        Tensor yc = Tensor::empty(ys, TensorOptions(t)), yg = Tensor::empty(ys, on(t, gpu()));
        Tensor ic = Tensor::empty(ys, TensorOptions(kInt32)), ig = Tensor::empty(ys, on(kInt32, gpu()));
        kc::max_pool2d_forward(x, yc, ic, c.o);
        kg::max_pool2d_forward(x.to(gpu()), yg, ig, c.o);
        REQUIRE(bitwise_equal(ig, ic));
        CHECK(bitwise_equal(yg, yc));
        const Tensor gy = random_cpu(ys, t, -1, 1, 73);
        // NaN everywhere first: the kernels must write every element, not add into it.
        Tensor gxc = full(c.x, NAN, TensorOptions(t)), gxg = full(c.x, NAN, on(t, gpu()));
        kc::max_pool2d_backward(gy, ic, gxc, c.o);
        kg::max_pool2d_backward(gy.to(gpu()), ig, gxg, c.o);
        CHECK(bitwise_equal(gxg, gxc));
        // The gradient is conserved: every window's gradient lands on one element.
        CHECK(sum(gxc).item() == doctest::Approx(sum(gy).item()).epsilon(1e-4));
      }
}

GPU_TEST_CASE("max_pool2d backward: two runs give the same bits (and the CPU's)") {
  const Shape xs = {8, 16, 33, 31};
  for (const Pool2dOptions& o : {Pool2dOptions::make(3, 2, 1), Pool2dOptions::make(2), Pool2dOptions::make(3, 1, 1)}) {
    const Tensor x = pool_input(xs, kFloat32, /*ties=*/true, 79).to(gpu());
    const Shape ys = pool_out(xs, o);
    Tensor y = Tensor::empty(ys, on(kFloat32, gpu())), idx = Tensor::empty(ys, on(kInt32, gpu()));
    kg::max_pool2d_forward(x, y, idx, o);
    const Tensor gy = random_cpu(ys, kFloat32, -1, 1, 83).to(gpu());
    Tensor a = Tensor::empty(xs, on(kFloat32, gpu())), b = full(xs, 7.0, on(kFloat32, gpu()));
    kg::max_pool2d_backward(gy, idx, a, o);
    kg::max_pool2d_backward(gy, idx, b, o);
    CHECK(bitwise_equal(a, b));
    Tensor ref = Tensor::empty(xs, TensorOptions(kFloat32));
    kc::max_pool2d_backward(gy.to(Device::cpu()), idx.to(Device::cpu()), ref, o);
    CHECK(bitwise_equal(a, ref));
  }
}

GPU_TEST_CASE("max_pool2d through autograd: the input gradient is bitwise the CPU's") {
  for (const PoolCase& c : kPoolCases) {
    const Tensor x = pool_input(c.x, kFloat32, /*ties=*/true, 89);
    const Tensor gy = random_cpu(pool_out(c.x, c.o), kFloat32, -1, 1, 97);
    auto grad_on = [&](Device d) {
      Tensor xd = x.to(d).detach().requires_grad_();  // a leaf of its own on each device
      max_pool2d(xd, c.o).backward(gy.to(d));
      return xd.grad().to(Device::cpu());
    };
    INFO("x ", shape_str(c.x), " kernel ", c.o.kernel_h, "x", c.o.kernel_w);
    CHECK(bitwise_equal(grad_on(gpu()), grad_on(Device::cpu())));
  }
}

namespace {
// Turns cuDNN's benchmark mode on for a scope (off again even if a check throws).
struct BenchmarkMode {
  explicit BenchmarkMode(bool on) : prev(cudnn_benchmark()) { set_cudnn_benchmark(on); }
  ~BenchmarkMode() { set_cudnn_benchmark(prev); }
  bool prev;
};
}  // namespace

// The tolerances of the conv test in test_kernels.cpp (1e-4 for float32:
// FFT and Winograd; non-deterministic algorithms only reorder sums).
GPU_TEST_CASE("cuDNN benchmark mode: conv forward and backward match the CPU; the choices are listed") {
  struct Case {
    Shape x, w;
    Conv2dOptions o;
  };
  const Case cases[] = {
      {{2, 3, 9, 11}, {4, 3, 3, 3}, Conv2dOptions::make(1, 1)},
      {{3, 2, 12, 10}, {5, 2, 3, 2}, Conv2dOptions{2, 1, 1, 0, 1, 1}},
      {{2, 4, 13, 13}, {3, 4, 3, 3}, Conv2dOptions::make(1, 2, 2)},
      {{16, 1, 28, 28}, {32, 1, 3, 3}, Conv2dOptions::make(1, 1)},
      {{8, 32, 14, 14}, {64, 32, 3, 3}, Conv2dOptions::make(1, 1)},
  };
  BenchmarkMode benchmark_on(true);
  CHECK(cudnn_benchmark());
  for (DType t : {kFloat32, kFloat64})
    for (const Case& c : cases) {
      const double tl = t == kFloat32 ? 1e-4 : 1e-10;
      const Tensor x = random_cpu(c.x, t, -1, 1, 101), w = random_cpu(c.w, t, -1, 1, 103);
      const std::int64_t ho = (c.x[2] + 2 * c.o.pad_h - c.o.dilation_h * (c.w[2] - 1) - 1) / c.o.stride_h + 1;
      const std::int64_t wo = (c.x[3] + 2 * c.o.pad_w - c.o.dilation_w * (c.w[3] - 1) - 1) / c.o.stride_w + 1;
      const Shape ys = {c.x[0], c.w[0], ho, wo};
      INFO(dtype_name(t), " x ", shape_str(c.x), " w ", shape_str(c.w));
      // Twice: the first call benchmarks, the second uses the cached choice.
      for (int round = 0; round < 2; ++round) {
        Tensor yc = Tensor::empty(ys, TensorOptions(t)), yg = Tensor::empty(ys, on(t, gpu()));
        kc::conv2d_forward(x, w, Tensor(), yc, c.o);
        kg::conv2d_forward(x.to(gpu()), w.to(gpu()), Tensor(), yg, c.o);
        CHECK_CLOSE_TO_CPU(yg, yc, tl);
        const Tensor gy = random_cpu(ys, t, -1, 1, 107);
        // Backward data adds into gx: start from non-zero values, which the
        // search (it writes a scratch copy) must leave alone.
        const Tensor gx0 = random_cpu(c.x, t, -1, 1, 109);
        Tensor gxc = gx0.clone(), gxg = gx0.to(gpu());
        kc::conv2d_backward_input(gy, w, gxc, c.o);
        kg::conv2d_backward_input(gy.to(gpu()), w.to(gpu()), gxg, c.o);
        CHECK_CLOSE_TO_CPU(gxg, gxc, tl);
        Tensor gwc = Tensor::empty(c.w, TensorOptions(t)), gwg = Tensor::empty(c.w, on(t, gpu()));
        kc::conv2d_backward_weight(gy, x, gwc, c.o);
        kg::conv2d_backward_weight(gy.to(gpu()), x.to(gpu()), gwg, c.o);
        CHECK_CLOSE_TO_CPU(gwg, gwc, tl);
      }
    }
  const std::vector<std::string> chosen = cudnn_algorithms_chosen();
  REQUIRE(!chosen.empty());
  int benchmarked = 0;
  bool fwd = false, data = false, filter = false;
  const std::string shape = " cuda:0 float32 N=16 C=1 H=28 W=28 K=32 3x3 stride 1 pad 1: ";
  for (const std::string& line : chosen) {
    MESSAGE(line);
    benchmarked += line.find("(benchmarked, ") != std::string::npos;
    fwd = fwd || line.rfind("conv fwd" + shape, 0) == 0;
    data = data || line.rfind("conv bwd data" + shape, 0) == 0;
    filter = filter || line.rfind("conv bwd filter" + shape, 0) == 0;
  }
  CHECK(benchmarked >= 3);
  CHECK(fwd);
  CHECK(data);
  CHECK(filter);
}

GPU_TEST_CASE("cuDNN default mode: heuristic, deterministic choices; two runs give the same bits") {
  BenchmarkMode benchmark_off(false);
  const Shape xs = {4, 3, 15, 15}, ws = {6, 3, 3, 3};
  const Conv2dOptions o = Conv2dOptions::make(1, 1);
  const Tensor x = random_cpu(xs, kFloat32, -1, 1, 113).to(gpu()), w = random_cpu(ws, kFloat32, -1, 1, 127).to(gpu());
  const Tensor gy = random_cpu({4, 6, 15, 15}, kFloat32, -1, 1, 131).to(gpu());
  auto run = [&] {
    Tensor gx = zeros(xs, on(kFloat32, gpu())), gw = Tensor::empty(ws, on(kFloat32, gpu()));
    kg::conv2d_backward_input(gy, w, gx, o);
    kg::conv2d_backward_weight(gy, x, gw, o);
    return std::make_pair(gx, gw);
  };
  const auto a = run(), b = run();
  CHECK(bitwise_equal(a.first, b.first));
  CHECK(bitwise_equal(a.second, b.second));
  const std::string shape = " cuda:0 float32 N=4 C=3 H=15 W=15 K=6 3x3 stride 1 pad 1: ";
  int found = 0;
  for (const std::string& line : cudnn_algorithms_chosen()) {
    if (line.find(shape) == std::string::npos) continue;
    ++found;
    INFO(line);
    CHECK(line.find("(benchmarked") == std::string::npos);
    CHECK(line.find("non-deterministic") == std::string::npos);
  }
  CHECK(found == 2);  // bwd data and bwd filter
}
