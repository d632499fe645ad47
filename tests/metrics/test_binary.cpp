// Binary scores: positive-class probabilities, ROC/PR curves, ROC-AUC and
// average precision (exact and binned), thresholds for a required recall.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "minidp/core/ops.h"
#include "minidp/metrics/metrics.h"

using namespace minidp;
using namespace minidp::metrics;
using doctest::Approx;
using V = std::vector<std::int64_t>;
using D = std::vector<double>;

TEST_CASE("binary: positive scores are sigmoid of one logit or softmax of two") {
  const auto s1 = positive_scores(from_vector<float>({0.f, 2.f, -1.f}, {3}));
  CHECK(s1[0] == Approx(0.5));
  CHECK(s1[1] == Approx(1.0 / (1.0 + std::exp(-2.0))));
  const auto s2 = positive_scores(from_vector<double>({1.0, 3.0, 0.0, 0.0}, {2, 2}));
  CHECK(s2[0] == Approx(std::exp(3.0) / (std::exp(1.0) + std::exp(3.0))));
  CHECK(s2[1] == Approx(0.5));
  CHECK(positive_scores(from_vector<float>({0.f, 1.f}, {2, 1})).size() == 2);
  const auto big = positive_scores(from_vector<double>({-1000.0, 1000.0}, {1, 2}));
  CHECK(big[0] == 1.0);  // stable for huge logit gaps
  CHECK_THROWS_AS(positive_scores(zeros({2, 3})), Error);
  CHECK(apply_threshold({0.2, 0.5, 0.7}) == V{0, 1, 1});  // score >= threshold is positive
}

TEST_CASE("binary: ROC-AUC and AP of the textbook example") {
  // sklearn docs: roc_auc_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.75,
  // average_precision_score(...) = 0.8333...
  const D s{0.1, 0.4, 0.35, 0.8};
  const V y{0, 0, 1, 1};
  CHECK(roc_auc_score(s, y) == Approx(0.75));
  CHECK(average_precision_score(s, y) == Approx(0.5 * 1.0 + 0.5 * (2.0 / 3)));
  BinaryScores b;
  b.update(s, y);
  const auto roc = b.roc_curve();
  CHECK(roc.fpr == D{0, 0, 0.5, 0.5, 1});
  CHECK(roc.tpr == D{0, 0.5, 0.5, 1, 1});
  CHECK(std::isinf(roc.thresholds[0]));
  CHECK(roc.thresholds[1] == 0.8);
  const auto pr = b.pr_curve();
  CHECK(pr.recall == D{0, 0.5, 0.5, 1, 1});
  CHECK(pr.precision[0] == 1.0);
  CHECK(pr.precision[3] == Approx(2.0 / 3));
  CHECK(pr.precision[4] == Approx(0.5));
}

TEST_CASE("binary: perfect, reversed and fully tied scores and Mann-Whitney with ties") {
  CHECK(roc_auc_score({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1}) == 1.0);
  CHECK(roc_auc_score({0.9, 0.8, 0.2, 0.1}, {0, 0, 1, 1}) == 0.0);
  CHECK(roc_auc_score({0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}) == 0.5);
  CHECK(average_precision_score({0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}) == 0.5);
  // AUC = P(score_pos > score_neg) + 0.5 P(tie), over all 2 x 3 pairs:
  // pos {0.7, 0.4}, neg {0.4, 0.2, 0.7}: 0.7 vs (0.4 >, 0.2 >, 0.7 tie) = 2.5; 0.4 vs (tie, >, <) = 1.5
  CHECK(roc_auc_score({0.7, 0.4, 0.4, 0.2, 0.7}, {1, 1, 0, 0, 0}) == Approx(4.0 / 6));
  // A single class: AUC undefined (NaN); AP is 0 without positives (as sklearn).
  CHECK(std::isnan(roc_auc_score({0.1, 0.9}, {1, 1})));
  CHECK(average_precision_score({0.1, 0.9}, {1, 1}) == 1.0);
  CHECK(average_precision_score({0.1, 0.9}, {0, 0}) == 0.0);
  BinaryScores empty;
  CHECK(std::isnan(empty.roc_auc()));
  CHECK(std::isnan(empty.average_precision()));
}

TEST_CASE("binary: merged shards equal the whole, ignore_index and label checks") {
  Generator gen(3);
  const auto s = rand({200}, kFloat64, &gen).to_vector<double>();
  const auto y = randint(0, 2, {200}, kInt64, &gen).to_vector<std::int64_t>();
  BinaryScores whole, a, b;
  whole.update(s, y);
  a.update(D(s.begin(), s.begin() + 77), V(y.begin(), y.begin() + 77));
  b.update(D(s.begin() + 77, s.end()), V(y.begin() + 77, y.end()));
  a.merge(b);
  CHECK(a.roc_auc() == whole.roc_auc());
  CHECK(a.average_precision() == whole.average_precision());

  BinaryScores ig(-1);
  ig.update(D{0.9, 0.1, 0.3}, V{1, -1, 0});
  CHECK(ig.size() == 2);
  CHECK(ig.roc_auc() == 1.0);
  CHECK_THROWS_AS(ig.update(D{0.5}, V{2}), Error);
  CHECK_THROWS_AS(ig.update(D{0.5, 0.1}, V{1}), Error);
  const ConfusionMatrix cm = whole.confusion_at(0.5);
  CHECK(cm.total() == 200);
}

TEST_CASE("binary: the highest threshold that reaches a required recall") {
  // scores of positives: 0.9, 0.6, 0.3; negatives: 0.8, 0.5
  BinaryScores b;
  b.update(D{0.9, 0.8, 0.6, 0.5, 0.3}, V{1, 0, 1, 0, 1});
  auto op = b.threshold_for_recall(0.5);  // 2 of 3 positives needed -> threshold 0.6
  REQUIRE(op);
  CHECK(op->threshold == 0.6);
  CHECK(op->recall == Approx(2.0 / 3));
  CHECK(op->precision == Approx(2.0 / 3));
  CHECK(op->tp == 2);
  CHECK(op->fp == 1);
  CHECK(op->fpr == Approx(0.5));
  CHECK(b.threshold_for_recall(1.0)->threshold == 0.3);
  CHECK(b.threshold_for_recall(0.0)->threshold == 0.9);
  BinaryScores negatives;
  negatives.update(D{0.2}, V{0});
  CHECK_FALSE(negatives.threshold_for_recall(0.5).has_value());
  CHECK_THROWS_AS(b.threshold_for_recall(1.5), Error);
}

TEST_CASE("binary: binned AUC/AP are close to exact, exact on bin edges, and merge by summing") {
  Generator gen(11);
  const std::int64_t n = 20000;
  const auto y = randint(0, 2, {n}, kInt64, &gen).to_vector<std::int64_t>();
  const auto noise = randn({n}, kFloat64, &gen).to_vector<double>();
  D s(n);
  for (std::int64_t i = 0; i < n; ++i) s[i] = 1.0 / (1.0 + std::exp(-(noise[i] + (y[i] ? 1.0 : -1.0))));
  BinaryScores exact;
  exact.update(s, y);
  BinnedBinaryScores binned(1000), half_a(1000), half_b(1000);
  binned.update(s, y);
  half_a.update(D(s.begin(), s.begin() + n / 3), V(y.begin(), y.begin() + n / 3));
  half_b.update(D(s.begin() + n / 3, s.end()), V(y.begin() + n / 3, y.end()));
  half_a.merge(half_b);
  CHECK(half_a.positive_counts() == binned.positive_counts());
  CHECK(half_a.negative_counts() == binned.negative_counts());
  CHECK(binned.size() == n);
  CHECK(binned.roc_auc() == Approx(exact.roc_auc()).epsilon(1e-3));
  CHECK(binned.average_precision() == Approx(exact.average_precision()).epsilon(2e-3));
  BinnedBinaryScores coarse(10);
  coarse.update(s, y);
  CHECK(std::abs(coarse.roc_auc() - exact.roc_auc()) < 0.02);

  // Scores on bin edges are not changed by binning: the results are exact.
  const D edge{0.0, 0.1, 0.1, 0.3, 0.5, 0.7, 0.9, 0.9};
  const V ey{0, 0, 1, 0, 1, 0, 1, 1};
  BinnedBinaryScores e10(10);
  e10.update(edge, ey);
  CHECK(e10.roc_auc() == Approx(roc_auc_score(edge, ey)));
  CHECK(e10.average_precision() == Approx(average_precision_score(edge, ey)));
  CHECK(e10.threshold_for_recall(0.75)->threshold == Approx(0.5));
  CHECK(e10.bin_of(1.0) == 9);
  CHECK(e10.bin_of(0.0) == 0);
  CHECK_THROWS_AS(e10.update(D{1.5}, V{1}), Error);  // logits where probabilities belong
  CHECK_THROWS_AS(e10.merge(BinnedBinaryScores(20)), Error);
}
