// minidp/parallel/data_parallel_open.cpp — the step opened: train_step's
// three phases (forward and backward, the gradient sum, the optimizer) as
// calls of their own, for a loop that clips, inspects or combines gradients
// between them. train_step itself is data_parallel.cpp.
#include <chrono>
#include <memory>

#include "minidp/core/device.h"
#include "minidp/core/stream.h"
#include "minidp/parallel/data_parallel.h"

namespace minidp::parallel {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

// train_step's three phases as calls of their own. Each
// phase is one run of the replicas' threads, doing exactly the per-replica
// code train_step runs in one, in the same order on the same streams: the
// same bits (tests/parallel/test_open_step.cpp).
void DataParallel::forward_backward(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn) {
  MINIDP_CHECK(!open_, "DataParallel::forward_backward: the previous step is still open (call reduce_gradients() ",
               "and optimizer_step()); for several micro-batches use accumulate(), then forward_backward on the last");
  open_ = std::make_unique<StepResult>();
  try {
    *open_ = run_step(inputs, labels, loss_fn, /*reduce=*/true, /*stop_after_backward=*/true);
  } catch (...) {
    open_.reset();
    throw;
  }
  phase_to_caller();  // the caller may clip or read the gradients on its stream now
  open_phase_ = 1;
}

void DataParallel::reduce_gradients() {
  MINIDP_CHECK(open_ && open_phase_ == 1, "DataParallel::reduce_gradients: ",
               open_ ? "the gradients of this step were already summed" : "no step is open (call forward_backward)");
  const auto start = Clock::now();
  record_caller();  // what the caller did to the gradients comes first
  pool_->run([&](int rank) {
    DeviceGuard dg(replicas_[rank].device);
    StreamGuard sg(replicas_[rank].stream);
    wait_for_caller(replicas_[rank].stream);
    reduce_gradients(rank, open_->replicas[rank], open_->events.get());
  });
  phase_to_caller();
  open_->wall_seconds += seconds_since(start);
  open_phase_ = 2;
}

StepResult DataParallel::optimizer_step() {
  MINIDP_CHECK(open_ && open_phase_ == 2, "DataParallel::optimizer_step: ",
               open_ ? "the gradients are not summed yet (call reduce_gradients first)"
                     : "no step is open (call forward_backward)");
  const auto start = Clock::now();
  StepResult& result = *open_;
  record_caller();  // a clip on the caller's stream comes before the update
  pool_->run([&](int rank) {
    const Replica& r = replicas_[rank];
    DeviceGuard dg(r.device);
    StreamGuard sg(r.stream);
    wait_for_caller(r.stream);
    step_optimizer(rank, result.replicas[rank], result.events.get());
    finish_replica(rank, result);
  });
  result.wall_seconds += seconds_since(start);
  StepResult out = std::move(result);
  open_.reset();
  open_phase_ = 0;
  finish_step(out, /*reduce=*/true);
  return out;
}

}  // namespace minidp::parallel
