// minidp/parallel/step_result.h — what a data-parallel training step returns:
// the loss and the phase times, left on the devices until asked for.
//
//   auto r = dp.train_step(x, y);   // returns before the devices are done
//   r.done();                       // an event query, never a wait
//   double loss = r.loss();         // the host waits for the step, then reads
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "minidp/core/stream.h"
#include "minidp/core/tensor.h"

namespace minidp::parallel {

// The phases of a training step, in order. Events recorded on each
// replica's stream at the boundaries time them: GPU time for a GPU replica,
// host time for a CPU one.
enum class Phase : int { Data, Forward, Backward, Allreduce, Optimizer };
constexpr int kNumPhases = 5;

// Seconds of each phase of one step on one replica.
struct PhaseTimes {
  double data = 0;  // shard copy to the device (and the broadcast of buffers from replica 0)
  double forward = 0, backward = 0, allreduce = 0, optimizer = 0;
  double busy() const { return data + forward + backward + optimizer; }  // excludes the allreduce (and waiting in it)
  double& operator[](Phase p);
};

struct ReplicaStepStats {
  std::int64_t samples = 0;
  Tensor loss_sum;   // this replica's summed loss, on its device (undefined for an empty shard)
  PhaseTimes time;   // valid after StepResult::wait()
  // Seconds the gradient sums themselves took, overlapped or not (time.allreduce
  // is only the part the step waited for after backward: the *exposed* part).
  // NaN where it cannot be told without a host wait (NCCL).
  double comm_seconds = 0;
  // When each sum ran (buckets in order, then the tail), on the host's steady
  // clock: what a trace draws on the communication row. NaN when unknown.
  std::vector<std::pair<double, double>> comm_spans;
  // Bytes this replica's communicator sent during the step (Communicator::bytes_sent; 0 where not counted).
  std::uint64_t comm_bytes = 0;
  // The optimizer step was skipped: non-finite gradients or loss (DataParallelOptions::skip_nonfinite).
  bool skipped = false;
};

namespace detail {
// at[i][k]: boundary k of the step on replica i — before phase k, and
// at[i][kNumPhases] after the last one. Timing events, recorded on the replica's stream.
struct StepEvents {
  std::vector<std::vector<Event>> at;
  explicit StepEvents(int replicas) : at(replicas) {
    for (auto& v : at)
      for (int k = 0; k <= kNumPhases; ++k) v.emplace_back(/*enable_timing=*/true);
  }
  Event& begin(int i, Phase p) { return at[i][static_cast<int>(p)]; }
  Event& end(int i) { return at[i][kNumPhases]; }
};
}  // namespace detail

// What train_step returns — at once, before the devices have done the work.
// Nothing in it makes the host wait until you ask for a value: the loss stays
// on the device and the phase times stay in events, so the host can queue the
// next step while the GPUs run this one. wait(), loss() and loss_sum() are
// host synchronisations: call them at a log interval, not every step.
struct StepResult {
  std::int64_t samples = 0;      // samples of this process's replicas (the global batch in one process)
  double wall_seconds = 0;       // host time inside train_step (on a GPU: queueing the work)
  std::vector<ReplicaStepStats> replicas;
  // The global mean loss, on replica 0's device. It is summed with the
  // gradients (the tail of the gradient buckets, parallel/gradient_buckets.h),
  // so it costs no communication of its own.
  Tensor loss_mean;
  // The samples of the whole step (every replica of every process), on the
  // same device: the divisor of the gradients, summed like them.
  Tensor global_samples;
  // The optimizer step was skipped because the gradients or the loss were not
  // finite (only with DataParallelOptions::skip_nonfinite; known at return).
  bool skipped = false;

  bool done() const;                     // every replica has finished the step (never waits)
  void wait();                           // the host waits for the step; fills replicas[k].time
  void stream_wait(const Stream& s) const;  // `s` waits for the step; the host does not
  double loss();                         // wait(), then the mean loss
  double loss_sum() { return loss() * static_cast<double>(samples); }

  std::shared_ptr<detail::StepEvents> events;  // set by train_step
  bool resolved = false;
};

}  // namespace minidp::parallel
