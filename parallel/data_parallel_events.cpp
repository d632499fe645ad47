// minidp/parallel/data_parallel_events.cpp — the events that order a step's
// streams: the fence between the caller's stream and the replica streams,
// before the step and after it.
#include <algorithm>

#include "minidp/core/stream.h"
#include "minidp/parallel/data_parallel.h"
#include "minidp/parallel/wait_sites.h"

namespace minidp::parallel {

// The caller's stream is where everything the caller did happened: a batch
// already on a device was written there (a copy, a data-augmentation kernel;
// to() on the same device returns the tensor itself, not a copy), and so were
// the parameters a checkpoint loaded or the host edited between two steps. The
// replica streams must not read any of it before that work is done: an event
// recorded on the caller's stream of every device the step touches, which
// every replica stream waits for before its first op. The other way round,
// the caller may drop the batch as soon as train_step returns (handing its
// memory back to the caller stream's pool), read a parameter or load new
// ones: so the caller's stream in turn waits for every replica's step (its
// end event). The host waits for neither — as in PyTorch, everything the
// caller sees is ordered on its current stream. On the CPU there is no
// stream and nothing to do.
void DataParallel::fence_caller(const Tensor& inputs, const Tensor& labels) {
  fence_devices_.clear();
  fence_batch_device_.clear();
  auto add = [this](const Device& d, bool batch) {
    if (d.is_cpu()) return;
    auto it = std::find(fence_devices_.begin(), fence_devices_.end(), d);
    if (it == fence_devices_.end()) {
      fence_devices_.push_back(d);
      fence_batch_device_.push_back(batch);
    } else if (batch) {
      fence_batch_device_[static_cast<std::size_t>(it - fence_devices_.begin())] = true;
    }
  };
  for (const Replica& r : replicas_) add(r.device, false);
  add(inputs.device(), true);
  add(labels.device(), true);
  record_caller();
}

// The caller's stream now, on every device of the step.
void DataParallel::record_caller() {
  if (!fence_caller_) return;  // tests switch the fence off to show what it prevents
  for (const Device& d : fence_devices_) {
    DeviceGuard dg(d);
    caller_event(d).record(current_stream(d));
  }
}

// One event per device, made once: an event belongs to the device it was
// first recorded on.
Event& DataParallel::caller_event(const Device& d) {
  for (auto& [dev, e] : caller_events_)
    if (dev == d) return e;
  return caller_events_.emplace_back(d, Event()).second;
}

// A replica stream waits for the caller's stream of its own device (weights
// written there) and of the batch's devices — not of the other replicas'.
void DataParallel::wait_for_caller(const Stream& s) {
  if (!fence_caller_ || wait_skipped(WaitSite::CallerToReplicas)) return;
  for (std::size_t i = 0; i < fence_devices_.size(); ++i)
    if (fence_devices_[i] == s.device || fence_batch_device_[i]) caller_event(fence_devices_[i]).wait(s);
}

// The caller's stream of a device waits for the replicas on it; a batch's
// device waits for every replica (each read its shard).
void DataParallel::release_to_caller(detail::StepEvents& ev) {
  if (!fence_caller_ || wait_skipped(WaitSite::ReplicasToCaller)) return;
  for (std::size_t i = 0; i < fence_devices_.size(); ++i) {
    DeviceGuard dg(fence_devices_[i]);
    const Stream caller = current_stream(fence_devices_[i]);
    for (int rank = 0; rank < size(); ++rank)
      if (replicas_[rank].device == fence_devices_[i] || fence_batch_device_[i]) ev.end(rank).wait(caller);
  }
}

// Between the phases of an open step (forward_backward, reduce_gradients,
// optimizer_step) the caller may work on the gradients on its own stream —
// clip_grad_norm, an inspection: its stream waits for the phase the replicas
// just queued, and the next phase waits for its stream.
void DataParallel::phase_to_caller() {
  if (!fence_caller_ || wait_skipped(WaitSite::ReplicasToCaller)) return;
  phase_done_.resize(replicas_.size());
  for (int rank = 0; rank < size(); ++rank) {
    DeviceGuard dg(replicas_[rank].device);
    phase_done_[rank].record(replicas_[rank].stream);
  }
  for (std::size_t i = 0; i < fence_devices_.size(); ++i) {
    DeviceGuard dg(fence_devices_[i]);
    const Stream caller = current_stream(fence_devices_[i]);
    for (int rank = 0; rank < size(); ++rank)
      if (replicas_[rank].device == fence_devices_[i] || fence_batch_device_[i]) phase_done_[rank].wait(caller);
  }
}

}  // namespace minidp::parallel
