// minidp-metrics — classification metrics of saved predictions, from the command line.
//
//   minidp-metrics --labels y.txt --pred p.txt                 # report like sklearn's classification_report
//   minidp-metrics --labels y.txt --scores s.txt --json        # binary: threshold the scores, add ROC-AUC and AP
//
// Files hold one value per line: labels and predictions are integers, scores
// are the positive-class score of a binary task. Without --pred the
// predictions come from the scores (score >= --threshold is class 1). The
// number of classes defaults to the largest label or prediction + 1.
// Bad input (missing file, a non-number, a label >= K, files of different
// lengths) prints the file and line and exits with status 2.
#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "metrics/metrics.h"

namespace {

using namespace minidp::metrics;

// An input problem: reported as "FILE:LINE: what" and exit status 2.
struct InputError {
  std::string message;
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The file's values as trimmed strings; trailing blank lines are allowed,
// blank lines between values are not (they would shift every later sample).
std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError{path + ": cannot open the file"};
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(trim(line));
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i].empty()) throw InputError{path + ":" + std::to_string(i + 1) + ": empty line; expected one value per line"};
  return lines;
}

std::vector<std::int64_t> read_ints(const std::string& path) {
  std::vector<std::int64_t> v;
  const auto lines = read_lines(path);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& s = lines[i];
    std::int64_t x = 0;
    const char* first = s.data() + (s[0] == '+' ? 1 : 0);
    const auto [p, ec] = std::from_chars(first, s.data() + s.size(), x);
    if (ec != std::errc() || p != s.data() + s.size())
      throw InputError{path + ":" + std::to_string(i + 1) + ": '" + s + "' is not an integer class index"};
    v.push_back(x);
  }
  return v;
}

std::vector<double> read_scores(const std::string& path) {
  std::vector<double> v;
  const auto lines = read_lines(path);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& s = lines[i];
    char* end = nullptr;
    const double x = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !std::isfinite(x))
      throw InputError{path + ":" + std::to_string(i + 1) + ": '" + s + "' is not a finite number (expected a score)"};
    v.push_back(x);
  }
  return v;
}

void check_range(const std::vector<std::int64_t>& v, const std::string& path, const char* what, std::int64_t k,
                 std::optional<std::int64_t> ignore) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (ignore && v[i] == *ignore && std::string(what) == "label") continue;
    if (v[i] < 0 || v[i] >= k)
      throw InputError{path + ":" + std::to_string(i + 1) + ": " + what + " " + std::to_string(v[i]) +
                       " is out of range [0, " + std::to_string(k) + ")" +
                       (ignore ? " and is not the ignore index " + std::to_string(*ignore) : std::string())};
  }
}

struct Options {
  std::string labels, pred, scores, zero_division = "0";
  std::optional<std::int64_t> num_classes, ignore_index;
  double threshold = 0.5;
  bool json = false;
};

int run(const Options& o) {
  const ZeroDivision zd = parse_zero_division(o.zero_division);
  const auto labels = read_ints(o.labels);
  std::vector<std::int64_t> pred;
  std::vector<double> scores;
  if (!o.scores.empty()) {
    scores = read_scores(o.scores);
    if (scores.size() != labels.size())
      throw InputError{o.scores + ": " + std::to_string(scores.size()) + " scores but " + o.labels + " has " +
                       std::to_string(labels.size()) + " labels; expected one per line in both"};
  }
  if (!o.pred.empty()) {
    pred = read_ints(o.pred);
    if (pred.size() != labels.size())
      throw InputError{o.pred + ": " + std::to_string(pred.size()) + " predictions but " + o.labels + " has " +
                       std::to_string(labels.size()) + " labels; expected one per line in both"};
  } else {
    pred = apply_threshold(scores, o.threshold);
  }

  std::int64_t k = 0;
  if (o.num_classes) {
    k = *o.num_classes;
    if (k < 1) throw InputError{"--num-classes " + std::to_string(k) + ": expected at least 1"};
  } else {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (!(o.ignore_index && labels[i] == *o.ignore_index)) k = std::max(k, labels[i] + 1);
      k = std::max(k, pred[i] + 1);
    }
    if (!scores.empty()) k = std::max<std::int64_t>(k, 2);
    if (k < 1) throw InputError{o.labels + ": no samples to infer the number of classes from; pass --num-classes"};
  }
  if (!scores.empty() && k != 2)
    throw InputError{"--scores is for binary tasks, but there are " + std::to_string(k) + " classes"};
  check_range(labels, o.labels, "label", k, o.ignore_index);
  check_range(pred, o.pred.empty() ? o.scores : o.pred, "prediction", k, std::nullopt);

  ConfusionMatrix cm(k, o.ignore_index);
  cm.update(pred, labels);
  ReportOptions ro;
  ro.zero_division = zd;
  if (k == 2) ro.paradox.positive_class = 1;
  std::optional<BinaryScores> bs;
  if (!scores.empty()) {
    bs.emplace(o.ignore_index);
    bs->update(scores, labels);
  }
  if (o.json) {
    nlohmann::json j = classification_json(cm, ro);
    if (bs) j.update(binary_json(*bs, o.threshold));
    std::cout << j.dump() << "\n";
  } else {
    std::cout << classification_report(cm, ro);
    if (bs) std::cout << "\n" << binary_report(*bs, o.threshold);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"minidp-metrics: classification metrics (sklearn-compatible) of labels and predictions in text files"};
  Options o;
  app.add_option("--labels", o.labels, "true class per line (integers)")->required();
  app.add_option("--pred", o.pred, "predicted class per line (integers)");
  app.add_option("--scores", o.scores, "binary tasks: positive-class score per line");
  app.add_option("--num-classes", o.num_classes, "number of classes (default: largest label or prediction + 1)");
  app.add_option("--zero-division", o.zero_division, "value of 0/0 ratios: 0, 1 or nan")
      ->check(CLI::IsMember({"0", "1", "nan"}));
  app.add_option("--ignore-index", o.ignore_index, "label value whose samples are skipped");
  app.add_option("--threshold", o.threshold, "scores >= threshold are predicted positive (default 0.5)");
  app.add_flag("--json", o.json, "print one JSON object instead of the report");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (o.pred.empty() && o.scores.empty()) {
    std::cerr << "minidp-metrics: error: give --pred FILE, --scores FILE or both\n";
    return 2;
  }
  try {
    return run(o);
  } catch (const InputError& e) {
    std::cerr << "minidp-metrics: error: " << e.message << "\n";
    return 2;
  } catch (const minidp::Error& e) {
    std::cerr << "minidp-metrics: error: " << e.what() << "\n";
    return 2;
  }
}
