// minidp/metrics/confusion_matrix.h — the count table every classification metric comes from.
//
// counts[t][p] = how many samples of true class t were predicted as class p.
// Accuracy, precision, recall, F1, specificity and their averages are all
// ratios of these integers (metrics/classification.h). Keeping the *counts*
// as the state is what makes data-parallel evaluation exact: each replica or
// rank fills its own matrix for its shard, the matrices are summed with
// merge() (or an all-reduce of counts()), and only then are ratios taken.
// Averaging per-replica accuracies would weight a replica with 3 samples the
// same as one with 300 — a different, wrong number.
//
//   ConfusionMatrix cm(10);                      // 10 classes
//   cm.update_from_logits(logits, labels);       // logits [N, 10], labels int64 [N]
//   other_replica_cm ... cm.merge(other_replica_cm);
//   double acc = accuracy(cm);                   // metrics/classification.h
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "minidp/core/tensor.h"

namespace minidp::metrics {

class ConfusionMatrix {
 public:
  // `ignore_index`: samples whose *label* equals it are skipped, exactly like
  // cross_entropy's ignore_index. When it is itself a class index in
  // [0, num_classes) that class is also left out of every average
  // (macro, micro, weighted) — see metrics/classification.h.
  explicit ConfusionMatrix(std::int64_t num_classes,
                           std::optional<std::int64_t> ignore_index = std::nullopt);
  // At most 1024 classes (ImageNet has 1000): the matrix holds K x K 64-bit
  // counts, 8 MiB at 1024, and its reports grow with K^2 too. A file's label
  // of 4294967295 would otherwise overflow K * K, and one of 29999 ask for 7 GB.
  // Data sets have the same limit (nn::data::kMaxClasses).
  static constexpr std::int64_t kMaxClasses = 1024;

  // Predicted class indices and labels: integer tensors of equal numel (any
  // shape; flattened). Out-of-range values raise minidp::Error.
  void update(const Tensor& predicted, const Tensor& labels);
  // logits [N, C] (C = num_classes); the prediction is the argmax, first
  // maximum on ties (like argmax in core/ops.h).
  void update_from_logits(const Tensor& logits, const Tensor& labels);
  void update(const std::vector<std::int64_t>& predicted, const std::vector<std::int64_t>& labels);
  // One sample (or `n` identical ones).
  void add(std::int64_t label, std::int64_t predicted, std::int64_t n = 1);

  void reset();
  // Elementwise sum: the combination of replicas/ranks. Both matrices must
  // have the same number of classes and ignore_index.
  void merge(const ConfusionMatrix& other);
  ConfusionMatrix& operator+=(const ConfusionMatrix& other) { merge(other); return *this; }
  bool operator==(const ConfusionMatrix& o) const;

  std::int64_t num_classes() const { return k_; }
  const std::optional<std::int64_t>& ignore_index() const { return ignore_; }
  // True when class c takes part in averages (it is not the ignored class).
  bool counted_class(std::int64_t c) const { return !(ignore_ && *ignore_ == c); }

  std::int64_t at(std::int64_t true_class, std::int64_t predicted) const;
  // Row-major [K*K] counts: what an all-reduce sums.
  const std::vector<std::int64_t>& counts() const { return counts_; }
  std::vector<std::int64_t>& mutable_counts() { return counts_; }
  // The same as an int64 [K, K] tensor on the CPU.
  Tensor to_tensor() const;

  std::int64_t total() const;                            // samples counted
  std::int64_t correct() const;                          // trace
  std::int64_t true_count(std::int64_t c) const;         // row sum = support
  std::int64_t predicted_count(std::int64_t c) const;    // column sum
  std::int64_t true_positives(std::int64_t c) const { return at(c, c); }
  std::int64_t false_positives(std::int64_t c) const { return predicted_count(c) - at(c, c); }
  std::int64_t false_negatives(std::int64_t c) const { return true_count(c) - at(c, c); }
  std::int64_t true_negatives(std::int64_t c) const;

 private:
  void check_label(std::int64_t label) const;
  void check_pred(std::int64_t pred) const;

  std::int64_t k_;
  std::optional<std::int64_t> ignore_;
  std::vector<std::int64_t> counts_;
};

namespace detail {
// Integer tensor -> host int64 values. For CUDA tensors this copies to the
// host; see the comment in confusion_matrix.cpp on where a kernel will go.
std::vector<std::int64_t> host_int64(const Tensor& t, const char* what);
// Floating tensor -> host double values.
std::vector<double> host_double(const Tensor& t, const char* what);
}  // namespace detail

}  // namespace minidp::metrics
