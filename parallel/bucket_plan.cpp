// minidp/parallel/bucket_plan.cpp — which parameters share a bucket.
//
// Alone in its file on purpose: a program that links its own plan_buckets
// before libminidp.a replaces this one (the linker takes an archive member
// only for symbols still undefined) — how labs/2-buckets swaps a learner's
// version into the real GradientBuckets.
#include "minidp/parallel/gradient_buckets.h"

namespace minidp::parallel {

std::vector<std::vector<int>> plan_buckets(const std::vector<std::int64_t>& numels, std::size_t element_bytes,
                                           std::size_t first_bucket_bytes, std::size_t bucket_bytes) {
  // Walk backward's order (last parameter first); close a bucket when the
  // next parameter would overflow it.
  std::vector<std::vector<int>> groups(1);
  std::size_t bytes = 0;
  for (int i = static_cast<int>(numels.size()) - 1; i >= 0; --i) {
    const std::size_t limit = groups.size() == 1 ? first_bucket_bytes : bucket_bytes;
    const std::size_t need = static_cast<std::size_t>(numels[i]) * element_bytes;
    if (!groups.back().empty() && bytes + need > limit) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(i);
    bytes += need;
  }
  return groups;
}

}  // namespace minidp::parallel
