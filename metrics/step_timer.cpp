// minidp/metrics/step_timer.cpp — named phases of a step (data, forward,
// backward, allreduce, optimizer) timed by a clock or given from CUDA events,
// with warm-up steps left out of the means.
#include "minidp/metrics/step_timer.h"

#include <chrono>
#include <cmath>
#include <limits>

#include "minidp/core/error.h"

namespace minidp::metrics {

std::vector<std::string> StepTimer::default_phases() { return {"data", "forward", "backward", "allreduce", "optimizer"}; }

StepTimer::StepTimer(std::vector<std::string> phases, std::int64_t warmup_steps, Clock clock)
    : warmup_(warmup_steps), clock_(std::move(clock)) {
  MINIDP_CHECK(warmup_steps >= 0, "StepTimer: warmup_steps must be >= 0, got ", warmup_steps);
  for (const auto& p : phases) index(p);
}

double StepTimer::now() const {
  if (clock_) return clock_();
  const auto t = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration<double>(t).count();
}

std::size_t StepTimer::find(const std::string& phase) const {
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == phase) return i;
  return names_.size();
}

std::size_t StepTimer::index(const std::string& phase) {
  MINIDP_CHECK(!phase.empty(), "StepTimer: phase name must not be empty");
  const std::size_t i = find(phase);
  if (i < names_.size()) return i;
  names_.push_back(phase);
  totals_.push_back(0);
  current_.push_back(0);
  return names_.size() - 1;
}

void StepTimer::start(const std::string& phase) {
  if (running_) stop();
  running_ = index(phase);
  started_ = now();
}

void StepTimer::stop() {
  MINIDP_CHECK(running_.has_value(), "StepTimer::stop: no phase is running (call start(phase) first)");
  current_[*running_] += now() - started_;
  running_.reset();
}

void StepTimer::add(const std::string& phase, double seconds) {
  MINIDP_CHECK(seconds >= 0 && std::isfinite(seconds), "StepTimer::add: phase '", phase, "' got ", seconds,
               " s; expected a finite time >= 0");
  current_[index(phase)] += seconds;
}

void StepTimer::end_step() {
  if (running_) stop();
  ++seen_;
  const bool counted = seen_ > warmup_;
  for (std::size_t i = 0; i < current_.size(); ++i) {
    if (counted) totals_[i] += current_[i];
    current_[i] = 0;
  }
  if (counted) ++counted_;
}

void StepTimer::reset() {
  for (std::size_t i = 0; i < totals_.size(); ++i) totals_[i] = current_[i] = 0;
  seen_ = counted_ = 0;
  running_.reset();
}

double StepTimer::total(const std::string& phase) const {
  const std::size_t i = find(phase);
  MINIDP_CHECK(i < names_.size(), "StepTimer: unknown phase '", phase, "'");
  return totals_[i];
}

double StepTimer::mean(const std::string& phase) const {
  const double t = total(phase);
  return counted_ == 0 ? std::numeric_limits<double>::quiet_NaN() : t / static_cast<double>(counted_);
}

double StepTimer::step_mean() const {
  double s = 0;
  for (double t : totals_) s += t;
  return counted_ == 0 ? std::numeric_limits<double>::quiet_NaN() : s / static_cast<double>(counted_);
}

double StepTimer::fraction(const std::string& phase) const {
  double s = 0;
  for (double t : totals_) s += t;
  const double t = total(phase);
  return s == 0 ? std::numeric_limits<double>::quiet_NaN() : t / s;
}

}  // namespace minidp::metrics
