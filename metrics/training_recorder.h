// minidp/metrics/training_recorder.h — turns DataParallel's step results into
// the speed meters and the training loss, without making the host wait.
//
// DataParallel::train_step returns before the devices have done the step (see
// parallel/data_parallel.h). The recorder keeps the results in flight in a
// queue and folds each one into the meters once its events say it is done —
// checked with a query, never a wait — so a training loop that records every
// step still has no host synchronisation per step. The loss is added up on
// replica 0's device, and read once, when mean_loss() is asked for (once per
// epoch in the examples).
//
//   metrics::TrainingRecorder rec(dp);
//   for (int epoch = 0; epoch < E; ++epoch) {
//     rec.start_epoch();
//     for (auto& b : loader) rec.record(dp.train_step(b.inputs, b.labels), data_wait_seconds);
//     rec.flush();                                     // waits for the last steps (one sync)
//     std::printf("loss %.4f\n", rec.mean_loss());     // reads the device (one sync)
//   }
//   speed_report(&rec.throughput(), &rec.timer(), &rec.memory(), &rec.balance());
//   rec.host_syncs_per_step();                         // 0 for the data-parallel step itself
//   if (auto bad = rec.check_finite()) ...             // a NaN loss since the last check? (one read)
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "minidp/metrics/resources.h"
#include "minidp/metrics/step_timer.h"
#include "minidp/metrics/throughput.h"
#include "minidp/parallel/data_parallel.h"

namespace minidp::metrics {

class TrainingRecorder {
 public:
  // `warmup_steps` first steps are seen but not counted by the speed meters.
  explicit TrainingRecorder(const parallel::DataParallel& dp, std::int64_t warmup_steps = 5);

  // Zeroes the epoch's loss and restarts the count of host synchronisations
  // (those made between epochs — evaluation, logging — are not the step's).
  void start_epoch();
  // One step: its result, and the host time spent waiting for the batch.
  void record(const parallel::StepResult& r, double data_wait_seconds = 0.0);
  // Waits for the steps still in flight and folds them in (a host sync).
  void flush();
  // Mean training loss over the samples recorded since start_epoch() (reads the device).
  double mean_loss();
  // Peak memory of every replica's device so far (the caching allocator's
  // peak on a GPU, tensor memory on the host for the CPU).
  void record_memory();

  std::int64_t steps() const { return steps_; }

  // ---- non-finite losses, found without a host wait per step
  // Every recorded step's mean loss stays on the device until it is read:
  // check_finite() reads those recorded since its last call (one transfer)
  // and reports the first NaN or inf among them, with the last finite loss
  // before it. A training loop calls it at its logging interval (the examples:
  // every 50 steps and at the end of each epoch), so a diverging run stops
  // within a few steps at no cost to the others. Steps DataParallel skipped
  // (StepResult::skipped) are counted, not checked, and not in mean_loss().
  struct NonFiniteLoss {
    std::int64_t step = 0;        // recorded steps before it (0 = the first step recorded)
    std::int64_t epoch_step = 0;  // the same within its epoch (since start_epoch)
    double loss = 0;              // NaN or +-inf
    bool has_last_finite = false;  // a finite loss was seen before it
    double last_finite = 0;
    std::int64_t last_finite_step = -1;
  };
  std::optional<NonFiniteLoss> check_finite();
  std::int64_t skipped_steps() const { return skipped_; }  // steps skipped for non-finite gradients, in all
  std::int64_t nonfinite_steps() const { return nonfinite_; }  // non-finite losses read so far, in all
  // Host synchronisations per recorded step, counted from start_epoch() to
  // each record(): the loader, the step and the recorder itself.
  double host_syncs_per_step() const;
  // The CPU's threads when the recorder was made: the process's budget, and
  // each replica's share of it (core/device.h, num_threads). 0 and 0 when no
  // replica is on the CPU.
  int cpu_threads() const { return cpu_threads_; }
  int cpu_threads_per_replica() const { return cpu_threads_per_replica_; }
  const ThroughputMeter& throughput() const { return speed_; }
  const StepTimer& timer() const { return timer_; }
  const LoadBalance& balance() const { return balance_; }
  const MemoryTracker& memory() const { return memory_; }
  // Seconds per step the gradient sums took in all, overlapped with backward
  // or not (NaN when the communicator cannot tell); the part the step waited
  // for after backward — the *exposed* part — is timer().mean("allreduce").
  double comm_total_mean() const;
  // Bytes this process sent per step (parallel::Communicator::bytes_sent;
  // NaN before a counted step), and the optimizer state it holds now
  // (parallel::optimizer_state_bytes: under ZeRO-1 its shard).
  double comm_bytes_mean() const;
  std::int64_t optimizer_state_bytes() const;
  int zero_stage() const { return dp_.zero_stage(); }

  // ---- across the processes of DistributedDataParallel
  // Every rank calls it (a collective) before the reports: each rank's
  // samples, time, busy time, communication and peak memory go to rank 0.
  void gather_ranks();
  struct RankStats {
    int rank = 0;
    std::string device;
    std::int64_t samples = 0;  // counted (after warm-up)
    double seconds = 0, busy_seconds = 0, comm_total = 0, comm_exposed = 0;
    std::int64_t peak_bytes = 0;
    double comm_bytes = 0;                  // sent per step
    std::int64_t optimizer_state_bytes = 0;  // held
  };
  const std::vector<RankStats>& ranks() const { return ranks_; }  // on rank 0 after gather_ranks()
  // All ranks' samples over the slowest rank's time (this process's throughput in one process).
  double global_samples_per_second() const;

  // ---- a timeline to look at (--trace): each step's phases per replica and
  // every gradient sum, as Chrome trace events (Perfetto, chrome://tracing).
  void enable_trace(std::int64_t max_steps = 2000);
  // Every rank calls it: rank 0 writes one file, a process row per rank, a
  // thread row per replica and one per communication thread.
  void write_trace(const std::string& path);

 private:
  void fold(parallel::StepResult& r, double data_wait);  // a finished step into the meters

  const parallel::DataParallel& dp_;
  ThroughputMeter speed_;
  StepTimer timer_;
  LoadBalance balance_;
  MemoryTracker memory_;
  struct Pending {
    parallel::StepResult result;
    double data_wait;
  };
  std::deque<Pending> pending_;
  void scan_losses();  // reads unchecked_ into first_bad_ / last_finite_
  struct LoggedLoss {
    std::int64_t step, epoch_step;
    Tensor loss;  // [1] on replica 0's device
  };
  std::vector<LoggedLoss> unchecked_;      // recorded, not read yet
  std::optional<NonFiniteLoss> first_bad_;  // found by a scan, not reported yet
  bool has_last_finite_ = false;
  double last_finite_ = 0;
  std::int64_t last_finite_step_ = -1, epoch_steps_ = 0, skipped_ = 0, nonfinite_ = 0;
  Tensor loss_sum_;    // sum of (mean loss x global samples) since start_epoch(), on replica 0's device
  Tensor loss_count_;  // the global samples of those steps
  double comm_total_ = 0, comm_bytes_ = 0;
  std::int64_t comm_steps_ = 0;
  std::vector<RankStats> ranks_;
  void trace_step(const parallel::StepResult& r);
  bool trace_ = false;
  std::int64_t trace_max_ = 0, traced_ = 0;
  std::vector<Event> trace_origin_;  // per replica, recorded when tracing began
  double trace_origin_host_ = 0;     // the host's steady clock then (seconds)
  std::string trace_events_;         // JSON objects, comma-separated
  std::int64_t steps_ = 0;
  std::uint64_t syncs_ = 0, sync_mark_ = 0;
  int cpu_threads_ = 0, cpu_threads_per_replica_ = 0;
};

}  // namespace minidp::metrics
