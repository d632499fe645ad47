// minidp/parallel/worker_pool.h — one persistent host thread per replica.
//
// run(fn) calls fn(rank) on worker `rank` for every replica at once and returns when
// all are done. Threads live as long as the pool, so a training step costs
// two condition-variable hand-offs, not thread creation. If a worker throws,
// `on_error` is called on that worker's thread (DataParallel aborts the
// communicator there, so that replicas waiting in a collective wake up), and
// run() rethrows the first error that was not just a consequence of it (a
// CollectiveAborted raised in a replica that was only waiting for the failed one).
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace minidp::parallel {

class WorkerPool {
 public:
  explicit WorkerPool(int n, std::function<void(const std::string&)> on_error = nullptr);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void run(const std::function<void(int)>& fn);
  int size() const { return static_cast<int>(threads_.size()); }
  // The CPU threads each of `n` workers may use for its ops while it runs a
  // job: the CPU's budget (core/device.h, num_threads) divided among them, so
  // that replicas and the threads of their ops never oversubscribe the cores.
  static int threads_per_worker(int n);

 private:
  void loop(int rank);
  void stop_all();  // ends and joins every thread started
  std::vector<std::thread> threads_;
  void report(const std::string& why) noexcept;
  std::function<void(const std::string&)> on_error_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  std::uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  std::vector<std::exception_ptr> errors_;
  std::vector<bool> secondary_;  // failed only because another worker aborted the collective
};

}  // namespace minidp::parallel
