// Accuracy, precision, recall, F1, specificity and their averages against
// hand-computed values (and the numbers scikit-learn prints for the same input).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "minidp/core/ops.h"
#include "minidp/metrics/metrics.h"

using namespace minidp;
using namespace minidp::metrics;
using doctest::Approx;
using V = std::vector<std::int64_t>;

namespace {
ConfusionMatrix make(std::int64_t k, const V& y, const V& p, std::optional<std::int64_t> ignore = std::nullopt) {
  ConfusionMatrix cm(k, ignore);
  cm.update(p, y);
  return cm;
}
bool is_nan(double v) { return std::isnan(v); }
}  // namespace

TEST_CASE("classification: the sklearn classification_report example, by hand") {
  // y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1]
  // class 0: TP 1 FP 1 FN 0 -> P 1/2, R 1, F1 2/3
  // class 1: TP 0 FP 1 FN 1 -> P 0,   R 0, F1 0
  // class 2: TP 2 FP 0 FN 1 -> P 1,   R 2/3, F1 4/5
  const auto cm = make(3, {0, 1, 2, 2, 2}, {0, 0, 2, 2, 1});
  const auto s = summarize(cm);
  CHECK(s.accuracy == Approx(0.6));
  CHECK(s.support == 5);
  CHECK(s.precision.per_class == std::vector<double>{0.5, 0.0, 1.0});
  CHECK(s.recall.per_class[2] == Approx(2.0 / 3));
  CHECK(s.f1.per_class[0] == Approx(2.0 / 3));
  CHECK(s.f1.per_class[2] == Approx(0.8));
  CHECK(s.precision.macro == Approx(0.5));
  CHECK(s.recall.macro == Approx((1 + 0 + 2.0 / 3) / 3));
  CHECK(s.f1.macro == Approx((2.0 / 3 + 0 + 0.8) / 3));
  CHECK(s.precision.weighted == Approx((0.5 * 1 + 0 * 1 + 1.0 * 3) / 5));  // 0.70
  CHECK(s.recall.weighted == Approx(0.6));
  CHECK(s.f1.weighted == Approx((2.0 / 3 + 0 + 0.8 * 3) / 5));  // 0.6133
  // Micro averages pool TP/FP/FN over classes: every one equals accuracy here.
  CHECK(s.precision.micro == Approx(0.6));
  CHECK(s.recall.micro == Approx(0.6));
  CHECK(s.f1.micro == Approx(0.6));
  CHECK(s.balanced_accuracy == Approx((1 + 0 + 2.0 / 3) / 3));
  CHECK(s.majority_baseline == Approx(0.6));
  CHECK(s.majority_class == 2);
  // specificity_c = TN / (TN + FP): class 0: TN 3, FP 1
  CHECK(s.specificity.per_class[0] == Approx(0.75));
  CHECK(s.specificity.per_class[1] == Approx(3.0 / 4));
  CHECK(s.specificity.per_class[2] == Approx(1.0));
}

TEST_CASE("classification: zero_division 0, 1 and NaN for a class never predicted") {
  // class 1 occurs but is never predicted: precision_1 = 0/0.
  const auto cm = make(2, {0, 0, 1}, {0, 0, 0});
  const auto p0 = precision(cm, ZeroDivision::Zero), p1 = precision(cm, ZeroDivision::One),
             pn = precision(cm, ZeroDivision::NaN);
  CHECK(p0.per_class[1] == 0.0);
  CHECK(p1.per_class[1] == 1.0);
  CHECK(is_nan(pn.per_class[1]));
  CHECK(p0.macro == Approx((2.0 / 3 + 0) / 2));
  CHECK(p1.macro == Approx((2.0 / 3 + 1) / 2));
  CHECK(pn.macro == Approx(2.0 / 3));  // NaN entries are skipped, as sklearn's _nanaverage
  CHECK(pn.weighted == Approx(2.0 / 3));
  CHECK(p1.weighted == Approx((2.0 / 3 * 2 + 1 * 1) / 3));
  // F1 = 2TP/(2TP+FP+FN) is defined (0) for class 1 under every policy.
  CHECK(f1(cm, ZeroDivision::One).per_class[1] == 0.0);
  CHECK(f1(cm, ZeroDivision::NaN).per_class[1] == 0.0);
  CHECK(recall(cm, ZeroDivision::NaN).per_class[1] == 0.0);
  CHECK(parse_zero_division("nan") == ZeroDivision::NaN);
  CHECK(parse_zero_division("1") == ZeroDivision::One);
  CHECK_THROWS_AS(parse_zero_division("2"), Error);
}

TEST_CASE("classification: a class never present is left out of macro averages") {
  // 4 classes declared, class 3 neither true nor predicted: sklearn with
  // labels=None never sees it; its own row gets the zero_division value.
  const auto cm = make(4, {0, 1, 2, 2}, {0, 2, 2, 2});
  const auto r1 = recall(cm, ZeroDivision::One);
  CHECK(r1.per_class[3] == 1.0);
  CHECK(r1.macro == Approx((1 + 0 + 1) / 3.0));
  const auto f = f1(cm, ZeroDivision::One);
  CHECK(f.per_class[3] == 1.0);  // 0/0 -> zero_division
  CHECK(f.macro == Approx((1 + 0 + 0.8) / 3));
  CHECK(averaged_classes(cm) == std::vector<bool>{true, true, true, false});
  // Predicted-only class: part of the macro average, not of balanced accuracy.
  const auto cm2 = make(3, {0, 0, 1}, {0, 2, 1});
  CHECK(precision(cm2).macro == Approx((1 + 1 + 0) / 3.0));
  CHECK(recall(cm2, ZeroDivision::Zero).macro == Approx((0.5 + 1 + 0) / 3));
  CHECK(balanced_accuracy(cm2) == Approx((0.5 + 1) / 2));
}

TEST_CASE("classification: all correct, single sample, empty") {
  const auto all = summarize(make(3, {0, 1, 2, 1}, {0, 1, 2, 1}));
  CHECK(all.accuracy == 1.0);
  CHECK(all.f1.macro == 1.0);
  CHECK(all.precision.weighted == 1.0);
  CHECK(all.balanced_accuracy == 1.0);

  const auto one = summarize(make(5, {3}, {1}));
  CHECK(one.accuracy == 0.0);
  CHECK(one.precision.macro == 0.0);  // classes 1 and 3 count, both 0
  CHECK(one.recall.per_class[3] == 0.0);
  CHECK(one.support == 1);

  const auto empty = summarize(ConfusionMatrix(3), ZeroDivision::Zero);
  CHECK(empty.support == 0);
  CHECK(is_nan(empty.accuracy));  // no samples: no accuracy, rather than a made-up 0 or 1
  CHECK(is_nan(empty.balanced_accuracy));
  CHECK(is_nan(empty.f1.macro));
  CHECK(empty.precision.micro == 0.0);  // 0/0 with zero_division 0
  CHECK(empty.precision.per_class == std::vector<double>{0, 0, 0});
}

TEST_CASE("classification: an ignored class index is excluded from every average") {
  // Class 0 is "ignore": samples labelled 0 vanish; class 0 predictions of
  // other samples still count as errors but class 0 is not averaged.
  const auto cm = make(3, {0, 1, 1, 2, 2}, {1, 1, 0, 2, 2}, 0);
  CHECK(cm.total() == 4);
  const auto s = summarize(cm);
  CHECK(s.accuracy == Approx(0.75));
  CHECK(s.recall.macro == Approx((0.5 + 1.0) / 2));     // classes 1, 2 only
  CHECK(s.precision.macro == Approx((1.0 + 1.0) / 2));
  CHECK(s.precision.micro == Approx(3.0 / 3));          // predictions of class 0 are not "positive" for 1 or 2
  CHECK(s.recall.micro == Approx(3.0 / 4));
  CHECK(s.balanced_accuracy == Approx(0.75));
  CHECK(s.in_average == std::vector<bool>{false, true, true});
}

TEST_CASE("classification: top-k accuracy, ties toward the smaller class index") {
  Tensor logits = from_vector<float>({0.1f, 0.5f, 0.4f,  // label 2: rank 1 -> top-2 hit, top-1 miss
                                      1.0f, 1.0f, 0.0f,  // label 1: tied with class 0 (smaller index first) -> rank 1
                                      0.0f, 0.0f, 0.0f,  // label 0: all tied -> rank 0
                                      3.0f, 2.0f, 1.0f},  // label 2: rank 2
                                     {4, 3});
  Tensor labels = from_vector<std::int64_t>({2, 1, 0, 2}, {4});
  CHECK(top_k_accuracy(logits, labels, 1) == Approx(0.25));
  CHECK(top_k_accuracy(logits, labels, 2) == Approx(0.75));
  CHECK(top_k_accuracy(logits, labels, 3) == Approx(1.0));
  // top-1 agrees with the confusion matrix's argmax
  ConfusionMatrix cm(3);
  cm.update_from_logits(logits, labels);
  CHECK(accuracy(cm) == Approx(0.25));
  TopKAccuracy a(2), b(2);
  a.update(logits.slice(0, 1), labels.slice(0, 1));
  b.update(logits.slice(1, 4), labels.slice(1, 4));
  a.merge(b);
  CHECK(a.hits() == 3);
  CHECK(a.total() == 4);
  TopKAccuracy ig(1, 0);
  ig.update(logits, labels);
  CHECK(ig.total() == 3);
  CHECK_THROWS_AS(TopKAccuracy(0), Error);
}
