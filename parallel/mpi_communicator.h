// minidp/parallel/mpi_communicator.h — collectives between processes through MPI.
//
// One rank per process (rank = the process's rank in the job). CPU tensors go
// to MPI directly; GPU tensors are staged through host memory (the host waits
// for the device: the MPI path for GPUs exists for processes that share one
// GPU, which NCCL refuses; NCCL is the fast path).
//
// The sum is the same bits on every rank, by construction: MPI_Allreduce does
// not promise that (its algorithm may add in a different order on each rank,
// which would let replicas drift apart), so allreduce_sum is a reduce-scatter
// — every element summed once, by the rank that owns its chunk — followed by
// an allgather of the sums. That is also how a ring allreduce moves its bytes,
// so it costs no extra bandwidth.
//
// The communicator works on its own duplicate of MPI_COMM_WORLD
// (MPI_Comm_dup, made when it is constructed — a collective: every rank
// constructs it at the same point), so its collectives, issued from its
// thread, never interleave with the host program's or ProcessGroup's.
//
// Every collective runs on one communication thread of the communicator: the
// asynchronous sums of gradient buckets while backward goes on, and the
// others too, so that a caller never waits on MPI directly but on that
// thread, with a timeout. A rank that waits longer than `timeout_s` (60 s by
// default) for a collective ends the job, naming itself and the collective:
// a dead or stuck peer cannot hang the others forever.
//
//   MpiCommunicator comm(world.rank(), world.size());
//   comm.allreduce_sum(world.rank(), grads);   // every process, same order
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "minidp/parallel/communicator.h"
#include "minidp/parallel/process_group.h"

namespace minidp::parallel {

class MpiCommunicator : public Communicator {
 public:
  // Over every process of the job (a duplicate of MPI_COMM_WORLD) ...
  MpiCommunicator(int rank, int size, double timeout_s = 60.0);
  // ... or over the processes of `group` (a duplicate of its communicator).
  MpiCommunicator(const ProcessGroup& group, double timeout_s = 60.0);
  ~MpiCommunicator() override;
  int size() const override { return size_; }
  std::string name() const override { return "MPI"; }
  void allreduce_sum(int rank, Tensor& t) override;
  std::unique_ptr<PendingCollective> allreduce_sum_async(int rank, Tensor& t) override;
  std::unique_ptr<PendingCollective> reduce_scatter_sum_async(int rank, Tensor& t) override;
  std::unique_ptr<PendingCollective> allgather_chunks_async(int rank, Tensor& t) override;
  std::uint64_t bytes_sent() const override { return bytes_sent_; }
  void broadcast(int rank, Tensor& t, int root) override;
  void allgather(int rank, const Tensor& in, Tensor& out) override;
  void barrier(int rank) override;
  // Ends the job through the fatal handler (parallel/fatal.h; by default
  // MPI_Abort): a rank waiting in MPI cannot be woken otherwise.
  void abort(const std::string& why) override;

 private:
  void open(const ProcessGroup* group);  // the communicator (of the world when null) and the checks
  void check(int rank, const Tensor& t, const char* op) const;
  // MINIDP_DISTRIBUTED_DEBUG=detail (parallel/agreement.h): before collective
  // `op` of `t`, every rank's (operation, root, element count, dtype) compared;
  // a mismatch raises instead of running it. On the communication thread.
  enum class Op { Sum = 1, Broadcast, Allgather, Barrier, ReduceScatter, AllgatherChunks };
  void agree_on(Op op, const Tensor& t, int root = 0);
  // The sum (Op::Sum) and its halves (Op::ReduceScatter, Op::AllgatherChunks):
  // queued by chunks_async, run on the communication thread by chunks_on_host.
  std::unique_ptr<PendingCollective> chunks_async(int rank, Tensor& t, Op op);
  void chunks_on_host(Tensor& t, bool scatter, bool gather);
  // Queues `job` on the communication thread; the returned collective completes when it has run.
  std::unique_ptr<PendingCollective> submit(std::function<void()> job, const Tensor& gpu_result);
  // Submit and wait (with the timeout); the caller's stream waits for
  // `gpu_result` written back on the device, as for an asynchronous sum.
  void run(const std::string& what, std::function<void()> job, const Tensor& gpu_result = Tensor());
  void loop();

  int rank_, size_;
  double timeout_s_;
  struct Mpi;                  // the communication thread's own duplicate of the world communicator
  std::unique_ptr<Mpi> comm_;
  std::vector<char> scratch_;  // padded buffer when a tensor does not split evenly over the ranks
  std::uint64_t collectives_ = 0;  // run so far (on the communication thread)
  std::atomic<std::uint64_t> bytes_sent_{0};  // counted when queued (bytes_sent)
  bool checks_ = false;            // collective checks, agreed by every rank when made
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
};

}  // namespace minidp::parallel
