// minidp/kernels/sim/runtime.cpp — streams as queues with worker threads,
// events as positions in them, copies between the host and the device.
// (queue.h: the queues; memory.cpp: the allocator's segments; graph.cpp:
// capture and replay.)
#include "minidp/kernels/sim/queue.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace minidp::kernels::sim {

using namespace detail;

namespace {
std::atomic<int> g_copy_delay_us{0};  // set_copy_to_device_delay_for_testing
}  // namespace

bool on_worker() { return t_on_worker; }

void* stream_create(int device) {
  auto q = make_queue(device);
  return q.get();
}

void stream_destroy(void* stream, int device) {
  if (stream == nullptr) return;
  auto q = queue_of(stream, device);
  q->wait_until(q->position());
  q->stop();
  unregister(q.get());
}

void enqueue(void* stream, int device, std::function<void()> task) { queue_of(stream, device)->push(std::move(task)); }

void stream_synchronize(void* stream, int device) { queue_of(stream, device)->drain_and_raise(); }

void device_synchronize(int device) {
  const auto qs = queues_of_device(device);
  for (auto& q : qs) q->check_not_capturing("a device synchronisation");
  for (auto& q : qs) q->drain();  // every stream, then the first error
  for (auto& q : qs) q->drain_and_raise();
}

void stream_drain(void* stream, int device) noexcept {
  try {
    queue_of(stream, device)->drain();
  } catch (...) {
  }
}

void* event_create(int device) { return new SimEvent{device, {}, {}}; }
void event_destroy(void* event) noexcept { delete static_cast<SimEvent*>(event); }

void event_record(void* event, void* stream, int device) {
  auto* e = static_cast<SimEvent*>(event);
  auto mark = std::make_shared<Mark>();
  mark->queue = queue_of(stream, device);
  if (auto c = mark->queue->capture()) {  // a node of the graph
    std::lock_guard<std::mutex> lock(c->mu);
    mark->capture = c;
    mark->id = static_cast<int>(c->marks.size());
    c->marks.push_back(mark);
    Op op;
    op.kind = Op::Record;
    op.mark = mark->id;
    c->branch(mark->queue.get()).push_back(std::move(op));
  } else {
    mark->at = mark->queue->push([mark] { mark->time = Clock::now(); });
  }
  std::lock_guard<std::mutex> lock(e->mu);
  e->mark = std::move(mark);
}

void stream_wait_event(void* stream, void* event, int device) {
  std::shared_ptr<Mark> mark = static_cast<SimEvent*>(event)->get();
  if (!mark) return;
  auto q = queue_of(stream, device);
  if (mark->id >= 0) {  // recorded inside a capture: an edge of that graph
    auto c = mark->capture.lock();
    if (!c) return;  // the capture is over: nothing of it will ever run eagerly
    {
      std::lock_guard<std::mutex> lock(c->mu);
      if (c->origin == nullptr) return;
    }
    auto mine = q->capture();
    MINIDP_CHECK(!mine || mine == c, "sim:", device, ": a stream of one capture waits on an event of another");
    if (!mine) q->set_capture(c);  // the stream joins the capture (a fork)
    Op op;
    op.kind = Op::WaitInCapture;
    op.mark = mark->id;
    c->append(q.get(), std::move(op));
    return;
  }
  if (auto c = q->capture()) {  // captured, waiting on work from before the capture
    Op op;
    op.kind = Op::WaitOutside;
    op.outside = mark;
    c->append(q.get(), std::move(op));
    return;
  }
  if (q == mark->queue) return;  // one queue runs in order
  q->push([mark] { mark->queue->wait_until(mark->at); });
}

void event_synchronize(void* event) {
  std::shared_ptr<Mark> mark = static_cast<SimEvent*>(event)->get();
  if (!mark) return;
  MINIDP_CHECK(mark->id < 0 || mark->capture.expired(), "Event::synchronize on an event recorded inside a graph ",
               "capture: nothing of it runs until the graph is replayed");
  if (mark->id < 0) mark->queue->wait_until(mark->at);
}

bool event_query(void* event) {
  std::shared_ptr<Mark> mark = static_cast<SimEvent*>(event)->get();
  return !mark || mark->id >= 0 || mark->queue->reached(mark->at);
}

float event_elapsed_ms(void* start, void* end) {
  auto a = static_cast<SimEvent*>(start)->get(), b = static_cast<SimEvent*>(end)->get();
  MINIDP_CHECK(a && b && a->id < 0 && b->id < 0, "Event::elapsed_ms: an event recorded inside a graph capture ",
               "has no time of its own");
  MINIDP_CHECK(a->queue->reached(a->at) && b->queue->reached(b->at),
               "Event::elapsed_ms: both events must be recorded and done (synchronize first)");
  return std::chrono::duration<float, std::milli>(b->time - a->time).count();
}

void copy_to_device(void* dst, const void* src, std::size_t nbytes, bool pinned, void* stream, int device) {
  if (nbytes == 0) return;  // an empty shard: nothing to copy (and memcpy may not see a null pointer)
  auto q = queue_of(stream, device);
  const int delay_us = g_copy_delay_us.load();
  if (pinned) {
    q->push([=] {
      if (delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      std::memcpy(dst, src, nbytes);
    });
    return;
  }
  // Pageable memory, as CUDA does it: the host's bytes are staged before this
  // returns (the caller may reuse its buffer at once), but they land in device
  // memory in the stream's order, later. Another stream that reads `dst`
  // without waiting for this one reads what was there before.
  q->check_not_capturing("a copy from pageable host memory (it stages through the host)");
  auto staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                             static_cast<const unsigned char*>(src) + nbytes);
  q->push([dst, staged, delay_us] {
    if (delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    std::memcpy(dst, staged->data(), staged->size());
  });
}

void set_copy_to_device_delay_for_testing(int delay_us) { g_copy_delay_us = delay_us; }

void set_stream_delay_for_testing(void* stream, int device, int delay_us) {
  queue_of(stream, device)->set_slow(delay_us);
}

void copy_to_host(void* dst, const void* src, std::size_t nbytes, void* stream, int device) {
  auto q = queue_of(stream, device);
  q->check_not_capturing("a copy to the host");
  if (nbytes > 0) q->push([=] { std::memcpy(dst, src, nbytes); });  // (memcpy may not see a null pointer)
  q->drain_and_raise();
}

void copy_peer(void* dst, int dst_device, void* dst_stream, const void* src, int src_device, void* src_stream,
               std::size_t nbytes) {
  if (nbytes == 0) return;
  auto d = queue_of(dst_stream, dst_device), s = queue_of(src_stream, src_device);
  if (d == s) {
    d->push([=] { std::memcpy(dst, src, nbytes); });
    return;
  }
  d->check_not_capturing("a copy between two streams");
  s->check_not_capturing("a copy between two streams");
  const std::uint64_t src_ready = s->position();
  const std::uint64_t copied = d->push([=] {
    s->wait_until(src_ready);
    std::memcpy(dst, src, nbytes);
  });
  s->push([d, copied] { d->wait_until(copied); });  // the source is not overwritten before the copy read it
}

void set_shake(std::uint64_t seed, int max_delay_us) {
  read_shake_env();
  g_shake_seed = seed;
  g_shake_delay_us = max_delay_us;
}

std::uint64_t shake_seed() {
  read_shake_env();
  return g_shake_seed.load();
}

}  // namespace minidp::kernels::sim
