// minidp/metrics/text_files.h — metrics of saved predictions: the library half of minidp-metrics.
//
// Labels, predictions and scores often come from elsewhere (another framework,
// a spreadsheet, a colleague's run) as text files with one value per line.
// These functions read them strictly — every problem is a minidp::Error naming
// "FILE:LINE" — and count them into the same ConfusionMatrix and BinaryScores
// a training run uses, so the report is the one you know. Nothing in a file is
// trusted: a label of 4294967295 or 29999 does not become a 4-billion- or
// 30,000-class confusion matrix (ConfusionMatrix::kMaxClasses bounds it).
//
//   FileMetricsOptions o{.labels = "y.txt", .pred = "p.txt"};
//   FileMetrics m = metrics_from_files(o);
//   std::cout << classification_report(m.cm, m.report);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "minidp/metrics/binary.h"
#include "minidp/metrics/confusion_matrix.h"
#include "minidp/metrics/report.h"

namespace minidp::metrics {

struct FileMetricsOptions {
  std::string labels;  // true class per line (integers)
  std::string pred;    // predicted class per line; empty: from the scores
  std::string scores;  // binary tasks: positive-class score per line; may be empty
  std::optional<std::int64_t> num_classes;   // default: largest label or prediction + 1
  std::optional<std::int64_t> ignore_index;  // label value whose samples are skipped
  double threshold = 0.5;                    // scores >= threshold are predicted positive
  ZeroDivision zero_division = ZeroDivision::Zero;
};

struct FileMetrics {
  ConfusionMatrix cm{1};
  std::optional<BinaryScores> scores;  // when scores were given
  ReportOptions report;                // what the report should say (zero_division, the positive class)
};

// One integer per line ("FILE:LINE: 'x' is not an integer class index" otherwise).
// Trailing blank lines are allowed, blank lines between values are not (they would shift every later sample).
std::vector<std::int64_t> read_class_file(const std::string& path);
// One finite number per line.
std::vector<double> read_score_file(const std::string& path);
// Reads the files, checks they agree (lengths, ranges, binary when scored) and counts them.
FileMetrics metrics_from_files(const FileMetricsOptions& o);

}  // namespace minidp::metrics
