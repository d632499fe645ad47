// minidp/metrics/loss_meter.h — the mean loss of an epoch, kept as (sum, count).
//
// The state is the *sum* of per-sample losses and the number of samples.
// Batches of different sizes (the last, smaller batch; replicas that got 3
// samples and replicas that got 4) then weigh exactly by their samples, and
// replicas/ranks combine by adding both numbers. Averaging per-batch or
// per-replica means ("average of averages") gives a different number
// whenever the sizes differ, so this class never does it.
//
//   LossMeter m;
//   m.add_mean(loss.item(), batch_size);   // loss = cross_entropy(...) with Reduction::Mean
//   m.add_sum(loss_sum.item(), n);         // or a summed loss directly
//   m.merge(other_replica); double epoch_loss = m.mean();
#pragma once

#include <cstdint>
#include <limits>

#include "minidp/core/error.h"

namespace minidp::metrics {

class LossMeter {
 public:
  // A loss summed over `count` samples.
  void add_sum(double loss_sum, std::int64_t count) {
    MINIDP_CHECK(count >= 0, "LossMeter::add_sum: sample count must be >= 0, got ", count);
    sum_ += loss_sum;
    count_ += count;
  }
  // A batch-mean loss over `count` samples: turned back into a sum first.
  void add_mean(double mean_loss, std::int64_t count) { add_sum(mean_loss * static_cast<double>(count), count); }
  void merge(const LossMeter& o) {
    sum_ += o.sum_;
    count_ += o.count_;
  }
  void reset() { sum_ = 0, count_ = 0; }

  double sum() const { return sum_; }
  std::int64_t count() const { return count_; }
  // NaN before any sample: there is no mean loss of nothing.
  double mean() const {
    return count_ == 0 ? std::numeric_limits<double>::quiet_NaN() : sum_ / static_cast<double>(count_);
  }

 private:
  double sum_ = 0;
  std::int64_t count_ = 0;
};

}  // namespace minidp::metrics
