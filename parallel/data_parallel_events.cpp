// minidp/parallel/data_parallel_events.cpp — the events that order a step's
// streams: the fence between the caller's stream and the replica streams
// around a batch already on a device.
#include <algorithm>

#include "minidp/core/stream.h"
#include "minidp/parallel/data_parallel.h"
#include "minidp/parallel/wait_sites.h"

namespace minidp::parallel {

// A batch already on a device was written by work queued on the caller's
// stream (a copy, a data-augmentation kernel), and to() on the same device
// returns the tensor itself, not a copy. The replica streams must not read it
// before that work is done: an event recorded on the caller's stream, which
// every replica stream waits for before its first read. And the caller may
// drop the batch as soon as train_step returns, handing its memory back to
// the caller stream's pool: so the caller's stream in turn waits for every
// replica's step (its end event) before it can reuse that memory. The host
// waits for neither. A batch on the host needs none of this (its copy to the
// device is ordered on the replica's own stream).
void DataParallel::batch_ready(const Tensor& inputs, const Tensor& labels) {
  batch_devices_.clear();
  for (const Tensor* t : {&inputs, &labels})
    if (!t->device().is_cpu() && std::find(batch_devices_.begin(), batch_devices_.end(), t->device()) ==
                                      batch_devices_.end())
      batch_devices_.push_back(t->device());
  if (!fence_batch_) return;  // tests switch the fence off to show what it prevents
  for (const Device& d : batch_devices_) {
    DeviceGuard dg(d);
    batch_event(d).record(current_stream(d));
  }
}

// One event per device a batch ever came from, made once: an event belongs
// to the device it was first recorded on.
Event& DataParallel::batch_event(const Device& d) {
  for (auto& [dev, e] : batch_ready_)
    if (dev == d) return e;
  return batch_ready_.emplace_back(d, Event()).second;
}

void DataParallel::wait_batch(const Stream& s) {
  if (!fence_batch_ || wait_skipped(WaitSite::BatchReady)) return;
  for (const Device& d : batch_devices_) batch_event(d).wait(s);
}

void DataParallel::release_batch(detail::StepEvents& ev) {
  if (!fence_batch_ || wait_skipped(WaitSite::BatchRelease)) return;
  for (const Device& d : batch_devices_) {
    DeviceGuard dg(d);
    const Stream caller = current_stream(d);
    for (int rank = 0; rank < size(); ++rank) ev.end(rank).wait(caller);
  }
}

}  // namespace minidp::parallel
