// minidp/kernels/sim/queue.h — the simulated GPU's streams (queues with a
// worker thread each), the marks events record in them, and what a capture
// records. Internal to kernels/sim: runtime.cpp (streams, events, copies),
// memory.cpp (the allocator's segments) and graph.cpp (capture and replay).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "minidp/core/error.h"
#include "minidp/kernels/cpu/parallel.h"
#include "minidp/kernels/stream_key.h"

#include "minidp/kernels/sim/runtime.h"

namespace minidp::kernels::sim::detail {

using Clock = std::chrono::steady_clock;

extern std::atomic<std::uint64_t> g_shake_seed;
extern std::atomic<int> g_shake_delay_us;
extern std::atomic<std::uint64_t> g_stream_ids;
extern thread_local bool t_on_worker;
void read_shake_env();

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
  // The host waits for everything queued so far (no error raised, none cleared).
  void drain() { wait_until(position()); }
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
  void set_slow(int delay_us) { slow_us_ = delay_us; }  // set_stream_delay_for_testing
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
      if (const int us = slow_us_.load(std::memory_order_relaxed); us > 0)
        std::this_thread::sleep_for(std::chrono::microseconds(us));
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
  std::atomic<int> slow_us_{0};
  std::shared_ptr<Capture> capture_;
  std::mt19937_64 rng_;  // used by the worker only
  std::thread worker_;
};

struct SimEvent {
  int device;
  std::mutex mu;
  std::shared_ptr<Mark> mark;  // the last record
  std::shared_ptr<Mark> get() {
    std::lock_guard<std::mutex> lock(mu);
    return mark;
  }
};

// Every live stream (g_mu guards the tables below).
extern std::mutex g_mu;
std::shared_ptr<Queue> make_queue(int device);
void unregister(const Queue* q);
// A stream handle (nullptr: the calling thread's default stream of `device`) as its queue.
std::shared_ptr<Queue> queue_of(void* stream, int device);
std::vector<std::shared_ptr<Queue>> queues_of_device(int device);
// The live queue behind a stream handle, or nullptr when that stream is gone.
std::shared_ptr<Queue> find_queue(void* handle);
// The default queue of host thread `thread` (this_thread_key) on `device`, if it still runs.
std::shared_ptr<Queue> default_queue_of_thread(std::uint64_t thread, int device);

}  // namespace minidp::kernels::sim::detail
