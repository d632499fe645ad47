// minidp/core/stream.h — streams, events and pinned memory: the tools for
// overlapping work on a GPU.
//
// A Stream (core/device.h) is a queue: work on one stream runs in order, work
// on two streams may run at the same time. Events order work *across*
// streams without blocking the host: record an event after some work on
// stream A, make stream B wait on it, and B's later work starts only once A's
// recorded work is done. That is how the parallel layer starts a gradient
// allreduce on a communication stream as soon as backward has produced the
// gradient, while backward goes on with the next layer.
//
//   Stream s = create_stream(Device::cuda(0));
//   Event ready;
//   { StreamGuard g(s); y = relu(matmul(x, w)); ready.record(s); }
//   stream_wait_event(current_stream(Device::cuda(0)), ready);  // default stream waits, host does not
//   ...
//   destroy_stream(s);
//
// On the CPU the same calls work and do (almost) nothing: CPU work runs on the
// calling thread, so it is always "complete"; events still record the host
// time, so elapsed_ms measures CPU phases the same way it measures GPU ones.
//
// Pinned memory: a host->device copy from ordinary (pageable) host memory goes
// through a staging buffer (the host waits while it is staged; the bytes land
// in the stream's order); from page-locked memory the
// GPU's copy engine reads it directly and the copy is asynchronous on the
// stream, so a data loader can upload batch k+1 while batch k trains.
//   Tensor batch = pin_memory(loader_batch);   // once per batch, on the host
//   Tensor on_gpu = batch.to(Device::cuda(0));  // returns at once
// The host must not overwrite a pinned tensor until the copy is done (record
// an event after the copy and synchronize on it, as PyTorch's non_blocking).
#pragma once

#include <chrono>
#include <cstdint>

#include "minidp/core/device.h"
#include "minidp/core/tensor.h"

namespace minidp {

// ---- host synchronisations
// Every time the host waits for a device, minidp counts it: item(), the
// synchronize() calls below, Event::synchronize() and copies from a device to
// the host. A training step must make none — that is what lets replicas on
// one GPU overlap and a whole step be captured in a CUDA graph — so the
// training metrics report host_syncs_per_step, and a test asserts that the
// data-parallel step code makes none. The count is the same for every device
// type (item() and synchronize() count on the CPU too, where they cost
// nothing), so the CPU test catches a stray sync in the generic step code.
std::uint64_t host_sync_count();
// Called by the places listed above (and by code that waits in another way).
void count_host_sync();

// A new stream on `d` (CUDA: a non-blocking cudaStream_t; CPU: the default label).
Stream create_stream(const Device& d);
// Waits for the stream's work, then destroys it. Destroying a default stream
// does nothing. Raises an error one of its kernels reported (an index out of range).
void destroy_stream(const Stream& s);
// The same for destructors: an error is printed to stderr, never thrown (a
// destructor that throws ends the program).
void destroy_stream_noexcept(const Stream& s) noexcept;
// Block the host until the stream's work is done / the device's work is done.
// Errors found by kernels (an index out of range) are raised here.
void synchronize(const Stream& s);
void synchronize(const Device& d);

// A marker in a stream's queue. Created lazily on the device of the first
// stream it is recorded on; movable, not copyable; destroyed with the object.
class Event {
 public:
  explicit Event(bool enable_timing = false) : timing_(enable_timing) {}
  ~Event();
  Event(Event&& o) noexcept;
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Capture the work queued on `s` so far (replaces any earlier capture).
  void record(const Stream& s);
  // Make `s` wait for the captured work (the host does not wait).
  void wait(const Stream& s) const;
  // Block the host until the captured work is done.
  void synchronize() const;
  // True when the captured work is done (or nothing was recorded).
  bool query() const;
  // Milliseconds from this event to `end`; both recorded with enable_timing,
  // both completed (synchronize first).
  float elapsed_ms(const Event& end) const;

  bool recorded() const { return recorded_; }
  const Device& device() const { return device_; }

 private:
  Device device_;
  void* handle_ = nullptr;  // cudaEvent_t
  void* stream_ = nullptr;  // the stream of the last record (whose kernel errors a synchronize raises)
  bool timing_ = false;
  bool recorded_ = false;
  std::chrono::steady_clock::time_point host_time_;  // CPU events
};

// `s` waits for the work captured by `e` (same as e.wait(s)).
void stream_wait_event(const Stream& s, const Event& e);

// ---- graphs (stream capture): a CUDA graph on a GPU, recorded queues on a
// simulated one (kernels/sim/runtime.h). Work queued on `s` between begin and
// end — and on streams that join by waiting on an event recorded on `s` — is
// recorded, not run; launch_graph replays it on a stream. The parallel layer
// (parallel/data_parallel_graph.cpp) uses only these.
void begin_capture(const Stream& s);
void* end_capture(const Stream& s);
void abort_capture(const Stream& s) noexcept;  // a capture that failed half-way: thrown away
void launch_graph(void* graph, const Stream& s);
// Waits for `launched_on` (its last replay; not counted as a step's host
// sync), then frees the graph.
void destroy_graph(void* graph, const Stream& launched_on) noexcept;
// A graph's private memory pool: allocations on `s` come from `pool` between
// begin and end (a replay writes exactly there): the caching allocator's
// private pools, on a GPU and on a simulated one alike.
std::uint64_t create_graph_pool(const Device& d);
void begin_graph_pool(const Stream& s, std::uint64_t pool);
void end_graph_pool(const Stream& s) noexcept;
void release_graph_pool(const Device& d, std::uint64_t pool) noexcept;

// A copy of host tensor `t` in page-locked memory (contiguous, same dtype and
// shape, not part of the autograd graph). Without a CUDA GPU it is a copy in
// ordinary host memory that the simulated GPU (sim:N) treats as page-locked:
// its copies from it are asynchronous too.
Tensor pin_memory(const Tensor& t);
bool is_pinned(const Tensor& t);

}  // namespace minidp
