// Pitfall warnings: accuracy paradox, data leakage (FNV-1a row hashes), overfitting.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/ops.h"
#include "metrics/metrics.h"

using namespace minidp;
using namespace minidp::metrics;

TEST_CASE("pitfalls: accuracy paradox on 95/5 data, with the majority baseline") {
  // 95 negatives, 5 positives; the model finds 1 positive and never raises a false alarm.
  ConfusionMatrix cm(2);
  cm.add(0, 0, 95);
  cm.add(1, 1, 1);
  cm.add(1, 0, 4);
  ParadoxOptions opts;
  opts.positive_class = 1;
  const auto w = check_accuracy_paradox(cm, opts);
  REQUIRE(w.size() == 1);
  CHECK(w[0].kind == "accuracy_paradox");
  CHECK(w[0].message.find("accuracy 0.960") != std::string::npos);
  CHECK(w[0].message.find("class 1 has recall 0.200") != std::string::npos);
  CHECK(w[0].message.find("majority class would score 0.950") != std::string::npos);
  CHECK(majority_baseline_accuracy(cm) == doctest::Approx(0.95));

  ConfusionMatrix good(2);  // the same data, rare class mostly found: no warning
  good.add(0, 0, 95);
  good.add(1, 1, 4);
  good.add(1, 0, 1);
  CHECK(check_accuracy_paradox(good, opts).empty());
  ConfusionMatrix low(2);  // low accuracy does not "look high": no paradox to warn about
  low.add(0, 1, 5);
  low.add(1, 0, 5);
  CHECK(check_accuracy_paradox(low).empty());
  CHECK(check_accuracy_paradox(ConfusionMatrix(3)).empty());
}

TEST_CASE("pitfalls: FNV-1a reference values") {
  // Published 64-bit FNV-1a test vectors.
  CHECK(fnv1a("", 0) == 0xcbf29ce484222325ull);
  CHECK(fnv1a("a", 1) == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a("foobar", 6) == 0x85944171f73967e8ull);
  // Chaining equals hashing the concatenation.
  CHECK(fnv1a("bar", 3, fnv1a("foo", 3)) == fnv1a("foobar", 6));
}

TEST_CASE("pitfalls: data leakage counts evaluation rows that occur in training") {
  Tensor train = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
  Tensor eval = from_vector<float>({3, 4, 9, 9, 7, 8, 3, 4, 4, 3}, {5, 2});
  const auto h = hash_rows(train);
  REQUIRE(h.size() == 4);
  float row[2] = {3, 4};
  CHECK(h[1] == fnv1a(row, sizeof row));
  const Overlap o = find_overlap(train, eval);
  CHECK(o.train_samples == 4);
  CHECK(o.eval_samples == 5);
  CHECK(o.overlap == 3);  // rows 0, 2, 3 ({4, 3} is a different sample)
  CHECK(o.eval_indices == std::vector<std::int64_t>{0, 2, 3});
  auto w = check_data_leakage(o);
  REQUIRE(w);
  CHECK(w->kind == "data_leakage");
  CHECK(w->message.find("3 of 5 evaluation samples") != std::string::npos);
  // Non-contiguous views hash their values, not their memory layout.
  Tensor t = from_vector<float>({1, 3, 2, 4}, {2, 2}).t();  // rows {1, 2} and {3, 4}
  CHECK(hash_rows(t)[1] == h[1]);
  CHECK_FALSE(check_data_leakage(find_overlap(train, from_vector<float>({0, 0}, {1, 2}))).has_value());
  CHECK_THROWS_AS(find_overlap(train, zeros({2, 3})), Error);
}

TEST_CASE("pitfalls: overfitting = validation loss rising for K epochs while training loss falls") {
  const std::vector<double> train{1.0, 0.8, 0.6, 0.5, 0.4, 0.3};
  const std::vector<double> val{1.1, 0.9, 0.85, 0.9, 0.95, 1.0};
  auto w = check_overfitting(train, val, 3);
  REQUIRE(w);
  CHECK(w->kind == "overfitting");
  CHECK(w->message.find("3 epochs") != std::string::npos);
  CHECK_FALSE(check_overfitting(train, val, 4).has_value());  // only 3 rises
  CHECK_FALSE(check_overfitting({1.0, 0.9}, {1.0, 1.1}, 3).has_value());  // too few epochs
  const std::vector<double> flat_train{1.0, 0.8, 0.6, 0.6, 0.4, 0.3};  // training stalled once
  CHECK_FALSE(check_overfitting(flat_train, val, 3).has_value());
  CHECK_THROWS_AS(check_overfitting(train, val, 0), Error);
}
