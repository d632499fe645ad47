// labs/3-ring/exercise.cpp — YOUR ring all-reduce.
//
// k threads (k = buffers.size()) call this at once, thread `rank` with the same
// list of every thread's buffer of n floats. When every thread has returned
// (the caller adds one barrier after), every buffer must hold the element-wise
// SUM of all k buffers — and the SAME BITS in every buffer, or the replicas
// drift apart after the optimizer step.
//
// Write it as NCCL and MPI do between machines, a ring:
//   cut the n floats into k chunks (the last ones may be short, or empty);
//   reduce-scatter, k-1 steps: at step s, thread r adds chunk (r - s - 1) mod k
//     of its left neighbour's buffer (r - 1) into its own; after the last step
//     thread r holds the full sum of chunk (r + 1) mod k;
//   all-gather, k-1 steps: at step s, thread r copies chunk (r - s) mod k from
//     its left neighbour — the finished sums travel round the ring.
// Between two steps every thread must finish the step (barrier.arrive_and_wait(),
// called the same number of times by every thread): in a real ring that wait
// is the message from the neighbour. Why are the bits the same everywhere
// although each chunk was added in a different order?
//
// Read first: docs/walkthrough.md, stops 9 and 16; docs/distributed.md.
// Test: make lab 3
#include <minidp/minidp.h>

namespace minidp::parallel {

void allreduce_sum_cpu(int rank, const std::vector<float*>& buffers, std::int64_t n, AbortableBarrier& barrier) {
  (void)rank;
  (void)buffers;
  (void)n;
  (void)barrier;
  throw Error("lab 3 is yours to write: in labs/3-ring/exercise.cpp, sum the buffers with a ring: k-1 "
              "reduce-scatter steps, then k-1 all-gather steps, a barrier between steps");
}

}  // namespace minidp::parallel
