// The fingerprints the ranks of a job compare at start (parallel/agreement.h):
// what they record, and how a difference is told. The collective itself runs
// under mpirun in tests/distributed/test_distributed.cpp.
#include <doctest/doctest.h>

#include "minidp/minidp.h"

using namespace minidp;
using parallel::disagreements;
using parallel::Fingerprint;

namespace {
Fingerprint fp(std::initializer_list<std::pair<std::string, std::string>> fields) {
  Fingerprint f;
  for (const auto& [k, v] : fields) f.add(k, v);
  return f;
}

nn::ModulePtr mlp() {
  manual_seed(1);
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(20, 16), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(16, 5)});
}
}  // namespace

TEST_CASE("agreement: ranks that agree have no difference, one that differs is named with both values") {
  const Fingerprint a = fp({{"optimizer", "sgd"}, {"optimizer lr", "0.1"}});
  CHECK(disagreements({a, a, a}).empty());
  const Fingerprint b = fp({{"optimizer", "adam"}, {"optimizer lr", "0.1"}});
  CHECK(disagreements({a, b}) == std::vector<std::string>{"optimizer: rank 0 has sgd; rank 1 has adam"});
}

TEST_CASE("agreement: ranks are grouped by the value they hold, and a missing field is shown as nothing") {
  const Fingerprint a = fp({{"optimizer lr", "0.05"}, {"buckets", "2"}});
  const Fingerprint b = fp({{"optimizer lr", "0.5"}, {"buckets", "2"}});
  const Fingerprint c = fp({{"optimizer lr", "0.05"}});
  CHECK(disagreements({a, b, a, c}) ==
        std::vector<std::string>{"optimizer lr: ranks 0, 2, 3 have 0.05; rank 1 has 0.5",
                                 "buckets: ranks 0, 1, 2 have 2; rank 3 has (nothing)"});
}

TEST_CASE("agreement: a fingerprint survives its encoding (one field per line, tabs and newlines flattened)") {
  const Fingerprint a = fp({{"parameter 0", "0.weight [16, 20] float32"}, {"odd\tname", "two\nlines"}});
  const Fingerprint back = Fingerprint::decode(a.encode());
  REQUIRE(back.fields.size() == 2);
  CHECK(back.fields[0] == a.fields[0]);
  CHECK(back.fields[1] == std::make_pair(std::string("odd name"), std::string("two lines")));
}

TEST_CASE("agreement: the model's fingerprint names parameters, buckets and the optimizer's settings") {
  auto m = mlp();
  parallel::GradientBuckets small(*m, 256, 256), large(*m, 1 << 20, 1 << 20);
  nn::SGD sgd(m->parameters(), {.lr = 0.1, .momentum = 0.9});
  nn::Adam adam(m->parameters(), {.lr = 1e-3});
  const Fingerprint f = parallel::fingerprint_of(*m, small, sgd);
  auto value = [&](const Fingerprint& x, const std::string& k) {
    for (const auto& [name, v] : x.fields)
      if (name == k) return v;
    return std::string("(absent)");
  };
  CHECK(value(f, "parameters") == "4");
  CHECK(value(f, "parameter 0") == "0.weight [16, 20] float32");
  CHECK(value(f, "optimizer") == "sgd");
  CHECK(value(f, "optimizer lr") == "0.1");
  CHECK(value(f, "optimizer momentum") == "0.9");
  CHECK(value(f, "optimizer nesterov") == "false");
  CHECK(value(parallel::fingerprint_of(*m, small, adam), "optimizer eps") == "1e-08");
  // Another bucket size is another layout: the difference is named by bucket.
  const auto d = disagreements({f, parallel::fingerprint_of(*m, large, sgd)});
  REQUIRE_FALSE(d.empty());
  CHECK(d[0].rfind("buckets: rank 0 has ", 0) == 0);
}

TEST_CASE("agreement: numbers are written so that they read back as the same double") {
  CHECK(nn::exact_number(0.1) == "0.1");
  CHECK(nn::exact_number(1e-8) == "1e-08");
  CHECK(nn::exact_number(0.05) == "0.05");
  const double third = 1.0 / 3.0;
  CHECK(std::strtod(nn::exact_number(third).c_str(), nullptr) == third);
  CHECK(nn::exact_number(0.1) != nn::exact_number(0.1 + 1e-17 * 8));
}
