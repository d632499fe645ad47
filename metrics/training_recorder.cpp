// minidp/metrics/training_recorder.cpp — step results into meters, in order, without waiting.
#include "metrics/training_recorder.h"

#include <algorithm>
#include <limits>
#include <set>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/stream.h"

namespace minidp::metrics {

namespace {
// Steps allowed in flight before record() waits for the oldest: bounds the
// memory held by pending results when the host runs far ahead of the devices.
constexpr std::size_t kMaxPending = 64;
}  // namespace

TrainingRecorder::TrainingRecorder(const parallel::DataParallel& dp, std::int64_t warmup_steps)
    : dp_(dp), speed_(dp.size(), warmup_steps), timer_(StepTimer::default_phases(), warmup_steps),
      balance_(dp.size()) {
  std::set<std::string> devices;
  for (int i = 0; i < dp.size(); ++i) devices.insert(dp.replica(i).device.str());
  for (const auto& d : devices) reset_device_peak(d);
  sync_mark_ = host_sync_count();
}

void TrainingRecorder::start_epoch() {
  flush();
  loss_sum_ = Tensor();
  loss_samples_ = 0;
  sync_mark_ = host_sync_count();
}

void TrainingRecorder::record(const parallel::StepResult& r, double data_wait_seconds) {
  MINIDP_CHECK(static_cast<int>(r.replicas.size()) == dp_.size(), "TrainingRecorder::record: a result of ",
               r.replicas.size(), " replicas, but the DataParallel has ", dp_.size());
  // The loss is added on replica 0's stream, right after the step's own work
  // there: ordered by the stream, so the host does not wait.
  if (r.loss_mean.defined()) {
    const parallel::Replica& r0 = dp_.replica(0);
    DeviceGuard dg(r0.device);
    StreamGuard sg(r0.stream);
    NoGradGuard ng;
    Tensor step_sum = mul(r.loss_mean.to(kFloat64), static_cast<double>(r.samples));
    if (!loss_sum_.defined()) loss_sum_ = zeros({1}, TensorOptions(kFloat64).with_device(r0.device));
    loss_sum_.add_(step_sum);
    loss_samples_ += r.samples;
  }
  pending_.push_back({r, data_wait_seconds});
  while (!pending_.empty() && (pending_.front().result.done() || pending_.size() > kMaxPending)) {
    fold(pending_.front().result, pending_.front().data_wait);
    pending_.pop_front();
  }
  ++steps_;
  const std::uint64_t now = host_sync_count();
  syncs_ += now - sync_mark_;
  sync_mark_ = now;
}

void TrainingRecorder::flush() {
  while (!pending_.empty()) {
    fold(pending_.front().result, pending_.front().data_wait);
    pending_.pop_front();
  }
}

void TrainingRecorder::fold(parallel::StepResult& r, double data_wait) {
  r.wait();  // returns at once for a step that is done
  std::vector<std::int64_t> per(r.replicas.size());
  parallel::PhaseTimes slowest;  // a phase lasts as long as its slowest replica
  for (std::size_t k = 0; k < r.replicas.size(); ++k) {
    const auto& rs = r.replicas[k];
    per[k] = rs.samples;
    balance_.record(static_cast<std::int64_t>(k), rs.samples, rs.time.busy());
    slowest.data = std::max(slowest.data, rs.time.data);
    slowest.forward = std::max(slowest.forward, rs.time.forward);
    slowest.backward = std::max(slowest.backward, rs.time.backward);
    slowest.allreduce = std::max(slowest.allreduce, rs.time.allreduce);
    slowest.optimizer = std::max(slowest.optimizer, rs.time.optimizer);
  }
  speed_.step(r.wall_seconds + data_wait, per);
  timer_.add("data", data_wait + slowest.data);
  timer_.add("forward", slowest.forward);
  timer_.add("backward", slowest.backward);
  timer_.add("allreduce", slowest.allreduce);
  timer_.add("optimizer", slowest.optimizer);
  timer_.end_step();
}

double TrainingRecorder::mean_loss() {
  flush();
  if (loss_samples_ == 0 || !loss_sum_.defined()) return std::numeric_limits<double>::quiet_NaN();
  synchronize(dp_.replica(0).stream);  // the sums were queued there after the steps
  return loss_sum_.item() / static_cast<double>(loss_samples_);
}

void TrainingRecorder::record_memory() {
  for (int i = 0; i < dp_.size(); ++i) {
    const std::string d = dp_.replica(i).device.str();
    memory_.record(d, device_peak_bytes(d));
  }
}

double TrainingRecorder::host_syncs_per_step() const {
  return steps_ == 0 ? std::numeric_limits<double>::quiet_NaN()
                     : static_cast<double>(syncs_) / static_cast<double>(steps_);
}

}  // namespace minidp::metrics
