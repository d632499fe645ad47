// minidp/parallel/data_parallel.h — one process, many replicas: DataParallel.
//
// What one training step does (train_step):
//   1. the global batch of B samples is cut into shards, as evenly as possible
//      (views: no copy), and each replica copies its shard to its device;
//   2. every replica — on its own host thread and stream — runs forward and
//      backward on its shard with a loss that is the SUM over its samples;
//   3. the replicas' gradients, in buckets (parallel/gradient_buckets.h, with
//      the loss sum and the sample count in a tail), are summed by the
//      communicator and divided by B, the GLOBAL sample count;
//   4. every replica runs the same optimizer step on the same gradients.
// The host queues all of it and returns: it never waits for a device inside
// a step (no item(), no synchronize), so replicas sharing a GPU overlap and
// the next step is queued while this one runs. The result says when it is done.
// So k replicas compute the gradient one device computes on the whole batch,
// for any B (also B not divisible by k, or B < k: an empty replica joins the
// sum with zeros), and the replicas stay bitwise identical step after step.
//
// Replicas are made once: the model itself becomes replica 0 (moved to its
// device); the others are deep copies, and every parameter and buffer is then
// broadcast from replica 0. BatchNorm keeps local (per-shard) batch
// statistics; its running statistics are broadcast from replica 0 before each
// step, as PyTorch's DistributedDataParallel does by default.
//
//   auto dp = parallel::DataParallel(model, parallel::parse_replicas("cpu,cpu"),
//       [](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.05}); });
//   auto r = dp.train_step(images, labels, parallel::cross_entropy_sum);
//   std::printf("loss %.4f on %lld samples\n", r.loss(), (long long)r.samples);  // waits for the step
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "minidp/core/stream.h"
#include "minidp/nn/layers.h"
#include "minidp/nn/module.h"
#include "minidp/nn/optim/optimizer.h"
#include "minidp/parallel/communicator.h"
#include "minidp/parallel/gradient_buckets.h"
#include "minidp/parallel/replica.h"
#include "minidp/parallel/step_result.h"
#include "minidp/parallel/worker_pool.h"

namespace minidp::parallel {

// Loss of a shard as the SUM over its samples (a scalar tensor).
using LossSumFn = std::function<Tensor(const Tensor& output, const Tensor& labels)>;
using OptimizerFactory = std::function<std::unique_ptr<nn::Optimizer>(std::vector<Tensor> params)>;

// cross_entropy with reduction "sum": the default loss of classification.
Tensor cross_entropy_sum(const Tensor& logits, const Tensor& labels);

struct DataParallelOptions {
  bool broadcast_buffers = true;   // buffers (BatchNorm running stats) from replica 0 before each step
  bool check_identical = false;    // debug: hash every replica's parameters after each step
  bool sync_batchnorm = false;     // BatchNorm statistics over all replicas (parallel/sync_batchnorm.h)
  // Gradient buckets (parallel/gradient_buckets.h): a small first one, so the
  // sum starts early in backward, then buckets of up to bucket_bytes.
  std::size_t first_bucket_bytes = std::size_t(1) << 20;
  std::size_t bucket_bytes = std::size_t(25) << 20;
  // A rank that waits longer than this for a collective ends the job (across processes).
  double comm_timeout_s = 60.0;
  // Skip the optimizer step when the summed gradients or the loss are not
  // finite (NaN or inf), as mixed-precision trainers do with an overflowed
  // step: the weights and the optimizer state stay as they were, and
  // StepResult::skipped says so. Every replica (and every process) sees the
  // same summed gradients, so all of them skip together. The decision comes
  // before the optimizer, so on a GPU it costs a host read per step; off by
  // default (training loops then find a non-finite loss when they read it:
  // metrics::TrainingRecorder::check_finite).
  bool skip_nonfinite = false;
  // Replay each step as a CUDA graph (docs/parallel.md, "Captured steps"):
  // after warm-up steps of a batch shape run eagerly, the whole step of the
  // GPU replicas — forward, backward, the gradient sum, the division and the
  // optimizer — is captured once per shape and then replayed with one launch;
  // the batch is first copied into input buffers the graph reads. Only where
  // every replica shares one GPU (in-process sums), with SGD, and without
  // options or layers that need the host mid-step (skip_nonfinite,
  // check_identical, sync_batchnorm, Dropout): otherwise the step runs
  // eagerly, said once on stderr. Off by default.
  bool cuda_graph = false;
  int cuda_graph_warmup = 2;  // eager steps of a shape before it is captured (lazy set-up happens in them; at least 1)
  // ZeRO stage (parallel/zero.h): 0, every rank holds the whole optimizer
  // state; 1, each of the N ranks holds 1/N of it — gradients reduce-scattered,
  // each rank updates its chunks, the weights all-gathered — with the same
  // bits. DistributedDataParallel over MPI on CPU ranks; DataParallel in one
  // process refuses it.
  int zero_stage = 0;
};

class ProcessGroup;
class ZeroShards;

class DataParallel {
 public:
  // At most 64 replicas in one process: each is a whole copy of the model
  // (its parameters, gradients and optimizer state) with its own thread, and a
  // machine has far fewer devices than that. More devices: one process each (--ddp).
  static constexpr int kMaxReplicas = 64;

  DataParallel(nn::ModulePtr model, std::vector<Replica> replicas, const OptimizerFactory& make_optimizer,
               DataParallelOptions opts = {});
  virtual ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // One data-parallel training step on a global batch (on a rank of
  // DistributedDataParallel: on this process's part of it).
  StepResult train_step(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn = cross_entropy_sum);
  // Gradient accumulation (PyTorch's no_sync): forward and backward on a
  // micro-batch, gradients accumulated locally, nothing communicated. The next
  // train_step adds its own micro-batch, sums once across replicas and divides
  // by the samples of all micro-batches: k micro-batches of b give the
  // gradient of one batch of k·b.
  void accumulate(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn = cross_entropy_sum);

  // The step opened: train_step is these three calls in one, and gives the
  // same bits. Between them a loop may look at or change the gradients — clip
  // them (nn::clip_grad_norm on module(r)->parameters() of every replica),
  // combine losses — as llm.c's loop does in main():
  //   dp.forward_backward(x, y);   // every replica: forward, the SUM loss, backward
  //   dp.reduce_gradients();       // summed across replicas (and processes), divided by the global count
  //   for (int r = 0; r < dp.size(); ++r) nn::clip_grad_norm(dp.module(r)->parameters(), 1.0);
  //   auto result = dp.optimizer_step();  // the same step on every replica; the step's result
  // Out of order (a second forward_backward before optimizer_step, a
  // train_step while a step is open) is a minidp::Error.
  void forward_backward(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn = cross_entropy_sum);
  void reduce_gradients();
  StepResult optimizer_step();
  // Between reduce_gradients() and optimizer_step(): scales the summed
  // gradients so that their global L2 norm is at most max_norm, as
  // nn::clip_grad_norm, and returns the norm (a one-element tensor on the
  // device). Across processes the norm is summed chunk by chunk — each
  // chunk_of the buckets its sum of squares, then those N sums in rank order —
  // which ZeRO-1 can do from its chunks alone: the same bits with and without
  // ZeRO-1 (like the gradient sum, they may differ in the last bits for
  // another number of processes). Across processes every rank calls it (under
  // ZeRO-1 it is a collective). In one process: nn::clip_grad_norm on every replica.
  Tensor clip_grad_norm(double max_norm);

  // Sharded evaluation of one batch: each replica runs its shard through its
  // module (eval mode, no gradients) and `fn(replica, outputs, labels)` is
  // called on that replica's thread. Every sample is seen exactly once.
  // Returns the number of samples each replica evaluated.
  std::vector<std::int64_t> evaluate_batch(const Tensor& inputs, const Tensor& labels,
                                           const std::function<void(int, const Tensor&, const Tensor&)>& fn);

  int size() const { return static_cast<int>(replicas_.size()); }  // replicas in this process
  // CPU threads each replica's ops may use: the CPU's budget divided among the replicas.
  int cpu_threads_per_replica() const { return WorkerPool::threads_per_worker(size()); }
  const Replica& replica(int rank) const { return replicas_.at(rank); }
  // Replica `rank`'s module. Under ZeRO-1 its parameters' .grad hold the
  // global mean only in this rank's chunks (the rest: its own local sums);
  // use clip_grad_norm() rather than nn::clip_grad_norm on them.
  // Its parameters are written by the replica's own
  // stream; every step leaves the caller's current stream ordered after it,
  // and orders the next step after the caller's stream, so reading a weight
  // (a copy to the host) or loading new ones between steps is safe, as in
  // PyTorch. Work on another stream of the caller's waits with an event.
  nn::ModulePtr module(int rank = 0) const { return modules_.at(rank); }
  // Replica `rank`'s optimizer. Under ZeRO-1, a parallel::ShardedOptimizer
  // over this rank's chunks (parallel/zero.h): its state is sharded, so save
  // a run with parallel::save_training_state, which gathers it.
  nn::Optimizer& optimizer(int rank = 0) { return *optimizers_.at(rank); }
  const nn::Optimizer& optimizer(int rank = 0) const { return *optimizers_.at(rank); }
  int zero_stage() const { return opts_.zero_stage; }
  const Communicator& communicator() const { return *comm_; }
  // The processes this model spans: null for one process (DataParallel);
  // the job's ProcessGroup for DistributedDataParallel.
  ProcessGroup* process_group() const { return world_; }
  // The replica's gradients after the last step (summed over replicas and
  // processes, divided by the global sample count), in parameter order (a copy).
  // Under ZeRO-1 only this rank's chunks hold the sum; the rest its own gradient.
  Tensor flat_grad(int rank) const { return buckets_.at(rank)->flat_copy(); }
  const GradientBuckets& buckets(int rank = 0) const { return *buckets_.at(rank); }

  // FNV-1a hash of a replica's parameters (bytes on the host). Buffers are
  // left out: with local BatchNorm they differ until the next broadcast.
  std::uint64_t parameter_hash(int rank) const;
  bool replicas_identical() const;

  // CUDA graphs (DataParallelOptions::cuda_graph): steps replayed so far,
  // shapes captured so far (each capture counts once), and graphs held now.
  std::int64_t graph_replays() const;
  std::int64_t graph_captures() const;
  int graphs_held() const;
  // A graph holds the addresses of the parameters, gradients and optimizer
  // state it was captured with, and the learning rates and TF32 mode of that
  // moment. It is dropped and captured again by itself when any of them
  // changed (nn::state_version: load_state_dict, load_state_tensors, to(), a
  // new parameter); drop_graphs() frees every graph at once.
  void drop_graphs();

  // Test-only: switch off the event ordering between the caller's stream and
  // the replica streams (fence_caller), to show on a GPU what it prevents.
  // Never in real code.
  void set_caller_fence_for_testing(bool on) { fence_caller_ = on; }

 protected:
  // For DistributedDataParallel: one replica, whose sums go through `comm`
  // across the processes of `world` (comm rank = world rank), in buckets
  // launched from the autograd hooks while backward runs.
  DataParallel(nn::ModulePtr model, Replica replica, const OptimizerFactory& make_optimizer,
               DataParallelOptions opts, ProcessGroup& world, std::unique_ptr<Communicator> comm);

 private:
  void setup(nn::ModulePtr model, const OptimizerFactory& make_optimizer);
  // Replica `rank`'s optimizer: make_optimizer(its parameters), or under ZeRO-1
  // a ShardedOptimizer over its chunks (data_parallel_zero.cpp).
  std::unique_ptr<nn::Optimizer> make_replica_optimizer(int rank, const OptimizerFactory& make_optimizer);
  // skip_nonfinite's test: true when every summed gradient and the loss are
  // finite (under ZeRO-1, each rank's chunks, then agreed across ranks).
  bool gradients_finite(int rank);
  // forward + backward on every replica; with `reduce`, then the sums, the division and the optimizer.
  StepResult run_step(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn, bool reduce,
                      bool stop_after_backward = false);
  // One replica's part of a step on its shard (x, y on its device, on its
  // thread and stream): forward, backward, and with `reduce` the sums, the
  // division and the optimizer. Returns the shard's loss sum (undefined for an
  // empty shard). Shared by the eager step and the capture of a graph.
  // `hooks`: backward launches full buckets across processes (a reducing step).
  Tensor replica_step(int rank, const Tensor& x, const Tensor& y, std::int64_t batch, const LossSumFn& loss_fn,
                      bool reduce, bool fresh, ReplicaStepStats& st, detail::StepEvents* ev, bool hooks);
  // The two halves of what follows backward on replica `rank`'s thread. `ev`
  // is null inside a capture: timing events are recorded around the replay instead.
  void reduce_gradients(int rank, ReplicaStepStats& st, detail::StepEvents* ev);
  // reduce_gradients' parts: where the sums happen (one process, or across
  // processes), then what both share: waiting for them (then divide_by_global_count).
  std::vector<std::unique_ptr<PendingCollective>> sum_in_process(int rank);
  std::vector<std::unique_ptr<PendingCollective>> sum_across_processes(int rank);
  void wait_for_sums(std::vector<std::unique_ptr<PendingCollective>>& pending, ReplicaStepStats& st);
  void step_optimizer(int rank, ReplicaStepStats& st, detail::StepEvents* ev);
  void finish_replica(int rank, StepResult& result);
  void finish_step(StepResult& result, bool reduce);
  // The captured step (data_parallel_graph.cpp): true
  // when it ran the step as a graph, false when the caller must run it eagerly.
  struct StepGraphs;
  bool graph_step(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn, StepResult& result);
  bool graph_eligible(const Tensor& inputs, const Tensor& labels);
  void note_once(const std::string& why);
  // Orders the replica streams after the caller's stream (a batch or
  // parameters written there), and the caller's stream after the step
  // (data_parallel_events.cpp).
  void fence_caller(const Tensor& inputs, const Tensor& labels);
  void record_caller();
  void wait_for_caller(const Stream& s);
  Event& caller_event(const Device& d);
  void release_to_caller(detail::StepEvents& ev);
  void phase_to_caller();  // between the phases of an open step
  void on_gradient_ready(int param);  // autograd hook (distributed: launches full buckets)
  void launch_ready_buckets(int rank);
  int comm_rank(int rank) const;      // the rank this replica has in comm_
  // Called on the replica's thread: buffers (BatchNorm statistics) from replica 0.
  void broadcast_buffers(int rank);
  std::shared_ptr<detail::StepEvents> take_events();

  std::vector<Replica> replicas_;
  std::vector<nn::ModulePtr> modules_;
  std::vector<std::unique_ptr<nn::Optimizer>> optimizers_;
  std::vector<std::unique_ptr<GradientBuckets>> buckets_;  // per replica
  std::int64_t current_batch_ = 0;                   // global batch of the step in flight (synchronized BatchNorm)
  bool accumulated_ = false;                         // an accumulate() since the last train_step
  bool seeded_mean_ = false;                         // this step's backward starts from 1/batch (run_step)
  std::unique_ptr<StepResult> open_;                 // a step opened by forward_backward, not yet finished
  int open_phase_ = 0;                               // 1: after forward_backward, 2: after reduce_gradients
  std::vector<std::vector<nn::Dropout*>> dropouts_;  // per replica, in module order
  struct EventPool;
  std::shared_ptr<EventPool> event_pool_;            // reused StepEvents (results may outlive a step)
  std::vector<bool> own_stream_;                     // streams this object created
  std::unique_ptr<Communicator> comm_;
  std::shared_ptr<ZeroShards> zero_;  // ZeRO-1: this rank's chunks (null without)
  ProcessGroup* world_ = nullptr;
  DataParallelOptions opts_;
  std::unique_ptr<WorkerPool> pool_;
  struct StepGraphsDeleter {  // StepGraphs is complete only in data_parallel_graph.cpp
    void operator()(StepGraphs* g) const;
  };
  static std::unique_ptr<StepGraphs, StepGraphsDeleter> make_graphs(int replicas);
  std::unique_ptr<StepGraphs, StepGraphsDeleter> graphs_;  // captured steps, per batch shape (cuda_graph)
  std::vector<Device> fence_devices_;  // devices of this step's replicas and batch (not the host)
  std::vector<bool> fence_batch_device_;  // per fence device: the batch is on it
  std::vector<Event> phase_done_;         // per replica: the end of an open step's phase
  std::deque<std::pair<Device, Event>> caller_events_;  // per device: the caller's stream when the step began
  bool fence_caller_ = true;
  // Buckets launched from backward's hooks (distributed: one replica).
  struct Overlap {
    bool active = false;                 // inside the backward of a reducing step
    std::vector<int> waiting;            // per bucket: gradients not yet complete
    int next = 0;                        // the first bucket not launched (launches go in order)
    std::vector<std::unique_ptr<PendingCollective>> launched;
  } overlap_;
};

}  // namespace minidp::parallel
