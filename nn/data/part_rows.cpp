// minidp/nn/data/part_rows.cpp — a process's rows of a global batch.
//
// Part p of k takes consecutive rows, after the rows of parts 0..p-1, sized
// as shard_sizes gives them (the first n % k parts one row more). Every row
// is loaded by exactly one part and no row is invented: unlike PyTorch's
// DistributedSampler, nothing is padded with repeated samples, so an
// evaluation counts each sample once. Alone in its file so that
// labs/4-sampler can swap in a learner's version (see
// parallel/bucket_plan.cpp).
#include "minidp/core/error.h"
#include "minidp/nn/data/sampler.h"

namespace minidp::nn::data {

std::pair<std::int64_t, std::int64_t> part_rows(std::int64_t n, int part, int parts) {
  MINIDP_CHECK(parts >= 1 && part >= 0 && part < parts, "part_rows: part ", part, " of ", parts, " does not exist");
  const std::vector<std::int64_t> sizes = shard_sizes(n, parts);
  std::int64_t first = 0;
  for (int p = 0; p < part; ++p) first += sizes[p];
  return {first, first + sizes[part]};
}

}  // namespace minidp::nn::data
