// minidp/metrics/text_files.cpp — strict readers of one-value-per-line files and the counts made from them.
#include "minidp/metrics/text_files.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "minidp/core/error.h"

namespace minidp::metrics {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The file's values as trimmed strings; trailing blank lines are allowed,
// blank lines between values are not.
std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  MINIDP_CHECK(in.good(), path, ": cannot open the file");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(trim(line));
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (std::size_t i = 0; i < lines.size(); ++i)
    MINIDP_CHECK(!lines[i].empty(), path, ":", i + 1, ": empty line; expected one value per line");
  return lines;
}

void check_range(const std::vector<std::int64_t>& v, const std::string& path, const char* what, std::int64_t k,
                 std::optional<std::int64_t> ignore) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (ignore && v[i] == *ignore) continue;
    MINIDP_CHECK(v[i] >= 0 && v[i] < k, path, ":", i + 1, ": ", what, " ", v[i], " is out of range [0, ", k, ")",
                 ignore ? " and is not the ignore index " + std::to_string(*ignore) : std::string());
  }
}

}  // namespace

std::vector<std::int64_t> read_class_file(const std::string& path) {
  std::vector<std::int64_t> v;
  const auto lines = read_lines(path);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& s = lines[i];
    std::int64_t x = 0;
    const char* first = s.data() + (s[0] == '+' ? 1 : 0);
    const auto [p, ec] = std::from_chars(first, s.data() + s.size(), x);
    MINIDP_CHECK(ec == std::errc() && p == s.data() + s.size(), path, ":", i + 1, ": '", s,
                 "' is not an integer class index");
    v.push_back(x);
  }
  return v;
}

std::vector<double> read_score_file(const std::string& path) {
  std::vector<double> v;
  const auto lines = read_lines(path);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& s = lines[i];
    char* end = nullptr;
    const double x = std::strtod(s.c_str(), &end);
    MINIDP_CHECK(end == s.c_str() + s.size() && std::isfinite(x), path, ":", i + 1, ": '", s,
                 "' is not a finite number (expected a score)");
    v.push_back(x);
  }
  return v;
}

FileMetrics metrics_from_files(const FileMetricsOptions& o) {
  MINIDP_CHECK(!o.pred.empty() || !o.scores.empty(), "metrics: give a predictions file, a scores file or both");
  const auto labels = read_class_file(o.labels);
  std::vector<std::int64_t> pred;
  std::vector<double> scores;
  if (!o.scores.empty()) {
    scores = read_score_file(o.scores);
    MINIDP_CHECK(scores.size() == labels.size(), o.scores, ": ", scores.size(), " scores but ", o.labels, " has ",
                 labels.size(), " labels; expected one per line in both");
  }
  if (!o.pred.empty()) {
    pred = read_class_file(o.pred);
    MINIDP_CHECK(pred.size() == labels.size(), o.pred, ": ", pred.size(), " predictions but ", o.labels, " has ",
                 labels.size(), " labels; expected one per line in both");
  } else {
    pred = apply_threshold(scores, o.threshold);
  }
  const std::string& pred_file = o.pred.empty() ? o.scores : o.pred;
  constexpr std::int64_t kMax = ConfusionMatrix::kMaxClasses;

  std::int64_t k = 0;
  if (o.num_classes) {
    k = *o.num_classes;
    MINIDP_CHECK(k >= 1 && k <= kMax, "--num-classes ", k, ": expected 1 to ", kMax,
                 " (the confusion matrix holds K x K counts)");
  } else {
    // Every value is range-checked against the limit before it can size
    // anything; then the largest one sizes the matrix, so all fit in it.
    check_range(labels, o.labels, "label", kMax, o.ignore_index);
    check_range(pred, pred_file, "prediction", kMax, std::nullopt);
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (!(o.ignore_index && labels[i] == *o.ignore_index)) k = std::max(k, labels[i] + 1);
      k = std::max(k, pred[i] + 1);
    }
    if (!scores.empty()) k = std::max<std::int64_t>(k, 2);
    MINIDP_CHECK(k >= 1, o.labels, ": no samples to infer the number of classes from; pass --num-classes");
  }
  MINIDP_CHECK(scores.empty() || k == 2, "--scores is for binary tasks, but there are ", k, " classes");
  if (o.num_classes) {  // an inferred K holds every value already
    check_range(labels, o.labels, "label", k, o.ignore_index);
    check_range(pred, pred_file, "prediction", k, std::nullopt);
  }

  FileMetrics m{ConfusionMatrix(k, o.ignore_index), std::nullopt, {}};
  m.cm.update(pred, labels);
  m.report.zero_division = o.zero_division;
  if (k == 2) m.report.paradox.positive_class = 1;
  if (!scores.empty()) {
    m.scores.emplace(o.ignore_index);
    m.scores->update(scores, labels);
  }
  return m;
}

}  // namespace minidp::metrics
