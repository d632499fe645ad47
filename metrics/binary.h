// minidp/metrics/binary.h — two-class tasks: scores, thresholds, PR and ROC curves, AUC.
//
// A binary classifier outputs a *score* for the positive class; a threshold
// turns it into a decision (positive when score >= threshold). Accuracy at
// 0.5 is one point of a whole trade-off; the ROC curve (TPR against FPR) and
// the precision-recall curve trace every threshold at once, and ROC-AUC /
// average precision summarise them. On imbalanced data the PR curve is the
// honest one: ROC-AUC can look fine while the rare class is mostly missed.
//
// BinaryScores keeps every (score, label) pair, so its AUC and AP are exact
// and equal scikit-learn's roc_auc_score / average_precision_score,
// including ties (tied scores form one step of the curve). Replicas merge by
// concatenation — exact, but the state grows with the data set. For a fixed
// size state that sums across replicas like a confusion matrix, see
// metrics/binned.h.
//
//   BinaryScores bs;
//   bs.update(positive_scores(logits), labels);   // logits [N] / [N,1] (sigmoid) or [N,2] (softmax)
//   double auc = bs.roc_auc(), ap = bs.average_precision();
//   OperatingPoint op = bs.threshold_for_recall(0.9);  // highest threshold with recall >= 0.9
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "minidp/core/tensor.h"
#include "minidp/metrics/confusion_matrix.h"

namespace minidp::metrics {

// Positive-class probability per sample: sigmoid of a logit for [N] or
// [N, 1], softmax column 1 for [N, 2]. Returned on the host.
std::vector<double> positive_scores(const Tensor& logits);

// Points ordered by decreasing threshold. The first point is the "predict
// nothing positive" corner with threshold +inf (ROC (0, 0); PR recall 0,
// precision 1), then one point per distinct score. Like sklearn: FPR (TPR)
// is NaN when there are no negatives (positives); PR recall is 1 everywhere
// when there are no positives; precision with nothing predicted is 0.
struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;
};
struct PrCurve {
  std::vector<double> precision, recall, thresholds;
};
// The decision made by one threshold and what it achieves.
struct OperatingPoint {
  double threshold = 0, precision = 0, recall = 0, fpr = 0;
  std::int64_t tp = 0, fp = 0, fn = 0, tn = 0;
};

namespace detail {
// Cumulative counts at each distinct threshold, highest first — the common
// core of exact and binned curves. thresholds[i] predicts positive for every
// score >= thresholds[i]; tp[i]/fp[i] count those.
struct ThresholdCounts {
  std::vector<double> thresholds;
  std::vector<double> tp, fp;
  double positives = 0, negatives = 0;
};
RocCurve roc_from_counts(const ThresholdCounts& c);
PrCurve pr_from_counts(const ThresholdCounts& c);
double auc_from_counts(const ThresholdCounts& c);  // trapezoids over the ROC curve
double ap_from_counts(const ThresholdCounts& c);   // sum (R_i - R_{i-1}) P_i
OperatingPoint point_at(const ThresholdCounts& c, std::size_t i);
std::optional<OperatingPoint> threshold_for_recall(const ThresholdCounts& c, double min_recall);
}  // namespace detail

class BinaryScores {
 public:
  explicit BinaryScores(std::optional<std::int64_t> ignore_index = std::nullopt) : ignore_(ignore_index) {}

  // Labels must be 0 or 1 (or the ignore_index).
  void update(const std::vector<double>& scores, const std::vector<std::int64_t>& labels);
  void update(const Tensor& scores, const Tensor& labels);  // floating [N], integer [N]
  void merge(const BinaryScores& other);  // concatenation: exact
  void reset() { scores_.clear(); labels_.clear(); }

  std::size_t size() const { return scores_.size(); }
  std::int64_t positives() const;
  const std::vector<double>& scores() const { return scores_; }
  const std::vector<std::int64_t>& labels() const { return labels_; }

  RocCurve roc_curve() const;
  PrCurve pr_curve() const;
  // NaN when only one class is present (sklearn raises there).
  double roc_auc() const;
  // 0 when there are no positives (what sklearn returns, with a warning); NaN when empty.
  double average_precision() const;
  // Decisions at `threshold` (score >= threshold is positive) as a 2x2 matrix.
  ConfusionMatrix confusion_at(double threshold = 0.5) const;
  // The highest threshold whose recall reaches `min_recall` — the loosest
  // decision rule meeting a recall requirement, so precision is as high as
  // the scores allow. nullopt when there are no positives.
  std::optional<OperatingPoint> threshold_for_recall(double min_recall) const;

 private:
  detail::ThresholdCounts counts() const;
  std::optional<std::int64_t> ignore_;
  std::vector<double> scores_;
  std::vector<std::int64_t> labels_;
};

// Plain functions over whole arrays (labels 0/1).
double roc_auc_score(const std::vector<double>& scores, const std::vector<std::int64_t>& labels);
double average_precision_score(const std::vector<double>& scores, const std::vector<std::int64_t>& labels);
// score >= threshold -> 1, else 0.
std::vector<std::int64_t> apply_threshold(const std::vector<double>& scores, double threshold = 0.5);

}  // namespace minidp::metrics
