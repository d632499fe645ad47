// minidp/nn/data/csv.cpp — a small, strict CSV reader for numeric data.
#include "minidp/nn/data/csv.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "minidp/core/error.h"
#include "minidp/nn/data/file_io.h"

namespace minidp::nn::data {
namespace {

std::string trim(std::string s) {
  const auto space = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.back())) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && space(s[i])) ++i;
  s.erase(0, i);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string> split_line(const std::string& line, char delim) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = line.find(delim, start);
    out.push_back(trim(line.substr(start, end == std::string::npos ? std::string::npos : end - start)));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

bool parse_number(const std::string& s, double& v) {
  if (s.empty()) return false;
  const char* first = s.data() + (s[0] == '+' ? 1 : 0);
  const auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), v);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

Dataset read_csv(const std::string& path, const CsvOptions& opts, std::vector<std::string>* feature_names) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  std::string text(bytes.begin(), bytes.end());
  // A UTF-8 byte-order mark (EF BB BF), as spreadsheet exports write, is not part of the first field.
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);

  // Split into non-empty lines, remembering their 1-based line numbers for messages.
  std::vector<std::pair<std::int64_t, std::string>> lines;
  std::int64_t lineno = 0;
  for (std::size_t pos = 0; pos <= text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++lineno;
    std::string line = text.substr(pos, end - pos);
    if (!trim(line).empty()) lines.emplace_back(lineno, std::move(line));
    pos = end + 1;
  }
  MINIDP_CHECK(!lines.empty(), path, ": empty CSV file; expected numeric rows with a label column");

  std::vector<std::string> header;
  std::vector<std::string> first = split_line(lines[0].second, opts.delimiter);
  bool has_header = opts.header == CsvOptions::Header::Yes;
  if (opts.header == CsvOptions::Header::Auto) {
    // A header names every column; a line of numbers is data. A line that
    // mixes the two is a typo either way: say so rather than guess (guessing
    // "header" would silently drop a sample, guessing "data" would fail later
    // with a less useful message).
    double v;
    const auto is_name = [&](const std::string& f) { return !parse_number(f, v); };
    const auto name = std::find_if(first.begin(), first.end(), is_name);
    has_header = std::all_of(first.begin(), first.end(), is_name);
    MINIDP_CHECK(has_header || name == first.end(), path, ":", lines[0].first,
                 ": the first line mixes numbers and names (field ", name - first.begin(), " is '",
                 name == first.end() ? std::string() : *name, "'), so it is neither a header nor a row of data; ",
                 "fix the line, or say which it is (CsvOptions::header = Yes or No)");
  }
  if (has_header) header = first;
  const auto ncols = static_cast<std::int64_t>(first.size());
  MINIDP_CHECK(ncols >= 2, path, ":", lines[0].first, ": expected at least 2 columns (features and a label), got ",
               ncols, " (is the delimiter '", opts.delimiter, "'?)");

  std::int64_t label = opts.label_index;
  if (!opts.label_column.empty()) {
    MINIDP_CHECK(has_header, path, ": label column '", opts.label_column,
                 "' was asked by name, but the file has no header line");
    const auto it = std::find(header.begin(), header.end(), opts.label_column);
    if (it == header.end()) {
      std::string cols;
      for (const std::string& h : header) cols += (cols.empty() ? "" : ", ") + h;
      MINIDP_FAIL(path, ": label column '", opts.label_column, "' not found in the header (columns: ", cols, ")");
    }
    label = it - header.begin();
  } else {
    if (label < 0) label += ncols;
    MINIDP_CHECK(label >= 0 && label < ncols, path, ": label column index ", opts.label_index, " is out of range for ",
                 ncols, " columns");
  }

  if (feature_names) {
    feature_names->clear();
    for (std::int64_t c = 0; c < ncols; ++c) {
      if (c != label) feature_names->push_back(has_header ? header[c] : std::string(1, 'c').append(std::to_string(c)));
    }
  }

  const std::size_t first_row = has_header ? 1 : 0;
  const auto n = static_cast<std::int64_t>(lines.size() - first_row);
  MINIDP_CHECK(n > 0, path, ": the CSV has a header but no data rows");
  Tensor inputs = Tensor::empty({n, ncols - 1}, TensorOptions(kFloat32));
  Tensor labels = Tensor::empty({n}, TensorOptions(kInt64));
  float* x = inputs.data<float>();
  std::int64_t* y = labels.data<std::int64_t>();
  for (std::int64_t r = 0; r < n; ++r) {
    const auto& [ln, line] = lines[first_row + static_cast<std::size_t>(r)];
    const std::vector<std::string> fields = split_line(line, opts.delimiter);
    MINIDP_CHECK(static_cast<std::int64_t>(fields.size()) == ncols, path, ":", ln, ": expected ", ncols,
                 " fields, got ", fields.size());
    for (std::int64_t c = 0; c < ncols; ++c) {
      double v = 0;
      MINIDP_CHECK(parse_number(fields[c], v), path, ":", ln, ": field ", c, " ('", fields[c], "') is not a number");
      if (c == label) {
        MINIDP_CHECK(v >= 0 && std::floor(v) == v, path, ":", ln, ": label '", fields[c],
                     "' is not a non-negative integer class id");
        MINIDP_CHECK(v < static_cast<double>(kMaxClasses), path, ":", ln, ": label ", fields[c],
                     " is not a class id below ", kMaxClasses, " (minidp's limit on the number of classes); ",
                     "is the label column the right one?");
        MINIDP_CHECK(opts.num_classes <= 0 || v < static_cast<double>(opts.num_classes), path, ":", ln, ": label ",
                     fields[c], " is out of range [0, ", opts.num_classes, ")");
        *y++ = static_cast<std::int64_t>(v);
      } else {
        // from_chars accepts "nan", "inf" and 1e39; none of them is a feature
        // a model can learn from (1e39 is inf in float32).
        MINIDP_CHECK(std::isfinite(v) && std::fabs(v) <= std::numeric_limits<float>::max(), path, ":", ln, ": field ",
                     c, " ('", fields[c], "') is ", std::isfinite(v) ? "beyond float32's range" : "not finite",
                     "; features must be finite float32 numbers");
        *x++ = static_cast<float>(v);
      }
    }
  }
  std::int64_t classes = opts.num_classes;
  if (classes <= 0) {
    const std::int64_t* l = labels.data<std::int64_t>();
    classes = n > 0 ? *std::max_element(l, l + n) + 1 : 0;
  }
  return Dataset(inputs, labels, path, classes);
}

}  // namespace minidp::nn::data
