// minidp/kernels/cpu/parallel.h — the CPU's threads: one pool for the process,
// a thread budget, and loops whose results do not depend on how many threads
// ran them.
//
// The CPU backend is the reference every other device is checked against, so
// 1, 2 or 16 threads must give the same bits. Two rules make that so:
//   * work is cut into chunks whose size depends only on the problem (the
//     `grain`), never on the thread count; threads take chunks as they come,
//     but each chunk is computed the same way by whoever takes it;
//   * a chunk writes its own outputs only. A sum over chunks (a reduction)
//     keeps one partial per chunk and adds the partials in chunk order
//     (parallel_reduce).
//
// The budget: the CPU device may use num_threads() threads (all cores by
// default — divided among the job's processes on this machine under mpirun;
// MINIDP_NUM_THREADS, else OMP_NUM_THREADS, in the environment; or
// set_num_threads). A thread can be given a share of it (ThreadBudget):
// DataParallel gives each of its k CPU replicas total/k, so replicas and the
// threads of their ops never oversubscribe the machine.
//
//   parallel_for(rows, /*grain=*/64, [&](std::int64_t lo, std::int64_t hi) {
//     for (std::int64_t r = lo; r < hi; ++r) out[r] = f(in[r]);
//   });
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace minidp::kernels::cpu {

// Elements per chunk of an elementwise loop: large enough that a chunk costs
// far more than handing it to a thread (~1 us), small enough to balance.
constexpr std::int64_t kGrain = 32768;

// The process's budget (>= 1).
int max_threads();
void set_max_threads(int n);
// The calling thread's share of it (max_threads() unless a ThreadBudget says otherwise).
int num_threads();

// For a scope: the calling thread may use `n` threads (its own included).
class ThreadBudget {
 public:
  explicit ThreadBudget(int n);
  ~ThreadBudget();
  ThreadBudget(const ThreadBudget&) = delete;
  ThreadBudget& operator=(const ThreadBudget&) = delete;

 private:
  int prev_;
};

// fn(lo, hi) for the chunks [0, grain), [grain, 2 grain), ... of [0, n), on up
// to num_threads() threads (the caller is one of them). Returns when all are
// done; the first exception a chunk threw is rethrown.
void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn);

// How long an idle pool thread (or a caller waiting for its helpers) spins
// before it sleeps, in microseconds; -1: it never sleeps. Waking a sleeping
// thread costs more than a step's gaps between loops, most on a virtual
// machine, so threads spin first, as OpenMP's do, and follow the same wait
// policy: MINIDP_WAIT_POLICY, else OMP_WAIT_POLICY, in the environment —
// "passive": 0 (sleep at once); "active": -1; unset: 1000. More threads than
// the machine has cores (the budget, or the pool grown by an earlier budget)
// spin 0 unless active: a spinning thread would hold a core another one has
// work for. A bad MINIDP_WAIT_POLICY throws (minidp::Error) at the first
// loop that uses helpers.
std::int64_t spin_microseconds();
// The rules, for given values: a policy from the two variables (nullptr:
// unset; MINIDP_WAIT_POLICY with another value is an error, an
// OMP_WAIT_POLICY that is neither is ignored, as OpenMP leaves it), then the
// spin for a budget of `threads` on `cores`.
std::int64_t spin_microseconds_for(const char* minidp_policy, const char* omp_policy);
std::int64_t spin_microseconds_with(std::int64_t policy_us, int threads, int cores);

// Number of chunks parallel_for(n, grain) makes: what a reduction sizes its partials by.
inline std::int64_t num_chunks(std::int64_t n, std::int64_t grain) {
  return n <= 0 ? 0 : (n + grain - 1) / grain;
}

}  // namespace minidp::kernels::cpu
