// minidp/nn/data/split.cpp — deterministic splits and overlap reports.
#include "minidp/nn/data/split.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "minidp/core/error.h"
#include "minidp/nn/data/sampler.h"

namespace minidp::nn::data {
namespace {

// The split draws its permutation from its own Philox stream, so a split seed
// never reproduces some epoch's shuffle by accident.
constexpr std::uint64_t kSplitStream = 0x53504C4954000000ull;  // "SPLIT"

std::string percent(std::int64_t a, std::int64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0);
  return buf;
}

std::string examples(const std::vector<std::int64_t>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < 5; ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return v.size() > 5 ? s + ", ..." : s;
}

OverlapReport report(std::int64_t count, std::int64_t n_train, std::int64_t n_eval,
                     const std::vector<std::int64_t>& which, const char* how) {
  OverlapReport r;
  r.count = count;
  if (count == 0) {
    r.message = "no overlap (" + std::string(how) + "): none of the " + std::to_string(n_eval) +
                " evaluation samples occurs among the " + std::to_string(n_train) + " training samples";
  } else {
    r.message = "data leakage (" + std::string(how) + "): " + std::to_string(count) + " of " + std::to_string(n_eval) +
                " evaluation samples (" + percent(count, n_eval) + ") also occur in the training data (evaluation " +
                "samples " + examples(which) + "); scores on them overstate how well the model generalises";
  }
  return r;
}

std::uint64_t fnv1a(const std::uint8_t* p, std::size_t n) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::vector<std::int64_t> indices_in_source(const Dataset& d) {
  return d.source_indices.empty() ? sequential_indices(d.size()) : d.source_indices;
}

}  // namespace

SplitIndices split_indices(std::int64_t n, double val_fraction, std::uint64_t seed) {
  MINIDP_CHECK(val_fraction >= 0.0 && val_fraction <= 1.0, "split_indices: val_fraction ", val_fraction,
               " is not in [0, 1]");
  const auto n_val = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * val_fraction));
  const std::vector<std::int64_t> order = shuffled_indices(n, seed, kSplitStream);
  SplitIndices s;
  s.val.assign(order.begin(), order.begin() + n_val);
  s.train.assign(order.begin() + n_val, order.end());
  // Ascending order keeps each part in file order: reading is cache-friendly
  // and the loader shuffles anyway.
  std::sort(s.val.begin(), s.val.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

std::pair<Dataset, Dataset> train_val_split(const Dataset& d, double val_fraction, std::uint64_t seed) {
  const SplitIndices s = split_indices(d.size(), val_fraction, seed);
  return {d.subset(s.train, d.name + "[train split]"), d.subset(s.val, d.name + "[val split]")};
}

OverlapReport check_index_overlap(const std::vector<std::int64_t>& train, const std::vector<std::int64_t>& eval) {
  const std::unordered_set<std::int64_t> seen(train.begin(), train.end());
  std::vector<std::int64_t> which;
  for (std::int64_t i : eval) {
    if (seen.count(i)) which.push_back(i);
  }
  return report(static_cast<std::int64_t>(which.size()), static_cast<std::int64_t>(train.size()),
                static_cast<std::int64_t>(eval.size()), which, "by sample index");
}

OverlapReport check_overlap(const Dataset& train, const Dataset& eval, bool by_content) {
  if (!by_content && train.source_id != 0 && train.source_id == eval.source_id) {
    return check_index_overlap(indices_in_source(train), indices_in_source(eval));
  }
  MINIDP_CHECK(train.inputs.dtype() == eval.inputs.dtype() && train.sample_shape() == eval.sample_shape(),
               "check_overlap: ", train.name, " holds ", train.inputs.describe(), " but ", eval.name, " holds ",
               eval.inputs.describe(), "; samples of different shape or dtype cannot be compared");
  // Hash every training sample, then compare each evaluation sample with the
  // training samples of equal hash byte for byte (so a collision never counts).
  const std::size_t bytes = train.sample_bytes();
  std::unordered_multimap<std::uint64_t, std::int64_t> hashes;
  hashes.reserve(static_cast<std::size_t>(train.size()));
  for (std::int64_t i = 0; i < train.size(); ++i) hashes.emplace(fnv1a(train.sample_data(i), bytes), i);
  std::vector<std::int64_t> which;
  for (std::int64_t j = 0; j < eval.size(); ++j) {
    const std::uint8_t* e = eval.sample_data(j);
    const auto [lo, hi] = hashes.equal_range(fnv1a(e, bytes));
    for (auto it = lo; it != hi; ++it) {
      if (std::memcmp(train.sample_data(it->second), e, bytes) == 0) {
        which.push_back(j);
        break;
      }
    }
  }
  return report(static_cast<std::int64_t>(which.size()), train.size(), eval.size(), which, "by sample content");
}

}  // namespace minidp::nn::data
