// Analytic gradients of every differentiable op against central finite
// differences in float64 (see gradcheck.h for the error measure).
#include <doctest/doctest.h>

#include <string>
#include <tuple>

#include "gradcheck.h"
#include "minidp/minidp.h"

using namespace minidp;
using namespace minidp::test;
using V = std::vector<Tensor>;

namespace {
std::string str(const Shape& s) { return shape_str(s); }
}  // namespace

// ---------------------------------------------------------------- the checker itself
TEST_CASE("gradcheck: the checker flags a wrong or missing backward") {
  auto exp_with_factor = [](double factor) {
    return [factor](const V& in) {
      Tensor y;
      {
        NoGradGuard ng;
        y = exp(in[0]);
      }
      return record("exp_test", y, {in[0]}, [y = y.detach(), factor](const Tensor& g) {
        return std::vector<Tensor>{mul(mul(g, y), factor)};
      });
    };
  };
  const Tensor x = uniform64({3, 2}, 1);
  CHECK(gradcheck(exp_with_factor(1.0), {x}).max_error < 1e-6);
  CHECK(gradcheck(exp_with_factor(1.01), {x}).max_error > 1e-3);  // a 1% error is caught

  // A computation that silently cuts an input out of the graph.
  auto cut = [](const V& in) { return add(exp(in[0].detach()), in[1]); };
  const GradcheckResult r = gradcheck(cut, {x, uniform64({3, 2}, 2)});
  CHECK_FALSE(r.grads_defined);
  CHECK(r.max_error > 0.1);
}

// ---------------------------------------------------------------- linear algebra
TEST_CASE("gradcheck: matmul, all four transpose combinations") {
  const std::vector<std::tuple<int, int, int>> mkn = {{3, 4, 5}, {1, 3, 1}, {2, 1, 3}, {5, 2, 1}};
  std::uint64_t seed = 10;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (auto [m, k, n] : mkn) {
        const Shape sa = ta ? Shape{k, m} : Shape{m, k};
        const Shape sb = tb ? Shape{n, k} : Shape{k, n};
        check_grad("matmul ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) + " " + str(sa) + " @ " + str(sb),
                   [ta, tb](const V& in) { return matmul(in[0], in[1], ta, tb); },
                   {uniform64(sa, seed), uniform64(sb, seed + 1)});
        seed += 2;
      }
  // non-contiguous operands (transposed views) go through the same op
  check_grad("matmul of transposed views", [](const V& in) { return matmul(in[0].t(), in[1].t()); },
             {uniform64({4, 3}, 90), uniform64({2, 4}, 91)});
}

TEST_CASE("gradcheck: linear with and without bias, 1-D/2-D/3-D input") {
  check_grad("linear [4,3] w[2,3] b[2]", [](const V& in) { return linear(in[0], in[1], in[2]); },
             {uniform64({4, 3}, 1), uniform64({2, 3}, 2), uniform64({2}, 3)});
  check_grad("linear no bias", [](const V& in) { return linear(in[0], in[1]); },
             {uniform64({5, 3}, 4), uniform64({1, 3}, 5)});
  check_grad("linear 3-D input", [](const V& in) { return linear(in[0], in[1], in[2]); },
             {uniform64({2, 3, 4}, 6), uniform64({3, 4}, 7), uniform64({3}, 8)});
  check_grad("linear 1-D input", [](const V& in) { return linear(in[0], in[1], in[2]); },
             {uniform64({4}, 9), uniform64({2, 4}, 10), uniform64({2}, 11)});
}

// ---------------------------------------------------------------- binary elementwise with broadcasting
namespace {
const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{3, 4}, {3, 4}},       {{2, 3, 4}, {4}},    {{2, 1, 4}, {3, 1}}, {{1}, {2, 3}},
    {{5, 1, 3}, {1, 4, 1}}, {{}, {2, 3}},        {{2, 3}, {1, 1}},    {{1, 1, 1}, {1, 1, 1}},
    {{3, 1}, {}},           {{1, 5}, {3, 1}},
};
}  // namespace

TEST_CASE("gradcheck: add, sub, mul, div, pow with broadcasting") {
  std::uint64_t seed = 100;
  for (const auto& [sa, sb] : kBroadcastPairs) {
    const std::string shapes = str(sa) + " and " + str(sb);
    const Tensor a = uniform64(sa, seed), b = uniform64(sb, seed + 1);
    check_grad("add " + shapes, [](const V& in) { return add(in[0], in[1]); }, {a, b});
    check_grad("sub " + shapes, [](const V& in) { return sub(in[0], in[1]); }, {a, b});
    check_grad("mul " + shapes, [](const V& in) { return mul(in[0], in[1]); }, {a, b});
    check_grad("div " + shapes, [](const V& in) { return div(in[0], in[1]); },
               {a, away_from_zero(sb, seed + 2, 0.5)});
    // pow differentiates the base and the exponent: base > 0
    check_grad("pow " + shapes, [](const V& in) { return pow(in[0], in[1]); },
               {uniform64(sa, seed + 3, 0.5, 2.0), uniform64(sb, seed + 4, -1.5, 1.5)});
    seed += 5;
  }
  // the operators are the same ops
  check_grad("a * b + a / b - b", [](const V& in) { return in[0] * in[1] + in[0] / in[1] - in[1]; },
             {uniform64({2, 3}, 7), away_from_zero({3}, 8, 0.5)});
}

TEST_CASE("gradcheck: maximum and minimum with broadcasting (no ties)") {
  std::uint64_t seed = 200;
  for (const auto& [sa, sb] : kBroadcastPairs) {
    // a on the grid -1 + 0.1 k, b on -0.95 + 0.1 k: every pair differs by >= 0.05
    const Tensor a = distinct(sa, seed, 0.1, -1.0), b = distinct(sb, seed + 1, 0.1, -0.95);
    const std::string shapes = str(sa) + " and " + str(sb);
    check_grad("maximum " + shapes, [](const V& in) { return maximum(in[0], in[1]); }, {a, b});
    check_grad("minimum " + shapes, [](const V& in) { return minimum(in[0], in[1]); }, {a, b});
    seed += 2;
  }
}

TEST_CASE("gradcheck: scalar forms add/sub/mul/div/pow/rsub/neg") {
  const Tensor x = uniform64({3, 1, 4}, 300);
  const Tensor pos = uniform64({3, 1, 4}, 301, 0.5, 2.0);
  check_grad("add(x, 2.5)", [](const V& in) { return add(in[0], 2.5); }, {x});
  check_grad("sub(x, 1.5)", [](const V& in) { return sub(in[0], 1.5); }, {x});
  check_grad("mul(x, -3)", [](const V& in) { return mul(in[0], -3.0); }, {x});
  check_grad("div(x, 4)", [](const V& in) { return div(in[0], 4.0); }, {x});
  check_grad("rsub(x, 2)", [](const V& in) { return rsub(in[0], 2.0); }, {x});
  check_grad("neg(x)", [](const V& in) { return neg(in[0]); }, {x});
  check_grad("pow(x, 3)", [](const V& in) { return pow(in[0], 3.0); }, {x});
  check_grad("pow(x, 2)", [](const V& in) { return pow(in[0], 2.0); }, {x});
  check_grad("pow(x, 0.5)", [](const V& in) { return pow(in[0], 0.5); }, {pos});
  check_grad("pow(x, -2)", [](const V& in) { return pow(in[0], -2.0); }, {pos});
  check_grad("operators 2*x - x/3 + 1", [](const V& in) { return 2.0 * in[0] - in[0] / 3.0 + 1.0; }, {x});
  check_grad("scalar op on 0-d", [](const V& in) { return mul(in[0], 1.5); }, {uniform64({}, 302)});
}

// ---------------------------------------------------------------- unary
TEST_CASE("gradcheck: unary ops on several shapes and a non-contiguous view") {
  const std::vector<Shape> shapes = {{}, {1}, {3, 1, 5}, {2, 3}};
  std::uint64_t seed = 400;
  for (const auto& s : shapes) {
    const std::string sh = str(s);
    const Tensor x = uniform64(s, seed, -1.5, 1.5);
    const Tensor pos = uniform64(s, seed + 1, 0.3, 2.0);
    const Tensor nz = away_from_zero(s, seed + 2);
    check_grad("exp " + sh, [](const V& in) { return exp(in[0]); }, {x});
    check_grad("log " + sh, [](const V& in) { return log(in[0]); }, {pos});
    check_grad("sqrt " + sh, [](const V& in) { return sqrt(in[0]); }, {pos});
    check_grad("abs " + sh, [](const V& in) { return abs(in[0]); }, {nz});
    check_grad("relu " + sh, [](const V& in) { return relu(in[0]); }, {nz});
    check_grad("leaky_relu " + sh, [](const V& in) { return leaky_relu(in[0], 0.1); }, {nz});
    check_grad("leaky_relu default " + sh, [](const V& in) { return leaky_relu(in[0]); }, {nz});
    check_grad("sigmoid " + sh, [](const V& in) { return sigmoid(in[0]); }, {mul(x, 3.0)});
    check_grad("tanh " + sh, [](const V& in) { return tanh(in[0]); }, {x});
    check_grad("gelu " + sh, [](const V& in) { return gelu(in[0]); }, {mul(x, 2.0)});
    seed += 3;
  }
  // transposed (non-contiguous) input
  const Tensor m = uniform64({3, 4}, 450);
  check_grad("exp of a transposed view", [](const V& in) { return exp(in[0].t()); }, {m});
  check_grad("sigmoid of a narrowed view", [](const V& in) { return sigmoid(in[0].narrow(1, 1, 2)); }, {m});
}

TEST_CASE("gradcheck: clamp with both, only min, only max (away from the bounds)") {
  // grid -0.95, -0.85, ..., 0.95 in random order: never within 0.05 of +-0.5
  const Tensor x = distinct({4, 5}, 500, 0.1, -0.95);
  check_grad("clamp [-0.5, 0.5]", [](const V& in) { return clamp(in[0], -0.5, 0.5); }, {x});
  check_grad("clamp min -0.5", [](const V& in) { return clamp(in[0], -0.5, std::nullopt); }, {x});
  check_grad("clamp max 0.5", [](const V& in) { return clamp(in[0], std::nullopt, 0.5); }, {x});
}

// ---------------------------------------------------------------- reductions
TEST_CASE("gradcheck: sum and mean over dims and over all, keepdim both") {
  const std::vector<Shape> shapes = {{3, 1, 4}, {2, 3, 5}};
  const std::vector<Dims> dim_sets = {{}, {0}, {1}, {-1}, {0, 2}, {2, 0, 1}};
  std::uint64_t seed = 600;
  for (const auto& s : shapes)
    for (const auto& dims : dim_sets)
      for (bool keep : {false, true}) {
        const std::string name = str(s) + " dims " + shape_str(dims) + (keep ? " keepdim" : "");
        const Tensor x = uniform64(s, seed++);
        check_grad("sum " + name, [dims, keep](const V& in) { return sum(in[0], dims, keep); }, {x});
        check_grad("mean " + name, [dims, keep](const V& in) { return mean(in[0], dims, keep); }, {x});
      }
  check_grad("sum of a 0-d tensor", [](const V& in) { return sum(in[0]); }, {uniform64({}, 650)});
  check_grad("sum of a transposed view", [](const V& in) { return sum(in[0].t(), {1}); }, {uniform64({3, 4}, 651)});
}

TEST_CASE("gradcheck: max and min over a dim (keepdim both) and over all") {
  const std::vector<Shape> shapes = {{3, 4}, {2, 3, 5}, {1, 4}, {5}};
  std::uint64_t seed = 700;
  for (const auto& s : shapes) {
    const Tensor x = distinct(s, seed++);
    for (std::int64_t d = -1; d < static_cast<std::int64_t>(s.size()); ++d)
      for (bool keep : {false, true}) {
        const std::string name = str(s) + " dim " + std::to_string(d) + (keep ? " keepdim" : "");
        check_grad("max " + name, [d, keep](const V& in) { return max(in[0], d, keep); }, {x});
        check_grad("min " + name, [d, keep](const V& in) { return min(in[0], d, keep); }, {x});
      }
    check_grad("max all " + str(s), [](const V& in) { return max(in[0]); }, {x});
    check_grad("min all " + str(s), [](const V& in) { return min(in[0]); }, {x});
  }
}

TEST_CASE("gradcheck: softmax and log_softmax over every dim") {
  const std::vector<Shape> shapes = {{2, 3, 4}, {5}, {1, 4}, {3, 1}};
  std::uint64_t seed = 800;
  for (const auto& s : shapes) {
    const Tensor x = uniform64(s, seed++, -2.0, 2.0);
    for (std::int64_t d = -1; d < static_cast<std::int64_t>(s.size()); ++d) {
      const std::string name = str(s) + " dim " + std::to_string(d);
      check_grad("softmax " + name, [d](const V& in) { return softmax(in[0], d); }, {x});
      check_grad("log_softmax " + name, [d](const V& in) { return log_softmax(in[0], d); }, {x});
    }
  }
}

// ---------------------------------------------------------------- losses
TEST_CASE("gradcheck: cross_entropy over reductions, ignore_index and label smoothing") {
  const Tensor logits = uniform64({5, 4}, 900, -2.0, 2.0);
  const Tensor target = from_vector<std::int64_t>({0, 3, 1, 3, 2}, {5});
  const Tensor target_ignored = from_vector<std::int64_t>({0, -100, 1, 3, -100}, {5});
  const Tensor target_ignore2 = from_vector<std::int64_t>({0, 2, 1, 3, 2}, {5});  // ignore_index = 2
  for (Reduction red : {Reduction::None, Reduction::Sum, Reduction::Mean})
    for (double smoothing : {0.0, 0.1, 1.0}) {
      const std::string name = "reduction " + std::to_string(static_cast<int>(red)) + " smoothing " +
                               std::to_string(smoothing);
      CrossEntropyOptions o;
      o.reduction = red;
      o.label_smoothing = smoothing;
      check_grad("cross_entropy " + name, [o, target](const V& in) { return cross_entropy(in[0], target, o); },
                 {logits});
      check_grad("cross_entropy ignore -100 " + name,
                 [o, target_ignored](const V& in) { return cross_entropy(in[0], target_ignored, o); }, {logits});
      CrossEntropyOptions o2 = o;
      o2.ignore_index = 2;
      check_grad("cross_entropy ignore 2 " + name,
                 [o2, target_ignore2](const V& in) { return cross_entropy(in[0], target_ignore2, o2); }, {logits});
    }
  // int32 targets and a single sample, single class
  check_grad("cross_entropy int32 target",
             [](const V& in) { return cross_entropy(in[0], from_vector<std::int32_t>({2, 0}, {2})); },
             {uniform64({2, 3}, 901)});
  check_grad("cross_entropy [1, 1]", [](const V& in) { return cross_entropy(in[0], from_vector<std::int64_t>({0}, {1})); },
             {uniform64({1, 1}, 902)});
}

TEST_CASE("gradcheck: binary_cross_entropy_with_logits with and without pos_weight") {
  const Tensor logits = uniform64({4, 3}, 1000, -3.0, 3.0);
  const Tensor target = uniform64({4, 3}, 1001, 0.0, 1.0);  // soft targets are allowed
  const Tensor pw = uniform64({3}, 1002, 0.5, 3.0);
  const Tensor pw1 = from_vector<double>({2.5}, {1});
  for (Reduction red : {Reduction::None, Reduction::Sum, Reduction::Mean}) {
    const std::string name = "reduction " + std::to_string(static_cast<int>(red));
    check_grad("bce " + name,
               [target, red](const V& in) { return binary_cross_entropy_with_logits(in[0], target, Tensor(), red); },
               {logits});
    check_grad("bce pos_weight [3] " + name,
               [target, pw, red](const V& in) { return binary_cross_entropy_with_logits(in[0], target, pw, red); },
               {logits});
    check_grad("bce pos_weight [1] " + name,
               [target, pw1, red](const V& in) { return binary_cross_entropy_with_logits(in[0], target, pw1, red); },
               {logits});
    // pos_weight itself is differentiable (as in PyTorch)
    check_grad("bce d/d pos_weight " + name,
               [logits, target, red](const V& in) {
                 return binary_cross_entropy_with_logits(logits, target, in[0], red);
               },
               {pw});
  }
  check_grad("bce 1-D", [](const V& in) {
    return binary_cross_entropy_with_logits(in[0], from_vector<double>({1, 0, 1, 0, 1}, {5}));
  }, {uniform64({5}, 1003, -4.0, 4.0)});
}

TEST_CASE("gradcheck: mse_loss (both arguments) over reductions") {
  for (Reduction red : {Reduction::None, Reduction::Sum, Reduction::Mean})
    for (const Shape& s : {Shape{3, 4}, Shape{5}, Shape{2, 1, 3}})
      check_grad("mse_loss " + str(s) + " reduction " + std::to_string(static_cast<int>(red)),
                 [red](const V& in) { return mse_loss(in[0], in[1], red); },
                 {uniform64(s, 1100), uniform64(s, 1101)});
}

// ---------------------------------------------------------------- shape ops
TEST_CASE("gradcheck: reshape, flatten, transpose, permute, squeeze/unsqueeze") {
  const Tensor x = uniform64({2, 3, 4}, 1200);
  check_grad("reshape {4, -1}", [](const V& in) { return reshape(in[0], {4, -1}); }, {x});
  check_grad("reshape to 1-D", [](const V& in) { return in[0].reshape({24}); }, {x});
  check_grad("flatten all", [](const V& in) { return flatten(in[0]); }, {x});
  check_grad("flatten(1)", [](const V& in) { return flatten(in[0], 1); }, {x});
  check_grad("flatten(0, 1)", [](const V& in) { return flatten(in[0], 0, 1); }, {x});
  check_grad("transpose(0, 2)", [](const V& in) { return transpose(in[0], 0, 2); }, {x});
  check_grad("transpose(-1, 1)", [](const V& in) { return transpose(in[0], -1, 1); }, {x});
  check_grad("permute {2, 0, 1}", [](const V& in) { return permute(in[0], {2, 0, 1}); }, {x});
  check_grad("permute {1, 2, 0} then reshape (copying)", [](const V& in) { return permute(in[0], {1, 2, 0}).reshape({-1}); },
             {x});
  check_grad("unsqueeze/squeeze", [](const V& in) { return in[0].unsqueeze(1).squeeze(1).unsqueeze(-1); }, {x});
  check_grad("view", [](const V& in) { return in[0].view({6, 4}); }, {x});
  check_grad("contiguous of a transposed view", [](const V& in) { return in[0].transpose(0, 1).contiguous(); }, {x});
  check_grad("clone", [](const V& in) { return mul(in[0].clone(), in[0]); }, {x});
}

TEST_CASE("gradcheck: narrow, slice, row indexing, cat, split") {
  const Tensor x = uniform64({3, 5, 2}, 1300);
  check_grad("narrow(1, 1, 3)", [](const V& in) { return narrow(in[0], 1, 1, 3); }, {x});
  check_grad("narrow(-1, 1, 1)", [](const V& in) { return narrow(in[0], -1, 1, 1); }, {x});
  check_grad("slice(1, 3)", [](const V& in) { return in[0].slice(1, 3); }, {x});
  check_grad("row [2]", [](const V& in) { return in[0][2]; }, {x});
  check_grad("overlapping narrows", [](const V& in) { return add(narrow(in[0], 1, 0, 3), narrow(in[0], 1, 2, 3)); }, {x});

  check_grad("cat dim 1 of three", [](const V& in) { return cat({in[0], in[1], in[2]}, 1); },
             {uniform64({2, 3}, 1301), uniform64({2, 1}, 1302), uniform64({2, 4}, 1303)});
  check_grad("cat dim 0", [](const V& in) { return cat({in[0], in[1]}, 0); },
             {uniform64({1, 3}, 1304), uniform64({2, 3}, 1305)});
  check_grad("cat dim -1 of 3-D", [](const V& in) { return cat({in[0], in[1]}, -1); },
             {uniform64({2, 2, 1}, 1306), uniform64({2, 2, 3}, 1307)});
  check_grad("cat of one input used twice", [](const V& in) { return cat({in[0], in[0]}, 0); }, {uniform64({2, 2}, 1308)});

  auto join = [](const std::vector<Tensor>& parts) {
    std::vector<Tensor> flat;
    double k = 1.0;
    for (const auto& p : parts) flat.push_back(mul(p, k++).reshape({-1}));  // each piece weighted differently
    return cat(flat, 0);
  };
  check_grad("split size 2 along dim 1 (2, 2, 1)", [join](const V& in) { return join(split(in[0], 2, 1)); }, {x});
  check_grad("split sizes {1, 3, 1}", [join](const V& in) { return join(split(in[0], {1, 3, 1}, 1)); }, {x});
  check_grad("split along dim 0", [join](const V& in) { return join(split(in[0], 1, 0)); }, {x});
}

TEST_CASE("gradcheck: embedding and index_select with repeated indices") {
  const Tensor w = uniform64({5, 3}, 1400);
  const Tensor idx = from_vector<std::int64_t>({4, 0, 4, 2, 2, 4}, {2, 3});
  check_grad("embedding [2,3] index", [idx](const V& in) { return embedding(in[0], idx); }, {w});
  check_grad("embedding 1-D index", [](const V& in) { return embedding(in[0], from_vector<std::int64_t>({1, 1, 3}, {3})); },
             {w});
  check_grad("index_select", [](const V& in) { return index_select(in[0], from_vector<std::int64_t>({3, 0, 3, 1}, {4})); },
             {uniform64({4, 3}, 1401)});
  check_grad("index_select int32 index, 3-D",
             [](const V& in) { return index_select(in[0], from_vector<std::int32_t>({1, 1, 0}, {3})); },
             {uniform64({2, 3, 2}, 1402)});
}

// ---------------------------------------------------------------- neural-network ops
TEST_CASE("gradcheck: conv2d with stride, padding, dilation and bias") {
  struct Case {
    Shape x, w;
    Conv2dOptions o;
    bool bias;
  };
  const std::vector<Case> cases = {
      {{2, 3, 5, 6}, {4, 3, 3, 3}, Conv2dOptions::make(1, 0), true},
      {{1, 2, 7, 5}, {3, 2, 3, 2}, Conv2dOptions::make(2, 1), false},
      {{2, 1, 7, 7}, {2, 1, 3, 3}, Conv2dOptions::make(1, 2, 2), true},
      {{1, 3, 4, 4}, {1, 3, 1, 1}, Conv2dOptions::make(1, 0), true},
      {{1, 2, 6, 7}, {2, 2, 2, 3}, Conv2dOptions{1, 2, 0, 1, 2, 1}, true},  // asymmetric everything
      {{3, 1, 3, 3}, {2, 1, 3, 3}, Conv2dOptions::make(3, 1), true},        // stride larger than 1 output
  };
  std::uint64_t seed = 1500;
  for (const auto& c : cases) {
    const std::string name = "conv2d x" + str(c.x) + " w" + str(c.w) + " stride " + std::to_string(c.o.stride_h) + "x" +
                             std::to_string(c.o.stride_w) + " pad " + std::to_string(c.o.pad_h) + "x" +
                             std::to_string(c.o.pad_w) + " dil " + std::to_string(c.o.dilation_h) + "x" +
                             std::to_string(c.o.dilation_w);
    const Conv2dOptions o = c.o;
    if (c.bias) {
      check_grad(name + " bias", [o](const V& in) { return conv2d(in[0], in[1], in[2], o); },
                 {uniform64(c.x, seed), uniform64(c.w, seed + 1), uniform64({c.w[0]}, seed + 2)});
    } else {
      check_grad(name, [o](const V& in) { return conv2d(in[0], in[1], Tensor(), o); },
                 {uniform64(c.x, seed), uniform64(c.w, seed + 1)});
    }
    seed += 3;
  }
}

TEST_CASE("gradcheck: max_pool2d and avg_pool2d") {
  const std::vector<Pool2dOptions> opts = {
      Pool2dOptions::make(2),        // 2x2, stride 2
      Pool2dOptions::make(3, 2, 1),  // overlapping windows with padding
      Pool2dOptions::make(3, 1, 1),
      Pool2dOptions{2, 3, 1, 2, 0, 1},  // asymmetric kernel, stride, padding
  };
  std::uint64_t seed = 1600;
  for (const auto& o : opts)
    for (const Shape& s : {Shape{2, 2, 5, 6}, Shape{1, 1, 4, 4}}) {
      const std::string name = str(s) + " kernel " + std::to_string(o.kernel_h) + "x" + std::to_string(o.kernel_w) +
                               " stride " + std::to_string(o.stride_h) + "x" + std::to_string(o.stride_w) + " pad " +
                               std::to_string(o.pad_h) + "x" + std::to_string(o.pad_w);
      check_grad("max_pool2d " + name, [o](const V& in) { return max_pool2d(in[0], o); }, {distinct(s, seed)});
      check_grad("avg_pool2d " + name, [o](const V& in) { return avg_pool2d(in[0], o); }, {uniform64(s, seed + 1)});
      seed += 2;
    }
}

TEST_CASE("gradcheck: batch_norm in training and evaluation") {
  const std::vector<Shape> shapes = {{6, 3}, {3, 2, 3, 2}, {2, 1, 2, 2}};
  std::uint64_t seed = 1700;
  for (const auto& s : shapes) {
    const std::int64_t c = s[1];
    const Tensor x = uniform64(s, seed, -2.0, 2.0), w = uniform64({c}, seed + 1, 0.5, 1.5), b = uniform64({c}, seed + 2);
    check_grad("batch_norm training " + str(s), [c](const V& in) {
      // fresh running buffers on each call, so every evaluation sees the same state
      return batch_norm(in[0], in[1], in[2], zeros({c}, kFloat64), ones({c}, kFloat64), true);
    }, {x, w, b});
    check_grad("batch_norm training, no affine, no buffers " + str(s),
               [](const V& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); }, {x});
    const Tensor rm = uniform64({c}, seed + 3), rv = uniform64({c}, seed + 4, 0.5, 2.0);
    check_grad("batch_norm eval " + str(s),
               [rm, rv](const V& in) { return batch_norm(in[0], in[1], in[2], rm, rv, false); }, {x, w, b});
    seed += 5;
  }
}

TEST_CASE("gradcheck: dropout with a fixed mask (a copy of one Generator per call)") {
  const Generator gen(77);
  const Tensor x = uniform64({4, 5}, 1800);
  // the mask is not trivial: some elements dropped, some kept
  Generator g0 = gen;
  const auto y = dropout(x, 0.3, true, &g0).to_vector<double>();
  int zeros_n = 0;
  for (double v : y) zeros_n += v == 0.0;
  REQUIRE(zeros_n > 0);
  REQUIRE(zeros_n < 20);
  check_grad("dropout p=0.3", [gen](const V& in) {
    Generator g = gen;
    return dropout(in[0], 0.3, true, &g);
  }, {x});
  check_grad("dropout eval is identity", [](const V& in) { return dropout(in[0], 0.3, false); }, {x});
}

TEST_CASE("gradcheck: a small network end to end (shared leaves, several paths)") {
  const Tensor target = from_vector<std::int64_t>({1, 0, 2, 1}, {4});
  check_grad("mlp", [target](const V& in) {
    Tensor h = tanh(linear(in[0], in[1], in[2]));
    Tensor logits = linear(add(h, mul(h, h)), in[3]);
    return add(cross_entropy(logits, target), mul(sum(mul(in[1], in[1])), 0.01));  // + weight decay on w1
  }, {uniform64({4, 3}, 1900), uniform64({5, 3}, 1901), uniform64({5}, 1902), uniform64({3, 5}, 1903)});
}
