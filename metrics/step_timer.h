// minidp/metrics/step_timer.h — where the time of a training step goes, phase by phase.
//
// A data-parallel step is data wait -> forward -> backward -> gradient
// allreduce -> optimizer. If adding replicas does not speed training up, the
// breakdown says why: "allreduce" growing means communication (or waiting for
// the slowest replica) dominates, "data" growing means the input pipeline
// starves the devices. Phases have names; the five above are the default, any
// other name is added on first use.
//
// Times are host wall-clock (std::chrono::steady_clock) by default. GPU work
// is asynchronous, so host timing of a CUDA phase would measure only the
// queueing; add(phase, seconds) takes a time measured elsewhere — the
// elapsed time between two CUDA events, which is how TrainingRecorder
// (metrics/training_recorder.h) feeds DataParallel's phase times in. A custom
// clock can also be injected (tests use a fake one).
//
//   StepTimer t;                                 // data, forward, backward, allreduce, optimizer
//   { auto s = t.scope("forward"); y = model(x); }
//   t.start("backward"); loss.backward(); t.stop();
//   t.add("allreduce", event_ms / 1000.0);
//   t.end_step();
//   t.mean("allreduce"); t.fraction("allreduce");
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace minidp::metrics {

class StepTimer {
 public:
  using Clock = std::function<double()>;  // seconds from any fixed origin

  static std::vector<std::string> default_phases();  // data, forward, backward, sync, optimizer

  explicit StepTimer(std::vector<std::string> phases = default_phases(), std::int64_t warmup_steps = 1,
                     Clock clock = {});

  void start(const std::string& phase);  // one phase at a time: starting another stops the current one
  void stop();
  void add(const std::string& phase, double seconds);
  // Closes the step: its phase times are counted unless it is a warm-up step.
  void end_step();
  void reset();

  // Stops the phase when it goes out of scope.
  class Scope {
   public:
    Scope(StepTimer& t, const std::string& phase) : t_(&t) { t.start(phase); }
    ~Scope() { if (t_) t_->stop(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope(Scope&& o) noexcept : t_(o.t_) { o.t_ = nullptr; }

   private:
    StepTimer* t_;
  };
  Scope scope(const std::string& phase) { return Scope(*this, phase); }

  const std::vector<std::string>& phases() const { return names_; }
  std::int64_t steps_counted() const { return counted_; }
  double total(const std::string& phase) const;    // seconds over counted steps
  double mean(const std::string& phase) const;     // seconds per counted step (NaN before one)
  double step_mean() const;                        // all phases, per counted step
  double fraction(const std::string& phase) const; // share of the step time

 private:
  std::size_t index(const std::string& phase);
  std::size_t find(const std::string& phase) const;
  double now() const;

  std::vector<std::string> names_;
  std::vector<double> totals_, current_;
  std::int64_t warmup_, seen_ = 0, counted_ = 0;
  Clock clock_;
  std::optional<std::size_t> running_;
  double started_ = 0;
};

}  // namespace minidp::metrics
