// minidp/metrics/report.h — the metrics as text for people and as JSON for programs.
//
// classification_report() prints the table scikit-learn users know
// (precision / recall / f1-score / support per class, then accuracy, macro
// and weighted averages), the confusion matrix, balanced accuracy beside the
// majority-class baseline, and the class warnings that apply (the accuracy
// paradox on imbalanced data, a low-recall class: metrics/pitfalls.h). The
// *_json() functions give the same numbers as nlohmann::json objects whose
// schema is documented in docs/metrics.md; NaN (an undefined ratio) is
// written as null.
// JsonlWriter appends one JSON object per line — one line per epoch — which
// tools/plot_metrics.py turns into loss and accuracy curves.
//
//   ReportOptions o; o.zero_division = ZeroDivision::Zero;
//   std::cout << classification_report(cm, o);
//   JsonlWriter log("run.jsonl");
//   log.write(epoch_json(epoch, train_loss, val_loss, &val_cm, &throughput));
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "minidp/metrics/binary.h"
#include "minidp/metrics/binned.h"
#include "minidp/metrics/classification.h"
#include "minidp/metrics/confusion_matrix.h"
#include "minidp/metrics/evaluation.h"
#include "minidp/metrics/loss_meter.h"
#include "minidp/metrics/pitfalls.h"
#include "minidp/metrics/resources.h"
#include "minidp/metrics/step_timer.h"
#include "minidp/metrics/throughput.h"
#include "minidp/metrics/training_recorder.h"

namespace minidp::metrics {

struct ReportOptions {
  ZeroDivision zero_division = ZeroDivision::Zero;
  int digits = 4;                        // decimals in the table
  std::vector<std::string> class_names;  // empty: "0", "1", ...
  bool show_confusion_matrix = true;
  // Thresholds of the class checks (accuracy paradox, low-recall class); their
  // class names default to class_names above.
  ParadoxOptions paradox;
};

// ---- text
std::string classification_report(const ConfusionMatrix& cm, const ReportOptions& opts = {});
std::string confusion_matrix_table(const ConfusionMatrix& cm, const std::vector<std::string>& class_names = {});
std::string binary_report(const BinaryScores& scores, double threshold = 0.5);
std::string speed_report(const ThroughputMeter* throughput, const StepTimer* timer = nullptr,
                         const MemoryTracker* memory = nullptr, const LoadBalance* balance = nullptr);
// All of a training run's speed metrics, and the host synchronisations per step.
std::string speed_report(const TrainingRecorder& rec);
std::string warnings_text(const std::vector<Warning>& warnings);

// ---- JSON
nlohmann::json json_number(double v);  // NaN/inf -> null
nlohmann::json to_json(const std::vector<Warning>& warnings);
// num_classes, support, accuracy, balanced_accuracy, majority_baseline_accuracy,
// precision/recall/f1/specificity {macro, micro, weighted, per_class},
// per_class_support, confusion_matrix, zero_division, ignore_index, warnings.
nlohmann::json classification_json(const ConfusionMatrix& cm, const ReportOptions& opts = {});
// samples_per_s, step_time, throughput, load_balance, peak_memory, host_syncs_per_step.
nlohmann::json speed_json(const TrainingRecorder& rec);
// A whole training run, as the examples' --metrics-json writes it:
//   "train": speed_json(rec) and "loss" (the last epoch's mean training loss);
//   "test":  classification_json(test.cm) and "loss", plus flat "precision_macro",
//            "recall_macro", "f1_macro" and "per_class" [{class, precision, recall, f1, support}];
//   "warnings".
nlohmann::json training_run_json(const TrainingRecorder& rec, double train_loss, const Evaluation& test,
                                 const ReportOptions& opts, const std::vector<Warning>& warnings);
// threshold, roc_auc, average_precision, roc_curve {fpr, tpr, thresholds}, pr_curve {precision, recall, thresholds}.
nlohmann::json binary_json(const BinaryScores& scores, double threshold = 0.5);
nlohmann::json binary_json(const BinnedBinaryScores& scores);
nlohmann::json to_json(const LossMeter& m);
nlohmann::json to_json(const ThroughputMeter& m);
nlohmann::json to_json(const StepTimer& t);
nlohmann::json to_json(const MemoryTracker& m);
nlohmann::json to_json(const LoadBalance& lb);
// One line of a per-epoch log: epoch, train_loss, val_loss and, when given,
// val_accuracy, val_balanced_accuracy, val_macro_f1, samples_per_second.
nlohmann::json epoch_json(std::int64_t epoch, const LossMeter& train_loss, const LossMeter& val_loss,
                          const ConfusionMatrix* val_cm = nullptr, const ThroughputMeter* throughput = nullptr);
// {"scaling": [{"replicas": n, "samples_per_second": s, "efficiency": e}, ...]}; the
// entry with 1 replica is the baseline (required).
nlohmann::json scaling_json(const std::vector<std::pair<std::int64_t, double>>& replicas_and_throughput);

// Appends one compact JSON object per line and flushes, so a crashed run
// keeps every finished epoch.
class JsonlWriter {
 public:
  explicit JsonlWriter(const std::string& path, bool append = false);
  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace minidp::metrics
