// minidp/parallel/shards.h — how DataParallel cuts a batch among its
// replicas (shared by the eager step, data_parallel.cpp, and the captured
// step, data_parallel_graph.cpp). Internal: not part of the umbrella header.
#pragma once

#include <cstdint>
#include <vector>

#include "minidp/core/tensor.h"
#include "minidp/parallel/replica.h"

namespace minidp::parallel::detail {

// How a batch is cut: shard i is rows [offset[i], offset[i] + size[i]).
struct Shards {
  std::vector<std::int64_t> size, offset;
  Tensor rows(const Tensor& t, int i) const { return t.slice(offset[i], offset[i] + size[i]); }  // a view
};

inline Shards plan_shards(const char* op, const Tensor& inputs, const Tensor& labels, int replicas) {
  MINIDP_CHECK(inputs.defined() && labels.defined() && inputs.dim() >= 1 && labels.dim() >= 1 &&
                   inputs.size(0) == labels.size(0),
               op, ": inputs ", inputs.describe(), " and labels ", labels.describe(),
               " must be defined and have the same number of samples (dim 0)");
  Shards s;
  s.size = shard_sizes(inputs.size(0), replicas);
  s.offset.assign(s.size.size(), 0);
  for (std::size_t i = 1; i < s.size.size(); ++i) s.offset[i] = s.offset[i - 1] + s.size[i - 1];
  return s;
}

}  // namespace minidp::parallel::detail
