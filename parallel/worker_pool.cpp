// minidp/parallel/worker_pool.cpp — the replica threads.
#include "minidp/parallel/worker_pool.h"

#include <algorithm>
#include <string>
#include <system_error>

#include "minidp/core/error.h"
#include "minidp/kernels/cpu/parallel.h"
#include "minidp/parallel/communicator.h"  // CollectiveAborted

namespace minidp::parallel {

WorkerPool::WorkerPool(int n, std::function<void(const std::string&)> on_error)
    : on_error_(std::move(on_error)), errors_(n), secondary_(n) {
  try {
    for (int rank = 0; rank < n; ++rank) threads_.emplace_back([this, rank] { loop(rank); });
  } catch (const std::system_error& e) {
    // The threads already started must be joined before the pool goes away
    // (a joinable std::thread destroyed ends the program).
    const auto started = threads_.size();
    stop_all();
    MINIDP_FAIL("DataParallel: cannot start thread ", started + 1, " of ", n, " (one per replica): ", e.what(),
                "; use fewer replicas");
  }
}

void WorkerPool::stop_all() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

WorkerPool::~WorkerPool() { stop_all(); }

int WorkerPool::threads_per_worker(int n) { return std::max(1, kernels::cpu::max_threads() / std::max(1, n)); }

void WorkerPool::run(const std::function<void(int)>& fn) {
  std::unique_lock<std::mutex> lock(mu_);
  job_ = &fn;
  pending_ = size();
  for (auto& e : errors_) e = nullptr;
  ++generation_;
  start_cv_.notify_all();
  done_cv_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
  std::exception_ptr first, primary;
  for (int i = 0; i < size(); ++i) {
    if (!errors_[i]) continue;
    if (!first) first = errors_[i];
    if (!primary && !secondary_[i]) primary = errors_[i];
  }
  if (primary) std::rethrow_exception(primary);
  if (first) std::rethrow_exception(first);
}

// Tells the others (on_error_: abort the communicator, so that no replica
// waits for this one). A host's fatal handler may return and minidp then
// raises: this replica's own error is the one run() reports.
void WorkerPool::report(const std::string& why) noexcept {
  if (!on_error_) return;
  try {
    on_error_(why);
  } catch (...) {
  }
}

void WorkerPool::loop(int rank) {
  std::uint64_t seen = 0;
  while (true) {
    const std::function<void(int)>* job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    std::exception_ptr err;
    bool secondary = false;
    const kernels::cpu::ThreadBudget budget(threads_per_worker(size()));
    try {
      (*job)(rank);
    } catch (const CollectiveAborted&) {
      err = std::current_exception();  // woken by another replica's failure: not the cause
      secondary = true;
    } catch (const std::exception& e) {
      err = std::current_exception();
      report(std::string("replica ") + std::to_string(rank) + " failed: " + e.what());
    } catch (...) {
      err = std::current_exception();
      report("replica " + std::to_string(rank) + " failed");
    }
    std::lock_guard<std::mutex> lock(mu_);
    errors_[rank] = err;
    secondary_[rank] = secondary;
    if (--pending_ == 0) done_cv_.notify_all();
  }
}

}  // namespace minidp::parallel
