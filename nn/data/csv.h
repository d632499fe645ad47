// minidp/nn/data/csv.h — numeric tables: one sample per line, one label column.
//
// Every column but the label becomes a float32 feature (finite, in float32's
// range: "nan", "inf" and 1e39 are refused); the label column must hold
// non-negative integers (class ids, below kMaxClasses). The first line is a
// header when asked, or — by default — when every one of its fields is a name;
// a first line that mixes names and numbers is an error, not a guess. A UTF-8
// byte-order mark is skipped. Errors name the file and line, because a CSV is
// usually hand-edited or exported from somewhere else, and "line 1207:
// expected 5 fields, got 4" is the fix.
//
//   CsvOptions o;
//   o.label_column = "species";                      // or o.label_index = 4
//   Dataset d = read_csv("iris.csv", o);             // inputs float32 [150, 4]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "minidp/nn/data/dataset.h"

namespace minidp::nn::data {

struct CsvOptions {
  enum class Header { Auto, Yes, No };
  Header header = Header::Auto;
  std::string label_column;         // label column by header name (needs a header) ...
  std::int64_t label_index = -1;    // ... or by index; negative counts from the end (-1 = last)
  char delimiter = ',';
  std::int64_t num_classes = 0;     // > 0: labels must lie in [0, num_classes); 0: max label + 1
};

// The table as a Dataset: inputs float32 [N, F], labels int64 [N].
// `feature_names`, when given, receives the names of the feature columns
// (from the header, or "c0", "c1", ... without one).
Dataset read_csv(const std::string& path, const CsvOptions& opts = {},
                 std::vector<std::string>* feature_names = nullptr);

}  // namespace minidp::nn::data
