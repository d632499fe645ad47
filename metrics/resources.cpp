// minidp/metrics/resources.cpp — per-device peak memory (the caching
// allocator's peak on a GPU, tensor memory on the host) and the per-replica
// load balance: samples and busy time, and the max/mean imbalance ratio.
#include "minidp/metrics/resources.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "minidp/core/device.h"
#include "minidp/core/error.h"
#include "minidp/core/storage.h"
#include "minidp/kernels/cuda/allocator.h"
#include "minidp/kernels/sim/runtime.h"

namespace minidp::metrics {

std::int64_t device_peak_bytes(const std::string& device) {
  const Device d = Device::parse(device);
  if (d.is_cpu()) return static_cast<std::int64_t>(host_bytes_peak());
  if (d.is_sim()) return static_cast<std::int64_t>(kernels::sim::allocator().stats(d.index).peak_allocated);
  return static_cast<std::int64_t>(kernels::cuda::memory_stats(d.index).peak_allocated);
}

void reset_device_peak(const std::string& device) {
  const Device d = Device::parse(device);
  if (d.is_cpu()) {
    reset_host_bytes_peak();
  } else if (d.is_sim()) {
    kernels::sim::allocator().reset_peak(d.index);
  } else {
    kernels::cuda::reset_peak(d.index);
  }
}

void MemoryTracker::record(const std::string& device, std::int64_t bytes) {
  MINIDP_CHECK(bytes >= 0, "MemoryTracker::record: ", device, " reported ", bytes, " bytes; expected >= 0");
  for (auto& [d, p] : peaks_)
    if (d == device) {
      p = std::max(p, bytes);
      return;
    }
  peaks_.emplace_back(device, bytes);
}

void MemoryTracker::merge(const MemoryTracker& other) {
  for (const auto& [d, p] : other.peaks_) record(d, p);
}

std::int64_t MemoryTracker::peak(const std::string& device) const {
  for (const auto& [d, p] : peaks_)
    if (d == device) return p;
  return 0;
}

LoadBalance::LoadBalance(std::int64_t num_replicas) {
  MINIDP_CHECK(num_replicas >= 1, "LoadBalance: num_replicas must be >= 1, got ", num_replicas);
  samples_.assign(static_cast<std::size_t>(num_replicas), 0);
  busy_.assign(static_cast<std::size_t>(num_replicas), 0.0);
}

void LoadBalance::check(std::int64_t r) const {
  MINIDP_CHECK(r >= 0 && r < num_replicas(), "LoadBalance: replica ", r, " is out of range [0, ", num_replicas(),
               ")");
}

void LoadBalance::record(std::int64_t r, std::int64_t samples, double busy_seconds) {
  check(r);
  MINIDP_CHECK(samples >= 0, "LoadBalance::record: replica ", r, " got ", samples, " samples; expected >= 0");
  MINIDP_CHECK(busy_seconds >= 0 && std::isfinite(busy_seconds), "LoadBalance::record: replica ", r, " busy ",
               busy_seconds, " s; expected a finite time >= 0");
  samples_[static_cast<std::size_t>(r)] += samples;
  busy_[static_cast<std::size_t>(r)] += busy_seconds;
}

void LoadBalance::merge(const LoadBalance& o) {
  MINIDP_CHECK(o.num_replicas() == num_replicas(), "LoadBalance::merge: ", num_replicas(), " vs ", o.num_replicas(),
               " replicas; expected the same number");
  for (std::size_t r = 0; r < samples_.size(); ++r) {
    samples_[r] += o.samples_[r];
    busy_[r] += o.busy_[r];
  }
}

void LoadBalance::reset() {
  std::fill(samples_.begin(), samples_.end(), 0);
  std::fill(busy_.begin(), busy_.end(), 0.0);
}

std::int64_t LoadBalance::samples(std::int64_t r) const {
  check(r);
  return samples_[static_cast<std::size_t>(r)];
}

double LoadBalance::busy_seconds(std::int64_t r) const {
  check(r);
  return busy_[static_cast<std::size_t>(r)];
}

namespace {
template <typename T>
double max_over_mean(const std::vector<T>& v) {
  double sum = 0, mx = 0;
  for (T x : v) sum += static_cast<double>(x), mx = std::max(mx, static_cast<double>(x));
  if (sum == 0) return std::numeric_limits<double>::quiet_NaN();
  return mx / (sum / static_cast<double>(v.size()));
}
}  // namespace

double LoadBalance::imbalance_ratio() const { return max_over_mean(busy_); }
double LoadBalance::sample_imbalance_ratio() const { return max_over_mean(samples_); }

std::vector<std::int64_t> LoadBalance::idle_replicas() const {
  std::vector<std::int64_t> idle;
  const bool any_samples = std::any_of(samples_.begin(), samples_.end(), [](auto s) { return s > 0; });
  const bool any_busy = std::any_of(busy_.begin(), busy_.end(), [](auto b) { return b > 0; });
  for (std::int64_t r = 0; r < num_replicas(); ++r) {
    const auto i = static_cast<std::size_t>(r);
    if ((any_samples && samples_[i] == 0) || (any_busy && busy_[i] == 0)) idle.push_back(r);
  }
  return idle;
}

std::int64_t LoadBalance::slowest_replica() const {
  return static_cast<std::int64_t>(std::max_element(busy_.begin(), busy_.end()) - busy_.begin());
}

}  // namespace minidp::metrics
