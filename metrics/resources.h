// minidp/metrics/resources.h — per-device peak memory and per-replica load balance.
//
// A data-parallel run is only as fast as its slowest replica: every step ends
// in a gradient all-reduce that waits for all of them. LoadBalance records,
// per replica, how many samples it processed and how long it was busy; the
// imbalance ratio max(busy) / mean(busy) is 1.0 when the work is even and
// grows as one replica becomes the straggler the others wait for. A replica
// with no samples is idle capacity (a batch smaller than the replica count,
// or a sharding bug).
//
// MemoryTracker keeps the peak of the memory readings it is given per device
// (values passed in: from the caching allocator or cudaMemGetInfo), because a
// replica that runs out of memory fails the whole run.
//
//   LoadBalance lb(4);
//   lb.record(r, samples, busy_seconds);      // per replica, each step
//   lb.imbalance_ratio();                     // 1.0 = perfectly balanced
//   MemoryTracker mem; mem.record("cuda:0", bytes_in_use);
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace minidp::metrics {

// Peak bytes held on a device since the last reset: for "cuda:N" the caching
// allocator's peak of allocated blocks; for "cpu" the peak of host memory held
// by tensors (shared by every CPU replica of the process).
std::int64_t device_peak_bytes(const std::string& device);
void reset_device_peak(const std::string& device);

class MemoryTracker {
 public:
  // A reading of `bytes` in use on `device` ("cuda:0"); keeps the maximum.
  void record(const std::string& device, std::int64_t bytes);
  void merge(const MemoryTracker& other);  // per device maximum
  void reset() { peaks_.clear(); }
  std::int64_t peak(const std::string& device) const;  // 0 for a device never recorded
  // (device, peak bytes) in the order devices were first recorded.
  const std::vector<std::pair<std::string, std::int64_t>>& peaks() const { return peaks_; }

 private:
  std::vector<std::pair<std::string, std::int64_t>> peaks_;
};

class LoadBalance {
 public:
  explicit LoadBalance(std::int64_t num_replicas);

  void record(std::int64_t replica, std::int64_t samples, double busy_seconds);
  void merge(const LoadBalance& other);  // same replica count; sums
  void reset();

  std::int64_t num_replicas() const { return static_cast<std::int64_t>(samples_.size()); }
  std::int64_t samples(std::int64_t replica) const;
  double busy_seconds(std::int64_t replica) const;
  // max / mean of busy time (NaN when nothing is recorded). 1.0 = even.
  double imbalance_ratio() const;
  // max / mean of samples.
  double sample_imbalance_ratio() const;
  // Replicas that processed no samples or were never busy while others were.
  std::vector<std::int64_t> idle_replicas() const;
  std::int64_t slowest_replica() const;  // largest busy time

 private:
  void check(std::int64_t r) const;
  std::vector<std::int64_t> samples_;
  std::vector<double> busy_;
};

}  // namespace minidp::metrics
