// minidp/kernels/sim/runtime.cpp — streams as queues with worker threads,
// events as positions in them, device memory the host may not touch.
#include "minidp/kernels/sim/runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "minidp/core/error.h"
#include "minidp/kernels/cpu/parallel.h"

namespace minidp::kernels::sim {

namespace {
using Clock = std::chrono::steady_clock;

std::atomic<std::uint64_t> g_shake_seed{0};
std::atomic<int> g_shake_delay_us{200};
std::atomic<std::uint64_t> g_stream_ids{0};
thread_local bool t_on_worker = false;

void read_shake_env() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (const char* v = std::getenv("MINIDP_SIM_SHAKE"); v != nullptr && *v != '\0')
      g_shake_seed = std::strtoull(v, nullptr, 10);
  });
}

class Queue;
struct Capture;

// A position in a queue (an event's record). Inside a capture it is a node of
// the graph instead: `capture` is set and `id` numbers it in the graph.
struct Mark {
  std::shared_ptr<Queue> queue;
  std::uint64_t at = 0;
  Clock::time_point time{};  // written by the marker task, read after it ran
  std::weak_ptr<Capture> capture;
  int id = -1;
};

// What a capture records per stream (a branch of the graph).
struct Op {
  enum Kind { Task, Record, WaitInCapture, WaitOutside } kind = Task;
  std::function<void()> task;     // Task
  int mark = -1;                  // Record / WaitInCapture: the mark's id in the capture
  std::shared_ptr<Mark> outside;  // WaitOutside: an event recorded before the capture
};

struct Capture {
  std::mutex mu;
  Queue* origin = nullptr;
  std::vector<Queue*> order;  // branches in the order they joined (origin first)
  std::vector<std::vector<Op>> branches;
  std::vector<std::shared_ptr<Mark>> marks;
  std::vector<Op>& branch(Queue* q) {
    for (std::size_t i = 0; i < order.size(); ++i)
      if (order[i] == q) return branches[i];
    order.push_back(q);
    branches.emplace_back();
    return branches.back();
  }
  void append(Queue* q, Op op) {
    std::lock_guard<std::mutex> lock(mu);
    branch(q).push_back(std::move(op));
  }
};

struct Graph {
  std::vector<std::vector<Op>> branches;
  std::vector<std::shared_ptr<Mark>> marks;
};

// One stream: an ordered queue and the thread that runs it. `enqueued` counts
// tasks ever queued, `completed` tasks finished: an event is a value of
// `enqueued`, reached when `completed` gets there.
class Queue : public std::enable_shared_from_this<Queue> {
 public:
  explicit Queue(int device) : device_(device), rng_(g_shake_seed.load() ^ (++g_stream_ids * 0x9E3779B97F4A7C15ull)) {
    worker_ = std::thread([this] { run(); });
  }
  ~Queue() { stop(); }

  int device() const { return device_; }

  // Queues `task`, or records it when the stream is being captured (then 0).
  std::uint64_t push(std::function<void()> task) {
    if (auto c = capture()) {
      Op op;
      op.task = std::move(task);
      c->append(this, std::move(op));
      return 0;
    }
    std::uint64_t at;
    {
      std::lock_guard<std::mutex> lock(mu_);
      MINIDP_CHECK(!stopping_, "sim:", device_, ": work queued on a destroyed stream");
      queue_.push_back(std::move(task));
      at = ++enqueued_;
    }
    work_.notify_one();
    return at;
  }
  std::uint64_t position() {
    std::lock_guard<std::mutex> lock(mu_);
    return enqueued_;
  }
  void wait_until(std::uint64_t at) {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return completed_ >= at; });
  }
  bool reached(std::uint64_t at) {
    std::lock_guard<std::mutex> lock(mu_);
    return completed_ >= at;
  }
  // The host waits for everything queued so far, then hears of a kernel's error.
  void drain_and_raise() {
    check_not_capturing("a host synchronisation");
    wait_until(position());
    std::exception_ptr e;
    {
      std::lock_guard<std::mutex> lock(mu_);
      e = std::exchange(error_, nullptr);
    }
    if (e) std::rethrow_exception(e);
  }
  std::shared_ptr<Capture> capture() {
    std::lock_guard<std::mutex> lock(mu_);
    return capture_;
  }
  void set_capture(std::shared_ptr<Capture> c) {
    std::lock_guard<std::mutex> lock(mu_);
    capture_ = std::move(c);
  }
  // A host wait on this stream: not while it is captured (CUDA refuses it too).
  void check_not_capturing(const char* what) {
    MINIDP_CHECK(!capture(), what, " on a stream of sim:", device_, " that is being captured into a graph: ",
                 "a capture records work, nothing runs until the graph is replayed, so the host cannot wait for it");
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    work_.notify_one();
    if (worker_.joinable()) worker_.join();
  }

 private:
  void run() {
    cpu::ThreadBudget one(1);  // the stream's kernels run on this thread alone: no pool shared with other streams
    t_on_worker = true;
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      if (g_shake_seed.load(std::memory_order_relaxed) != 0) {
        const int max_us = std::max(1, g_shake_delay_us.load(std::memory_order_relaxed));
        std::this_thread::sleep_for(std::chrono::microseconds(rng_() % static_cast<unsigned>(max_us)));
      }
      try {
        task();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
      task = nullptr;  // its tensors are released before the work counts as done
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++completed_;
      }
      done_.notify_all();
    }
  }

  int device_;
  std::mutex mu_;
  std::condition_variable work_, done_;
  std::deque<std::function<void()>> queue_;
  std::uint64_t enqueued_ = 0, completed_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::shared_ptr<Capture> capture_;
  std::mt19937_64 rng_;  // used by the worker only
  std::thread worker_;
};

// Every live stream, for device_synchronize and for turning a handle back
// into the shared pointer an event keeps.
std::mutex g_mu;
std::vector<std::shared_ptr<Queue>>& registry() {
  static auto* r = new std::vector<std::shared_ptr<Queue>>();  // never destroyed: threads may outlive statics
  return *r;
}

std::shared_ptr<Queue> make_queue(int device) {
  MINIDP_CHECK(device >= 0 && device < kMaxDevices, "sim: no device sim:", device);
  read_shake_env();
  auto q = std::make_shared<Queue>(device);
  std::lock_guard<std::mutex> lock(g_mu);
  registry().push_back(q);
  return q;
}

void unregister(const Queue* q) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto& r = registry();
  r.erase(std::remove_if(r.begin(), r.end(), [&](const auto& p) { return p.get() == q; }), r.end());
}

// The per-thread default streams (handle nullptr), made on first use; drained
// and stopped when the thread ends.
struct DefaultQueues {
  std::shared_ptr<Queue> q[kMaxDevices];
  ~DefaultQueues() {
    for (auto& p : q)
      if (p) {
        p->wait_until(p->position());
        p->stop();
        unregister(p.get());
      }
  }
};
thread_local DefaultQueues t_default;

std::shared_ptr<Queue> queue_of(void* stream, int device) {
  if (stream != nullptr) return static_cast<Queue*>(stream)->shared_from_this();
  MINIDP_CHECK(device >= 0 && device < kMaxDevices, "sim: no device sim:", device);
  auto& q = t_default.q[device];
  if (!q) q = make_queue(device);
  return q;
}

struct SimEvent {
  int device;
  std::mutex mu;
  std::shared_ptr<Mark> mark;  // the last record
  std::shared_ptr<Mark> get() {
    std::lock_guard<std::mutex> lock(mu);
    return mark;
  }
};
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
  std::vector<std::shared_ptr<Queue>> qs;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    for (auto& q : registry())
      if (q->device() == device) qs.push_back(q);
  }
  for (auto& q : qs) q->drain_and_raise();
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
    if (!c || c->origin == nullptr) return;  // the capture is over: nothing of it will ever run eagerly
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
  MINIDP_CHECK(a && b && a->queue->reached(a->at) && b->queue->reached(b->at),
               "Event::elapsed_ms: both events must be recorded and done (synchronize first)");
  return std::chrono::duration<float, std::milli>(b->time - a->time).count();
}

// Each block starts 64 bytes before the address handed out, where its size is
// kept (no map, no lock: frees run on the stream workers, and a lock they
// shared would order them behind the scenes).
namespace {
constexpr std::size_t kHeader = 64;
std::atomic<std::size_t> g_in_use[kMaxDevices], g_peak[kMaxDevices];
}  // namespace

void* device_malloc(std::size_t nbytes, int device) {
  MINIDP_CHECK(device >= 0 && device < kMaxDevices, "sim: no device sim:", device);
  read_shake_env();
  const std::size_t rounded = (std::max<std::size_t>(nbytes, 1) + 63) / 64 * 64;
  auto* base = static_cast<char*>(std::aligned_alloc(64, kHeader + rounded));
  MINIDP_CHECK(base != nullptr, "sim:", device, ": out of memory allocating ", nbytes, " bytes");
  std::memcpy(base, &rounded, sizeof rounded);
  const std::size_t now = g_in_use[device].fetch_add(rounded, std::memory_order_relaxed) + rounded;
  std::size_t peak = g_peak[device].load(std::memory_order_relaxed);
  while (now > peak && !g_peak[device].compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  if (g_shake_seed.load() != 0) std::memset(base + kHeader, 0xFF, rounded);  // NaN as float: unwritten reads show
  return base + kHeader;
}

void device_free(void* ptr, int device) noexcept {
  if (ptr == nullptr) return;
  char* base = static_cast<char*>(ptr) - kHeader;
  std::size_t rounded;
  std::memcpy(&rounded, base, sizeof rounded);
  if (device >= 0 && device < kMaxDevices) g_in_use[device].fetch_sub(rounded, std::memory_order_relaxed);
  std::free(base);
}

std::size_t bytes_in_use(int device) { return g_in_use[device].load(std::memory_order_relaxed); }
std::size_t bytes_peak(int device) { return g_peak[device].load(std::memory_order_relaxed); }
void reset_bytes_peak(int device) { g_peak[device] = g_in_use[device].load(std::memory_order_relaxed); }

void copy_to_device(void* dst, const void* src, std::size_t nbytes, bool pinned, void* stream, int device) {
  auto q = queue_of(stream, device);
  if (!pinned) q->check_not_capturing("a copy from pageable host memory (it blocks the host)");
  const std::uint64_t at = q->push([=] { std::memcpy(dst, src, nbytes); });
  if (!pinned) q->wait_until(at);  // pageable: the host's buffer is free again when this returns
}

void copy_to_host(void* dst, const void* src, std::size_t nbytes, void* stream, int device) {
  auto q = queue_of(stream, device);
  q->check_not_capturing("a copy to the host");
  q->push([=] { std::memcpy(dst, src, nbytes); });
  q->drain_and_raise();
}

void copy_peer(void* dst, int dst_device, void* dst_stream, const void* src, int src_device, void* src_stream,
               std::size_t nbytes) {
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

// ---------------------------------------------------------------- graphs
void stream_begin_capture(void* stream, int device) {
  auto q = queue_of(stream, device);
  MINIDP_CHECK(stream != nullptr, "sim: capture needs a stream of its own (create_stream), not the default stream");
  MINIDP_CHECK(!q->capture(), "sim:", device, ": the stream is already being captured");
  auto c = std::make_shared<Capture>();
  c->origin = q.get();
  c->branch(q.get());
  q->set_capture(std::move(c));
}

namespace {
// Ends the capture `q` began: every stream leaves it. Returns it.
std::shared_ptr<Capture> detach(const std::shared_ptr<Queue>& q) {
  auto c = q->capture();
  if (!c) return c;
  std::vector<Queue*> members;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    members = c->order;
    c->origin = nullptr;
  }
  for (Queue* m : members) m->set_capture(nullptr);
  return c;
}
}  // namespace

void* stream_end_capture(void* stream, int device) {
  auto q = queue_of(stream, device);
  auto c = q->capture();
  MINIDP_CHECK(c && c->origin == q.get(), "sim:", device, ": end of a capture this stream did not begin");
  detach(q);
  // Every stream that joined must have been joined back: its last op a record
  // that the capturing stream waits on (as cudaStreamEndCapture demands).
  for (std::size_t b = 1; b < c->branches.size(); ++b) {
    const auto& ops = c->branches[b];
    bool joined = false;
    if (!ops.empty() && ops.back().kind == Op::Record)
      for (const Op& o : c->branches[0]) joined = joined || (o.kind == Op::WaitInCapture && o.mark == ops.back().mark);
    MINIDP_CHECK(joined, "sim:", device, ": a stream joined the capture and was not joined back before its end ",
                 "(record an event on it and make the capturing stream wait on it)");
  }
  auto* g = new Graph;
  g->branches = std::move(c->branches);
  g->marks = std::move(c->marks);
  return g;
}

void stream_abort_capture(void* stream, int device) noexcept {
  try {
    detach(queue_of(stream, device));
  } catch (...) {
  }
}

bool stream_capturing(void* stream, int device) { return queue_of(stream, device)->capture() != nullptr; }

namespace {
// Runs a graph on the calling worker: each branch in order, a branch waiting
// at an edge until the branch it waits on has recorded that mark.
void run_graph(const Graph& g, std::mt19937_64& rng) {
  std::vector<std::size_t> at(g.branches.size(), 0);
  std::vector<bool> reached(g.marks.size(), false);
  const bool shake = g_shake_seed.load(std::memory_order_relaxed) != 0;
  const int max_us = std::max(1, g_shake_delay_us.load(std::memory_order_relaxed));
  while (true) {
    bool progress = false, finished = true;
    for (std::size_t b = 0; b < g.branches.size(); ++b) {
      const auto& ops = g.branches[b];
      while (at[b] < ops.size()) {
        const Op& op = ops[at[b]];
        if (op.kind == Op::WaitInCapture && !reached[op.mark]) break;
        if (op.kind == Op::Task) {
          if (shake) std::this_thread::sleep_for(std::chrono::microseconds(rng() % static_cast<unsigned>(max_us)));
          op.task();
        } else if (op.kind == Op::Record) {
          reached[op.mark] = true;
          g.marks[op.mark]->time = Clock::now();
        } else if (op.kind == Op::WaitOutside) {
          op.outside->queue->wait_until(op.outside->at);
        }
        ++at[b];
        progress = true;
      }
      finished = finished && at[b] == ops.size();
    }
    if (finished) return;
    MINIDP_CHECK(progress, "sim graph: its branches wait on each other forever (a dependency cycle)");
  }
}
}  // namespace

void graph_launch(void* graph, void* stream, int device) {
  MINIDP_CHECK(graph != nullptr, "sim: graph_launch of no graph");
  auto q = queue_of(stream, device);
  MINIDP_CHECK(!q->capture(), "sim:", device, ": launching a graph inside a capture");
  const auto* g = static_cast<const Graph*>(graph);
  q->push([g, rng = std::mt19937_64(g_shake_seed.load() ^ reinterpret_cast<std::uintptr_t>(g))]() mutable {
    run_graph(*g, rng);
  });
}

void graph_destroy(void* graph) noexcept { delete static_cast<Graph*>(graph); }

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
