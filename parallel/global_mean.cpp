// minidp/parallel/global_mean.cpp — sum, then divide by the global count.
//
// Each replica's backward leaves the SUM of its shard's gradients (its loss is
// a sum); the collectives add those sums over every replica and process, and
// the count of samples rides along in the tail. One division by that global
// count then gives exactly the gradient of the whole batch — however unevenly
// it was split. (The mean of each replica's mean would weigh a replica of 3
// samples like one of 4.) Alone in its file so that labs/1-exact-mean can
// swap a learner's version in (see bucket_plan.cpp).
#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"
#include "minidp/parallel/gradient_buckets.h"

namespace minidp::parallel {

void divide_by_global_count(std::vector<Tensor> buckets, Tensor tail) {
  NoGradGuard ng;
  Tensor count = clamp(tail.narrow(0, 1, 1), 1.0, std::nullopt);  // no samples anywhere: nothing to divide
  Tensor inv = div(full({1}, 1.0, count.options()), count);
  for (Tensor& b : buckets) b.mul_(inv);
  tail.narrow(0, 0, 1).mul_(inv);
}

}  // namespace minidp::parallel
