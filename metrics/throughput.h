// minidp/metrics/throughput.h — samples per second, globally and per replica, and scaling efficiency.
//
// Data parallelism exists to make training faster, so the first speed number
// is throughput: samples processed per second of wall time. The first steps
// of a run are slow for reasons that have nothing to do with steady state
// (allocator growth, cuDNN algorithm search, cold caches, lazy
// initialisation), so `warmup_steps` steps are seen but not counted.
//
// Scaling efficiency compares N replicas with one:
//     efficiency = throughput_N / (N * throughput_1)
// 1.0 is perfect linear scaling; communication, load imbalance and small
// per-replica batches push it down.
//
//   ThroughputMeter tm(/*num_replicas=*/4, /*warmup_steps=*/2);
//   tm.step(seconds, {64, 64, 64, 64});     // wall time of one step, samples per replica
//   tm.begin_step(); ...; tm.end_step({64, 64, 64, 64});   // or measured with std::chrono
//   double sps = tm.samples_per_second();
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace minidp::metrics {

class ThroughputMeter {
 public:
  explicit ThroughputMeter(std::int64_t num_replicas = 1, std::int64_t warmup_steps = 1);

  // One step of `seconds` wall time in which replica r processed samples[r].
  void step(double seconds, const std::vector<std::int64_t>& samples_per_replica);
  // Single-replica form.
  void step(double seconds, std::int64_t samples) { step(seconds, std::vector<std::int64_t>{samples}); }
  // Timing with std::chrono::steady_clock around the step.
  void begin_step();
  void end_step(const std::vector<std::int64_t>& samples_per_replica);
  void reset();

  std::int64_t num_replicas() const { return static_cast<std::int64_t>(samples_.size()); }
  std::int64_t warmup_steps() const { return warmup_; }
  std::int64_t steps_seen() const { return seen_; }
  std::int64_t steps_counted() const { return seen_ > warmup_ ? seen_ - warmup_ : 0; }
  std::int64_t samples() const;                     // counted steps only
  std::int64_t samples(std::int64_t replica) const;
  double seconds() const { return seconds_; }       // counted wall time
  // NaN until a step has been counted.
  double samples_per_second() const;
  double samples_per_second(std::int64_t replica) const;  // replica's samples / the same wall time
  std::vector<double> per_replica_samples_per_second() const;

 private:
  std::int64_t warmup_;
  std::int64_t seen_ = 0;
  double seconds_ = 0;
  std::vector<std::int64_t> samples_;
  std::optional<std::chrono::steady_clock::time_point> started_;
};

// throughput_n / (n * throughput_1); raises minidp::Error for n < 1 or a non-positive baseline.
double scaling_efficiency(double throughput_n, std::int64_t n, double throughput_1);

}  // namespace minidp::metrics
