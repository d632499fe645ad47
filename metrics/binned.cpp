// minidp/metrics/binned.cpp — the binary curves from a fixed-size histogram of
// scores: state of constant size that replicas and ranks can simply add up,
// at the price of thresholds rounded to the bins.
#include "minidp/metrics/binned.h"

#include <algorithm>
#include <cmath>

namespace minidp::metrics {

BinnedBinaryScores::BinnedBinaryScores(std::int64_t num_bins, std::optional<std::int64_t> ignore_index)
    : ignore_(ignore_index) {
  MINIDP_CHECK(num_bins >= 1, "BinnedBinaryScores: num_bins must be >= 1, got ", num_bins);
  pos_.assign(static_cast<std::size_t>(num_bins), 0);
  neg_.assign(static_cast<std::size_t>(num_bins), 0);
}

std::int64_t BinnedBinaryScores::bin_of(double score) const {
  MINIDP_CHECK(score >= 0.0 && score <= 1.0, "BinnedBinaryScores: score ", score,
               " is outside [0, 1]; expected a probability (apply positive_scores() to logits first)");
  const auto b = static_cast<std::int64_t>(std::floor(score * static_cast<double>(num_bins())));
  return std::min(b, num_bins() - 1);
}

void BinnedBinaryScores::update(const std::vector<double>& scores, const std::vector<std::int64_t>& labels) {
  MINIDP_CHECK(scores.size() == labels.size(), "BinnedBinaryScores::update: ", scores.size(), " scores but ",
               labels.size(), " labels; expected one score per label");
  std::vector<std::int64_t> bins(scores.size(), -1);
  for (std::size_t i = 0; i < labels.size(); ++i) {  // validate first: a bad batch changes nothing
    if (ignore_ && labels[i] == *ignore_) continue;
    MINIDP_CHECK(labels[i] == 0 || labels[i] == 1, "BinnedBinaryScores: label ", labels[i],
                 " is out of range [0, 2); a binary task needs labels 0 or 1");
    bins[i] = bin_of(scores[i]);
  }
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (bins[i] >= 0) (labels[i] == 1 ? pos_ : neg_)[static_cast<std::size_t>(bins[i])] += 1;
}

void BinnedBinaryScores::update(const Tensor& scores, const Tensor& labels) {
  MINIDP_CHECK(scores.defined() && labels.defined() && scores.numel() == labels.numel(),
               "BinnedBinaryScores::update: expected scores and labels with one element per sample");
  update(detail::host_double(scores, "scores"), detail::host_int64(labels, "labels"));
}

void BinnedBinaryScores::merge(const BinnedBinaryScores& other) {
  MINIDP_CHECK(other.num_bins() == num_bins(), "BinnedBinaryScores::merge: ", num_bins(), " bins vs ",
               other.num_bins(), "; expected the same number of bins");
  for (std::size_t b = 0; b < pos_.size(); ++b) {
    pos_[b] += other.pos_[b];
    neg_[b] += other.neg_[b];
  }
}

void BinnedBinaryScores::reset() {
  std::fill(pos_.begin(), pos_.end(), 0);
  std::fill(neg_.begin(), neg_.end(), 0);
}

std::int64_t BinnedBinaryScores::size() const {
  std::int64_t n = 0;
  for (std::size_t b = 0; b < pos_.size(); ++b) n += pos_[b] + neg_[b];
  return n;
}

detail::ThresholdCounts BinnedBinaryScores::counts() const {
  // Walk bins from the top: each non-empty bin is one group of "tied" scores
  // whose threshold is the bin's lower edge.
  detail::ThresholdCounts c;
  double tp = 0, fp = 0;
  for (std::int64_t b = num_bins() - 1; b >= 0; --b) {
    const auto pb = static_cast<double>(pos_[static_cast<std::size_t>(b)]);
    const auto nb = static_cast<double>(neg_[static_cast<std::size_t>(b)]);
    if (pb + nb == 0) continue;
    tp += pb;
    fp += nb;
    c.thresholds.push_back(static_cast<double>(b) / static_cast<double>(num_bins()));
    c.tp.push_back(tp);
    c.fp.push_back(fp);
  }
  c.positives = tp;
  c.negatives = fp;
  return c;
}

RocCurve BinnedBinaryScores::roc_curve() const { return detail::roc_from_counts(counts()); }
PrCurve BinnedBinaryScores::pr_curve() const { return detail::pr_from_counts(counts()); }
double BinnedBinaryScores::roc_auc() const { return detail::auc_from_counts(counts()); }
double BinnedBinaryScores::average_precision() const { return detail::ap_from_counts(counts()); }
std::optional<OperatingPoint> BinnedBinaryScores::threshold_for_recall(double min_recall) const {
  return detail::threshold_for_recall(counts(), min_recall);
}

}  // namespace minidp::metrics
