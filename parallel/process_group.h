// minidp/parallel/process_group.h — the processes of one training job.
//
// Data parallelism across machines runs one process per device, all started
// by one launcher — `mpirun -np 4 ./train_mlp --ddp`, or
// `mpirun -H node1:8,node2:8 ...` across nodes. Open MPI starts them, tells
// each its rank, and carries the collectives between CPU processes and the
// set-up of NCCL between GPUs. ProcessGroup::world() is this job as the
// program sees it:
//
//   auto& world = parallel::ProcessGroup::world();   // MPI_Init_thread on first use
//   if (world.rank() == 0) std::printf("%d processes\n", world.size());
//   std::vector<std::int64_t> counts = {correct, seen};
//   world.allreduce_sum(counts);                     // summed over every process
//
// Without MPI in the build, or a program started without mpirun, it is a world
// of one process, and everything below is the identity: the same program runs
// either way.
//
// The host program owns MPI. If it initialised MPI itself, minidp uses that
// (it needs MPI_THREAD_MULTIPLE, checked with MPI_Query_thread, and says so
// if it is missing) and leaves finalising to it; otherwise minidp initialises
// MPI on first use and finalises it at exit. Either way minidp talks only
// through duplicates of the world communicator (MPI_Comm_dup: one here, one
// per communication thread), with its own error handler on them: the host's
// MPI_COMM_WORLD, its error handler and its own collectives are untouched.
//
// The host-side collectives here carry counts and flags (metrics, the end of
// the data, traces) — a few numbers, not tensors. Tensors go through a
// Communicator (parallel/communicator.h; make_process_communicator below).
// Like every collective, each must be called by every rank, in the same order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "minidp/core/device.h"
#include "minidp/parallel/communicator.h"
#include "minidp/parallel/fatal.h"

namespace minidp::parallel {

class ProcessGroup {
 public:
  // The job of this process (made on first use; MPI is finalized at exit).
  static ProcessGroup& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // among the processes on this node
  int local_size() const { return local_size_; }
  bool distributed() const { return size_ > 1; }
  bool mpi() const { return mpi_; }  // false: a world of one, without MPI

  // Host-side collectives (every rank, same order).
  void allreduce_sum(std::vector<double>& values);
  void allreduce_sum(std::vector<std::int64_t>& values);
  void allreduce_max(std::vector<double>& values);
  // Every rank's string, on `root` (empty elsewhere), in rank order.
  std::vector<std::string> gather(const std::string& mine, int root = 0);
  // Every rank's string, on every rank, in rank order.
  std::vector<std::string> allgather(const std::string& mine);
  void broadcast(std::string& value, int root = 0);
  void barrier();

  // The first k ranks of this group as a group of their own (ranks 0..k-1,
  // in the same order), for running the same work on fewer processes in one
  // job — the scaling study's 1, 2, ... N processes. A collective of this
  // group: every rank calls it; the ranks from k on get nullptr (and usually
  // wait for the others at a barrier of this group).
  std::unique_ptr<ProcessGroup> first(int k);

  // Ends the whole job: calls the fatal handler (parallel/fatal.h) with
  // "minidp rank R of N: <what>"; the default prints it and calls MPI_Abort,
  // so that no rank is left waiting in a collective for one that failed. If a
  // host's handler returns, raises minidp::Error with the message.
  [[noreturn]] void abort(const std::string& what, int code = 1);

  // The device a rank drives by default: cuda:(local rank mod GPUs) when the
  // node has GPUs, else the CPU.
  Device default_device() const;

  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;
  ~ProcessGroup();

 private:
  ProcessGroup();
  struct Part {};
  explicit ProcessGroup(Part);  // a group made by first(): filled in there
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool mpi_ = false;
  struct Mpi;                  // this group's own communicator (process_group_mpi.h)
  std::unique_ptr<Mpi> comm_;
  friend class MpiCommunicator;  // sums over this group's processes on a duplicate of its communicator
};

// A Communicator over the processes of `world`, for this rank's tensors on
// `device`: "nccl" (GPUs, one process per GPU; ncclCommInitRank with the id
// sent by MPI), "mpi" (CPU tensors directly, GPU tensors staged through host
// memory — how processes that share one GPU sum, since NCCL refuses two ranks
// on one GPU), or "auto" (NCCL for a GPU when every rank has its own GPU and
// NCCL is built, MPI otherwise). The rank argument of its collectives is
// world.rank(). `world` may be a part of the job (ProcessGroup::first); it
// must outlive the communicator.
std::unique_ptr<Communicator> make_process_communicator(ProcessGroup& world, const Device& device,
                                                         const std::string& kind = "auto", double timeout_s = 60.0);

}  // namespace minidp::parallel
