// minidp/metrics/binary.cpp — binary classification from scores: the exact ROC
// and PR curves, ROC-AUC and average precision (scikit-learn's formulas), and
// the threshold that reaches a wanted recall. Every curve is built from one
// table of (threshold, true positives, false positives) counts, sorted once.
#include "minidp/metrics/binary.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace minidp::metrics {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

std::vector<double> positive_scores(const Tensor& logits) {
  MINIDP_CHECK(logits.defined(), "positive_scores: undefined tensor");
  const bool one = logits.dim() == 1 || (logits.dim() == 2 && logits.size(1) == 1);
  const bool two = logits.dim() == 2 && logits.size(1) == 2;
  MINIDP_CHECK(one || two, "positive_scores: expected logits [N], [N, 1] (sigmoid) or [N, 2] (softmax), got ",
               logits.describe());
  const auto z = detail::host_double(logits, "logits");
  std::vector<double> s;
  if (one) {
    for (double v : z) s.push_back(1.0 / (1.0 + std::exp(-v)));
  } else {
    // softmax column 1 = 1 / (1 + exp(z0 - z1)): the same sigmoid of the logit difference, stable for any range.
    for (std::size_t i = 0; i + 1 < z.size(); i += 2) s.push_back(1.0 / (1.0 + std::exp(z[i] - z[i + 1])));
  }
  return s;
}

std::vector<std::int64_t> apply_threshold(const std::vector<double>& scores, double threshold) {
  std::vector<std::int64_t> p(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) p[i] = scores[i] >= threshold ? 1 : 0;
  return p;
}

// ---------------------------------------------------------------- curves from counts
namespace detail {

RocCurve roc_from_counts(const ThresholdCounts& c) {
  // With no negatives (positives) FPR (TPR) is 0/0 everywhere, the corner included — NaN, as in sklearn.
  RocCurve r{{c.negatives > 0 ? 0.0 : kNaN}, {c.positives > 0 ? 0.0 : kNaN}, {kInf}};
  for (std::size_t i = 0; i < c.thresholds.size(); ++i) {
    r.fpr.push_back(c.negatives > 0 ? c.fp[i] / c.negatives : kNaN);
    r.tpr.push_back(c.positives > 0 ? c.tp[i] / c.positives : kNaN);
    r.thresholds.push_back(c.thresholds[i]);
  }
  return r;
}

PrCurve pr_from_counts(const ThresholdCounts& c) {
  PrCurve p{{1.0}, {0.0}, {kInf}};
  for (std::size_t i = 0; i < c.thresholds.size(); ++i) {
    const double predicted = c.tp[i] + c.fp[i];
    p.precision.push_back(predicted > 0 ? c.tp[i] / predicted : 0.0);
    // No positives at all: sklearn sets recall to 1 at every threshold; so do we.
    p.recall.push_back(c.positives > 0 ? c.tp[i] / c.positives : 1.0);
    p.thresholds.push_back(c.thresholds[i]);
  }
  return p;
}

double auc_from_counts(const ThresholdCounts& c) {
  if (c.positives == 0 || c.negatives == 0) return kNaN;
  // Trapezoids in integer units: sum dFP * (TP_i + TP_{i-1}) / 2, divided by P*N
  // once at the end. A group of tied scores is one diagonal step, which counts
  // each positive-negative tie as half a correct ordering (Mann-Whitney U).
  double area2 = 0, tp_prev = 0, fp_prev = 0;
  for (std::size_t i = 0; i < c.thresholds.size(); ++i) {
    area2 += (c.fp[i] - fp_prev) * (c.tp[i] + tp_prev);
    tp_prev = c.tp[i];
    fp_prev = c.fp[i];
  }
  return area2 / (2.0 * c.positives * c.negatives);
}

double ap_from_counts(const ThresholdCounts& c) {
  if (c.thresholds.empty()) return kNaN;
  if (c.positives == 0) return 0.0;
  // Step integral, no interpolation (sklearn's definition): each threshold adds
  // its precision times the recall it gains.
  double ap = 0, tp_prev = 0;
  for (std::size_t i = 0; i < c.thresholds.size(); ++i) {
    if (c.tp[i] != tp_prev) ap += (c.tp[i] - tp_prev) / c.positives * (c.tp[i] / (c.tp[i] + c.fp[i]));
    tp_prev = c.tp[i];
  }
  return ap;
}

OperatingPoint point_at(const ThresholdCounts& c, std::size_t i) {
  OperatingPoint o;
  o.threshold = c.thresholds[i];
  o.tp = static_cast<std::int64_t>(c.tp[i]);
  o.fp = static_cast<std::int64_t>(c.fp[i]);
  o.fn = static_cast<std::int64_t>(c.positives - c.tp[i]);
  o.tn = static_cast<std::int64_t>(c.negatives - c.fp[i]);
  o.precision = c.tp[i] + c.fp[i] > 0 ? c.tp[i] / (c.tp[i] + c.fp[i]) : 0.0;
  o.recall = c.positives > 0 ? c.tp[i] / c.positives : kNaN;
  o.fpr = c.negatives > 0 ? c.fp[i] / c.negatives : kNaN;
  return o;
}

std::optional<OperatingPoint> threshold_for_recall(const ThresholdCounts& c, double min_recall) {
  MINIDP_CHECK(min_recall >= 0 && min_recall <= 1, "threshold_for_recall: required recall ", min_recall,
               " is outside [0, 1]");
  if (c.positives == 0) return std::nullopt;
  // Recall only grows as the threshold falls, so the first point that
  // reaches the requirement is the highest threshold that does.
  for (std::size_t i = 0; i < c.thresholds.size(); ++i)
    if (c.tp[i] / c.positives >= min_recall) return point_at(c, i);
  return std::nullopt;
}

}  // namespace detail

// ---------------------------------------------------------------- BinaryScores
void BinaryScores::update(const std::vector<double>& scores, const std::vector<std::int64_t>& labels) {
  MINIDP_CHECK(scores.size() == labels.size(), "BinaryScores::update: ", scores.size(), " scores but ",
               labels.size(), " labels; expected one score per label");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (ignore_ && labels[i] == *ignore_) continue;
    MINIDP_CHECK(labels[i] == 0 || labels[i] == 1, "BinaryScores: label ", labels[i],
                 " is out of range [0, 2); a binary task needs labels 0 or 1");
    MINIDP_CHECK(!std::isnan(scores[i]), "BinaryScores: score of sample ", i, " is NaN");
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (ignore_ && labels[i] == *ignore_) continue;
    scores_.push_back(scores[i]);
    labels_.push_back(labels[i]);
  }
}

void BinaryScores::update(const Tensor& scores, const Tensor& labels) {
  MINIDP_CHECK(scores.defined() && labels.defined() && scores.numel() == labels.numel(),
               "BinaryScores::update: expected scores and labels with one element per sample");
  update(detail::host_double(scores, "scores"), detail::host_int64(labels, "labels"));
}

void BinaryScores::merge(const BinaryScores& other) {
  scores_.insert(scores_.end(), other.scores_.begin(), other.scores_.end());
  labels_.insert(labels_.end(), other.labels_.begin(), other.labels_.end());
}

std::int64_t BinaryScores::positives() const { return std::accumulate(labels_.begin(), labels_.end(), std::int64_t{0}); }

detail::ThresholdCounts BinaryScores::counts() const {
  std::vector<std::size_t> order(scores_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores_[a] > scores_[b]; });
  detail::ThresholdCounts c;
  double tp = 0, fp = 0;
  for (std::size_t j = 0; j < order.size(); ++j) {
    const std::size_t i = order[j];
    (labels_[i] == 1 ? tp : fp) += 1;
    // Close a group only after its last tied score: ties share one threshold.
    if (j + 1 == order.size() || scores_[order[j + 1]] != scores_[i]) {
      c.thresholds.push_back(scores_[i]);
      c.tp.push_back(tp);
      c.fp.push_back(fp);
    }
  }
  c.positives = tp;
  c.negatives = fp;
  return c;
}

RocCurve BinaryScores::roc_curve() const { return detail::roc_from_counts(counts()); }
PrCurve BinaryScores::pr_curve() const { return detail::pr_from_counts(counts()); }
double BinaryScores::roc_auc() const { return detail::auc_from_counts(counts()); }
double BinaryScores::average_precision() const { return detail::ap_from_counts(counts()); }

std::optional<OperatingPoint> BinaryScores::threshold_for_recall(double min_recall) const {
  return detail::threshold_for_recall(counts(), min_recall);
}

ConfusionMatrix BinaryScores::confusion_at(double threshold) const {
  ConfusionMatrix cm(2);
  cm.update(apply_threshold(scores_, threshold), labels_);
  return cm;
}

double roc_auc_score(const std::vector<double>& scores, const std::vector<std::int64_t>& labels) {
  BinaryScores b;
  b.update(scores, labels);
  return b.roc_auc();
}

double average_precision_score(const std::vector<double>& scores, const std::vector<std::int64_t>& labels) {
  BinaryScores b;
  b.update(scores, labels);
  return b.average_precision();
}

}  // namespace minidp::metrics
