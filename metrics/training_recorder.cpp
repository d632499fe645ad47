// minidp/metrics/training_recorder.cpp — step results into meters, in order, without waiting.
#include "minidp/metrics/training_recorder.h"
#include "minidp/parallel/zero.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>  // the trace file

#include "minidp/core/autograd.h"
#include "minidp/core/device.h"
#include "minidp/core/ops.h"
#include "minidp/core/stream.h"
#include "minidp/parallel/process_group.h"

namespace minidp::metrics {

namespace {
// Steps allowed in flight before record() waits for the oldest: bounds the
// memory held by pending results when the host runs far ahead of the devices.
constexpr std::size_t kMaxPending = 64;
// Step losses kept on the device before the recorder reads them itself.
constexpr std::size_t kMaxUnchecked = 1024;
}  // namespace

TrainingRecorder::TrainingRecorder(const parallel::DataParallel& dp, std::int64_t warmup_steps)
    : dp_(dp), speed_(dp.size(), warmup_steps), timer_(StepTimer::default_phases(), warmup_steps),
      balance_(dp.size()) {
  std::set<std::string> devices;
  for (int i = 0; i < dp.size(); ++i) devices.insert(dp.replica(i).device.str());
  for (const auto& d : devices) reset_device_peak(d);
  if (devices.count("cpu") > 0) {
    cpu_threads_ = num_threads();
    cpu_threads_per_replica_ = dp.cpu_threads_per_replica();
  }
  sync_mark_ = host_sync_count();
}

void TrainingRecorder::start_epoch() {
  flush();
  scan_losses();
  epoch_steps_ = 0;
  loss_sum_ = Tensor();
  loss_count_ = Tensor();
  sync_mark_ = host_sync_count();
}

void TrainingRecorder::record(const parallel::StepResult& r, double data_wait_seconds) {
  MINIDP_CHECK(static_cast<int>(r.replicas.size()) == dp_.size(), "TrainingRecorder::record: a result of ",
               r.replicas.size(), " replicas, but the DataParallel has ", dp_.size());
  // The loss is added on replica 0's stream, right after the step's own work
  // there: ordered by the stream, so the host does not wait.
  if (r.skipped) ++skipped_;  // its loss is not finite, and the weights did not take it
  if (r.loss_mean.defined() && !r.skipped) {
    const parallel::Replica& r0 = dp_.replica(0);
    DeviceGuard dg(r0.device);
    StreamGuard sg(r0.stream);
    NoGradGuard ng;
    // Weighted by the step's global sample count: the epoch's mean over every sample seen.
    const Tensor count = r.global_samples.to(kFloat64);
    if (!loss_sum_.defined()) {
      loss_sum_ = zeros({1}, TensorOptions(kFloat64).with_device(r0.device));
      loss_count_ = zeros({1}, TensorOptions(kFloat64).with_device(r0.device));
    }
    loss_sum_.add_(mul(r.loss_mean.to(kFloat64), count));
    loss_count_.add_(count);
    unchecked_.push_back({steps_, epoch_steps_, r.loss_mean});
    if (unchecked_.size() >= kMaxUnchecked) scan_losses();  // bounds the memory, one read per kMaxUnchecked steps
  }
  ++epoch_steps_;
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
  double comm = 0, bytes = 0;
  for (std::size_t k = 0; k < r.replicas.size(); ++k) {
    const auto& rs = r.replicas[k];
    comm = std::max(comm, rs.comm_seconds);
    bytes = std::max(bytes, static_cast<double>(rs.comm_bytes));
    per[k] = rs.samples;
    balance_.record(static_cast<std::int64_t>(k), rs.samples, rs.time.busy());
    slowest.data = std::max(slowest.data, rs.time.data);
    slowest.forward = std::max(slowest.forward, rs.time.forward);
    slowest.backward = std::max(slowest.backward, rs.time.backward);
    slowest.allreduce = std::max(slowest.allreduce, rs.time.allreduce);
    slowest.optimizer = std::max(slowest.optimizer, rs.time.optimizer);
  }
  if (trace_ && traced_ < trace_max_) trace_step(r);
  speed_.step(r.wall_seconds + data_wait, per);
  if (speed_.steps_counted() > 0) {  // after the warm-up, as the other meters
    comm_total_ += comm;
    comm_bytes_ += bytes;
    ++comm_steps_;
  }
  timer_.add("data", data_wait + slowest.data);
  timer_.add("forward", slowest.forward);
  timer_.add("backward", slowest.backward);
  timer_.add("allreduce", slowest.allreduce);
  timer_.add("optimizer", slowest.optimizer);
  timer_.end_step();
}

void TrainingRecorder::scan_losses() {
  if (unchecked_.empty()) return;
  std::vector<Tensor> losses;
  for (const LoggedLoss& l : unchecked_) losses.push_back(l.loss);
  const std::vector<double> v = cat(losses, 0).to(kFloat64).to(Device::cpu()).to_vector<double>();  // the one read
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) ++nonfinite_;
    if (first_bad_) continue;  // the first one is reported: what came after it follows from it
    if (std::isfinite(v[i])) {
      has_last_finite_ = true;
      last_finite_ = v[i];
      last_finite_step_ = unchecked_[i].step;
    } else {
      first_bad_ = NonFiniteLoss{unchecked_[i].step, unchecked_[i].epoch_step, v[i], has_last_finite_, last_finite_,
                                 last_finite_step_};
    }
  }
  unchecked_.clear();
}

std::optional<TrainingRecorder::NonFiniteLoss> TrainingRecorder::check_finite() {
  scan_losses();
  std::optional<NonFiniteLoss> bad = first_bad_;
  first_bad_.reset();
  return bad;
}

double TrainingRecorder::mean_loss() {
  flush();
  if (!loss_sum_.defined()) return std::numeric_limits<double>::quiet_NaN();
  synchronize(dp_.replica(0).stream);  // the sums were queued there after the steps
  const double count = loss_count_.item();
  return count > 0 ? loss_sum_.item() / count : std::numeric_limits<double>::quiet_NaN();
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

double TrainingRecorder::comm_total_mean() const {
  return comm_steps_ == 0 ? std::numeric_limits<double>::quiet_NaN() : comm_total_ / static_cast<double>(comm_steps_);
}

double TrainingRecorder::comm_bytes_mean() const {
  return comm_steps_ == 0 ? std::numeric_limits<double>::quiet_NaN() : comm_bytes_ / static_cast<double>(comm_steps_);
}

std::int64_t TrainingRecorder::optimizer_state_bytes() const { return parallel::optimizer_state_bytes(dp_); }

void TrainingRecorder::gather_ranks() {
  flush();
  parallel::ProcessGroup* world = dp_.process_group();
  if (world == nullptr || !world->distributed()) return;
  double busy = 0;
  for (std::int64_t k = 0; k < balance_.num_replicas(); ++k) busy += balance_.busy_seconds(k);
  std::int64_t peak = 0;
  for (const auto& [device, bytes] : memory_.peaks()) peak = std::max(peak, bytes);
  std::ostringstream mine;
  mine.precision(17);
  mine << world->rank() << ' ' << dp_.replica(0).device.str() << ' ' << speed_.samples() << ' ' << speed_.seconds()
       << ' ' << busy << ' ' << comm_total_mean() << ' ' << timer_.mean("allreduce") << ' ' << peak << ' '
       << comm_bytes_mean() << ' ' << optimizer_state_bytes();
  ranks_.clear();
  for (const std::string& line : world->gather(mine.str(), 0)) {
    std::istringstream in(line);
    RankStats st;
    std::string comm, exposed, bytes;  // "nan" does not parse as a double with >>
    in >> st.rank >> st.device >> st.samples >> st.seconds >> st.busy_seconds >> comm >> exposed >> st.peak_bytes >>
        bytes >> st.optimizer_state_bytes;
    st.comm_bytes = std::strtod(bytes.c_str(), nullptr);
    st.comm_total = std::strtod(comm.c_str(), nullptr);
    st.comm_exposed = std::strtod(exposed.c_str(), nullptr);
    ranks_.push_back(st);
  }
}

double TrainingRecorder::global_samples_per_second() const {
  if (ranks_.empty()) return speed_.samples_per_second();
  std::int64_t samples = 0;
  double seconds = 0;
  for (const auto& r : ranks_) {
    samples += r.samples;
    seconds = std::max(seconds, r.seconds);
  }
  return seconds > 0 ? static_cast<double>(samples) / seconds : std::numeric_limits<double>::quiet_NaN();
}

void TrainingRecorder::enable_trace(std::int64_t max_steps) {
  trace_ = true;
  trace_max_ = max_steps;
  trace_origin_.clear();
  for (int k = 0; k < dp_.size(); ++k) {
    trace_origin_.emplace_back(/*enable_timing=*/true);
    trace_origin_.back().record(dp_.replica(k).stream);
  }
  trace_origin_host_ = parallel::steady_seconds();
}

void TrainingRecorder::trace_step(const parallel::StepResult& r) {
  static const char* names[] = {"data", "forward", "backward", "allreduce (exposed)", "optimizer"};
  const int pid = dp_.process_group() ? dp_.process_group()->rank() : 0;
  char buf[256];
  auto add = [&](const char* name, int tid, double begin_s, double end_s) {
    if (!(end_s >= begin_s)) return;  // NaN or unknown
    std::snprintf(buf, sizeof buf, "%s{\"name\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f}",
                  trace_events_.empty() ? "" : ",", name, pid, tid, begin_s * 1e6, (end_s - begin_s) * 1e6);
    trace_events_ += buf;
  };
  for (std::size_t k = 0; k < r.replicas.size(); ++k) {
    const auto& at = r.events->at[k];
    for (int p = 0; p < parallel::kNumPhases; ++p) {
      const double b = trace_origin_host_ + trace_origin_[k].elapsed_ms(at[p]) / 1e3;
      const double e = trace_origin_host_ + trace_origin_[k].elapsed_ms(at[p + 1]) / 1e3;
      add(names[p], static_cast<int>(k), b, e);
    }
    // The buckets' sums, then the tail's; under ZeRO-1 the buckets' reduce-scatters,
    // the tail's sum, then the all-gathers of the updated weights (parallel/zero.h).
    const auto& spans = r.replicas[k].comm_spans;
    const std::size_t buckets = static_cast<std::size_t>(dp_.buckets(static_cast<int>(k)).num_buckets());
    const bool zero = dp_.zero_stage() > 0;
    for (std::size_t i = 0; i < spans.size(); ++i) {
      const std::string name = i == buckets  ? std::string("sum: loss + count")
                               : i > buckets ? "all-gather: weights of bucket " + std::to_string(i - buckets - 1)
                               : zero        ? "reduce-scatter: bucket " + std::to_string(i)
                                             : "sum: bucket " + std::to_string(i);
      add(name.c_str(), 100 + static_cast<int>(k), spans[i].first, spans[i].second);
    }
  }
  ++traced_;
}

void TrainingRecorder::write_trace(const std::string& path) {
  flush();
  parallel::ProcessGroup* world = dp_.process_group();
  const int rank = world ? world->rank() : 0;
  std::string mine = "[" + trace_events_ + "]";
  std::vector<std::string> all = world ? world->gather(mine, 0) : std::vector<std::string>{mine};
  std::vector<std::string> devices = world ? world->gather(dp_.replica(0).device.str(), 0)
                                           : std::vector<std::string>{dp_.replica(0).device.str()};
  if (rank != 0) return;
  nlohmann::json events = nlohmann::json::array();
  double t0 = std::numeric_limits<double>::infinity();
  std::vector<nlohmann::json> per_rank;
  for (const auto& s : all) {
    per_rank.push_back(nlohmann::json::parse(s));
    for (const auto& e : per_rank.back()) t0 = std::min(t0, e["ts"].get<double>());
  }
  for (std::size_t r = 0; r < per_rank.size(); ++r) {
    const int pid = static_cast<int>(r);
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", pid},
                      {"args", {{"name", "rank " + std::to_string(r) + " (" + devices[r] + ")"}}}});
    std::set<int> tids;
    for (auto e : per_rank[r]) {
      e["ts"] = e["ts"].get<double>() - t0;  // the timeline starts at 0
      tids.insert(e["tid"].get<int>());
      events.push_back(e);
    }
    for (int tid : tids)
      events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid},
                        {"args", {{"name", tid >= 100 ? "communication (replica " + std::to_string(tid - 100) + ")"
                                                      : "replica " + std::to_string(tid) + " stream"}}}});
  }
  std::ofstream out(path);
  out << nlohmann::json({{"traceEvents", events}, {"displayTimeUnit", "ms"}}).dump() << "\n";
  MINIDP_CHECK(out.good(), "--trace: could not write ", path);
}

}  // namespace minidp::metrics
