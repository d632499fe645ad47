// minidp/metrics/pitfalls.h — warnings for the mistakes that make a good-looking number wrong.
//
//   accuracy_paradox  On imbalanced data a model that ignores the rare class
//                     still scores high accuracy (98% legit -> 98% accuracy
//                     by always saying "legit"). Flagged only when the data
//                     is imbalanced (the majority class is at least half of
//                     the samples: it outweighs all other classes together,
//                     and the majority baseline is >= 0.5), accuracy looks
//                     high (>= 0.8) and some class's recall is low (< 0.5);
//                     the message shows the baseline beside it.
//   low_recall_class  One class is missed more often than found (recall
//                     < 0.5) and lies well below the mean recall of all
//                     classes (at least 0.2 lower), where the paradox does not
//                     apply: e.g. Shirt on balanced Fashion-MNIST, recall
//                     0.476 beside a mean recall of 0.864. Accuracy is honest
//                     there (the baseline is 0.10); it just averages the weak
//                     class away.
//   data_leakage      Evaluation samples that also occur in the training set
//                     measure memory, not generalisation. Rows are hashed
//                     (64-bit FNV-1a over their bytes) and the overlap counted.
//   overfitting       Validation loss rising for K epochs in a row while the
//                     training loss keeps falling.
//   load_imbalance    A replica idle or much slower than the others: every
//                     step waits for the slowest replica at the all-reduce.
//
// Each check returns Warnings (kind + message); reports print them and put
// them in the JSON under "warnings". Messages name classes by the names in
// ClassCheckOptions::class_names when given ("class Shirt"), else by index.
//
//   ClassCheckOptions o; o.class_names = nn::data::fashion_mnist_classes();
//   for (auto& w : check_class_recall(cm, o)) std::cerr << w.message << "\n";
//   auto leak = find_overlap(hash_rows(train_x), hash_rows(test_x));
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "minidp/core/tensor.h"
#include "minidp/metrics/confusion_matrix.h"
#include "minidp/metrics/resources.h"

namespace minidp::metrics {

struct Warning {
  // accuracy_paradox | low_recall_class | data_leakage | overfitting | load_imbalance
  std::string kind;
  std::string message;  // one readable sentence with the numbers
};

// ---- a missed class: the accuracy paradox, or a low-recall class
// A class is "missed" when its recall is below min_recall (found less often
// than not). Each missed class gets one warning:
//   accuracy_paradox  when the data is imbalanced (majority baseline >=
//                     imbalanced_share) and accuracy >= high_accuracy: the high
//                     accuracy is mostly the majority class;
//   low_recall_class  otherwise, when its recall is at least recall_gap below
//                     the mean recall over the classes (balanced accuracy), so
//                     a uniformly weak model does not warn about every class.
struct ClassCheckOptions {
  double high_accuracy = 0.8;     // accuracy at or above this "looks high"
  double min_recall = 0.5;        // a class with recall below this is being missed
  double imbalanced_share = 0.5;  // the majority class's share of the samples that makes data imbalanced
  double recall_gap = 0.2;        // low_recall_class: this far below the mean recall
  // Binary tasks: check only this class (the positive class); otherwise every
  // class with support > 0 (except the ignore_index) is checked.
  std::optional<std::int64_t> positive_class;
  std::vector<std::string> class_names;  // names for the messages; empty: "class 0", "class 1", ...
};
using ParadoxOptions = ClassCheckOptions;  // the same options by their older name (ReportOptions::paradox)

// Both warnings, in class order.
std::vector<Warning> check_class_recall(const ConfusionMatrix& cm, const ClassCheckOptions& opts = {});
// Only the accuracy_paradox warnings of check_class_recall.
std::vector<Warning> check_accuracy_paradox(const ConfusionMatrix& cm, const ClassCheckOptions& opts = {});

// ---- data leakage
constexpr std::uint64_t kFnv1aOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnv1aPrime = 1099511628211ull;
// 64-bit FNV-1a of n bytes, continuing from `h` (chain calls to hash pieces).
std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h = kFnv1aOffset);
// One hash per sample: the bytes of each row along dim 0 (any dtype, any device).
std::vector<std::uint64_t> hash_rows(const Tensor& x);

struct Overlap {
  std::int64_t train_samples = 0, eval_samples = 0;
  std::int64_t overlap = 0;                 // eval samples whose hash occurs in train
  std::vector<std::int64_t> eval_indices;   // the first few of them (at most 10)
  double fraction() const { return eval_samples ? static_cast<double>(overlap) / eval_samples : 0.0; }
};
Overlap find_overlap(const std::vector<std::uint64_t>& train_hashes, const std::vector<std::uint64_t>& eval_hashes);
Overlap find_overlap(const Tensor& train, const Tensor& eval);
std::optional<Warning> check_data_leakage(const Overlap& overlap);

// ---- overfitting
// Warns when, over the last `epochs` epochs, validation loss rose every epoch
// while training loss fell every epoch. Needs epochs + 1 values of each.
std::optional<Warning> check_overfitting(const std::vector<double>& train_loss, const std::vector<double>& val_loss,
                                         std::int64_t epochs = 3);

// ---- load imbalance
// Warns for idle replicas and when max/mean busy time exceeds `max_ratio`.
std::optional<Warning> check_load_imbalance(const LoadBalance& lb, double max_ratio = 1.25);

// ---- all of a training run's checks at once: the class checks on the test
// counts, overfitting on the per-epoch loss curves, load imbalance, and a
// data-leakage warning found before training.
struct RunCheckOptions {
  ClassCheckOptions classes;             // thresholds and class names of check_class_recall
  std::int64_t overfitting_epochs = 3;   // K of check_overfitting
  double max_load_ratio = 1.25;          // max_ratio of check_load_imbalance
};
std::vector<Warning> check_training_run(const ConfusionMatrix& test_cm, const std::vector<double>& train_loss,
                                        const std::vector<double>& test_loss, const LoadBalance& balance,
                                        const std::optional<Warning>& leakage = std::nullopt,
                                        const RunCheckOptions& opts = {});

}  // namespace minidp::metrics
