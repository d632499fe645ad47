// Tests of nn/: module registries and names, layers against references, copies.
#include <doctest/doctest.h>

#include <cmath>

#include "minidp/minidp.h"

using namespace minidp;

namespace {
std::vector<double> vals(const Tensor& t) { return t.detach().to_vector<double>(); }

struct TwoLayer : nn::Cloneable<TwoLayer> {
  TwoLayer() {
    register_module("fc1", std::make_shared<nn::Linear>(4, 3));
    register_module("fc2", std::make_shared<nn::Linear>(3, 2, false));
  }
  Tensor forward(const Tensor& x) override {
    return children()[1].second->forward(relu(children()[0].second->forward(x)));
  }
  std::string type_name() const override { return "TwoLayer"; }
};
}  // namespace

TEST_CASE("nn: parameter names follow PyTorch (children and Sequential indices)") {
  TwoLayer m;
  std::vector<std::string> names;
  for (auto& [n, p] : m.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight"});
  CHECK(m.num_parameters() == 4 * 3 + 3 + 3 * 2);

  nn::Sequential seq({std::make_shared<nn::Linear>(2, 3), std::make_shared<nn::ReLU>(),
                      std::make_shared<nn::BatchNorm1d>(3)});
  std::vector<std::string> sd;
  for (auto& [n, t] : seq.state_dict()) sd.push_back(n);
  CHECK(sd == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "2.running_mean",
                                       "2.running_var", "2.num_batches_tracked"});
}

TEST_CASE("nn: Linear has PyTorch's shapes, init bounds and forward") {
  manual_seed(3);
  nn::Linear fc(50, 7);
  CHECK(fc.weight().shape() == Shape{7, 50});
  CHECK(fc.bias().shape() == Shape{7});
  const double bound = 1.0 / std::sqrt(50.0);
  for (double w : vals(fc.weight())) CHECK(std::abs(w) <= bound);
  for (double b : vals(fc.bias())) CHECK(std::abs(b) <= bound);
  // uniform on [-bound, bound]: the sample std is bound/sqrt(3)
  auto w = vals(fc.weight());
  double ss = 0;
  for (double v : w) ss += v * v;
  CHECK(std::sqrt(ss / w.size()) == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.1));

  Tensor x = randn({5, 50});
  Tensor y = fc(x);
  auto xv = vals(x), wv = vals(fc.weight()), bv = vals(fc.bias()), yv = vals(y);
  for (int i = 0; i < 5; ++i)
    for (int o = 0; o < 7; ++o) {
      double ref = bv[o];
      for (int k = 0; k < 50; ++k) ref += xv[i * 50 + k] * wv[o * 50 + k];
      CHECK(yv[i * 7 + o] == doctest::Approx(ref).epsilon(1e-5));
    }
  CHECK(fc.repr() == "Linear(in_features=50, out_features=7, bias=True)");
  CHECK_THROWS_WITH_AS(fc(randn({5, 49})), doctest::Contains("expected input [..., 50]"), Error);
}

TEST_CASE("nn: Conv2d init uses fan_in = in * k * k and prints like PyTorch") {
  manual_seed(1);
  nn::Conv2d conv(3, 8, 3, 1, 1);
  CHECK(conv.weight().shape() == Shape{8, 3, 3, 3});
  const double bound = 1.0 / std::sqrt(27.0);
  for (double w : vals(conv.weight())) CHECK(std::abs(w) <= bound);
  CHECK(conv.repr() == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  CHECK(conv(randn({2, 3, 5, 5})).shape() == Shape{2, 8, 5, 5});
}

TEST_CASE("nn: Sequential prints its structure") {
  nn::Sequential seq({std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(4, 2)});
  CHECK(seq.repr() == "Sequential(\n  (0): Flatten()\n  (1): Linear(in_features=4, out_features=2, bias=True)\n)");
}

TEST_CASE("nn: BatchNorm updates running statistics in training only") {
  nn::BatchNorm1d bn(2);
  Tensor x = from_vector<float>({1, 10, 3, 20, 5, 30}, {3, 2});
  bn(x);
  // batch mean (3, 20), unbiased var (4, 100); momentum 0.1 from (0, 1)
  auto rm = vals(bn.running_mean()), rv = vals(bn.running_var());
  CHECK(rm[0] == doctest::Approx(0.3));
  CHECK(rm[1] == doctest::Approx(2.0));
  CHECK(rv[0] == doctest::Approx(0.9 + 0.4));
  CHECK(rv[1] == doctest::Approx(0.9 + 10.0));
  CHECK(bn.named_buffers()[2].second.item() == 1.0);
  bn.eval();
  Tensor y = bn(x);
  CHECK(vals(bn.running_mean())[0] == doctest::Approx(0.3));  // unchanged in eval
  CHECK(vals(y)[0] == doctest::Approx((1 - 0.3) / std::sqrt(1.3 + 1e-5)).epsilon(1e-5));
}

TEST_CASE("nn: train/eval reaches children, Dropout is identity in eval") {
  nn::Sequential seq({std::make_shared<nn::Dropout>(0.5), std::make_shared<nn::ReLU>()});
  Tensor x = ones({100});
  auto train_out = vals(seq(x));
  int zeros_seen = 0;
  for (double v : train_out) {
    CHECK((v == 0.0 || v == doctest::Approx(2.0)));
    zeros_seen += v == 0.0;
  }
  CHECK(zeros_seen > 25);
  CHECK(zeros_seen < 75);
  seq.eval();
  CHECK(!seq[0]->is_training());
  CHECK(vals(seq(x)) == std::vector<double>(100, 1.0));
}

TEST_CASE("nn: deep_copy gives independent storage with equal values") {
  TwoLayer m;
  auto copy = m.deep_copy(Device::cpu());
  auto a = m.named_parameters(), b = copy->named_parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].first == b[i].first);
    CHECK(vals(a[i].second) == vals(b[i].second));
    CHECK(a[i].second.storage() != b[i].second.storage());
    CHECK(b[i].second.requires_grad());
  }
  {
    NoGradGuard ng;
    Tensor w = copy->named_parameters()[0].second;
    w.fill_(7.0);
  }
  CHECK(vals(m.named_parameters()[0].second)[0] != 7.0);
}

TEST_CASE("nn: load_state_dict copies values and lists every mismatch") {
  TwoLayer a, b;
  std::map<std::string, Tensor> sd;
  for (auto& [n, t] : a.state_dict()) sd[n] = t;
  b.load_state_dict(sd);
  CHECK(vals(b.named_parameters()[0].second) == vals(a.named_parameters()[0].second));

  std::map<std::string, Tensor> bad = sd;
  bad.erase("fc2.weight");
  bad["fc1.bias"] = zeros({4});
  bad["extra"] = zeros({1});
  try {
    b.load_state_dict(bad);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("3 mismatch") != std::string::npos);
    CHECK(msg.find("missing 'fc2.weight'") != std::string::npos);
    CHECK(msg.find("'fc1.bias': expected 'bias' float32[3] on cpu, got float32[4] on cpu") != std::string::npos);
    CHECK(msg.find("unexpected 'extra'") != std::string::npos);
  }
}

TEST_CASE("nn: zero_grad zeroes in place, keeping gradient views valid") {
  nn::Linear fc(3, 2);
  sum(fc(ones({4, 3}))).backward();
  Tensor g = fc.weight().grad();
  REQUIRE(g.defined());
  CHECK(vals(g)[0] == doctest::Approx(4.0));
  fc.zero_grad();
  CHECK(fc.weight().grad().same_as(g));
  CHECK(vals(g) == std::vector<double>(6, 0.0));
}

TEST_CASE("nn: init helpers follow torch.nn.init formulas") {
  Tensor w = Tensor::empty({200, 100});
  nn::init::xavier_uniform_(w);
  const double bound = std::sqrt(6.0 / 300.0);
  double mx = 0;
  for (double v : vals(w)) mx = std::max(mx, std::abs(v));
  CHECK(mx <= bound);
  CHECK(mx > 0.95 * bound);
  nn::init::kaiming_normal_(w, 0.0, nn::init::FanMode::FanIn, "relu");
  auto v = vals(w);
  double ss = 0;
  for (double x : v) ss += x * x;
  CHECK(std::sqrt(ss / v.size()) == doctest::Approx(std::sqrt(2.0 / 100.0)).epsilon(0.03));
  CHECK(nn::init::gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK_THROWS_AS(nn::init::gain("swish"), Error);
}
