// minidp/metrics/throughput.cpp — samples per second of wall time, globally and
// per replica, warm-up steps excluded, and the scaling efficiency that
// compares N replicas with one.
#include "minidp/metrics/throughput.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "minidp/core/error.h"

namespace minidp::metrics {

ThroughputMeter::ThroughputMeter(std::int64_t num_replicas, std::int64_t warmup_steps) : warmup_(warmup_steps) {
  MINIDP_CHECK(num_replicas >= 1, "ThroughputMeter: num_replicas must be >= 1, got ", num_replicas);
  MINIDP_CHECK(warmup_steps >= 0, "ThroughputMeter: warmup_steps must be >= 0, got ", warmup_steps);
  samples_.assign(static_cast<std::size_t>(num_replicas), 0);
}

void ThroughputMeter::step(double seconds, const std::vector<std::int64_t>& per_replica) {
  MINIDP_CHECK(static_cast<std::int64_t>(per_replica.size()) == num_replicas(), "ThroughputMeter::step: got ",
               per_replica.size(), " per-replica sample counts; expected ", num_replicas());
  MINIDP_CHECK(seconds >= 0 && std::isfinite(seconds), "ThroughputMeter::step: step time ", seconds,
               " s; expected a finite time >= 0");
  ++seen_;
  if (seen_ <= warmup_) return;  // warm-up: seen, not counted
  seconds_ += seconds;
  for (std::size_t r = 0; r < per_replica.size(); ++r) {
    MINIDP_CHECK(per_replica[r] >= 0, "ThroughputMeter::step: replica ", r, " has ", per_replica[r], " samples");
    samples_[r] += per_replica[r];
  }
}

void ThroughputMeter::begin_step() { started_ = std::chrono::steady_clock::now(); }

void ThroughputMeter::end_step(const std::vector<std::int64_t>& per_replica) {
  MINIDP_CHECK(started_.has_value(), "ThroughputMeter::end_step: no begin_step() before it");
  const std::chrono::duration<double> d = std::chrono::steady_clock::now() - *started_;
  started_.reset();
  step(d.count(), per_replica);
}

void ThroughputMeter::reset() {
  seen_ = 0;
  seconds_ = 0;
  std::fill(samples_.begin(), samples_.end(), 0);
  started_.reset();
}

std::int64_t ThroughputMeter::samples() const {
  std::int64_t n = 0;
  for (auto s : samples_) n += s;
  return n;
}

std::int64_t ThroughputMeter::samples(std::int64_t r) const {
  MINIDP_CHECK(r >= 0 && r < num_replicas(), "ThroughputMeter: replica ", r, " is out of range [0, ",
               num_replicas(), ")");
  return samples_[static_cast<std::size_t>(r)];
}

double ThroughputMeter::samples_per_second() const {
  if (steps_counted() == 0 || seconds_ <= 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(samples()) / seconds_;
}

double ThroughputMeter::samples_per_second(std::int64_t r) const {
  if (steps_counted() == 0 || seconds_ <= 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(samples(r)) / seconds_;
}

std::vector<double> ThroughputMeter::per_replica_samples_per_second() const {
  std::vector<double> v;
  for (std::int64_t r = 0; r < num_replicas(); ++r) v.push_back(samples_per_second(r));
  return v;
}

double scaling_efficiency(double throughput_n, std::int64_t n, double throughput_1) {
  MINIDP_CHECK(n >= 1, "scaling_efficiency: number of replicas must be >= 1, got ", n);
  MINIDP_CHECK(throughput_1 > 0, "scaling_efficiency: single-replica throughput must be > 0, got ", throughput_1);
  return throughput_n / (static_cast<double>(n) * throughput_1);
}

}  // namespace minidp::metrics
