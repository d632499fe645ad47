// minidp/parallel/communicator.h — collectives between replicas.
//
// Every rank calls the same collectives in the same order, each from its own
// host thread (a replica of DataParallel) or its own process (a rank of
// DistributedDataParallel), passing its rank and its own tensor. The call
// returns when the collective is done for that rank — or, for
// allreduce_sum_async, at once, with something to wait on later: that is how
// the gradients of one bucket are summed while backward computes the next.
//
// Implementations:
//   InProcessCommunicator  replicas in one process that share a device (the
//                          CPU, or one GPU: NCCL refuses two ranks on one GPU).
//                          Deterministic: every element is summed in rank order.
//                          On a GPU the ranks' streams are ordered with events:
//                          the host threads meet at a barrier to swap pointers,
//                          but no host thread waits for the GPU.
//   NcclCommunicator       one rank per GPU, in one process or one process
//                          per GPU, NCCL (parallel/nccl_communicator.h).
//   MpiCommunicator        one rank per process, MPI (parallel/mpi_communicator.h).
//
//   comm->allreduce_sum(rank, grads);   // grads now hold the sum over replicas
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "minidp/core/stream.h"
#include "minidp/core/tensor.h"

namespace minidp::parallel {

// What a rank waiting in a collective raises when another rank has failed and
// aborted it: a knock-on failure, not the cause. WorkerPool reports the cause
// (the other rank's error) and keeps this one only if there is nothing else.
class CollectiveAborted : public Error {
 public:
  explicit CollectiveAborted(const std::string& why) : Error("collective aborted: " + why) {}
};

// A collective started by allreduce_sum_async, still running.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  // Waits for the result: the caller's current stream waits (a GPU tensor:
  // the host goes on) or the host waits (a CPU tensor). Waiting longer than
  // `timeout_s` means another rank is dead or stuck: the job is ended
  // (ProcessGroup::abort), naming this rank and `what` it waited for.
  virtual void wait(double timeout_s, const std::string& what) = 0;
  // Seconds the communication itself took, once waited for (NaN when the
  // communicator cannot tell without making the host wait).
  virtual double seconds() const;
  // When it ran, on the host's steady clock (seconds since its epoch), once
  // waited for: what a trace draws. {NaN, NaN} when unknown.
  virtual std::pair<double, double> host_span() const;
};

// The part of a tensor of n elements that rank `rank` of `size` owns in a
// reduce-scatter: consecutive elements [offset, offset + length), ceil(n / size)
// of them per rank, the last ranks' short or empty. The MPI sum is a
// reduce-scatter of these chunks followed by an allgather of them, and ZeRO-1
// gives each rank the optimizer state of its chunk of every bucket.
struct Chunk {
  std::int64_t offset = 0, length = 0;
};
Chunk chunk_of(std::int64_t n, int size, int rank);

// A collective that was done when it was started: it took `seconds`, ending now.
std::unique_ptr<PendingCollective> finished_collective(double seconds = 0.0);
// The host's steady clock in seconds (the clock of host_span and of CPU events).
double steady_seconds();

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int size() const = 0;
  virtual std::string name() const = 0;
  // t = sum over ranks of t (in place; same shape, dtype on every rank).
  virtual void allreduce_sum(int rank, Tensor& t) = 0;
  // The same, started in the background where the communicator can (NCCL: on
  // its communication stream; MPI: on its communication thread); `t` must not
  // be touched until wait(). The default sums at once (nothing to overlap).
  virtual std::unique_ptr<PendingCollective> allreduce_sum_async(int rank, Tensor& t);
  // The two halves of a sum, for ZeRO-1 (parallel/zero.h). reduce-scatter:
  // rank r's chunk of t (chunk_of(t.numel(), size(), r)) becomes the sum over
  // ranks of that chunk, the same bits allreduce_sum gives it; the rest of t
  // is left as it was. allgather of chunks: every rank's chunk of t, as that
  // rank holds it, lands in every rank's t. Both started in the background as
  // allreduce_sum_async. Only MpiCommunicator has them; the others raise.
  virtual std::unique_ptr<PendingCollective> reduce_scatter_sum_async(int rank, Tensor& t);
  virtual std::unique_ptr<PendingCollective> allgather_chunks_async(int rank, Tensor& t);
  // Bytes this rank has handed to the others so far, counted as a bandwidth-
  // optimal (ring) algorithm moves them: (size - 1) chunks for a reduce-scatter
  // or an allgather, twice that for a sum; a broadcast counts its bytes once,
  // on the root. 0 where the communicator does not count (only MPI counts).
  virtual std::uint64_t bytes_sent() const { return 0; }
  // t = root's t on every rank.
  virtual void broadcast(int rank, Tensor& t, int root) = 0;
  // out = concatenation along dim 0 of every rank's `in` (same shape on all ranks).
  virtual void allgather(int rank, const Tensor& in, Tensor& out) = 0;
  virtual void barrier(int rank) = 0;
  // Called by a rank that failed: every rank waiting in a collective raises
  // minidp::Error instead of waiting forever for it.
  virtual void abort(const std::string& why) = 0;
};

// A reusable barrier that can be broken by abort() (std::barrier cannot):
// every thread waiting in it, and every later arrival, raises CollectiveAborted.
class AbortableBarrier {
 public:
  explicit AbortableBarrier(int n) : n_(n) {}
  void arrive_and_wait();
  void abort(const std::string& why);
  void reset();  // clear an abort (between steps)

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_, waiting_ = 0;
  std::uint64_t generation_ = 0;
  bool aborted_ = false;
  std::string why_;
};

class InProcessCommunicator : public Communicator {
 public:
  explicit InProcessCommunicator(int size);
  int size() const override { return size_; }
  std::string name() const override { return "in-process"; }
  void allreduce_sum(int rank, Tensor& t) override;
  void broadcast(int rank, Tensor& t, int root) override;
  void allgather(int rank, const Tensor& in, Tensor& out) override;
  void barrier(int /*rank*/) override { barrier_.arrive_and_wait(); }
  void abort(const std::string& why) override { barrier_.abort(why); }
  void reset() { barrier_.reset(); }

 private:
  void publish(int rank, const Tensor& t);
  int size_;
  AbortableBarrier barrier_;
  std::vector<Tensor> slots_;  // each rank's tensor for the collective in flight
  // Per rank, recorded on its stream: ready_[r] when r's tensor holds its
  // input (before publishing), done_[r] when r's part of the collective has
  // been queued. Another rank's stream waits on them; the host never does.
  std::vector<Event> ready_, done_;
};

// The in-process sum of float tensors on the CPU, run by each of the
// buffers.size() threads of a collective after every one has published its
// buffer (n floats each): on return from the last barrier, every buffer holds
// the element-wise sum over all buffers — the same bits in every buffer. The
// threads may meet at `barrier` (every rank the same number of times).
// minidp's own (parallel/cpu_allreduce.cpp): thread r sums chunk r of every
// buffer in rank order and writes it into all of them. (lab 3: a ring.)
void allreduce_sum_cpu(int rank, const std::vector<float*>& buffers, std::int64_t n, AbortableBarrier& barrier);

// The communicator that fits a replica list: NCCL when every replica has a GPU
// of its own, in-process when all share one device.
std::unique_ptr<Communicator> make_communicator(const std::vector<Device>& devices);

}  // namespace minidp::parallel
