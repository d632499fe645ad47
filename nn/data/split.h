// minidp/nn/data/split.h — validation splits and data-leakage checks.
//
// A validation set must be carved out of the *training* files (the test set
// is for the final report only), and the two parts must not share a sample:
// a model scored on samples it trained on reports a skill it does not have.
// The split is a deterministic function of the seed, like the shuffle, so a
// resumed or data-parallel run validates on the same samples.
//
// check_overlap says how much training and evaluation data share, two ways:
//   * by index, for two parts of one data set (exact, cheap);
//   * by content, for two data sets (hashing every sample's bytes and
//     comparing candidates byte for byte), which also catches the same image
//     stored twice in different files.
//
//   auto [train, val] = train_val_split(fashion_mnist(), 0.1, /*seed=*/0);
//   OverlapReport r = check_overlap(train, val);   // r.count == 0
//   if (!r.ok()) std::cerr << r.message << '\n';
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "minidp/nn/data/dataset.h"

namespace minidp::nn::data {

struct SplitIndices {
  std::vector<std::int64_t> train, val;  // disjoint, together 0 .. n-1, each ascending
};

// round(n * val_fraction) indices for validation, chosen by a (seed)-shuffle; the rest for training.
SplitIndices split_indices(std::int64_t n, double val_fraction, std::uint64_t seed);
// The same split applied to a data set (each part remembers its source_indices).
std::pair<Dataset, Dataset> train_val_split(const Dataset& d, double val_fraction, std::uint64_t seed);

struct OverlapReport {
  std::int64_t count = 0;    // evaluation samples that also occur in the training data
  std::string message;       // one line for a log, naming a few examples
  bool ok() const { return count == 0; }
};

// Indices into the same data set.
OverlapReport check_index_overlap(const std::vector<std::int64_t>& train, const std::vector<std::int64_t>& eval);
// Two data sets: by source_indices when both are subsets of one parent (they
// both carry them), else by sample content. `by_content = true` forces the byte comparison.
OverlapReport check_overlap(const Dataset& train, const Dataset& eval, bool by_content = false);

}  // namespace minidp::nn::data
