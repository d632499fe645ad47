// minidp/metrics/binned.h — ROC/PR curves and AUC from a fixed-size histogram of scores.
//
// Exact AUC needs every score (metrics/binary.h), which across 8 replicas or
// 64 ranks means gathering the whole evaluation set. The binned variant keeps
// only, per score bin, how many positives and negatives fell into it. That
// state has a fixed size and *sums* across replicas and ranks — one
// all-reduce of 2*B integers, like the confusion matrix — and the curves are
// computed from the summed histogram. The price: scores inside one bin count
// as tied, so AUC/AP are approximations whose error shrinks as bins grow
// (with 1000 bins they are typically within 1e-3 of the exact values).
//
// Scores must be probabilities in [0, 1]; bin b covers [b/B, (b+1)/B) and
// the last bin includes 1. Threshold b/B predicts positive for bins >= b.
//
//   BinnedBinaryScores h(1000);
//   h.update(positive_scores(logits), labels);
//   h.merge(other_replica);                   // elementwise sum of counts
//   double auc = h.roc_auc();
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "minidp/core/tensor.h"
#include "minidp/metrics/binary.h"

namespace minidp::metrics {

class BinnedBinaryScores {
 public:
  explicit BinnedBinaryScores(std::int64_t num_bins = 1000, std::optional<std::int64_t> ignore_index = std::nullopt);

  void update(const std::vector<double>& scores, const std::vector<std::int64_t>& labels);
  void update(const Tensor& scores, const Tensor& labels);
  void merge(const BinnedBinaryScores& other);  // same num_bins; counts add
  void reset();

  std::int64_t num_bins() const { return static_cast<std::int64_t>(pos_.size()); }
  std::int64_t bin_of(double score) const;
  const std::vector<std::int64_t>& positive_counts() const { return pos_; }
  const std::vector<std::int64_t>& negative_counts() const { return neg_; }
  // What an all-reduce of the state would sum in place.
  std::vector<std::int64_t>& mutable_positive_counts() { return pos_; }
  std::vector<std::int64_t>& mutable_negative_counts() { return neg_; }
  std::int64_t size() const;

  RocCurve roc_curve() const;
  PrCurve pr_curve() const;
  double roc_auc() const;
  double average_precision() const;
  std::optional<OperatingPoint> threshold_for_recall(double min_recall) const;

 private:
  detail::ThresholdCounts counts() const;
  std::optional<std::int64_t> ignore_;
  std::vector<std::int64_t> pos_, neg_;
};

}  // namespace minidp::metrics
