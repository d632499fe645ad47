// minidp/core/stream.cpp — streams, events and pinned memory over the CUDA
// runtime layer (kernels/cuda/runtime.h), with CPU fall-backs.
#include "minidp/core/stream.h"

#include <atomic>
#include <cstdio>
#include <exception>
#include <utility>

#include "minidp/core/autograd.h"
#include "minidp/core/error.h"
#include "minidp/kernels/cuda/allocator.h"
#include "minidp/kernels/cuda/runtime.h"
#include "minidp/kernels/sim/runtime.h"

namespace minidp {

namespace cu = kernels::cuda;
namespace sim = kernels::sim;

namespace {
std::atomic<std::uint64_t> g_host_syncs{0};
}  // namespace

std::uint64_t host_sync_count() { return g_host_syncs.load(std::memory_order_relaxed); }
void count_host_sync() { g_host_syncs.fetch_add(1, std::memory_order_relaxed); }

Stream create_stream(const Device& d) {
  if (d.is_cpu()) return Stream{d, nullptr};
  check_device_available(d);
  return Stream{d, d.is_sim() ? sim::stream_create(d.index) : cu::stream_create(d.index)};
}

void destroy_stream(const Stream& s) {
  if (s.device.is_cpu() || s.handle == nullptr) return;
  if (s.device.is_sim()) return sim::stream_destroy(s.handle, s.device.index);
  cu::stream_destroy(s.handle, s.device.index);
}

void destroy_stream_noexcept(const Stream& s) noexcept {
  try {
    destroy_stream(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "minidp: while destroying a stream on %s: %s\n", s.device.str().c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "minidp: unknown error while destroying a stream on %s\n", s.device.str().c_str());
  }
}

void synchronize(const Stream& s) {
  count_host_sync();
  if (s.device.is_cpu()) return;
  if (s.device.is_sim()) return sim::stream_synchronize(s.handle, s.device.index);
  cu::stream_synchronize(s.handle, s.device.index);
}

void synchronize(const Device& d) {
  count_host_sync();
  if (d.is_cpu()) return;
  check_device_available(d);
  if (d.is_sim()) return sim::device_synchronize(d.index);
  cu::device_synchronize(d.index);
}

namespace {
void destroy_event(void* handle, const Device& d) noexcept {
  if (handle == nullptr) return;
  if (d.is_sim()) sim::event_destroy(handle);
  else cu::event_destroy(handle, d.index);
}
}  // namespace

Event::~Event() { destroy_event(handle_, device_); }

Event::Event(Event&& o) noexcept
    : device_(o.device_), handle_(std::exchange(o.handle_, nullptr)), stream_(o.stream_), timing_(o.timing_),
      recorded_(std::exchange(o.recorded_, false)), host_time_(o.host_time_) {}

Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    destroy_event(handle_, device_);
    device_ = o.device_;
    handle_ = std::exchange(o.handle_, nullptr);
    stream_ = o.stream_;
    timing_ = o.timing_;
    recorded_ = std::exchange(o.recorded_, false);
    host_time_ = o.host_time_;
  }
  return *this;
}

void Event::record(const Stream& s) {
  if (s.device.is_cpu()) {
    MINIDP_CHECK(handle_ == nullptr, "Event::record: event belongs to ", device_.str(), ", stream is on cpu");
    device_ = s.device;
    host_time_ = std::chrono::steady_clock::now();
    recorded_ = true;
    return;
  }
  if (handle_ == nullptr) {
    MINIDP_CHECK(!recorded_ || !device_.is_cpu(), "Event::record: event was recorded on cpu, stream is on ",
                 s.device.str());
    check_device_available(s.device);
    handle_ = s.device.is_sim() ? sim::event_create(s.device.index) : cu::event_create(s.device.index, timing_);
    device_ = s.device;
  }
  MINIDP_CHECK(device_ == s.device, "Event::record: event belongs to ", device_.str(), ", stream is on ",
               s.device.str());
  if (s.device.is_sim()) sim::event_record(handle_, s.handle, s.device.index);
  else cu::event_record(handle_, s.handle, s.device.index);
  stream_ = s.handle;
  recorded_ = true;
}

void Event::wait(const Stream& s) const {
  if (!recorded_ || handle_ == nullptr || s.device.is_cpu()) return;  // CPU work is already complete
  MINIDP_CHECK(s.device.type == device_.type, "Event::wait: event of ", device_.str(), ", stream on ", s.device.str());
  if (s.device.is_sim()) sim::stream_wait_event(s.handle, handle_, s.device.index);
  else cu::stream_wait_event(s.handle, handle_, s.device.index);
}

void Event::synchronize() const {
  count_host_sync();
  if (handle_ == nullptr || !recorded_) return;
  if (device_.is_sim()) sim::event_synchronize(handle_);
  else cu::event_synchronize(handle_, device_.index, stream_);
}

bool Event::query() const {
  if (handle_ == nullptr || !recorded_) return true;
  return device_.is_sim() ? sim::event_query(handle_) : cu::event_query(handle_);
}

float Event::elapsed_ms(const Event& end) const {
  MINIDP_CHECK(recorded_ && end.recorded_, "Event::elapsed_ms: both events must be recorded first");
  MINIDP_CHECK(device_ == end.device_, "Event::elapsed_ms: events on ", device_.str(), " and ", end.device_.str());
  if (device_.is_cpu())
    return std::chrono::duration<float, std::milli>(end.host_time_ - host_time_).count();
  MINIDP_CHECK(timing_ && end.timing_, "Event::elapsed_ms: create both events with Event(true) (enable_timing)");
  if (device_.is_sim()) return sim::event_elapsed_ms(handle_, end.handle_);
  return cu::event_elapsed_ms(handle_, end.handle_);
}

void stream_wait_event(const Stream& s, const Event& e) { e.wait(s); }

void begin_capture(const Stream& s) {
  MINIDP_CHECK(!s.device.is_cpu(), "begin_capture: the CPU has no graphs (a stream on ", s.device.str(), ")");
  if (s.device.is_sim()) return sim::stream_begin_capture(s.handle, s.device.index);
  cu::stream_begin_capture(s.handle, s.device.index);
}

void* end_capture(const Stream& s) {
  if (s.device.is_sim()) return sim::stream_end_capture(s.handle, s.device.index);
  return cu::stream_end_capture(s.handle, s.device.index);
}

void abort_capture(const Stream& s) noexcept {
  if (s.device.is_sim()) sim::stream_abort_capture(s.handle, s.device.index);
  else if (s.device.is_cuda()) cu::stream_abort_capture(s.handle, s.device.index);
}

void launch_graph(void* graph, const Stream& s) {
  if (s.device.is_sim()) return sim::graph_launch(graph, s.handle, s.device.index);
  cu::graph_launch(graph, s.handle, s.device.index);
}

void destroy_graph(void* graph, const Stream& launched_on) noexcept {
  if (graph == nullptr) return;
  // Its last replay must be over before its memory goes; an error of the
  // replay's kernels is left for the stream's next synchronisation.
  if (launched_on.device.is_sim()) {
    sim::stream_drain(launched_on.handle, launched_on.device.index);
  } else {
    try {
      cu::stream_synchronize(launched_on.handle, launched_on.device.index);
    } catch (...) {
      // CUDA's errors are sticky: the next synchronisation reports it
    }
  }
  if (launched_on.device.is_sim()) sim::graph_destroy(graph);
  else cu::graph_destroy(graph, launched_on.device.index);
}

std::uint64_t create_graph_pool(const Device& d) {
  if (d.is_sim()) return sim::allocator().create_private_pool(d.index);
  return d.is_cuda() ? kernels::cuda::create_private_pool(d.index) : 0;
}
void begin_graph_pool(const Stream& s, std::uint64_t pool) {
  if (s.device.is_sim()) sim::allocator().begin_pool_capture(s.device.index, s.handle, pool);
  else if (s.device.is_cuda()) kernels::cuda::begin_pool_capture(s.device.index, s.handle, pool);
}
void end_graph_pool(const Stream& s) noexcept {
  if (s.device.is_sim()) sim::allocator().end_pool_capture(s.device.index, s.handle);
  else if (s.device.is_cuda()) kernels::cuda::end_pool_capture(s.device.index, s.handle);
}
void release_graph_pool(const Device& d, std::uint64_t pool) noexcept {
  if (d.is_sim()) sim::allocator().release_private_pool(d.index, pool);
  else if (d.is_cuda()) kernels::cuda::release_private_pool(d.index, pool);
}

Tensor pin_memory(const Tensor& t) {
  MINIDP_CHECK(t.device().is_cpu(), "pin_memory: expected a host tensor, got ", t.describe());
  // Without a CUDA GPU the copy is still made: host memory that the simulated
  // GPU's copies treat as page-locked (asynchronous on the stream).
  if (is_pinned(t)) return t;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape_numel(t.shape()) * dtype_size(t.dtype()), Device::cpu(),
                                            /*pinned=*/true);
  impl->shape = t.shape();
  impl->strides = contiguous_strides(t.shape());
  impl->dtype = t.dtype();
  Tensor out(std::move(impl));
  NoGradGuard ng;
  out.copy_(t.detach());
  return out;
}

bool is_pinned(const Tensor& t) { return t.defined() && t.storage()->pinned(); }

}  // namespace minidp
