// tests/fuzz/fuzz_metrics.cpp — any bytes as minidp-metrics' input: the labels,
// predictions and scores files and the numeric options, through
// metrics_from_files and the report and JSON the tool prints.
//
// Input: parts separated by NUL bytes —
//   options  "NUM_CLASSES IGNORE_INDEX THRESHOLD", each token a number or "-" (unset)
//   labels   the labels file
//   pred     the predictions file (absent or empty: none)
//   scores   the scores file (absent or empty: none)
#include <charconv>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string_view>

#include "fuzz_input.h"

using namespace minidp;

namespace {
std::optional<std::int64_t> int_token(std::string_view t) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
  return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::InputFile labels, pred, scores;
  std::vector<std::string_view> parts;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (parts.size() < 3) {
    const std::size_t nul = rest.find('\0');
    if (nul == std::string_view::npos) break;
    parts.push_back(rest.substr(0, nul));
    rest.remove_prefix(nul + 1);
  }
  parts.push_back(rest);
  if (parts.size() < 2) return 0;

  metrics::FileMetricsOptions o;
  std::istringstream options{std::string(parts[0])};
  std::string k, ignore, threshold;
  options >> k >> ignore >> threshold;
  o.num_classes = int_token(k);
  o.ignore_index = int_token(ignore);
  if (!threshold.empty() && threshold != "-") o.threshold = std::strtod(threshold.c_str(), nullptr);
  o.labels = labels.write(parts[1]);
  if (parts.size() > 2 && !parts[2].empty()) o.pred = pred.write(parts[2]);
  if (parts.size() > 3 && !parts[3].empty()) o.scores = scores.write(parts[3]);
  return fuzz::expect_clean([&] {
    const metrics::FileMetrics m = metrics::metrics_from_files(o);
    const std::string report = metrics::classification_report(m.cm, m.report);
    nlohmann::json j = metrics::classification_json(m.cm, m.report);
    if (m.scores) {
      j.update(metrics::binary_json(*m.scores, o.threshold));
      (void)metrics::binary_report(*m.scores, o.threshold);
    }
    (void)j.dump();
  });
}
