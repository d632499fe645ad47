// minidp-metrics — classification metrics of saved predictions, from the command line.
//
//   minidp-metrics --labels y.txt --pred p.txt                 # report like sklearn's classification_report
//   minidp-metrics --labels y.txt --scores s.txt --json        # binary: threshold the scores, add ROC-AUC and AP
//
// Files hold one value per line: labels and predictions are integers, scores
// are the positive-class score of a binary task. Without --pred the
// predictions come from the scores (score >= --threshold is class 1). The
// number of classes defaults to the largest label or prediction + 1 (at most
// 1024). The reading and counting is metrics_from_files (metrics/text_files.h);
// this file is the command line around it.
// Bad input (missing file, a non-number, a label >= K, files of different
// lengths) prints the file and line and exits with status 2; anything else
// that goes wrong (out of memory) prints one line and exits with status 1.
#include "flags.h"

#include <iostream>
#include <new>
#include <optional>
#include <string>

#include "minidp/metrics/metrics.h"

namespace {

using namespace minidp::metrics;

int run(const FileMetricsOptions& o, bool json) {
  const FileMetrics m = metrics_from_files(o);
  if (json) {
    nlohmann::json j = classification_json(m.cm, m.report);
    if (m.scores) j.update(binary_json(*m.scores, o.threshold));
    std::cout << j.dump() << "\n";
  } else {
    std::cout << classification_report(m.cm, m.report);
    if (m.scores) std::cout << "\n" << binary_report(*m.scores, o.threshold);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  minidp::examples::Flags flags{"minidp-metrics: classification metrics (sklearn-compatible) of labels and predictions in text files"};
  FileMetricsOptions o;
  std::string zero_division = "0";
  bool json = false;
  flags.add("--labels", o.labels, "true class per line (integers)").required();
  flags.add("--pred", o.pred, "predicted class per line (integers)");
  flags.add("--scores", o.scores, "binary tasks: positive-class score per line");
  flags.add("--num-classes", o.num_classes, "number of classes, 1 to 1024 (default: largest label or "
                                                 "prediction + 1)");
  flags.add("--zero-division", zero_division, "value of 0/0 ratios: 0, 1 or nan")
      .one_of({"0", "1", "nan"});
  flags.add("--ignore-index", o.ignore_index, "label value whose samples are skipped");
  flags.add("--threshold", o.threshold, "scores >= threshold are predicted positive (default 0.5)");
  flags.flag("--json", json, "print one JSON object instead of the report");
  if (const int rc = flags.parse(argc, argv); rc >= 0) return rc == 0 ? 0 : 2;
  if (o.pred.empty() && o.scores.empty()) {
    std::cerr << "minidp-metrics: error: give --pred FILE, --scores FILE or both\n";
    return 2;
  }
  try {
    o.zero_division = parse_zero_division(zero_division);
    return run(o, json);
  } catch (const minidp::Error& e) {
    std::cerr << "minidp-metrics: error: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "minidp-metrics: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "minidp-metrics: error: " << e.what() << "\n";
    return 1;
  }
}
