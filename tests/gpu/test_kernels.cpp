// Every CUDA kernel against its CPU twin on random inputs (float32 with TF32
// off and float64; the integer types where the kernel takes them).
#include "gpu_test.h"

using namespace minidp;
using namespace minidp::test;
namespace kc = minidp::kernels::cpu;
namespace kg = minidp::kernels::cuda;
using kernels::BinaryOp;
using kernels::ReduceOp;
using kernels::UnaryOp;

namespace {

const DType kFloats[] = {kFloat32, kFloat64};
const DType kAll[] = {kFloat32, kFloat64, kInt32, kInt64, kUInt8};

// A broadcast view of `t` (sizes 1 become `shape`'s sizes with stride 0).
Tensor expand(const Tensor& t, const Shape& shape) {
  Shape st = t.strides();
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (t.shape()[d] == 1 && shape[d] != 1) st[d] = 0;
  return make_view(t, shape, st, t.offset());
}

}  // namespace

GPU_TEST_CASE("unary: every op, float32 and float64") {
  const UnaryOp ops[] = {UnaryOp::Neg,      UnaryOp::Exp,           UnaryOp::Log,     UnaryOp::Sqrt,
                         UnaryOp::Abs,      UnaryOp::Relu,          UnaryOp::LeakyRelu, UnaryOp::Sigmoid,
                         UnaryOp::Tanh,     UnaryOp::Gelu,          UnaryOp::Affine,  UnaryOp::Pow,
                         UnaryOp::Clamp,    UnaryOp::LeakyReluGrad, UnaryOp::AbsGrad,
                         UnaryOp::GeluGrad, UnaryOp::ClampGrad,     UnaryOp::GtScalar, UnaryOp::PowGrad};
  for (DType t : kFloats)
    for (UnaryOp op : ops) {
      const bool positive = op == UnaryOp::Log || op == UnaryOp::Sqrt || op == UnaryOp::Pow || op == UnaryOp::PowGrad;
      // 1001 elements: the vectorised body and a scalar tail; an offset view: the unaligned path.
      const Tensor x = random_cpu({1001}, t, positive ? 0.05 : -4.0, 4.0, 11 + static_cast<int>(op));
      const double a = op == UnaryOp::Clamp || op == UnaryOp::ClampGrad ? -0.5 : 1.7, b = 0.8;
      for (std::int64_t off : {0, 1}) {
        const Tensor xc = x.narrow(0, off, 1001 - off).contiguous();
        Tensor yc = empty_like_on(xc, Device::cpu());
        kc::unary(op, xc, yc, a, b);
        const Tensor xg = xc.to(gpu());
        Tensor yg = empty_like_on(xc, gpu());
        kg::unary(op, xg.narrow(0, 0, xg.size(0)), yg, a, b);
        INFO("op ", static_cast<int>(op), " ", dtype_name(t), " offset ", off);
        CHECK_CLOSE_TO_CPU(yg, yc, tol(t));
      }
      // in place, unaligned start (elementwise ops may alias)
      Tensor xg = x.to(gpu());
      Tensor view = xg.narrow(0, 1, 1000);
      kg::unary(op, view, view, a, b);
      Tensor ref = x.narrow(0, 1, 1000).contiguous();
      kc::unary(op, ref, ref, a, b);
      CHECK_CLOSE_TO_CPU(view, ref, tol(t));
    }
}

GPU_TEST_CASE("binary: every op and dtype, dense, broadcast and strided output") {
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div,
                          BinaryOp::Pow, BinaryOp::Max, BinaryOp::Min, BinaryOp::Eq,
                          BinaryOp::ReluBackward};
  for (DType t : kAll)
    for (BinaryOp op : ops) {
      const bool ints = !is_floating(t);
      const bool pow = op == BinaryOp::Pow;
      const double lo_a = pow ? (ints ? 0 : 0.1) : (ints ? 0 : -3), hi_a = pow ? 4 : (ints ? 9 : 3);
      const double lo_b = pow ? 0 : (ints ? 1 : 0.5), hi_b = pow ? 3 : (ints ? 9 : 3);
      INFO("op ", static_cast<int>(op), " ", dtype_name(t));
      // dense, same shape
      const Tensor a = random_cpu({7, 33}, t, lo_a, hi_a, 100 + static_cast<int>(op));
      const Tensor b = random_cpu({7, 33}, t, lo_b, hi_b, 200 + static_cast<int>(op));
      Tensor oc = empty_like_on(a, Device::cpu()), og = empty_like_on(a, gpu());
      kc::binary(op, a, b, oc);
      kg::binary(op, a.to(gpu()), b.to(gpu()), og);
      CHECK_CLOSE_TO_CPU(og, oc, is_floating(t) ? tol(t) : 0.0);
      // broadcast [4,1,5] x [1,3,5] -> [4,3,5], written into a transposed (strided) output
      const Tensor a3 = random_cpu({4, 1, 5}, t, lo_a, hi_a, 300 + static_cast<int>(op));
      const Tensor b3 = random_cpu({1, 3, 5}, t, lo_b, hi_b, 400 + static_cast<int>(op));
      const Shape s = {4, 3, 5};
      Tensor oc3 = Tensor::empty({5, 3, 4}, TensorOptions(t)).permute({2, 1, 0});
      Tensor og3 = Tensor::empty({5, 3, 4}, on(t, gpu())).permute({2, 1, 0});
      kc::binary(op, expand(a3, s), expand(b3, s), oc3);
      kg::binary(op, expand(a3.to(gpu()), s), expand(b3.to(gpu()), s), og3);
      CHECK_CLOSE_TO_CPU(og3, oc3, is_floating(t) ? tol(t) : 0.0);
    }
}

GPU_TEST_CASE("copy: every dtype pair, contiguous and strided; fill: every dtype") {
  for (DType s : kAll)
    for (DType d : kAll) {
      INFO(dtype_name(s), " -> ", dtype_name(d));
      const Tensor x = random_cpu({6, 9, 5}, s, 0, 100, 7);
      // contiguous
      Tensor yc = Tensor::empty(x.shape(), TensorOptions(d)), yg = Tensor::empty(x.shape(), on(d, gpu()));
      kc::copy(x, yc);
      kg::copy(x.to(gpu()), yg);
      CHECK(bitwise_equal(yg, yc));
      // strided source (a permutation) into a strided destination (a narrowed buffer)
      const Tensor xp = x.permute({2, 0, 1});
      Tensor bufc = Tensor::empty({5, 6, 12}, TensorOptions(d)), bufg = Tensor::empty({5, 6, 12}, on(d, gpu()));
      kc::fill(bufc, 0.0);
      kg::fill(bufg, 0.0);
      kc::copy(xp, bufc.narrow(2, 2, 9));
      kg::copy(x.to(gpu()).permute({2, 0, 1}), bufg.narrow(2, 2, 9));
      CHECK(bitwise_equal(bufg, bufc));
    }
  for (DType t : kAll) {
    Tensor g = Tensor::empty({1027}, on(t, gpu())), c = Tensor::empty({1027}, TensorOptions(t));
    kg::fill(g, 3.0);
    kc::fill(c, 3.0);
    CHECK(bitwise_equal(g, c));
    kg::fill(g.narrow(0, 1, 1026), 5.0);  // unaligned start
    kc::fill(c.narrow(0, 1, 1026), 5.0);
    CHECK(bitwise_equal(g, c));
  }
}

GPU_TEST_CASE("reduce: sum/max/min over every pattern of dims, every dtype") {
  struct Case {
    Shape x;
    std::vector<int> dims;  // reduced
  };
  const Case cases[] = {
      {{5, 6, 7}, {0, 1, 2}}, {{5, 6, 7}, {0}},       {{5, 6, 7}, {2}},     {{5, 6, 7}, {0, 2}},
      {{5, 6, 7}, {1}},       {{3, 400, 2}, {1}},     {{1 << 20}, {0}},     {{65536, 3}, {0}},
      {{3, 70000}, {1}},      {{2, 1, 3, 1, 4}, {1, 2}}, {{1}, {0}},        {{9, 1}, {0}},
  };
  const ReduceOp ops[] = {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min};
  for (DType t : kAll)
    for (const Case& c : cases)
      for (ReduceOp op : ops) {
        Shape os = c.x;
        for (int d : c.dims) os[d] = 1;
        const Tensor x = random_cpu(c.x, t, is_floating(t) ? -2 : 0, is_floating(t) ? 2 : 50, 17);
        Tensor oc = Tensor::empty(os, TensorOptions(t)), og = Tensor::empty(os, on(t, gpu()));
        kc::reduce(op, x, oc);
        kg::reduce(op, x.to(gpu()), og);
        INFO(dtype_name(t), " ", shape_str(c.x), " op ", static_cast<int>(op), " dims ", c.dims.size());
        CHECK_CLOSE_TO_CPU(og, oc, is_floating(t) ? tol(t) : 0.0);
      }
  // NaN propagates through max and min
  Tensor x = from_vector<float>({1, NAN, 3, 2}, {4});
  Tensor og = Tensor::empty({1}, on(kFloat32, gpu()));
  kg::reduce(ReduceOp::Max, x.to(gpu()), og);
  CHECK(std::isnan(og.item()));
}

GPU_TEST_CASE("arg_reduce and softmax along every dim") {
  for (DType t : kAll)
    for (std::int64_t dim = 0; dim < 3; ++dim)
      for (bool is_max : {true, false}) {
        const Tensor x = random_cpu({4, 37, 5}, t, 0, is_floating(t) ? 1 : 5, 23);  // integer ties included
        Shape os = x.shape();
        os[dim] = 1;
        Tensor oc = Tensor::empty(os, TensorOptions(kInt64)), og = Tensor::empty(os, on(kInt64, gpu()));
        kc::arg_reduce(is_max, x, dim, oc);
        kg::arg_reduce(is_max, x.to(gpu()), dim, og);
        CHECK(bitwise_equal(og, oc));
      }
  for (DType t : kFloats)
    for (std::int64_t dim = 0; dim < 3; ++dim)
      for (bool log : {false, true}) {
        const Tensor x = random_cpu({3, 45, 4}, t, -20, 20, 29);
        Tensor oc = empty_like_on(x, Device::cpu()), og = empty_like_on(x, gpu());
        kc::softmax(x, dim, log, oc);
        kg::softmax(x.to(gpu()), dim, log, og);
        INFO(dtype_name(t), " dim ", dim, log ? " log" : "");
        CHECK_CLOSE_TO_CPU(og, oc, tol(t));
      }
  // a long row (several elements per lane) along the last dim
  const Tensor x = random_cpu({2, 3000}, kFloat32, -5, 5, 31);
  Tensor oc = empty_like_on(x, Device::cpu()), og = empty_like_on(x, gpu());
  kc::softmax(x, 1, true, oc);
  kg::softmax(x.to(gpu()), 1, true, og);
  CHECK_CLOSE_TO_CPU(og, oc, 1e-5);
}

GPU_TEST_CASE("gemm: every transpose combination, alpha and beta, float32 and float64") {
  const std::int64_t m = 37, n = 53, k = 29;
  for (DType t : kFloats)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (double beta : {0.0, 0.5}) {
          const Tensor a = random_cpu(ta ? Shape{k, m} : Shape{m, k}, t, -1, 1, 41);
          const Tensor b = random_cpu(tb ? Shape{n, k} : Shape{k, n}, t, -1, 1, 43);
          const Tensor c0 = random_cpu({m, n}, t, -1, 1, 47);
          Tensor cc = c0.clone(), cg = c0.to(gpu());
          kc::gemm(ta, tb, 1.5, a, b, beta, cc);
          kg::gemm(ta, tb, 1.5, a.to(gpu()), b.to(gpu()), beta, cg);
          INFO(dtype_name(t), " ta ", ta, " tb ", tb, " beta ", beta);
          CHECK_CLOSE_TO_CPU(cg, cc, t == kFloat32 ? 1e-5 : 1e-12);
        }
  // an empty inner dimension: C = beta C
  Tensor c = full({3, 4}, 2.0, on(kFloat32, gpu()));
  kg::gemm(false, false, 1.0, Tensor::empty({3, 0}, on(kFloat32, gpu())), Tensor::empty({0, 4}, on(kFloat32, gpu())),
           0.5, c);
  CHECK(c.to_vector<float>() == std::vector<float>(12, 1.0f));
}

// cuDNN may pick FFT or Winograd algorithms for float32: 1e-4 there (float64: 1e-10).
GPU_TEST_CASE("conv2d forward, backward input, backward weight (cuDNN) against im2col + GEMM") {
  struct Case {
    Shape x, w;
    Conv2dOptions o;
  };
  const Case cases[] = {
      {{2, 3, 9, 11}, {4, 3, 3, 3}, Conv2dOptions::make(1, 1)},
      {{3, 2, 12, 10}, {5, 2, 3, 2}, Conv2dOptions{2, 1, 1, 0, 1, 1}},
      {{2, 4, 13, 13}, {3, 4, 3, 3}, Conv2dOptions::make(1, 2, 2)},
      {{4, 8, 8, 8}, {16, 8, 1, 1}, Conv2dOptions::make(1, 0)},
  };
  for (DType t : kFloats)
    for (const Case& c : cases) {
      const double tl = t == kFloat32 ? 1e-4 : 1e-10;
      const Tensor x = random_cpu(c.x, t, -1, 1, 51), w = random_cpu(c.w, t, -1, 1, 53);
      const std::int64_t ho = (c.x[2] + 2 * c.o.pad_h - c.o.dilation_h * (c.w[2] - 1) - 1) / c.o.stride_h + 1;
      const std::int64_t wo = (c.x[3] + 2 * c.o.pad_w - c.o.dilation_w * (c.w[3] - 1) - 1) / c.o.stride_w + 1;
      const Shape ys = {c.x[0], c.w[0], ho, wo};
      Tensor yc = Tensor::empty(ys, TensorOptions(t)), yg = Tensor::empty(ys, on(t, gpu()));
      // With a bias on every other case (added inside the kernel), without on the others.
      const bool with_bias = (&c - cases) % 2 == 0;
      const Tensor bias = with_bias ? random_cpu({c.w[0]}, t, -1, 1, 59) : Tensor();
      kc::conv2d_forward(x, w, bias, yc, c.o);
      kg::conv2d_forward(x.to(gpu()), w.to(gpu()), with_bias ? bias.to(gpu()) : Tensor(), yg, c.o);
      INFO(dtype_name(t), " x ", shape_str(c.x), " w ", shape_str(c.w), with_bias ? " with bias" : "");
      CHECK_CLOSE_TO_CPU(yg, yc, tl);
      const Tensor gy = random_cpu(ys, t, -1, 1, 57);
      Tensor gxc = zeros(c.x, TensorOptions(t)), gxg = zeros(c.x, on(t, gpu()));
      kc::conv2d_backward_input(gy, w, gxc, c.o);
      kg::conv2d_backward_input(gy.to(gpu()), w.to(gpu()), gxg, c.o);
      CHECK_CLOSE_TO_CPU(gxg, gxc, tl);
      Tensor gwc = Tensor::empty(c.w, TensorOptions(t)), gwg = Tensor::empty(c.w, on(t, gpu()));
      kc::conv2d_backward_weight(gy, x, gwc, c.o);
      kg::conv2d_backward_weight(gy.to(gpu()), x.to(gpu()), gwg, c.o);
      CHECK_CLOSE_TO_CPU(gwg, gwc, tl);
    }
}

GPU_TEST_CASE("max and average pooling, forward and backward, overlapping windows and padding") {
  const Pool2dOptions opts[] = {Pool2dOptions::make(2), Pool2dOptions::make(3, 2, 1), Pool2dOptions::make(3, 1, 1),
                                Pool2dOptions{2, 3, 1, 2, 1, 1}};
  for (DType t : kFloats)
    for (const Pool2dOptions& o : opts) {
      const Shape xs = {3, 4, 11, 9};
      const Tensor x = random_cpu(xs, t, -1, 1, 61);
      const std::int64_t ho = (xs[2] + 2 * o.pad_h - o.kernel_h) / o.stride_h + 1;
      const std::int64_t wo = (xs[3] + 2 * o.pad_w - o.kernel_w) / o.stride_w + 1;
      const Shape ys = {xs[0], xs[1], ho, wo};
      Tensor yc = Tensor::empty(ys, TensorOptions(t)), yg = Tensor::empty(ys, on(t, gpu()));
      Tensor ic = Tensor::empty(ys, TensorOptions(kInt32)), ig = Tensor::empty(ys, on(kInt32, gpu()));
      kc::max_pool2d_forward(x, yc, ic, o);
      kg::max_pool2d_forward(x.to(gpu()), yg, ig, o);
      CHECK(bitwise_equal(yg, yc));
      CHECK(bitwise_equal(ig, ic));
      const Tensor gy = random_cpu(ys, t, -1, 1, 67);
      Tensor gxc = zeros(xs, TensorOptions(t)), gxg = zeros(xs, on(t, gpu()));
      kc::max_pool2d_backward(gy, ic, gxc, o);
      kg::max_pool2d_backward(gy.to(gpu()), ig, gxg, o);
      CHECK(bitwise_equal(gxg, gxc));  // gathered in the CPU's order (more cases: test_pool_conv.cpp)
      kc::avg_pool2d_forward(x, yc, o);
      kg::avg_pool2d_forward(x.to(gpu()), yg, o);
      CHECK_CLOSE_TO_CPU(yg, yc, tol(t));
      Tensor axc = zeros(xs, TensorOptions(t)), axg = zeros(xs, on(t, gpu()));
      kc::avg_pool2d_backward(gy, axc, o);
      kg::avg_pool2d_backward(gy.to(gpu()), axg, o);
      CHECK(bitwise_equal(axg, axc));  // gathered in the CPU's order
    }
}

GPU_TEST_CASE("batch norm statistics, apply and backward, [N, C, H, W] and [N, C]") {
  const Shape shapes[] = {{4, 3, 5, 7}, {64, 37}, {3, 2, 150, 150}};
  for (DType t : kFloats)
    for (const Shape& xs : shapes) {
      const std::int64_t c = xs[1];
      const Tensor x = random_cpu(xs, t, -2, 3, 71);
      const Tensor w = random_cpu({c}, t, 0.5, 1.5, 73), b = random_cpu({c}, t, -1, 1, 79);
      Tensor mc = Tensor::empty({c}, TensorOptions(t)), vc = Tensor::empty({c}, TensorOptions(t));
      Tensor mg = Tensor::empty({c}, on(t, gpu())), vg = Tensor::empty({c}, on(t, gpu()));
      kc::batch_norm_stats(x, 1e-5, mc, vc);
      const Tensor xg = x.to(gpu());
      kg::batch_norm_stats(xg, 1e-5, mg, vg);
      INFO(dtype_name(t), " ", shape_str(xs));
      CHECK_CLOSE_TO_CPU(mg, mc, tol(t));
      CHECK_CLOSE_TO_CPU(vg, vc, tol(t));
      // from here on both sides use the same statistics (the CPU's)
      Tensor yc = empty_like_on(x, Device::cpu()), yg = empty_like_on(x, gpu());
      kc::batch_norm_apply(x, mc, vc, w, b, yc);
      kg::batch_norm_apply(xg, mc.to(gpu()), vc.to(gpu()), w.to(gpu()), b.to(gpu()), yg);
      CHECK_CLOSE_TO_CPU(yg, yc, tol(t));
      const Tensor gy = random_cpu(xs, t, -1, 1, 83);
      Tensor gxc = empty_like_on(x, Device::cpu()), gxg = empty_like_on(x, gpu());
      Tensor gwc = Tensor::empty({c}, TensorOptions(t)), gbc = Tensor::empty({c}, TensorOptions(t));
      Tensor gwg = Tensor::empty({c}, on(t, gpu())), gbg = Tensor::empty({c}, on(t, gpu()));
      kc::batch_norm_backward(gy, x, mc, vc, w, gxc, gwc, gbc);
      kg::batch_norm_backward(gy.to(gpu()), xg, mc.to(gpu()), vc.to(gpu()), w.to(gpu()), gxg, gwg, gbg);
      CHECK_CLOSE_TO_CPU(gxg, gxc, tol(t));
      CHECK_CLOSE_TO_CPU(gwg, gwc, tol(t));
      CHECK_CLOSE_TO_CPU(gbg, gbc, tol(t));
      Tensor gx2 = empty_like_on(x, gpu());  // weight and bias gradients not wanted
      kg::batch_norm_backward(gy.to(gpu()), xg, mc.to(gpu()), vc.to(gpu()), w.to(gpu()), gx2, Tensor(), Tensor());
      CHECK(bitwise_equal(gx2, gxg));
    }
}

GPU_TEST_CASE("cross-entropy forward and backward with ignore_index and label smoothing") {
  for (DType t : kFloats)
    for (double smoothing : {0.0, 0.1})
      for (std::int64_t classes : {10, 100}) {
        const std::int64_t n = 67;
        const Tensor logits = random_cpu({n, classes}, t, -6, 6, 89);
        Tensor target = random_cpu({n}, kInt64, 0, static_cast<double>(classes), 97);
        auto tv = target.to_vector<std::int64_t>();
        tv[3] = -100;
        tv[40] = -100;
        target = from_vector<std::int64_t>(tv, {n});
        Tensor lc = Tensor::empty({n}, TensorOptions(t)), lg = Tensor::empty({n}, on(t, gpu()));
        kc::cross_entropy_forward(logits, target, -100, smoothing, lc);
        kg::cross_entropy_forward(logits.to(gpu()), target.to(gpu()), -100, smoothing, lg);
        INFO(dtype_name(t), " smoothing ", smoothing, " classes ", classes);
        CHECK_CLOSE_TO_CPU(lg, lc, tol(t));
        const Tensor gl = random_cpu({n}, t, 0, 1, 101);
        Tensor dc = empty_like_on(logits, Device::cpu()), dg = empty_like_on(logits, gpu());
        kc::cross_entropy_backward(logits, target, -100, smoothing, gl, dc);
        kg::cross_entropy_backward(logits.to(gpu()), target.to(gpu()), -100, smoothing, gl.to(gpu()), dg);
        CHECK_CLOSE_TO_CPU(dg, dc, tol(t));
      }
}

GPU_TEST_CASE("Philox random numbers: the CPU's numbers for the same seed and offset") {
  for (DType t : kFloats)
    for (std::int64_t n : {1, 4, 1001}) {
      Tensor uc = Tensor::empty({n}, TensorOptions(t)), ug = Tensor::empty({n}, on(t, gpu()));
      kc::random_uniform(uc, 1234, 77);
      kg::random_uniform(ug, 1234, 77);
      CHECK(bitwise_equal(ug, uc));  // integer arithmetic and an exact scaling: identical bits
      Tensor nc = Tensor::empty({n}, TensorOptions(t)), ng = Tensor::empty({n}, on(t, gpu()));
      kc::random_normal(nc, 99, 5);
      kg::random_normal(ng, 99, 5);
      // log/cos in double may differ in the last bit between CUDA and glibc
      CHECK_CLOSE_TO_CPU(ng, nc, t == kFloat32 ? 1e-6 : 1e-13);
    }
  // the op level: the same seed gives the same tensor on either device
  Generator g1(42), g2(42);
  CHECK(bitwise_equal(rand({257}, on(kFloat32, gpu()), &g1), rand({257}, TensorOptions(kFloat32), &g2)));
}

GPU_TEST_CASE("index_select and index_add (repeated indices, bitwise the CPU's order)") {
  for (DType t : kAll) {
    const Tensor x = random_cpu({9, 7}, t, 0, 50, 103);
    const Tensor idx = from_vector<std::int64_t>({3, 0, 8, 3, 3, 5, 0, 1}, {8});
    Tensor oc = Tensor::empty({8, 7}, TensorOptions(t)), og = Tensor::empty({8, 7}, on(t, gpu()));
    kc::index_select(x, idx, oc);
    kg::index_select(x.to(gpu()), idx.to(gpu()), og);
    CHECK(bitwise_equal(og, oc));
    const Tensor g = random_cpu({8, 7}, t, 0, 50, 107);
    Tensor gc = zeros({9, 7}, TensorOptions(t)), gg = zeros({9, 7}, on(t, gpu()));
    kc::index_add(g, idx, gc);
    kg::index_add(g.to(gpu()), idx.to(gpu()), gg);
    CHECK(bitwise_equal(gg, gc));
  }
  // many repeats of few rows, odd row length (1-byte copies for uint8, 4 for float)
  const Tensor idx = random_cpu({5000}, kInt64, 0, 13, 109);
  const Tensor g = random_cpu({5000, 3}, kFloat32, -1, 1, 113);
  Tensor gc = zeros({13, 3}, TensorOptions(kFloat32)), gg = zeros({13, 3}, on(kFloat32, gpu()));
  kc::index_add(g, idx, gc);
  kg::index_add(g.to(gpu()), idx.to(gpu()), gg);
  CHECK(bitwise_equal(gg, gc));
}

GPU_TEST_CASE("bad indices and targets found by kernels are raised at the next synchronisation") {
  const Tensor x = ones({5, 3}, on(kFloat32, gpu()));
  const Tensor idx = from_vector<std::int64_t>({1, 7}, {2}).to(gpu());
  Tensor out = Tensor::empty({2, 3}, on(kFloat32, gpu()));
  kg::index_select(x, idx, out);
  CHECK_THROWS_WITH_AS(synchronize(gpu()), doctest::Contains("index 7 at position 1 is out of range"), Error);
  CHECK_NOTHROW(synchronize(gpu()));  // reported once
  const Tensor logits = zeros({2, 4}, on(kFloat32, gpu()));
  const Tensor target = from_vector<std::int64_t>({0, 4}, {2}).to(gpu());
  Tensor loss = Tensor::empty({2}, on(kFloat32, gpu()));
  kg::cross_entropy_forward(logits, target, -100, 0.0, loss);
  // The copy to the host is the synchronisation that raises it (loss has two elements: item() would
  // refuse it before synchronising, and leave the error to surface in whichever test syncs next).
  CHECK_THROWS_WITH_AS(loss.to(Device::cpu()), doctest::Contains("target 4 of sample 1 is out of range"), Error);
  CHECK_NOTHROW(synchronize(gpu()));  // reported once
}
