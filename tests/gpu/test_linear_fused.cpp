// Linear's fused GEMM epilogues (kernels/cuda/linear.cu, cuBLASLt): the fused
// forward (product + bias) and weight gradient (dW + bias gradient) against
// the CPU reference and against the plain cuBLAS path (bias copy + GEMM;
// GEMM + row sum), kernel by kernel and through autograd, float32 with TF32
// off (the suite's default). float64 takes the plain path.
#include "gpu_test.h"
#include "minidp/kernels/cuda/linear.h"

using namespace minidp;
using namespace minidp::test;
namespace kc = minidp::kernels::cpu;
namespace kg = minidp::kernels::cuda;
using kernels::ReduceOp;

namespace {

struct LinearShape {
  std::int64_t m, k, n;  // batch, in features, out features
};
// Batch 1, 7 and 512 through the MLP's layer sizes, and odd sizes.
// {13, 1, 3} has K = 1 and {3, 7, 1} N = 1: both must fall back.
const LinearShape kShapes[] = {{1, 784, 1024},  {7, 784, 1024}, {512, 784, 1024}, {1, 1024, 10}, {7, 1024, 10},
                               {512, 1024, 10}, {5, 33, 17},    {13, 1, 3},       {3, 7, 1},     {129, 65, 31}};

std::string describe(const LinearShape& s) {
  return "M " + std::to_string(s.m) + " K " + std::to_string(s.k) + " N " + std::to_string(s.n);
}

// The plain cuBLAS path, kernel by kernel: what the op ran before the fusion.
void plain_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
  kg::copy(make_view(b, y.shape(), {0, 1}, b.offset()), y);
  kg::gemm(false, true, 1.0, x, w, 1.0, y);
}
void plain_backward_weight(const Tensor& g, const Tensor& x, const Tensor& gw, const Tensor& gb) {
  kg::gemm(true, false, 1.0, g, x, 0.0, gw);
  kg::reduce(ReduceOp::Sum, g, make_view(gb, {1, gb.size(0)}, {gb.size(0), 1}, gb.offset()));
}

// Rows [1, 1 + m) of a [m + 1, cols] tensor: contiguous, but starting
// cols * 4 bytes into its block — as a replica's slice of a batch does.
Tensor offset_rows(const Tensor& t) {
  Tensor big = Tensor::empty({t.size(0) + 1, t.size(1)}, t.options());
  Tensor v = big.slice(1, t.size(0) + 1);
  kg::copy(t, v);
  return v;
}

}  // namespace

GPU_TEST_CASE("linear fused epilogues: forward and weight gradient against the CPU and the plain cuBLAS path") {
  const auto before = kg::linear_epilogue_counts();
  for (const LinearShape& s : kShapes) {
    INFO(describe(s));
    const Tensor x = random_cpu({s.m, s.k}, kFloat32, -1, 1, 301);
    const Tensor w = random_cpu({s.n, s.k}, kFloat32, -1, 1, 303);
    const Tensor b = random_cpu({s.n}, kFloat32, -1, 1, 305);
    const Tensor g = random_cpu({s.m, s.n}, kFloat32, -1, 1, 307);
    const Tensor xg = x.to(gpu()), wg = w.to(gpu()), bg = b.to(gpu()), gg = g.to(gpu());

    // forward
    Tensor yc = Tensor::empty({s.m, s.n}, TensorOptions(kFloat32));
    kc::linear_forward(x, w, b, yc);
    Tensor yf = Tensor::empty({s.m, s.n}, on(kFloat32, gpu())), yp = Tensor::empty({s.m, s.n}, on(kFloat32, gpu()));
    // The benchmark's layer (512 x 784 -> 1024) must run its forward fused:
    // the bias epilogue in full FP32 on 256-byte aligned operands is what
    // cuBLASLt is built for. Its weight gradient (BGRADB in FP32, a less
    // common combination) may have no algorithm: counted (and said in the
    // counts row), not demanded. Batch 1 and one output feature never ask
    // cuBLASLt (its heuristic refuses M, N or K of 1: linear_plan.h) and
    // must take the plain path. Other shapes may go either way.
    const bool must_fuse = s.m == 512 && s.k == 784 && s.n == 1024;
    const bool must_plain = s.m == 1 || s.n == 1 || s.k == 1;
    const auto c0 = kg::linear_epilogue_counts();
    kg::linear_forward(xg, wg, bg, yf);
    const auto c1 = kg::linear_epilogue_counts();
    if (must_fuse) CHECK(c1.forward_fused == c0.forward_fused + 1);
    if (must_plain) CHECK(c1.forward_plain == c0.forward_plain + 1);
    plain_forward(xg, wg, bg, yp);
    CHECK_CLOSE_TO_CPU(yf, yc, tol(kFloat32));
    CHECK_CLOSE_TO_CPU(yf, yp.to(Device::cpu()), tol(kFloat32));

    // weight and bias gradients
    Tensor gwc = Tensor::empty({s.n, s.k}, TensorOptions(kFloat32)), gbc = Tensor::empty({s.n}, TensorOptions(kFloat32));
    kc::linear_backward_weight(g, x, gwc, gbc);
    Tensor gwf = Tensor::empty({s.n, s.k}, on(kFloat32, gpu())), gbf = Tensor::empty({s.n}, on(kFloat32, gpu()));
    Tensor gwp = Tensor::empty({s.n, s.k}, on(kFloat32, gpu())), gbp = Tensor::empty({s.n}, on(kFloat32, gpu()));
    kg::linear_backward_weight(gg, xg, gwf, gbf);
    const auto c2 = kg::linear_epilogue_counts();
    if (must_plain) CHECK(c2.backward_plain == c1.backward_plain + 1);
    if (must_plain) CHECK(c2.backward_no_algorithm == c1.backward_no_algorithm);  // never asked
    // Either path, and a plain run after asking is counted as such.
    CHECK(c2.backward_fused + c2.backward_plain == c1.backward_fused + c1.backward_plain + 1);
    if (c2.backward_plain > c1.backward_plain && !must_plain)
      CHECK(c2.backward_no_algorithm == c1.backward_no_algorithm + 1);
    plain_backward_weight(gg, xg, gwp, gbp);
    CHECK_CLOSE_TO_CPU(gwf, gwc, tol(kFloat32));
    CHECK_CLOSE_TO_CPU(gbf, gbc, tol(kFloat32));
    CHECK_CLOSE_TO_CPU(gwf, gwp.to(Device::cpu()), tol(kFloat32));
    CHECK_CLOSE_TO_CPU(gbf, gbp.to(Device::cpu()), tol(kFloat32));

    // Operands that start off cuBLASLt's preferred 256-byte alignment (a
    // replica's batch slice): the heuristic must be told, or an algorithm
    // that needs aligned loads may be chosen.
    const Tensor xo = offset_rows(xg), go = offset_rows(gg);
    Tensor yo = offset_rows(Tensor::empty({s.m, s.n}, on(kFloat32, gpu())));
    kg::linear_forward(xo, wg, bg, yo);
    CHECK_CLOSE_TO_CPU(yo, yc, tol(kFloat32));
    Tensor gwo = offset_rows(Tensor::empty({s.n, s.k}, on(kFloat32, gpu())));
    Tensor gbo = Tensor::empty({s.n + 1}, on(kFloat32, gpu())).slice(1, s.n + 1);
    kg::linear_backward_weight(go, xo, gwo, gbo);
    CHECK_CLOSE_TO_CPU(gwo, gwc, tol(kFloat32));
    CHECK_CLOSE_TO_CPU(gbo, gbc, tol(kFloat32));
  }
  const auto after = kg::linear_epilogue_counts();
  const std::uint64_t runs = 2 * (sizeof(kShapes) / sizeof(kShapes[0]));
  MESSAGE("cuBLASLt epilogues: forward fused ", after.forward_fused - before.forward_fused, " of ", runs,
          ", weight gradient fused ", after.backward_fused - before.backward_fused, " of ", runs);
  // Odd shapes, 4-byte aligned operands and BGRADB in FP32 (a less common
  // combination) may have no cuBLASLt algorithm: they are reported above, not
  // demanded — the plain path gives the same numbers. Every run took one path.
  CHECK(after.forward_fused + after.forward_plain - before.forward_fused - before.forward_plain == runs);
  CHECK(after.backward_fused + after.backward_plain - before.backward_fused - before.backward_plain == runs);
}

GPU_TEST_CASE("linear through autograd on the GPU: forward and all three gradients against the CPU") {
  for (DType t : {kFloat32, kFloat64})
    for (const LinearShape& s : kShapes) {
      INFO(dtype_name(t), " ", describe(s));
      auto run = [&](Device d) {
        Tensor x = random_cpu({s.m, s.k}, t, -1, 1, 311).to(d).requires_grad_();
        Tensor w = random_cpu({s.n, s.k}, t, -1, 1, 313).to(d).requires_grad_();
        Tensor b = random_cpu({s.n}, t, -1, 1, 317).to(d).requires_grad_();
        const Tensor r = random_cpu({s.m, s.n}, t, -1, 1, 319).to(d);
        Tensor y = linear(x, w, b);
        sum(mul(y, r)).backward();  // dL/dy = r
        return std::vector<Tensor>{y.detach().to(Device::cpu()), x.grad().to(Device::cpu()),
                                   w.grad().to(Device::cpu()), b.grad().to(Device::cpu())};
      };
      const auto c = run(Device::cpu()), g = run(gpu());
      const char* names[] = {"y", "dx", "dW", "db"};
      for (std::size_t i = 0; i < c.size(); ++i) {
        INFO(names[i]);
        CHECK_CLOSE_TO_CPU(g[i], c[i], tol(t));
      }
    }
}

GPU_TEST_CASE("linear fused epilogues: a frozen weight or bias, float64, a 3-D input, an empty batch") {
  const Tensor x = random_cpu({2, 3, 20}, kFloat32, -1, 1, 331), w = random_cpu({6, 20}, kFloat32, -1, 1, 337);
  const Tensor b = random_cpu({6}, kFloat32, -1, 1, 347), r = random_cpu({2, 3, 6}, kFloat32, -1, 1, 349);
  for (int frozen = 0; frozen < 2; ++frozen) {  // 0: the weight, 1: the bias
    INFO((frozen == 0 ? "frozen weight" : "frozen bias"));
    auto run = [&](Device d) {
      Tensor xd = x.to(d).requires_grad_(), wd = w.to(d), bd = b.to(d);
      if (frozen == 0) bd.requires_grad_();
      else wd.requires_grad_();
      Tensor y = linear(xd, wd, bd);
      sum(mul(y, r.to(d))).backward();
      return std::vector<Tensor>{y.detach().to(Device::cpu()), xd.grad().to(Device::cpu()),
                                 (frozen == 0 ? bd : wd).grad().to(Device::cpu())};
    };
    const auto c = run(Device::cpu()), g = run(gpu());
    for (std::size_t i = 0; i < c.size(); ++i) CHECK_CLOSE_TO_CPU(g[i], c[i], tol(kFloat32));
  }
  // float64: the plain path, counted as such
  const auto before = kg::linear_epilogue_counts();
  const Tensor x64 = x.to(kFloat64).reshape({6, 20}), w64 = w.to(kFloat64), b64 = b.to(kFloat64);
  Tensor yc = Tensor::empty({6, 6}, TensorOptions(kFloat64)), yg = Tensor::empty({6, 6}, on(kFloat64, gpu()));
  kc::linear_forward(x64, w64, b64, yc);
  kg::linear_forward(x64.to(gpu()), w64.to(gpu()), b64.to(gpu()), yg);
  CHECK_CLOSE_TO_CPU(yg, yc, tol(kFloat64));
  CHECK(kg::linear_epilogue_counts().forward_plain == before.forward_plain + 1);
  // an empty batch: y empty, dW and db zero
  Tensor x0 = Tensor::empty({0, 20}, on(kFloat32, gpu())).requires_grad_();
  Tensor w0 = w.to(gpu()).requires_grad_(), b0 = b.to(gpu()).requires_grad_();
  Tensor y0 = linear(x0, w0, b0);
  CHECK((y0.shape() == Shape{0, 6}));
  sum(y0).backward();
  CHECK(w0.grad().to(Device::cpu()).to_vector<float>() == std::vector<float>(120, 0.0f));
  CHECK(b0.grad().to(Device::cpu()).to_vector<float>() == std::vector<float>(6, 0.0f));
}

GPU_TEST_CASE("linear fused epilogues follow the TF32 switch") {
  // With TF32 on, the operands are rounded to 10-bit mantissas: ~1e-3 relative.
  const Tensor x = random_cpu({64, 512}, kFloat32, -1, 1, 353), w = random_cpu({128, 512}, kFloat32, -1, 1, 359);
  const Tensor b = random_cpu({128}, kFloat32, -1, 1, 361), g = random_cpu({64, 128}, kFloat32, -1, 1, 367);
  Tensor yc = Tensor::empty({64, 128}, TensorOptions(kFloat32));
  Tensor gwc = Tensor::empty({128, 512}, TensorOptions(kFloat32)), gbc = Tensor::empty({128}, TensorOptions(kFloat32));
  kc::linear_forward(x, w, b, yc);
  kc::linear_backward_weight(g, x, gwc, gbc);
  struct Tf32Off {  // restores the suite's default even if a check throws
    ~Tf32Off() { set_allow_tf32(false); }
  } restore;
  for (bool tf32 : {false, true}) {
    INFO("TF32 ", tf32);
    set_allow_tf32(tf32);
    Tensor yg = Tensor::empty({64, 128}, on(kFloat32, gpu()));
    Tensor gwg = Tensor::empty({128, 512}, on(kFloat32, gpu())), gbg = Tensor::empty({128}, on(kFloat32, gpu()));
    kg::linear_forward(x.to(gpu()), w.to(gpu()), b.to(gpu()), yg);
    kg::linear_backward_weight(g.to(gpu()), x.to(gpu()), gwg, gbg);
    const double tl = tf32 ? 1e-2 : tol(kFloat32);
    CHECK_CLOSE_TO_CPU(yg, yc, tl);
    CHECK_CLOSE_TO_CPU(gwg, gwc, tl);
    CHECK_CLOSE_TO_CPU(gbg, gbc, tl);
  }
}

GPU_TEST_CASE("linear fused epilogues are deterministic: two runs are bitwise equal") {
  // One algorithm per shape (chosen once, cached) and the workspace size it asked for.
  const Tensor x = random_cpu({512, 784}, kFloat32, -1, 1, 371).to(gpu());
  const Tensor w = random_cpu({1024, 784}, kFloat32, -1, 1, 373).to(gpu());
  const Tensor b = random_cpu({1024}, kFloat32, -1, 1, 379).to(gpu());
  const Tensor g = random_cpu({512, 1024}, kFloat32, -1, 1, 383).to(gpu());
  std::vector<Tensor> runs[2];
  for (auto& r : runs) {
    Tensor y = Tensor::empty({512, 1024}, on(kFloat32, gpu()));
    Tensor gw = Tensor::empty({1024, 784}, on(kFloat32, gpu())), gb = Tensor::empty({1024}, on(kFloat32, gpu()));
    kg::linear_forward(x, w, b, y);
    kg::linear_backward_weight(g, x, gw, gb);
    r = {y, gw, gb};
  }
  for (std::size_t i = 0; i < runs[0].size(); ++i) CHECK(bitwise_equal(runs[0][i], runs[1][i]));
}
