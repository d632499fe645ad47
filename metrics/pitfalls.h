// minidp/metrics/pitfalls.h — warnings for the mistakes that make a good-looking number wrong.
//
//   accuracy_paradox  On imbalanced data a model that ignores the rare class
//                     still scores high accuracy (99% negatives -> 99%
//                     accuracy by always saying "negative"). Flagged when
//                     accuracy looks high but some class's recall is low;
//                     the message shows the majority-class baseline beside it.
//   data_leakage      Evaluation samples that also occur in the training set
//                     measure memory, not generalisation. Rows are hashed
//                     (64-bit FNV-1a over their bytes) and the overlap counted.
//   overfitting       Validation loss rising for K epochs in a row while the
//                     training loss keeps falling.
//   load_imbalance    A replica idle or much slower than the others: every
//                     step waits for the slowest replica at the all-reduce.
//
// Each check returns Warnings (kind + message); reports print them and put
// them in the JSON under "warnings".
//
//   for (auto& w : check_accuracy_paradox(cm)) std::cerr << w.message << "\n";
//   auto leak = find_overlap(hash_rows(train_x), hash_rows(test_x));
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "metrics/confusion_matrix.h"
#include "metrics/resources.h"

namespace minidp::metrics {

struct Warning {
  std::string kind;     // accuracy_paradox | data_leakage | overfitting | load_imbalance
  std::string message;  // one readable sentence with the numbers
};

// ---- accuracy paradox
struct ParadoxOptions {
  double high_accuracy = 0.8;  // accuracy at or above this "looks high"
  double min_recall = 0.5;     // a class with recall below this is being missed
  // Binary tasks: check only this class (the positive class); otherwise every
  // class with support > 0 (except the ignore_index) is checked.
  std::optional<std::int64_t> positive_class;
};
std::vector<Warning> check_accuracy_paradox(const ConfusionMatrix& cm, const ParadoxOptions& opts = {});

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

// ---- all of a training run's checks at once (default thresholds): the
// accuracy paradox on the test counts, overfitting on the per-epoch loss
// curves, load imbalance, and a data-leakage warning found before training.
std::vector<Warning> check_training_run(const ConfusionMatrix& test_cm, const std::vector<double>& train_loss,
                                        const std::vector<double>& test_loss, const LoadBalance& balance,
                                        const std::optional<Warning>& leakage = std::nullopt);

}  // namespace minidp::metrics
