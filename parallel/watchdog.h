// minidp/parallel/watchdog.h — the watchdog of a communicator whose waits
// happen where no host timeout can see them (NCCL's, on the GPU), and the
// lock that keeps aborting it safe.
//
// A thread wakes every `poll` and asks two things: did the library report an
// asynchronous error (a peer died: ncclCommGetAsyncError), and has a pending
// collective waited longer than the timeout? Either ends the job through
// `fatal` with a message naming this rank, after aborting the communicator
// so that nothing stays blocked on it.
//
// The rules that make it safe (each one a test in tests/parallel/test_watchdog.cpp):
//  * every call into the communicator — the owner's collectives and the
//    watchdog's error query alike — runs under one lock, through call(), and
//    only while the communicator is not aborted. Calls share the lock (the
//    replicas of one process enqueue their collectives side by side); abort()
//    takes it alone, so the communicator is never torn down under a call still
//    using it, and it is aborted once, whoever (owner or watchdog) asks first;
//  * an exception on the watchdog thread (a sticky CUDA error from an event
//    query, say) is a fatal error of this rank, never std::terminate;
//  * the thread sets its device before anything else (`set_device`), so a
//    process driving cuda:3 does not create a stray context on cuda:0.
// Plain C++: the NCCL communicator supplies the hooks; a test supplies fakes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "minidp/core/error.h"

namespace minidp::parallel {

struct WatchdogHooks {
  std::function<void()> set_device;          // first thing on the watchdog thread
  std::function<std::string()> async_error;  // "" when the library reports none
  std::function<void()> abort_comm;          // tears the communicator down (called once)
  std::function<void(const std::string&)> fatal;  // ends the job with this rank's message
};

class CollectiveWatchdog {
 public:
  CollectiveWatchdog(int rank, int size, double timeout_s, WatchdogHooks hooks,
                     std::chrono::milliseconds poll = std::chrono::milliseconds(500));
  ~CollectiveWatchdog();  // stops the thread (if started) and joins it
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  void start();  // the thread; without it the object is just the lock and the aborted flag

  // Runs fn (a call into the communicator) under the lock; raises a
  // minidp::Error when the communicator was aborted.
  template <class F>
  void call(F&& fn) {
    std::shared_lock<std::shared_mutex> lock(comm_mu_);
    MINIDP_CHECK(!aborted_, "communicator of rank ", rank_, ": aborted after an error (", why_,
                 "); an aborted communicator cannot be used again — create a new one");
    fn();
  }
  // Aborts the communicator once; true when this call did it.
  bool abort(const std::string& why);
  bool aborted() const { return aborted_.load(); }

  // A collective in flight: `done` answers whether it has completed
  // (an event query). Forgotten once done.
  void watch(std::function<bool()> done, std::string what);

 private:
  void run();
  std::string check();  // one poll: "" or why the job must end

  struct Pending {
    std::function<bool()> done;
    std::chrono::steady_clock::time_point since;
    std::string what;
  };
  int rank_, size_;
  double timeout_s_;
  WatchdogHooks hooks_;
  std::chrono::milliseconds poll_;
  std::shared_mutex comm_mu_;  // shared: every call into the communicator; alone: abort
  std::atomic<bool> aborted_{false};
  std::string why_;     // why it was aborted (written under comm_mu_ alone)
  std::mutex watch_mu_;  // pending_ and stop_
  std::condition_variable cv_;
  std::list<Pending> pending_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace minidp::parallel
