// minidp/metrics/classification.h — accuracy, precision, recall, F1 and friends from counts.
//
// Every function here reads a ConfusionMatrix and nothing else, so the same
// numbers come out whether the matrix was filled on one device or summed over
// eight replicas. The definitions follow scikit-learn's
// precision_recall_fscore_support, accuracy_score and balanced_accuracy_score
// exactly (the test suite checks this on random inputs):
//
//   precision_c = TP_c / (TP_c + FP_c)      recall_c = TP_c / (TP_c + FN_c)
//   F1_c        = 2 TP_c / (2 TP_c + FP_c + FN_c)
//   specificity_c = TN_c / (TN_c + FP_c)
//   a 0/0 gives the ZeroDivision value (0, 1 or NaN).
//
//   macro    = plain mean over the classes that occur in the labels or the
//              predictions (sklearn's labels=None), minus the ignored class;
//              NaN entries (ZeroDivision::NaN) are skipped, as sklearn does.
//   micro    = the formula applied to TP, FP, FN summed over those classes
//              (equals accuracy when no class is ignored).
//   weighted = mean weighted by support (true count), NaN entries skipped.
//   balanced accuracy = mean recall over the classes present in the labels.
//
//   ClassificationSummary s = summarize(cm, ZeroDivision::Zero);
//   std::cout << s.accuracy << " " << s.f1.macro << "\n";
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "minidp/core/tensor.h"
#include "minidp/metrics/confusion_matrix.h"

namespace minidp::metrics {

// What a ratio with a zero denominator becomes (sklearn's zero_division).
enum class ZeroDivision { Zero, One, NaN };
double zero_division_value(ZeroDivision z);
std::string to_string(ZeroDivision z);       // "0", "1", "nan"
ZeroDivision parse_zero_division(const std::string& s);  // "0" | "1" | "nan"

// One score per class plus its three averages.
struct AveragedScore {
  std::vector<double> per_class;
  double macro = 0, micro = 0, weighted = 0;
};

struct ClassificationSummary {
  std::int64_t num_classes = 0;
  std::int64_t support = 0;           // samples counted (ignored ones excluded)
  double accuracy = 0;                // NaN when there are no samples
  double balanced_accuracy = 0;
  double majority_baseline = 0;       // accuracy of always predicting the most frequent true class
  std::int64_t majority_class = -1;
  AveragedScore precision, recall, f1, specificity;
  std::vector<std::int64_t> per_class_support;
  std::vector<bool> in_average;       // classes that take part in macro/micro/weighted
};

ClassificationSummary summarize(const ConfusionMatrix& cm, ZeroDivision zd = ZeroDivision::Zero);

double accuracy(const ConfusionMatrix& cm);
double balanced_accuracy(const ConfusionMatrix& cm);
// Accuracy of a model that always answers the most frequent true class: the
// number plain accuracy must beat before it means anything.
double majority_baseline_accuracy(const ConfusionMatrix& cm);

// The classes that enter macro/micro/weighted averages: present in the labels
// or in the predictions, and not the ignore_index.
std::vector<bool> averaged_classes(const ConfusionMatrix& cm);

AveragedScore precision(const ConfusionMatrix& cm, ZeroDivision zd = ZeroDivision::Zero);
AveragedScore recall(const ConfusionMatrix& cm, ZeroDivision zd = ZeroDivision::Zero);
AveragedScore f1(const ConfusionMatrix& cm, ZeroDivision zd = ZeroDivision::Zero);
AveragedScore specificity(const ConfusionMatrix& cm, ZeroDivision zd = ZeroDivision::Zero);

// Top-k accuracy as counts (so it merges across replicas like the matrix).
// A sample is a hit when its label is among the k largest logits; ties are
// broken toward the smaller class index, so k = 1 agrees with argmax and with
// ConfusionMatrix::update_from_logits.
class TopKAccuracy {
 public:
  explicit TopKAccuracy(std::int64_t k, std::optional<std::int64_t> ignore_index = std::nullopt);
  void update(const Tensor& logits, const Tensor& labels);  // logits [N, C], labels [N]
  void merge(const TopKAccuracy& other);
  void reset() { hits_ = total_ = 0; }
  std::int64_t k() const { return k_; }
  std::int64_t hits() const { return hits_; }
  std::int64_t total() const { return total_; }
  double value() const;  // hits / total; NaN when empty

 private:
  std::int64_t k_;
  std::optional<std::int64_t> ignore_;
  std::int64_t hits_ = 0, total_ = 0;
};

// One-shot convenience: top-k accuracy of a batch.
double top_k_accuracy(const Tensor& logits, const Tensor& labels, std::int64_t k);

}  // namespace minidp::metrics
