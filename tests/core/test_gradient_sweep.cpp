// No gradient is dropped silently: every op declared in core/ops.h, with every
// floating input requiring grad, either computes each input's gradient
// (checked against central finite differences in float64, gradcheck.h) or
// raises a minidp::Error naming the op and the input.
//
// The sweep has one entry per op name of core/ops.h, with the number of its
// overloads; the first test parses the header (MINIDP_SOURCE_DIR) and fails,
// naming the op, when an op or an overload has no entry — so a new op cannot
// slip past without its gradients being looked at. Each entry exercises every
// overload. Entries are of four kinds:
//   grads     every floating input requires grad; all gradients checked;
//   raises    the inputs that require grad make the op raise (naming op and
//             input) while grad mode is on, and it computes with grad mode off;
//   constant  not differentiable, as in PyTorch (comparisons, argmax,
//             zeros_like): the output does not require grad, and finite
//             differences find it constant around the point;
//   factory   no differentiable input at all: the result is a leaf.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "minidp/minidp.h"

using namespace minidp;
using namespace minidp::test;
using V = std::vector<Tensor>;

namespace {

// ---------------------------------------------------------------- the four kinds of check
// float64 leaves; inputs[i] requires grad where wants[i] (all when `wants` is empty).
V leaves_of(const V& inputs, const std::vector<bool>& wants = {}) {
  V out;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Tensor l = inputs[i].to(kFloat64).clone().detach();
    if (wants.empty() || wants[i]) l.requires_grad_(true);
    out.push_back(l);
  }
  return out;
}

void grads(const std::string& what, const GradFn& f, const V& inputs) { check_grad(what, f, inputs); }

void raises(const std::string& what, const GradFn& f, const V& inputs, const std::vector<bool>& wants,
            const std::vector<std::string>& needles) {
  INFO(what);
  const V leaves = leaves_of(inputs, wants);
  for (const auto& n : needles) CHECK_THROWS_WITH_AS(f(leaves), doctest::Contains(n.c_str()), Error);
  NoGradGuard ng;  // the refusal is about gradients only
  CHECK_NOTHROW(f(leaves));
}

void constant(const std::string& what, const GradFn& f, const V& inputs) {
  INFO(what);
  V leaves = leaves_of(inputs);
  const Tensor out = f(leaves);
  CHECK_FALSE(out.requires_grad());
  CHECK(out.is_leaf());
  const std::vector<double> base = out.to(kFloat64).to_vector<double>();
  double change = 0;
  for (auto& l : leaves) {
    double* p = l.data<double>();
    for (std::int64_t j = 0; j < l.numel(); ++j) {
      const double orig = p[j];
      for (double h : {1e-6, -1e-6}) {
        p[j] = orig + h;
        const std::vector<double> v = f(leaves).to(kFloat64).to_vector<double>();
        for (std::size_t k = 0; k < v.size(); ++k) change = std::max(change, std::abs(v[k] - base[k]));
      }
      p[j] = orig;
    }
  }
  CHECK(change == 0.0);
}

void factory(const std::string& what, const Tensor& t) {
  INFO(what);
  CHECK(t.is_leaf());
  CHECK_FALSE(t.requires_grad());
}

// ---------------------------------------------------------------- inputs
Tensor u(const Shape& s, std::uint64_t seed, double lo = -1.0, double hi = 1.0) { return uniform64(s, seed, lo, hi); }
Tensor pos(const Shape& s, std::uint64_t seed) { return uniform64(s, seed, 0.5, 2.0); }
Tensor ints(const std::vector<std::int64_t>& v, const Shape& s) { return from_vector(v, s); }
const TensorOptions k64 = kFloat64;

// ---------------------------------------------------------------- the sweep
enum class Family { Factory, Elementwise, Reduction, Linalg, Shape, NN, Loss, Operator };

struct Entry {
  const char* op;
  int overloads;  // declarations of this name in core/ops.h; the check covers each
  Family family;
  std::function<void()> check;
};

const std::vector<Entry>& sweep() {
  using F = Family;
  static const std::vector<Entry> entries = {
      // ------------------------------------------------------------ factories: no differentiable input
      {"zeros", 1, F::Factory, [] { factory("zeros", zeros({2, 3}, k64)); }},
      {"ones", 1, F::Factory, [] { factory("ones", ones({2}, k64)); }},
      {"full", 1, F::Factory, [] { factory("full", full({2}, 3.0, k64)); }},
      {"zeros_like", 1, F::Factory, [] { constant("zeros_like", [](const V& in) { return zeros_like(in[0]); }, {u({2, 3}, 1)}); }},
      {"ones_like", 1, F::Factory, [] { constant("ones_like", [](const V& in) { return ones_like(in[0]); }, {u({2, 3}, 2)}); }},
      {"arange", 2, F::Factory, [] {
         factory("arange(end)", arange(5));
         factory("arange(start, end, step)", arange(0.0, 1.0, 0.25, k64));
       }},
      {"from_vector", 1, F::Factory, [] { factory("from_vector", from_vector<double>({1, 2}, {2})); }},
      {"scalar_tensor", 1, F::Factory, [] { factory("scalar_tensor", scalar_tensor(2.0, k64)); }},
      {"rand", 1, F::Factory, [] { factory("rand", rand({3}, k64)); }},
      {"randn", 1, F::Factory, [] { factory("randn", randn({3}, k64)); }},
      {"uniform", 1, F::Factory, [] { factory("uniform", uniform({3}, -1.0, 1.0, k64)); }},
      {"normal", 1, F::Factory, [] { factory("normal", normal({3}, 0.0, 2.0, k64)); }},
      {"bernoulli", 1, F::Factory, [] { factory("bernoulli", bernoulli({3}, 0.5, k64)); }},
      {"randint", 1, F::Factory, [] { factory("randint", randint(0, 4, {3})); }},

      // ------------------------------------------------------------ elementwise
      {"add", 2, F::Elementwise, [] {
         grads("add(tensor, tensor)", [](const V& in) { return add(in[0], in[1]); }, {u({2, 3}, 10), u({3}, 11)});
         grads("add(tensor, scalar)", [](const V& in) { return add(in[0], 0.5); }, {u({2, 3}, 12)});
       }},
      {"sub", 2, F::Elementwise, [] {
         grads("sub(tensor, tensor)", [](const V& in) { return sub(in[0], in[1]); }, {u({2, 1}, 13), u({2, 3}, 14)});
         grads("sub(tensor, scalar)", [](const V& in) { return sub(in[0], 0.5); }, {u({2, 3}, 15)});
       }},
      {"mul", 2, F::Elementwise, [] {
         grads("mul(tensor, tensor)", [](const V& in) { return mul(in[0], in[1]); }, {u({2, 3}, 16), u({}, 17)});
         grads("mul(tensor, scalar)", [](const V& in) { return mul(in[0], -1.5); }, {u({2, 3}, 18)});
       }},
      {"div", 2, F::Elementwise, [] {
         grads("div(tensor, tensor)", [](const V& in) { return div(in[0], in[1]); }, {u({2, 3}, 19), pos({3}, 20)});
         grads("div(tensor, scalar)", [](const V& in) { return div(in[0], 4.0); }, {u({2, 3}, 21)});
       }},
      {"pow", 2, F::Elementwise, [] {
         grads("pow(tensor, tensor)", [](const V& in) { return pow(in[0], in[1]); }, {pos({2, 3}, 22), u({2, 3}, 23)});
         grads("pow(tensor, scalar)", [](const V& in) { return pow(in[0], 2.5); }, {pos({2, 3}, 24)});
       }},
      // a on the grid -1 + 0.1 k, b on -0.95 + 0.1 k: never tied
      {"maximum", 1, F::Elementwise, [] {
         grads("maximum", [](const V& in) { return maximum(in[0], in[1]); },
               {distinct({3, 4}, 25), distinct({4}, 26, 0.1, -0.95)});
       }},
      {"minimum", 1, F::Elementwise, [] {
         grads("minimum", [](const V& in) { return minimum(in[0], in[1]); },
               {distinct({3, 4}, 27), distinct({3, 4}, 28, 0.1, -0.95)});
       }},
      {"rsub", 1, F::Elementwise, [] { grads("rsub", [](const V& in) { return rsub(in[0], 2.0); }, {u({3}, 29)}); }},
      {"neg", 1, F::Elementwise, [] { grads("neg", [](const V& in) { return neg(in[0]); }, {u({3}, 30)}); }},
      {"exp", 1, F::Elementwise, [] { grads("exp", [](const V& in) { return exp(in[0]); }, {u({3}, 31)}); }},
      {"log", 1, F::Elementwise, [] { grads("log", [](const V& in) { return log(in[0]); }, {pos({3}, 32)}); }},
      {"sqrt", 1, F::Elementwise, [] { grads("sqrt", [](const V& in) { return sqrt(in[0]); }, {pos({3}, 33)}); }},
      {"abs", 1, F::Elementwise, [] { grads("abs", [](const V& in) { return abs(in[0]); }, {away_from_zero({6}, 34)}); }},
      // values on -1.05 + 0.1 k: at least 0.05 from the bounds
      {"clamp", 1, F::Elementwise, [] {
         const Tensor x = distinct({4, 5}, 35, 0.1, -1.05);
         grads("clamp both", [](const V& in) { return clamp(in[0], -0.5, 0.5); }, {x});
         grads("clamp min", [](const V& in) { return clamp(in[0], 0.0, std::nullopt); }, {x});
         grads("clamp max", [](const V& in) { return clamp(in[0], std::nullopt, 0.0); }, {x});
       }},
      {"relu", 1, F::Elementwise, [] { grads("relu", [](const V& in) { return relu(in[0]); }, {away_from_zero({6}, 36)}); }},
      {"leaky_relu", 1, F::Elementwise, [] {
         grads("leaky_relu", [](const V& in) { return leaky_relu(in[0], 0.1); }, {away_from_zero({6}, 37)});
       }},
      {"sigmoid", 1, F::Elementwise, [] { grads("sigmoid", [](const V& in) { return sigmoid(in[0]); }, {u({4}, 38)}); }},
      {"tanh", 1, F::Elementwise, [] { grads("tanh", [](const V& in) { return tanh(in[0]); }, {u({4}, 39)}); }},
      {"gelu", 1, F::Elementwise, [] { grads("gelu", [](const V& in) { return gelu(in[0]); }, {u({4}, 40, -3, 3)}); }},
      {"eq", 1, F::Elementwise, [] {
         constant("eq", [](const V& in) { return eq(in[0], in[1]); }, {distinct({2, 3}, 41), distinct({2, 3}, 42, 0.1, -0.95)});
       }},
      {"gt", 1, F::Elementwise, [] {
         constant("gt", [](const V& in) { return gt(in[0], 0.0); }, {distinct({2, 3}, 43, 0.1, -0.25)});
       }},

      // ------------------------------------------------------------ reductions
      {"sum", 1, F::Reduction, [] {
         grads("sum all", [](const V& in) { return sum(in[0]); }, {u({2, 3}, 50)});
         grads("sum dim keepdim", [](const V& in) { return sum(in[0], {-1}, true); }, {u({2, 3, 2}, 51)});
       }},
      {"mean", 1, F::Reduction, [] {
         grads("mean all", [](const V& in) { return mean(in[0]); }, {u({2, 3}, 52)});
         grads("mean dims", [](const V& in) { return mean(in[0], {0, 2}); }, {u({2, 3, 2}, 53)});
       }},
      {"max", 2, F::Reduction, [] {
         grads("max(x, dim)", [](const V& in) { return max(in[0], 1); }, {distinct({3, 4}, 54)});
         grads("max(x)", [](const V& in) { return max(in[0]); }, {distinct({3, 4}, 55)});
       }},
      {"min", 2, F::Reduction, [] {
         grads("min(x, dim)", [](const V& in) { return min(in[0], 0, true); }, {distinct({3, 4}, 56)});
         grads("min(x)", [](const V& in) { return min(in[0]); }, {distinct({3, 4}, 57)});
       }},
      {"argmax", 1, F::Reduction, [] {
         constant("argmax", [](const V& in) { return argmax(in[0], 1); }, {distinct({3, 4}, 58)});
       }},
      {"sum_to", 1, F::Reduction, [] {
         grads("sum_to", [](const V& in) { return sum_to(in[0], {3, 1}); }, {u({2, 3, 4}, 59)});
       }},
      {"softmax", 1, F::Reduction, [] {
         grads("softmax", [](const V& in) { return softmax(in[0], 1); }, {u({3, 4}, 60)});
       }},
      {"log_softmax", 1, F::Reduction, [] {
         grads("log_softmax", [](const V& in) { return log_softmax(in[0], -1); }, {u({2, 2, 3}, 61)});
       }},

      // ------------------------------------------------------------ linear algebra
      {"matmul", 1, F::Linalg, [] {
         grads("matmul", [](const V& in) { return matmul(in[0], in[1]); }, {u({2, 3}, 70), u({3, 4}, 71)});
         grads("matmul a^T b^T", [](const V& in) { return matmul(in[0], in[1], true, true); },
               {u({3, 2}, 72), u({4, 3}, 73)});
       }},
      {"linear", 1, F::Linalg, [] {
         grads("linear with bias, 3-D input", [](const V& in) { return linear(in[0], in[1], in[2]); },
               {u({2, 2, 3}, 74), u({4, 3}, 75), u({4}, 76)});
         grads("linear without bias", [](const V& in) { return linear(in[0], in[1]); }, {u({2, 3}, 77), u({4, 3}, 78)});
       }},

      // ------------------------------------------------------------ shape
      {"reshape", 1, F::Shape, [] {
         grads("reshape of a transposed view", [](const V& in) { return reshape(in[0].t(), {-1}); }, {u({2, 3}, 80)});
       }},
      {"flatten", 1, F::Shape, [] {
         grads("flatten", [](const V& in) { return flatten(in[0], 1); }, {u({2, 3, 2}, 81)});
       }},
      {"transpose", 1, F::Shape, [] {
         grads("transpose", [](const V& in) { return transpose(in[0], 0, 2); }, {u({2, 3, 2}, 82)});
       }},
      {"permute", 1, F::Shape, [] {
         grads("permute", [](const V& in) { return permute(in[0], {2, 0, 1}); }, {u({2, 3, 2}, 83)});
       }},
      {"narrow", 1, F::Shape, [] {
         grads("narrow", [](const V& in) { return narrow(in[0], 1, 1, 2); }, {u({2, 4}, 84)});
       }},
      {"cat", 1, F::Shape, [] {
         grads("cat", [](const V& in) { return cat({in[0], in[1], in[2]}, 1); },
               {u({2, 1}, 85), u({2, 3}, 86), u({2, 2}, 87)});
       }},
      {"split", 2, F::Shape, [] {
         grads("split(x, size, dim)", [](const V& in) {
           auto p = split(in[0], 2, 1);
           return cat({p[1], p[0]}, 1);
         }, {u({2, 4}, 88)});
         grads("split(x, sizes, dim)", [](const V& in) {
           auto p = split(in[0], std::vector<std::int64_t>{1, 3}, 0);
           return cat({p[1], p[0]}, 0);
         }, {u({4, 2}, 89)});
       }},
      {"embedding", 1, F::Shape, [] {  // the index is integer: only the weight is differentiable
         const Tensor idx = ints({4, 0, 4, 2, 1, 4}, {2, 3});
         grads("embedding", [idx](const V& in) { return embedding(in[0], idx); }, {u({5, 3}, 90)});
       }},
      {"index_select", 1, F::Shape, [] {
         const Tensor idx = ints({3, 0, 3}, {3});
         grads("index_select", [idx](const V& in) { return index_select(in[0], idx); }, {u({4, 2}, 91)});
       }},

      // ------------------------------------------------------------ neural-network ops
      {"conv2d", 1, F::NN, [] {
         grads("conv2d with bias, stride 2, padding 1", [](const V& in) {
           return conv2d(in[0], in[1], in[2], Conv2dOptions::make(2, 1));
         }, {u({1, 2, 5, 5}, 100), u({3, 2, 3, 3}, 101), u({3}, 102)});
         grads("conv2d without bias, dilation 2", [](const V& in) {
           return conv2d(in[0], in[1], Tensor(), Conv2dOptions::make(1, 0, 2));
         }, {u({2, 1, 5, 5}, 103), u({2, 1, 2, 2}, 104)});
       }},
      {"max_pool2d", 1, F::NN, [] {
         grads("max_pool2d", [](const V& in) { return max_pool2d(in[0], Pool2dOptions::make(2)); },
               {distinct({1, 2, 4, 4}, 105)});
       }},
      {"avg_pool2d", 1, F::NN, [] {
         grads("avg_pool2d", [](const V& in) { return avg_pool2d(in[0], Pool2dOptions::make(3, 1, 1)); },
               {u({1, 2, 4, 4}, 106)});
       }},
      {"batch_norm", 1, F::NN, [] {
         // running statistics that do not require grad: fresh copies per call (training updates them)
         const Tensor rm = u({3}, 107), rv = pos({3}, 108);
         for (bool training : {true, false}) {
           const std::string mode = training ? " (training)" : " (evaluation)";
           grads("batch_norm [N, C]" + mode, [rm, rv, training](const V& in) {
             return batch_norm(in[0], in[1], in[2], rm.clone(), rv.clone(), training);
           }, {u({4, 3}, 109), u({3}, 110), u({3}, 111)});
           grads("batch_norm [N, C, H, W]" + mode, [rm, rv, training](const V& in) {
             return batch_norm(in[0], in[1], in[2], rm.clone(), rv.clone(), training);
           }, {u({2, 3, 2, 2}, 112), u({3}, 113), u({3}, 114)});
           // running statistics are buffers: requiring grad raises, as in PyTorch
           auto all = [training](const V& in) { return batch_norm(in[0], in[1], in[2], in[3], in[4], training); };
           const V inputs{u({4, 3}, 115), u({3}, 116), u({3}, 117), u({3}, 118), pos({3}, 119)};
           raises("batch_norm, every input requires grad" + mode, all, inputs, {},
                  {"batch_norm", "running_mean", "detach"});
           raises("batch_norm, running_var requires grad" + mode, all, inputs, {true, true, true, false, true},
                  {"batch_norm", "running_var", "detach"});
         }
         grads("batch_norm without weight and bias", [](const V& in) {
           return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
         }, {u({4, 2}, 120)});
       }},
      {"dropout", 1, F::NN, [] {
         grads("dropout training", [](const V& in) {
           Generator g(121);  // a fresh copy per call: the same mask every time
           return dropout(in[0], 0.3, true, &g);
         }, {u({4, 5}, 122)});
         grads("dropout p = 1", [](const V& in) { return dropout(in[0], 1.0, true); }, {u({3}, 123)});
         grads("dropout evaluation", [](const V& in) { return dropout(in[0], 0.3, false); }, {u({3}, 124)});
       }},

      // ------------------------------------------------------------ losses (integer labels are not differentiable)
      {"cross_entropy", 1, F::Loss, [] {
         const Tensor t = ints({2, 0, 1, 2}, {4});
         grads("cross_entropy", [t](const V& in) { return cross_entropy(in[0], t); }, {u({4, 3}, 130, -2, 2)});
         grads("cross_entropy sum, ignore_index, label_smoothing", [t](const V& in) {
           return cross_entropy(in[0], t, {Reduction::Sum, 0, 0.2});
         }, {u({4, 3}, 131, -2, 2)});
         grads("cross_entropy none", [t](const V& in) {
           return cross_entropy(in[0], t, {Reduction::None, -100, 0.0});
         }, {u({4, 3}, 132, -2, 2)});
       }},
      {"binary_cross_entropy_with_logits", 1, F::Loss, [] {
         // soft targets in (0, 1); logits, target and pos_weight all require grad
         std::uint64_t seed = 140;
         for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
           grads("bce, no pos_weight", [r](const V& in) {
             return binary_cross_entropy_with_logits(in[0], in[1], Tensor(), r);
           }, {u({3, 4}, seed, -3, 3), u({3, 4}, seed + 1, 0.05, 0.95)});
           for (const Shape& pw : {Shape{4}, Shape{1}, Shape{}}) {
             grads("bce, pos_weight " + shape_str(pw), [r](const V& in) {
               return binary_cross_entropy_with_logits(in[0], in[1], in[2], r);
             }, {u({3, 4}, seed + 2, -3, 3), u({3, 4}, seed + 3, 0.05, 0.95), pos(pw, seed + 4)});
             seed += 5;
           }
         }
       }},
      {"mse_loss", 1, F::Loss, [] {
         for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
           grads("mse_loss", [r](const V& in) { return mse_loss(in[0], in[1], r); }, {u({2, 3}, 160), u({2, 3}, 161)});
       }},

      // ------------------------------------------------------------ operators
      {"operator+", 2, F::Operator, [] {
         grads("a + b", [](const V& in) { return in[0] + in[1]; }, {u({2, 3}, 170), u({3}, 171)});
         grads("a + s", [](const V& in) { return in[0] + 2.0; }, {u({2}, 172)});
       }},
      {"operator-", 3, F::Operator, [] {
         grads("a - b", [](const V& in) { return in[0] - in[1]; }, {u({2, 3}, 173), u({3}, 174)});
         grads("a - s", [](const V& in) { return in[0] - 2.0; }, {u({2}, 175)});
         grads("-a", [](const V& in) { return -in[0]; }, {u({2}, 176)});
       }},
      {"operator*", 3, F::Operator, [] {
         grads("a * b", [](const V& in) { return in[0] * in[1]; }, {u({2, 3}, 177), u({3}, 178)});
         grads("a * s", [](const V& in) { return in[0] * 2.0; }, {u({2}, 179)});
         grads("s * a", [](const V& in) { return 2.0 * in[0]; }, {u({2}, 180)});
       }},
      {"operator/", 2, F::Operator, [] {
         grads("a / b", [](const V& in) { return in[0] / in[1]; }, {u({2, 3}, 181), pos({3}, 182)});
         grads("a / s", [](const V& in) { return in[0] / 2.0; }, {u({2}, 183)});
       }},
  };
  return entries;
}

void run_family(Family f) {
  int n = 0;
  for (const auto& e : sweep()) {
    if (e.family != f) continue;
    INFO("op: " << std::string(e.op));
    e.check();
    ++n;
  }
  CHECK(n > 0);
}

// Function declarations at the top level of core/ops.h (column 0, any return
// type, operators included), by name, with the number of overloads.
std::map<std::string, int> declared_ops() {
  std::ifstream in(std::string(MINIDP_SOURCE_DIR) + "/core/ops.h");
  REQUIRE(in.good());
  static const std::regex decl(R"(^(?:inline\s+)?[A-Za-z_][\w:<>,&*\s]*?[\s&*>](operator[^\s(]+|[A-Za-z_]\w*)\s*\()");
  std::map<std::string, int> ops;
  std::string line;
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_search(line, m, decl)) ++ops[m[1].str()];
  return ops;
}

}  // namespace

TEST_CASE("gradient sweep: every op declared in core/ops.h has an entry, overloads included") {
  const std::map<std::string, int> declared = declared_ops();
  std::map<std::string, int> swept;
  for (const auto& e : sweep()) {
    INFO("entry " << std::string(e.op));
    CHECK(swept.count(e.op) == 0);  // one entry per op
    swept[e.op] = e.overloads;
  }
  // (plain names, not structured bindings: INFO captures them in a lambda,
  // which clang before 16 refuses for a structured binding)
  for (const auto& entry : declared) {
    const std::string& op = entry.first;
    const auto n = entry.second;
    INFO("core/ops.h declares " << op << " (" << n << " overload(s)); give it an entry covering every overload in "
                                   "tests/core/test_gradient_sweep.cpp");
    CHECK(swept.count(op) == 1);
    if (swept.count(op) == 1) CHECK(swept.at(op) == n);
  }
  for (const auto& entry : swept) {
    const std::string& op = entry.first;
    INFO("the sweep has an entry for " << op << ", which core/ops.h does not declare");
    CHECK(declared.count(op) == 1);
  }
  // The parser itself: it sees the ops on either side of every section of the header.
  for (const char* op : {"zeros", "randint", "add", "gelu", "softmax", "linear", "index_select", "dropout", "mse_loss",
                         "operator-", "operator*"})
    CHECK(declared.count(op) == 1);
  MESSAGE("the sweep covers " << swept.size() << " ops (" << declared.size() << " declared in core/ops.h)");
}

TEST_CASE("gradient sweep: factories") { run_family(Family::Factory); }
TEST_CASE("gradient sweep: elementwise") { run_family(Family::Elementwise); }
TEST_CASE("gradient sweep: reductions") { run_family(Family::Reduction); }
TEST_CASE("gradient sweep: linear algebra") { run_family(Family::Linalg); }
TEST_CASE("gradient sweep: shape") { run_family(Family::Shape); }
TEST_CASE("gradient sweep: neural-network ops") { run_family(Family::NN); }
TEST_CASE("gradient sweep: losses") { run_family(Family::Loss); }
TEST_CASE("gradient sweep: operators") { run_family(Family::Operator); }

// The two loss targets in closed form (PyTorch's values).
TEST_CASE("gradient sweep: the targets' gradients of binary_cross_entropy_with_logits and mse_loss") {
  const Tensor x = from_vector<double>({-2.0, -0.5, 0.3, 1.7, 4.0, -3.0}, {2, 3});
  const Tensor y0 = from_vector<double>({0.1, 0.9, 0.5, 0.0, 1.0, 0.3}, {2, 3});
  const Tensor pw = from_vector<double>({0.5, 2.0, 3.0}, {3});
  const auto xv = x.to_vector<double>(), pv = pw.to_vector<double>();
  auto softplus_neg = [](double v) { return std::log1p(std::exp(-v)); };  // -log sigmoid(v)
  const double n = 6;

  // no pos_weight: d/dy = -x, times the reduction's 1/N
  Tensor y = y0.clone().requires_grad_();
  binary_cross_entropy_with_logits(x, y).backward();
  std::vector<double> want;
  for (double v : xv) want.push_back(-v / n);
  CHECK(allclose(y.grad(), want, 1e-12, 1e-15));

  // pos_weight p: d/dy = -[p log sigmoid(x) - log(1 - sigmoid(x))] = (p - 1) softplus(-x) - x
  y = y0.clone().requires_grad_();
  binary_cross_entropy_with_logits(x, y, pw, Reduction::Sum).backward();
  want.clear();
  for (std::size_t i = 0; i < xv.size(); ++i) want.push_back((pv[i % 3] - 1.0) * softplus_neg(xv[i]) - xv[i]);
  CHECK(allclose(y.grad(), want, 1e-12, 1e-15));

  // mse_loss: the target's gradient is minus the input's
  Tensor a = x.clone().requires_grad_(), b = y0.clone().requires_grad_();
  mse_loss(a, b).backward();
  CHECK(allclose(b.grad(), mul(a.grad(), -1.0), 1e-15, 0));
}
