// Philox4x32-10 and the random tensors built on it: known answers,
// reproducibility, counter arithmetic and distribution statistics.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "minidp/minidp.h"

using namespace minidp;

namespace {
struct Moments {
  double mean = 0, var = 0, lo = 1e300, hi = -1e300;
};
Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) {
    m.mean += x;
    m.lo = std::min(m.lo, x);
    m.hi = std::max(m.hi, x);
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= static_cast<double>(v.size() - 1);
  return m;
}
}  // namespace

TEST_CASE("rng: philox4x32_10 reproduces Random123's known-answer vectors") {
  // counter words (c0, c1, c2, c3) = (lo, lo >> 32, hi, hi >> 32); key words (k0, k1) = (key, key >> 32)
  PhiloxBlock r = philox4x32_10(0, 0, 0);
  CHECK(r.v[0] == 0x6627e8d5u);
  CHECK(r.v[1] == 0xe169c58du);
  CHECK(r.v[2] == 0xbc57ac4cu);
  CHECK(r.v[3] == 0x9b00dbd8u);
  r = philox4x32_10(~0ull, ~0ull, ~0ull);
  CHECK(r.v[0] == 0x408f276du);
  CHECK(r.v[1] == 0x41c83b0eu);
  CHECK(r.v[2] == 0xa20bc7c6u);
  CHECK(r.v[3] == 0x6d5451fdu);
  r = philox4x32_10(0x85a308d3243f6a88ull, 0x0370734413198a2eull, 0x299f31d0a4093822ull);
  CHECK(r.v[0] == 0xd16cfe09u);
  CHECK(r.v[1] == 0x94fdccebu);
  CHECK(r.v[2] == 0x5001e420u);
  CHECK(r.v[3] == 0x24126ea1u);
}

TEST_CASE("rng: uniform conversions stay inside the half-open unit interval") {
  CHECK(philox_uniform_f32(0u) == 0.0f);
  CHECK(philox_uniform_f32(0xffffffffu) < 1.0f);
  CHECK(philox_uniform_f32(0xffffffffu) == 1.0f - 1.0f / 16777216.0f);
  CHECK(philox_uniform_f64(0u, 0u) == 0.0);
  CHECK(philox_uniform_f64(0xffffffffu, 0xffffffffu) < 1.0);
}

TEST_CASE("rng: element i of rand() is word i%4 of Philox block offset + i/4") {
  Generator g(1234);
  g.set_offset(5);
  const auto v = rand({10}, {}, &g).to_vector<float>();
  for (std::uint64_t i = 0; i < 10; ++i) {
    const PhiloxBlock b = philox4x32_10(5 + i / 4, 0, 1234);
    CHECK(v[i] == philox_uniform_f32(b.v[i % 4]));
  }
  CHECK(g.offset() == 5 + 3);  // ceil(10 / 4) blocks were used
}

TEST_CASE("rng: same seed gives the same numbers, offsets and seeds change them") {
  Generator a(42), b(42);
  const auto ra = rand({257}, {}, &a).to_vector<float>(), rb = rand({257}, {}, &b).to_vector<float>();
  CHECK(ra == rb);
  CHECK(randn({33}, kFloat64, &a).to_vector<double>() == randn({33}, kFloat64, &b).to_vector<double>());
  CHECK(a.offset() == b.offset());
  // the generator advanced: the next draw differs from the first
  CHECK(rand({257}, {}, &a).to_vector<float>() != ra);
  // a different offset, a different seed: different numbers
  Generator c(42), d(43);
  c.set_offset(1);
  CHECK(rand({8}, {}, &c).to_vector<float>() != std::vector<float>(ra.begin(), ra.begin() + 8));
  CHECK(rand({8}, {}, &d).to_vector<float>() != std::vector<float>(ra.begin(), ra.begin() + 8));
  // manual_seed restarts the sequence
  a.manual_seed(42);
  CHECK(a.offset() == 0);
  CHECK(rand({257}, {}, &a).to_vector<float>() == ra);
  // the default generator
  manual_seed(7);
  const auto d1 = rand({16}).to_vector<float>();
  manual_seed(7);
  CHECK(rand({16}).to_vector<float>() == d1);
  CHECK(default_generator().seed() == 7);
  CHECK(default_generator().offset() == 4);
}

TEST_CASE("rng: a draw split in block-aligned pieces equals one draw (any split of the work)") {
  Generator whole(9);
  const auto all = rand({16}, kFloat64, &whole).to_vector<double>();
  Generator pieces(9);
  std::vector<double> joined;
  for (int k = 0; k < 4; ++k) {
    const auto p = rand({4}, kFloat64, &pieces).to_vector<double>();
    joined.insert(joined.end(), p.begin(), p.end());
  }
  CHECK(joined == all);
  // and a piece can be drawn directly from its offset
  Generator third(9);
  third.set_offset(2);
  const auto p = randn({4}, {}, &third).to_vector<float>();
  Generator w2(9);
  const auto n = randn({16}, {}, &w2).to_vector<float>();
  CHECK(p == std::vector<float>(n.begin() + 8, n.begin() + 12));
}

TEST_CASE("rng: rand is uniform on the unit interval: mean 1/2, variance 1/12 over 100k samples") {
  for (DType t : {kFloat32, kFloat64}) {
    Generator g(2024);
    const auto v = rand({100000}, t, &g).to_vector<double>();
    const Moments m = moments(v);
    // standard error of the mean: sqrt(1/12 / 1e5) = 9.1e-4; allow 5 of them
    CHECK(std::abs(m.mean - 0.5) < 5e-3);
    CHECK(std::abs(m.var - 1.0 / 12.0) < 2e-3);
    CHECK(m.lo >= 0.0);
    CHECK(m.hi < 1.0);
    // neighbours are uncorrelated
    double cov = 0;
    for (std::size_t i = 0; i + 1 < v.size(); ++i) cov += (v[i] - m.mean) * (v[i + 1] - m.mean);
    CHECK(std::abs(cov / static_cast<double>(v.size() - 1) / m.var) < 0.02);
    // ten equal bins each hold about a tenth
    std::vector<int> bins(10, 0);
    for (double x : v) ++bins[static_cast<std::size_t>(x * 10)];
    for (int b : bins) CHECK(std::abs(b - 10000) < 500);
  }
}

TEST_CASE("rng: randn is standard normal: mean 0, std 1, 68% within one sigma over 100k samples") {
  for (DType t : {kFloat32, kFloat64}) {
    Generator g(77);
    const auto v = randn({100000}, t, &g).to_vector<double>();
    const Moments m = moments(v);
    CHECK(std::abs(m.mean) < 0.016);          // 5 standard errors
    CHECK(std::abs(std::sqrt(m.var) - 1.0) < 0.012);
    std::size_t within = 0;
    for (double x : v) within += std::abs(x) < 1.0;
    CHECK(std::abs(static_cast<double>(within) / 1e5 - 0.682689) < 0.008);
    CHECK(m.hi > 3.0);   // tails exist
    CHECK(m.lo < -3.0);
    CHECK(std::isfinite(m.hi));
    CHECK(std::isfinite(m.lo));
  }
  // an odd count is fine and stays reproducible
  Generator a(3), b(3);
  CHECK(randn({5}, {}, &a).to_vector<float>() == randn({5}, {}, &b).to_vector<float>());
}

TEST_CASE("rng: uniform, normal, bernoulli and randint") {
  Generator g(11);
  const Moments u = moments(uniform({50000}, -2.0, 6.0, kFloat64, &g).to_vector<double>());
  CHECK(u.lo >= -2.0);
  CHECK(u.hi < 6.0);
  CHECK(std::abs(u.mean - 2.0) < 0.05);
  const Moments n = moments(normal({50000}, 3.0, 0.5, kFloat64, &g).to_vector<double>());
  CHECK(std::abs(n.mean - 3.0) < 0.01);
  CHECK(std::abs(std::sqrt(n.var) - 0.5) < 0.01);

  // bernoulli: rate p, values exactly 0 or 1, any dtype
  const auto bv = bernoulli({100000}, 0.3, {}, &g).to_vector<float>();
  double ones = 0;
  bool binary = true;
  for (float x : bv) {
    ones += x;
    binary = binary && (x == 0.0f || x == 1.0f);
  }
  CHECK(binary);
  CHECK(std::abs(ones / 1e5 - 0.3) < 0.0075);  // 5 standard errors (0.00145)
  const Tensor bi = bernoulli({1000}, 0.5, kInt64, &g);
  CHECK(bi.dtype() == kInt64);
  const auto biv = bi.to_vector<std::int64_t>();
  CHECK(std::set<std::int64_t>(biv.begin(), biv.end()) == std::set<std::int64_t>{0, 1});
  CHECK(sum(bernoulli({1000}, 0.0, {}, &g)).item() == 0.0);
  CHECK(sum(bernoulli({1000}, 1.0, {}, &g)).item() == 1000.0);

  // randint: every value of [low, high) appears, none outside, mean in the middle
  const auto r = randint(-3, 4, {20000}, kInt64, &g).to_vector<std::int64_t>();
  std::set<std::int64_t> seen(r.begin(), r.end());
  CHECK(seen == std::set<std::int64_t>{-3, -2, -1, 0, 1, 2, 3});
  double s = 0;
  for (auto x : r) s += static_cast<double>(x);
  CHECK(std::abs(s / 20000.0) < 0.1);
  CHECK(randint(0, 10, {3}, kInt32, &g).dtype() == kInt32);
  Generator r1(5), r2(5);
  CHECK(randint(0, 100, {50}, kInt64, &r1).to_vector<std::int64_t>() ==
        randint(0, 100, {50}, kInt64, &r2).to_vector<std::int64_t>());
}
