// minidp/nn/data/sampler.cpp — Fisher-Yates driven by Philox.
#include "minidp/nn/data/sampler.h"

#include <numeric>
#include <utility>

#include "minidp/core/error.h"
#include "minidp/core/rng.h"

namespace minidp::nn::data {

std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::uint64_t seed, std::uint64_t epoch) {
  MINIDP_CHECK(n >= 0, "shuffled_indices: negative size ", n);
  std::vector<std::int64_t> idx = sequential_indices(n);
  for (std::int64_t i = n - 1; i > 0; --i) {
    // Step i draws from Philox block (counter = (i, epoch), key = seed): 64 random
    // bits, mapped to [0, i] by a 128-bit multiply (Lemire). The bias is below
    // (i+1)/2^64 — far beneath anything a training run could notice.
    const PhiloxBlock r = philox4x32_10(static_cast<std::uint64_t>(i), epoch, seed);
    const std::uint64_t bits = static_cast<std::uint64_t>(r.v[0]) << 32 | r.v[1];
    const auto j = static_cast<std::int64_t>(
        (static_cast<unsigned __int128>(bits) * static_cast<std::uint64_t>(i + 1)) >> 64);
    std::swap(idx[i], idx[j]);
  }
  return idx;
}

std::vector<std::int64_t> sequential_indices(std::int64_t n) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), std::int64_t{0});
  return idx;
}

std::vector<std::int64_t> shard_sizes(std::int64_t n, std::int64_t k) {
  MINIDP_CHECK(n >= 0 && k >= 1, "shard_sizes: cannot split ", n, " samples into ", k, " parts");
  std::vector<std::int64_t> s(static_cast<std::size_t>(k), n / k);
  for (std::int64_t i = 0; i < n % k; ++i) ++s[i];
  return s;
}

}  // namespace minidp::nn::data
