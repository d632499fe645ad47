// minidp/parallel/watchdog.cpp — see watchdog.h.
#include "minidp/parallel/watchdog.h"

#include <cstdio>
#include <exception>

namespace minidp::parallel {

CollectiveWatchdog::CollectiveWatchdog(int rank, int size, double timeout_s, WatchdogHooks hooks,
                                       std::chrono::milliseconds poll)
    : rank_(rank), size_(size), timeout_s_(timeout_s), hooks_(std::move(hooks)), poll_(poll) {}

CollectiveWatchdog::~CollectiveWatchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CollectiveWatchdog::start() {
  MINIDP_CHECK(!thread_.joinable(), "CollectiveWatchdog: started twice");
  thread_ = std::thread([this] { run(); });
}

bool CollectiveWatchdog::abort(const std::string& why) {
  std::unique_lock<std::shared_mutex> lock(comm_mu_);  // waits for calls in progress (the watchdog's query too)
  if (aborted_.exchange(true)) return false;
  why_ = why;
  if (hooks_.abort_comm) hooks_.abort_comm();
  return true;
}

void CollectiveWatchdog::watch(std::function<bool()> done, std::string what) {
  std::lock_guard<std::mutex> lock(watch_mu_);
  pending_.push_back({std::move(done), std::chrono::steady_clock::now(), std::move(what)});
}

std::string CollectiveWatchdog::check() {
  std::string why;
  {
    std::shared_lock<std::shared_mutex> lock(comm_mu_);
    if (aborted_) return "";  // the owner aborted it (its own error is the one reported)
    if (hooks_.async_error) why = hooks_.async_error();
  }
  if (!why.empty()) return "the library reported an asynchronous error: " + why;
  std::lock_guard<std::mutex> lock(watch_mu_);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->done()) {
      it = pending_.erase(it);
      continue;
    }
    const double waited = std::chrono::duration<double>(now - it->since).count();
    if (waited > timeout_s_)
      return "waited " + std::to_string(static_cast<int>(waited)) + " s for " + it->what +
             " without an answer: another rank is dead or stuck";
    ++it;
  }
  return "";
}

void CollectiveWatchdog::run() {
  std::string why;
  try {
    if (hooks_.set_device) hooks_.set_device();
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(watch_mu_);
        if (cv_.wait_for(lock, poll_, [&] { return stop_; })) return;
      }
      why = check();
      if (!why.empty()) break;
    }
  } catch (const std::exception& e) {
    why = std::string("the watchdog itself failed: ") + e.what();
  } catch (...) {
    why = "the watchdog itself failed with an unknown exception";
  }
  std::fprintf(stderr, "minidp rank %d of %d: %s; aborting the communicator and ending the job\n", rank_, size_,
               why.c_str());
  std::fflush(stderr);
  try {
    abort(why);
  } catch (...) {
    // the abort's own failure changes nothing: the job ends below
  }
  try {
    if (hooks_.fatal) hooks_.fatal(why);  // the handler names the rank (ProcessGroup::abort)
  } catch (...) {
    // a handler that throws on this thread has no one to throw to
  }
}

}  // namespace minidp::parallel
