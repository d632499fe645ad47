// The CPU's two float32 GEMM paths: oneDNN's sgemm (the default in builds
// with oneDNN) and the BLAS (OpenBLAS, or Eigen), each against a float64
// product written out as three loops, and against itself over thread
// counts, bit for bit (kernels/cpu/gemm.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "minidp/kernels/cpu/gemm.h"
#include "minidp/minidp.h"

using namespace minidp;
using minidp::kernels::cpu::gemm_parallel;

namespace {

// The float32 GEMM path for a scope, then back to the default.
struct Path {
  explicit Path(const std::string& p) : prev(cpu_gemm()) { set_cpu_gemm(p); }
  ~Path() { set_cpu_gemm(prev); }
  std::string prev;
};

std::vector<std::string> paths() {
  std::vector<std::string> p{"blas"};
  if (cpu_gemm() == "onednn") p.push_back("onednn");
  else MESSAGE("oneDNN's path skipped: this build has no oneDNN (or MINIDP_CPU_GEMM=blas)");
  return p;
}

// Deterministic values in [-1, 1).
std::vector<double> values(std::size_t n, std::uint32_t seed) {
  std::vector<double> v(n);
  std::uint32_t s = seed * 2654435761u + 1;
  for (double& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<double>(s >> 8) / static_cast<double>(1u << 23) - 1.0;
  }
  return v;
}

struct Gemm {
  bool ta, tb;
  std::int64_t m, n, k;
  double alpha, beta;
  // Leading dimensions one wider than the matrices: the kernels must follow them.
  std::int64_t lda() const { return (ta ? m : k) + 1; }
  std::int64_t ldb() const { return (tb ? k : n) + 1; }
  std::int64_t ldc() const { return n + 1; }
  std::size_t a_size() const { return static_cast<std::size_t>((ta ? k : m) * lda()); }
  std::size_t b_size() const { return static_cast<std::size_t>((tb ? n : k) * ldb()); }
  std::size_t c_size() const { return static_cast<std::size_t>(m * ldc()); }
};

// c = alpha op(a) op(b) + beta c in float32 on the current path, from the
// float32 values of a, b and c; with beta == 0, c starts as NaN: a product
// must not read it (BLAS semantics).
std::vector<float> product(const Gemm& g, std::uint32_t seed) {
  const std::vector<double> a64 = values(g.a_size(), seed), b64 = values(g.b_size(), seed + 1);
  const std::vector<double> c64 = values(g.c_size(), seed + 2);
  std::vector<float> a(a64.begin(), a64.end()), b(b64.begin(), b64.end()), c(c64.begin(), c64.end());
  if (g.beta == 0) std::fill(c.begin(), c.end(), std::numeric_limits<float>::quiet_NaN());
  gemm_parallel<float>(g.ta, g.tb, g.m, g.n, g.k, static_cast<float>(g.alpha), a.data(), g.lda(), b.data(),
                       g.ldb(), static_cast<float>(g.beta), c.data(), g.ldc());
  return c;
}

// The same product in float64 from the same float32 values, as three loops
// (nothing of gemm.cpp's blocks or libraries). The operands are first copied
// out as op(a) row by row and op(b) column by column, so that the innermost
// loop walks two plain arrays: the MLP's three shapes are 1.2 billion
// multiply-adds, which the sanitizer builds (unoptimised, every access
// checked) would otherwise take minutes over. The test computes each case's
// reference once, for every path.
std::vector<double> reference(const Gemm& g, std::uint32_t seed) {
  const std::vector<double> a64 = values(g.a_size(), seed), b64 = values(g.b_size(), seed + 1);
  const std::vector<double> c64 = values(g.c_size(), seed + 2);
  auto f = [](double v) { return static_cast<double>(static_cast<float>(v)); };
  const auto m = static_cast<std::size_t>(g.m), n = static_cast<std::size_t>(g.n), k = static_cast<std::size_t>(g.k);
  std::vector<double> rows(m * k), cols(n * k);  // op(a)[i][p] at rows[i * k + p], op(b)[p][j] at cols[j * k + p]
  for (std::int64_t i = 0; i < g.m; ++i)
    for (std::int64_t p = 0; p < g.k; ++p)
      rows[static_cast<std::size_t>(i * g.k + p)] = f(g.ta ? a64[p * g.lda() + i] : a64[i * g.lda() + p]);
  for (std::int64_t j = 0; j < g.n; ++j)
    for (std::int64_t p = 0; p < g.k; ++p)
      cols[static_cast<std::size_t>(j * g.k + p)] = f(g.tb ? b64[j * g.ldb() + p] : b64[p * g.ldb() + j]);
  std::vector<double> c(g.c_size());
  const double* rp = rows.data();
  const double* cp = cols.data();
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      const double* x = rp + i * k;
      const double* y = cp + j * k;
      double sum = 0;
      for (std::size_t p = 0; p < k; ++p) sum += x[p] * y[p];
      const std::size_t at = i * static_cast<std::size_t>(g.ldc()) + j;
      c[at] = g.alpha * sum + (g.beta == 0 ? 0.0 : g.beta * f(c64[at]));
    }
  return c;
}

std::vector<std::uint32_t> bits(const std::vector<float>& v) {
  std::vector<std::uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
  return out;
}

// Every transpose; single rows, columns, a k of 1 and of 0; products cut into row
// blocks (m > 256, with a smaller last block) and into column blocks (few
// rows, many columns); alpha and beta other than 1 and 0; the MLP's shapes.
const std::vector<Gemm> kCases = {
    {false, false, 7, 5, 3, 1, 0},          {true, false, 9, 4, 6, 0.5, 0},
    {false, true, 5, 8, 7, 1, 2},           {true, true, 6, 6, 5, -1.5, 0.25},
    {false, false, 1, 33, 17, 1, 0},        {false, true, 31, 1, 19, 1, 1},
    {true, false, 12, 10, 1, 1, 0},         {false, false, 600, 70, 45, 1, 0},
    {true, true, 300, 130, 64, 1, 0.5},     {false, true, 100, 700, 50, 1, 0},
    {true, false, 40, 530, 90, 2, 1},       {false, true, 512, 1024, 784, 1, 0},
    {true, false, 1024, 784, 512, 1, 0},    {false, false, 512, 784, 1024, 1, 0},
    {false, false, 4, 3, 0, 1, 0},          {true, true, 3, 300, 0, 1, 2},
};

}  // namespace

TEST_CASE("gemm paths: each float32 path matches the float64 product, and neither reads c when beta is 0") {
  std::vector<std::vector<double>> refs;
  for (std::size_t i = 0; i < kCases.size(); ++i) refs.push_back(reference(kCases[i], static_cast<std::uint32_t>(10 + i)));
  for (const std::string& path : paths()) {
    Path p(path);
    CHECK((std::string(cpu_gemm_library()) == "oneDNN") == (path == "onednn"));
    for (std::size_t i = 0; i < kCases.size(); ++i) {
      const Gemm& g = kCases[i];
      const std::vector<float> c = product(g, static_cast<std::uint32_t>(10 + i));
      const std::vector<double>& ref = refs[i];
      INFO(path << ", case " << i << ": " << g.m << "x" << g.n << "x" << g.k << (g.ta ? " ta" : "")
                << (g.tb ? " tb" : "") << ", alpha " << g.alpha << ", beta " << g.beta);
      // float32 rounding of k products of values below 1: about sqrt(k) * 6e-8 each.
      const double tol = 1e-6 * std::sqrt(static_cast<double>(g.k)) * (1 + std::abs(g.alpha)) + 1e-6;
      int bad = 0, nonfinite = 0;
      for (std::int64_t r = 0; r < g.m; ++r)
        for (std::int64_t j = 0; j < g.n; ++j) {
          const std::size_t at = static_cast<std::size_t>(r * g.ldc() + j);
          nonfinite += !std::isfinite(c[at]);
          bad += !(std::abs(c[at] - ref[at]) <= tol * (1 + std::abs(ref[at])));
        }
      CHECK(nonfinite == 0);
      CHECK(bad == 0);
      // The padding column of c is never written.
      const std::vector<double> c0 = values(g.c_size(), static_cast<std::uint32_t>(10 + i) + 2);
      for (std::int64_t r = 0; r < g.m; ++r) {
        const std::size_t pad = static_cast<std::size_t>(r * g.ldc() + g.n);
        if (g.beta != 0) CHECK(c[pad] == static_cast<float>(c0[pad]));
        else CHECK(std::isnan(c[pad]));
      }
    }
  }
}

TEST_CASE("gemm paths: each path gives the same bits for 1, 2, 3 and 4 threads") {
  // Row blocks (3, the last smaller) and column blocks (3, the last smaller).
  const std::vector<Gemm> cases = {{false, true, 600, 300, 800, 1, 0}, {true, false, 100, 700, 150, 1, 1}};
  const int before = num_threads();
  std::vector<std::vector<float>> one_thread;
  for (const std::string& path : paths()) {
    Path p(path);
    for (const Gemm& g : cases) {
      set_num_threads(1);
      const std::vector<float> base = product(g, 3);
      one_thread.push_back(base);
      for (int t : {2, 3, 4}) {
        set_num_threads(t);
        INFO(path << ": " << g.m << "x" << g.n << "x" << g.k << ", " << t << " threads against 1");
        CHECK(bits(product(g, 3)) == bits(base));
      }
    }
  }
  set_num_threads(before);
  // The comparison can fail: the two paths sum in other orders, so their bits differ.
  if (one_thread.size() == 4) CHECK(bits(one_thread[0]) != bits(one_thread[2]));
}

TEST_CASE("gemm paths: the switch refuses unknown paths and reports the library it chose") {
  CHECK_THROWS_WITH_AS(set_cpu_gemm("fast"), doctest::Contains("expected 'onednn' or 'blas'"), Error);
  const std::string before = cpu_gemm();
  {
    Path p("blas");
    CHECK(cpu_gemm() == "blas");
    CHECK(std::string(cpu_gemm_library()) != "oneDNN");
  }
  CHECK(cpu_gemm() == before);
  if (before == "onednn") {
    CHECK(std::string(cpu_gemm_library()) == "oneDNN");
    CHECK(std::string(cpu_gemm_kernels()).size() > 0);
    CHECK(cpu_gemm_warning().empty());
  }
}
