// minidp/parallel/step_result.cpp — reading a step's events and loss once the step is done.
#include "minidp/parallel/step_result.h"

#include "minidp/core/error.h"

namespace minidp::parallel {

double& PhaseTimes::operator[](Phase p) {
  switch (p) {
    case Phase::Data: return data;
    case Phase::Forward: return forward;
    case Phase::Backward: return backward;
    case Phase::Allreduce: return allreduce;
    case Phase::Optimizer: return optimizer;
  }
  MINIDP_FAIL("PhaseTimes: unknown phase ", static_cast<int>(p));
}

bool StepResult::done() const {
  if (!events) return true;
  for (std::size_t i = 0; i < events->at.size(); ++i)
    if (!events->end(static_cast<int>(i)).query()) return false;
  return true;
}

void StepResult::stream_wait(const Stream& s) const {
  if (!events) return;
  for (std::size_t i = 0; i < events->at.size(); ++i) events->end(static_cast<int>(i)).wait(s);
}

void StepResult::wait() {
  if (resolved || !events) return;
  for (std::size_t rank = 0; rank < replicas.size(); ++rank) {
    const int r = static_cast<int>(rank);
    // The one place the host waits for a step — and only if it is not done yet.
    if (!events->end(r).query()) events->end(r).synchronize();
    for (int k = 0; k < kNumPhases; ++k)
      replicas[rank].time[static_cast<Phase>(k)] = events->at[rank][k].elapsed_ms(events->at[rank][k + 1]) / 1e3;
  }
  resolved = true;
}

double StepResult::loss() {
  wait();
  return loss_mean.defined() ? loss_mean.item() : 0.0;
}

}  // namespace minidp::parallel
