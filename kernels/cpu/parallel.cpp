// minidp/kernels/cpu/parallel.cpp — the process's worker threads and the chunked loop.
//
// One pool for the process, grown to the budget on demand and never shrunk.
// A loop is a job with a chunk counter: the caller and up to budget - 1
// helpers take chunks until none is left, so a loop of one chunk, or a budget
// of one, never touches the pool at all.
//
// Between loops a thread first spins for a while (1 ms by default; see the
// wait policy below), then sleeps on a condition variable. A training step's
// loops come tens of microseconds apart, and waking a sleeping thread can cost
// more than that — most on a virtual machine, whose hypervisor halts an idle
// virtual CPU: measured there,
// the MLP's step took 1.3-2.5x as long with threads that slept at once, and a
// helper's start after a sleep ranged from 15 to 280 us on average per run.
// The spin must outlast the longest gap of a step that has no loop in it (its
// single-threaded ops and the autograd's bookkeeping): with 200 us the MLP's
// helper slept about 4 times a step, with 1 ms once in 30 steps. On the
// MLP with 2 threads (Intel Xeon VM, medians of 9-15 alternated runs), 2 ms
// gave 1.16x the samples/s of 200 us in a noisy hour; 1 ms gave 1.05x and
// 1.01x in quieter ones, when wake-ups were quick anyway; 1 ms against 2 ms
// 1.01x. OpenMP's threads (PyTorch's) spin in the same way before they
// sleep (libgomp: 300,000 rounds of its pause loop; Intel's: 200 ms), and
// minidp reads the same wait policy: OMP_WAIT_POLICY=passive sleeps at once,
// =active never sleeps. More threads than the machine has cores (in the
// budget or in the pool) do not spin unless the policy is active: a spinning
// thread would hold a core another thread has work for (libgomp cuts its
// spin to 100 rounds then).
#include "minidp/kernels/cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "minidp/core/error.h"

namespace minidp::kernels::cpu {

namespace {

int default_threads() {
  for (const char* var : {"MINIDP_NUM_THREADS", "OMP_NUM_THREADS"}) {
    const char* v = std::getenv(var);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);  // OMP_NUM_THREADS may be a list ("4,2"): its first number
    if (end != v && n >= 1 && n <= 4096) return static_cast<int>(n);
  }
  const int hw = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // Several processes of one job on this machine (mpirun -np k): each takes
  // its part of the cores, as torchrun sets OMP_NUM_THREADS for its workers.
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) {
    const char* v = std::getenv(var);
    const long k = v == nullptr ? 0 : std::strtol(v, nullptr, 10);
    if (k > 1) return std::max(1, hw / static_cast<int>(k));
  }
  return hw;
}

constexpr std::int64_t kDefaultSpinUs = 1000;

// The environment's wait policy, read once it is valid, by the first loop that
// uses helpers, on its caller's thread: a bad value throws there, never on a
// pool thread (whose own loops run on one thread and never get here).
std::int64_t policy_spin_us() {
  static const std::int64_t us = spin_microseconds_for(std::getenv("MINIDP_WAIT_POLICY"), std::getenv("OMP_WAIT_POLICY"));
  return us;
}

// How long an idle thread (or a caller waiting for its helpers) spins before
// it sleeps, for the loops posted last (-1: until work comes).
std::atomic<std::int64_t> g_spin_us{kDefaultSpinUs};
std::atomic<int> g_pool_size{0};  // the pool's threads (it never shrinks)

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until ready() or the spin time has passed; returns ready().
template <typename F>
bool spin_until(F&& ready) {
  const std::int64_t us = g_spin_us.load(std::memory_order_relaxed);
  if (us == 0) return ready();
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (!ready()) {
    for (int i = 0; i < 64; ++i) cpu_relax();
    if (us > 0 && std::chrono::steady_clock::now() > end) return ready();
  }
  return true;
}

bool equals_ignoring_case(const char* a, const char* b) {
  for (; *a != '\0' && *b != '\0'; ++a, ++b)
    if (std::tolower(static_cast<unsigned char>(*a)) != std::tolower(static_cast<unsigned char>(*b))) return false;
  return *a == *b;
}

std::atomic<int> g_max{0};   // 0: not read from the environment yet
thread_local int t_share = 0;  // 0: the whole budget

struct Job {
  const std::function<void(std::int64_t, std::int64_t)>* fn;
  std::int64_t n, grain, chunks;
  std::atomic<std::int64_t> next{0}, done{0};
  std::mutex mu;
  std::condition_variable finished;
  std::exception_ptr error;

  void run_chunks() {
    while (true) {
      const std::int64_t c = next.fetch_add(1);
      if (c >= chunks) return;
      try {
        (*fn)(c * grain, std::min(n, (c + 1) * grain));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
      }
      if (done.fetch_add(1) + 1 == chunks) {
        std::lock_guard<std::mutex> lock(mu);
        finished.notify_all();
      }
    }
  }
};

class Pool {
 public:
  void help(const std::shared_ptr<Job>& job, int helpers) {
    std::lock_guard<std::mutex> lock(mu_);
    const int want = std::max(helpers, max_threads() - 1);  // concurrent loops (replicas) share the pool
    while (static_cast<int>(threads_.size()) < want) threads_.emplace_back([this] { loop(); });
    g_pool_size.store(static_cast<int>(threads_.size()), std::memory_order_relaxed);
    for (int i = 0; i < helpers; ++i) queue_.push_back(job);
    queued_.fetch_add(helpers);
    if (helpers == 1) cv_.notify_one();
    else cv_.notify_all();
  }

 private:
  void loop() {
    t_share = 1;  // a loop inside a chunk runs on this thread alone
    while (true) {
      std::shared_ptr<Job> job;
      const bool saw_work = spin_until([&] { return queued_.load(std::memory_order_acquire) > 0; });
      {
        std::unique_lock<std::mutex> lock(mu_);
        // Another thread took what this one saw: spin again (sleep at once
        // with a spin of 0) rather than fall asleep still holding its spin.
        if (saw_work && queue_.empty()) continue;
        cv_.wait(lock, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
        queued_.fetch_sub(1);
      }
      job->run_chunks();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::atomic<int> queued_{0};  // queue_.size(), readable without the lock while spinning
  std::vector<std::thread> threads_;
};

Pool& pool() {
  static auto* p = new Pool;  // never destroyed: its threads sleep until the process ends
  return *p;
}

}  // namespace

std::int64_t spin_microseconds_for(const char* minidp_policy, const char* omp_policy) {
  auto parse = [](const char* v) -> std::int64_t {  // -2: not a policy
    if (equals_ignoring_case(v, "passive")) return 0;
    if (equals_ignoring_case(v, "active")) return -1;
    return -2;
  };
  if (minidp_policy != nullptr && *minidp_policy != '\0') {
    const std::int64_t us = parse(minidp_policy);
    MINIDP_CHECK(us != -2, "MINIDP_WAIT_POLICY: unknown policy '", minidp_policy,
                 "'; expected 'passive' (idle CPU threads sleep at once) or 'active' (they never sleep), or unset (",
                 kDefaultSpinUs, " us of spinning, then sleep)");
    return us;
  }
  if (omp_policy != nullptr) {  // OpenMP's variable: a value OpenMP does not know is left to it
    const std::int64_t us = parse(omp_policy);
    if (us != -2) return us;
  }
  return kDefaultSpinUs;
}

std::int64_t spin_microseconds_with(std::int64_t policy_us, int threads, int cores) {
  if (policy_us < 0) return policy_us;  // active: the user asked for it
  return threads > cores ? 0 : policy_us;
}

std::int64_t spin_microseconds() {
  static const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // The caller and the pool's threads: a pool grown by an earlier, larger budget spins too.
  const int threads = std::max(max_threads(), g_pool_size.load(std::memory_order_relaxed) + 1);
  return spin_microseconds_with(policy_spin_us(), threads, cores);
}

int max_threads() {
  int v = g_max.load();
  if (v == 0) {
    v = default_threads();
    int expected = 0;
    if (!g_max.compare_exchange_strong(expected, v)) v = expected;
  }
  return v;
}

void set_max_threads(int n) {
  MINIDP_CHECK(n >= 1 && n <= 4096, "set_num_threads: expected 1..4096 threads, got ", n);
  g_max = n;
}

int num_threads() { return t_share > 0 ? std::min(t_share, max_threads()) : max_threads(); }

ThreadBudget::ThreadBudget(int n) : prev_(t_share) {
  MINIDP_CHECK(n >= 1, "ThreadBudget: expected at least 1 thread, got ", n);
  t_share = n;
}
ThreadBudget::~ThreadBudget() { t_share = prev_; }

void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  const std::int64_t chunks = num_chunks(n, grain);
  const int budget = num_threads();
  if (chunks == 1 || budget == 1) {
    // The same chunks, in order, on this thread: the same results as any other thread count.
    for (std::int64_t c = 0; c < chunks; ++c) fn(c * grain, std::min(n, (c + 1) * grain));
    return;
  }
  // Helpers read it as they start to wait; one spinning already keeps the value it started with.
  g_spin_us.store(spin_microseconds(), std::memory_order_relaxed);
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->n = n;
  job->grain = grain;
  job->chunks = chunks;
  pool().help(job, static_cast<int>(std::min<std::int64_t>(budget - 1, chunks - 1)));
  job->run_chunks();
  spin_until([&] { return job->done.load() == chunks; });
  std::unique_lock<std::mutex> lock(job->mu);
  job->finished.wait(lock, [&] { return job->done.load() == chunks; });
  if (job->error) std::rethrow_exception(job->error);
}

}  // namespace minidp::kernels::cpu
