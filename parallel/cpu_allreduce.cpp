// minidp/parallel/cpu_allreduce.cpp — the in-process sum on the CPU.
//
// A reduce-scatter and an all-gather in one pass over shared memory: thread r
// owns chunk r of the buffers, adds that chunk of every buffer in rank order
// 0..k-1 (so the result does not depend on thread timing) and writes the sum
// into every buffer. Each element is added once, by its owner, so every
// replica ends with the same bits — what keeps replicas identical after the
// optimizer. Alone in its file so that labs/3-ring can swap in a learner's
// ring all-reduce (see bucket_plan.cpp).
#include <algorithm>

#include "minidp/parallel/communicator.h"

namespace minidp::parallel {

void allreduce_sum_cpu(int rank, const std::vector<float*>& buffers, std::int64_t n, AbortableBarrier& /*barrier*/) {
  const auto k = static_cast<std::int64_t>(buffers.size());
  const std::int64_t per = (n + k - 1) / k;
  const std::int64_t lo = std::min(n, rank * per), hi = std::min(n, lo + per);
  for (std::int64_t i = lo; i < hi; ++i) {
    float acc = buffers[0][i];
    for (std::int64_t r = 1; r < k; ++r) acc += buffers[r][i];
    for (float* b : buffers) b[i] = acc;
  }
}

}  // namespace minidp::parallel
