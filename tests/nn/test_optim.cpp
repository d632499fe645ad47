// Tests of nn/optim: each update rule against the formula computed by hand in double.
#include <doctest/doctest.h>

#include <cmath>

#include "minidp/minidp.h"

using namespace minidp;

namespace {
// One parameter vector and a fixed gradient sequence, applied to a minidp optimizer.
template <typename Opt>
std::vector<double> run_optimizer(Opt make, const std::vector<std::vector<double>>& grads) {
  Tensor p = from_vector<double>({1.0, -2.0, 0.5}, {3}).requires_grad_();
  auto opt = make(std::vector<Tensor>{p});
  for (const auto& g : grads) {
    p.set_grad(from_vector<double>(g, {3}));
    opt.step();
  }
  return p.detach().to_vector<double>();
}
const std::vector<std::vector<double>> kGrads = {{0.5, -1.0, 0.25}, {0.1, 0.2, -0.3}, {-0.4, 0.0, 1.5}};
}  // namespace

TEST_CASE("optim: SGD with momentum, dampening, weight decay and nesterov matches PyTorch's rule") {
  for (bool nesterov : {false, true}) {
    const double lr = 0.1, mom = 0.9, damp = nesterov ? 0.0 : 0.2, wd = 0.01;
    auto got = run_optimizer(
        [&](std::vector<Tensor> ps) { return nn::SGD(ps, {lr, mom, damp, wd, nesterov}); }, kGrads);
    std::vector<double> p = {1.0, -2.0, 0.5}, buf(3);
    for (std::size_t s = 0; s < kGrads.size(); ++s)
      for (int i = 0; i < 3; ++i) {
        double g = kGrads[s][i] + wd * p[i];
        buf[i] = s == 0 ? g : mom * buf[i] + (1 - damp) * g;
        g = nesterov ? g + mom * buf[i] : buf[i];
        p[i] -= lr * g;
      }
    for (int i = 0; i < 3; ++i) CHECK(got[i] == doctest::Approx(p[i]).epsilon(1e-12));
  }
}

TEST_CASE("optim: plain SGD is p -= lr * g") {
  auto got = run_optimizer([](std::vector<Tensor> ps) { return nn::SGD(ps, {.lr = 0.5}); }, {{1.0, 2.0, -4.0}});
  CHECK(got == std::vector<double>{0.5, -3.0, 2.5});
}

TEST_CASE("optim: Adam and AdamW match PyTorch's rule with bias correction") {
  for (bool decoupled : {false, true}) {
    nn::AdamOptions o{0.01, 0.9, 0.999, 1e-8, 0.1};
    auto got = decoupled ? run_optimizer([&](std::vector<Tensor> ps) { return nn::AdamW(ps, o); }, kGrads)
                         : run_optimizer([&](std::vector<Tensor> ps) { return nn::Adam(ps, o); }, kGrads);
    std::vector<double> p = {1.0, -2.0, 0.5}, m(3, 0), v(3, 0);
    for (std::size_t s = 0; s < kGrads.size(); ++s) {
      const double t = static_cast<double>(s + 1);
      for (int i = 0; i < 3; ++i) {
        double g = kGrads[s][i];
        if (decoupled) p[i] *= 1 - o.lr * o.weight_decay;
        else g += o.weight_decay * p[i];
        m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
        const double denom = std::sqrt(v[i]) / std::sqrt(1 - std::pow(o.beta2, t)) + o.eps;
        p[i] -= o.lr / (1 - std::pow(o.beta1, t)) * m[i] / denom;
      }
    }
    for (int i = 0; i < 3; ++i) CHECK(got[i] == doctest::Approx(p[i]).epsilon(1e-12));
  }
}

TEST_CASE("optim: parameters without a gradient are left alone, state round-trips") {
  Tensor a = from_vector<double>({1.0}, {1}).requires_grad_();
  Tensor b = from_vector<double>({2.0}, {1}).requires_grad_();
  nn::SGD opt({a, b}, {.lr = 0.1, .momentum = 0.9});
  a.set_grad(from_vector<double>({1.0}, {1}));
  opt.step();
  CHECK(a.item() == doctest::Approx(0.9));
  CHECK(b.item() == 2.0);
  auto st = opt.state_tensors();
  REQUIRE(st.size() == 1);
  CHECK(st[0].first == "state.0.momentum_buffer");
  nn::SGD opt2({a, b}, {.lr = 0.1, .momentum = 0.9});
  opt2.load_state_tensors({st.begin(), st.end()});
  opt.step();
  opt2.step();  // same buffer, same gradient: same result on a copy of the state
  CHECK(opt.state_tensors()[0].second.item() == doctest::Approx(opt2.state_tensors()[0].second.item()));
}

TEST_CASE("optim: clip_grad_norm scales to max_norm and returns the old norm") {
  Tensor a = zeros({2}, kFloat64).requires_grad_();
  Tensor b = zeros({1}, kFloat64).requires_grad_();
  a.set_grad(from_vector<double>({3.0, 0.0}, {2}));
  b.set_grad(from_vector<double>({4.0}, {1}));
  const std::uint64_t syncs = host_sync_count();
  const Tensor norm = nn::clip_grad_norm({a, b}, 1.0);
  CHECK(host_sync_count() == syncs);  // computed and applied without reading anything back
  CHECK(norm.numel() == 1);
  CHECK(norm.item() == doctest::Approx(5.0));
  CHECK(a.grad().to_vector<double>()[0] == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(b.grad().item() == doctest::Approx(0.8).epsilon(1e-6));
  const double under = nn::clip_grad_norm({a, b}, 10.0).item();
  CHECK(under == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(b.grad().item() == 4.0 * (1.0 / (5.0 + 1e-6)));  // no change when under: scaled by exactly 1
  CHECK_THROWS_AS(nn::clip_grad_norm({a, b}, -1.0), Error);
}

TEST_CASE("optim: learning-rate schedules") {
  Tensor p = zeros({1}).requires_grad_();
  nn::SGD opt({p}, {.lr = 1.0});
  nn::StepLR step(opt, 2, 0.5);
  std::vector<double> lrs;
  for (int e = 0; e < 5; ++e) {
    step.step();
    lrs.push_back(opt.lr());
  }
  CHECK(lrs == std::vector<double>{1.0, 0.5, 0.5, 0.25, 0.25});
  nn::SGD opt2({p}, {.lr = 2.0});
  nn::CosineAnnealingLR cos(opt2, 4);
  cos.step();
  CHECK(opt2.lr() == doctest::Approx(1.0 + std::cos(3.14159265358979 / 4)));
  for (int i = 0; i < 3; ++i) cos.step();
  CHECK(opt2.lr() == doctest::Approx(0.0));
  nn::SGD opt3({p}, {.lr = 1.0});
  nn::LinearWarmup warm(opt3, 4);
  CHECK(opt3.lr() == doctest::Approx(0.25));
  warm.step();
  CHECK(opt3.lr() == doctest::Approx(0.5));
}

TEST_CASE("optim: learning-rate rules for another batch, and the warm-up to the scaled rate (Goyal et al. 2017)") {
  // k = 512 / 128 = 4
  CHECK(nn::scaled_lr(0.1, 512, 128, "linear") == doctest::Approx(0.4));
  CHECK(nn::scaled_lr(0.1, 512, 128, "sqrt") == doctest::Approx(0.2));
  CHECK(nn::scaled_lr(0.1, 512, 128, "none") == 0.1);
  CHECK(nn::scaled_lr(0.1, 64, 128, "linear") == doctest::Approx(0.05));  // a smaller batch: a smaller rate
  CHECK_THROWS_WITH_AS(nn::scaled_lr(0.1, 512, 128, "cubic"), doctest::Contains("expected none, linear or sqrt"), Error);
  CHECK_THROWS_AS(nn::scaled_lr(0.1, 0, 128, "linear"), Error);
  // From 0.1 to 0.4 over 3 steps: 0.2, 0.3, 0.4, then 0.4.
  CHECK(nn::warmup_lr(0.1, 0.4, 0, 3) == doctest::Approx(0.2));
  CHECK(nn::warmup_lr(0.1, 0.4, 1, 3) == doctest::Approx(0.3));
  CHECK(nn::warmup_lr(0.1, 0.4, 2, 3) == 0.4);
  CHECK(nn::warmup_lr(0.1, 0.4, 1000, 3) == 0.4);
  CHECK(nn::warmup_lr(0.1, 0.4, 0, 0) == 0.4);  // no warm-up
}

TEST_CASE("optim: invalid settings are refused") {
  Tensor p = zeros({1}).requires_grad_();
  CHECK_THROWS_WITH_AS(nn::SGD({p}, {.lr = -1.0}), doctest::Contains("learning rate"), Error);
  CHECK_THROWS_WITH_AS(nn::SGD({p}, {.lr = 0.1, .nesterov = true}), doctest::Contains("nesterov"), Error);
  CHECK_THROWS_WITH_AS(nn::Adam({p}, {.beta1 = 1.0}), doctest::Contains("betas"), Error);
  CHECK_THROWS_WITH_AS(nn::SGD({zeros({1})}, {.lr = 0.1}), doctest::Contains("requires grad"), Error);
}

TEST_CASE("optim: the fused step equals the op-by-op update in float32, bit for bit") {
  // The same SGD and Adam updates written with tensor ops, in torch.optim's order.
  Generator gen(5);
  Tensor p0 = randn({1000}, {}, &gen), g = randn({1000}, {}, &gen);
  {
    Tensor p = p0.clone().requires_grad_();
    nn::SGD opt({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
    p.set_grad(g);
    opt.step();
    opt.step();
    NoGradGuard ng;
    Tensor ref = p0.clone(), buf;
    for (int s = 0; s < 2; ++s) {
      Tensor d = add(g, mul(ref, 0.01));
      buf = s == 0 ? d.clone() : add(mul(buf, 0.9), mul(d, 0.9));
      ref = add(ref, mul(buf, -0.1));
    }
    CHECK(p.detach().to_vector<float>() == ref.to_vector<float>());
  }
  {
    Tensor p = p0.clone().requires_grad_();
    nn::AdamOptions o;
    o.lr = 0.01;
    nn::Adam opt({p}, o);
    p.set_grad(g);
    opt.step();
    NoGradGuard ng;
    Tensor m = mul(sub(g, zeros_like(g)), 0.1);
    Tensor v = mul(mul(g, g), 1.0 - 0.999);
    Tensor denom = add(div(sqrt(v), std::sqrt(1.0 - 0.999)), 1e-8);
    Tensor ref = add(p0, mul(div(m, denom), -0.01 / (1.0 - 0.9)));
    const auto got = p.detach().to_vector<float>(), want = ref.to_vector<float>();
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  }
}

TEST_CASE("nn: moving or reloading parameters, buffers or optimizer state advances state_version (captured steps rely on it)") {
  // A CUDA graph replays the addresses it was captured with; each of these
  // may change them, so each must advance the version a graph compares.
  manual_seed(5);
  auto m = std::make_shared<nn::Sequential>();
  std::uint64_t v = nn::state_version();
  m->add(std::make_shared<nn::Linear>(3, 2));  // registers new parameters
  CHECK(nn::state_version() > v);
  v = nn::state_version();
  m->to(Device::cpu());
  CHECK(nn::state_version() > v);
  v = nn::state_version();
  std::map<std::string, Tensor> w;
  for (auto& [name, t] : m->state_dict()) w[name] = t.detach().clone();
  m->load_state_dict(w);
  CHECK(nn::state_version() > v);
  for (const char* kind : {"sgd", "adam"}) {
    CAPTURE(kind);
    std::unique_ptr<nn::Optimizer> opt;
    if (std::string(kind) == "sgd") opt = std::make_unique<nn::SGD>(m->parameters(), nn::SGDOptions{.lr = 0.1, .momentum = 0.9});
    else opt = std::make_unique<nn::Adam>(m->parameters(), nn::AdamOptions{});
    sum(m->forward(ones({4, 3}))).backward();
    opt->step();
    std::map<std::string, Tensor> st;
    for (auto& [name, t] : opt->state_tensors()) st[name] = t.clone();
    v = nn::state_version();
    opt->load_state_tensors(st);
    CHECK(nn::state_version() > v);
    v = nn::state_version();
    opt->load_state_scalars(opt->state_scalars());
    CHECK(nn::state_version() > v);
    // An ordinary step moves nothing: the version stays, and so would a graph.
    v = nn::state_version();
    opt->step();
    m->forward(ones({1, 3}));
    CHECK(nn::state_version() == v);
    // count_steps: the count a replayed graph advances, recorded in checkpoints.
    const auto before = opt->steps_taken();
    opt->count_steps(3);
    CHECK(opt->steps_taken() == before + 3);
    CHECK(opt->state_scalars().at("optimizer.step") == std::to_string(before + 3));
  }
}
