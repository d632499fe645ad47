// minidp/parallel/data_parallel.h — one process, many replicas: DataParallel.
//
// What one training step does (train_step):
//   1. the global batch of B samples is cut into shards, as evenly as possible
//      (views: no copy), and each replica copies its shard to its device;
//   2. every replica — on its own host thread and stream — runs forward and
//      backward on its shard with a loss that is the SUM over its samples;
//   3. the replicas' gradients, each in one flat buffer (with the loss sum as
//      its last element), are summed by the communicator and divided by B,
//      the GLOBAL sample count;
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

#include <functional>
#include <memory>
#include <vector>

#include "core/stream.h"
#include "nn/layers.h"
#include "nn/module.h"
#include "nn/optim/optimizer.h"
#include "parallel/communicator.h"
#include "parallel/replica.h"
#include "parallel/worker_pool.h"

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
};

// The phases of a training step, in order. Events recorded on each
// replica's stream at the boundaries time them: GPU time for a GPU replica,
// host time for a CPU one.
enum class Phase : int { Data, Forward, Backward, Allreduce, Optimizer };
constexpr int kNumPhases = 5;

// Seconds of each phase of one step on one replica.
struct PhaseTimes {
  double data = 0;  // shard copy to the device (and the broadcast of buffers from replica 0)
  double forward = 0, backward = 0, allreduce = 0, optimizer = 0;
  double busy() const { return data + forward + backward + optimizer; }  // excludes the allreduce (and waiting in it)
  double& operator[](Phase p);
};

struct ReplicaStepStats {
  std::int64_t samples = 0;
  Tensor loss_sum;   // this replica's summed loss, on its device (undefined for an empty shard)
  PhaseTimes time;   // valid after StepResult::wait()
};

namespace detail {
struct StepEvents;  // the phase-boundary events of one step on every replica (pooled)
}

// What train_step returns — at once, before the devices have done the work.
// Nothing in it makes the host wait until you ask for a value: the loss stays
// on the device and the phase times stay in events, so the host can queue the
// next step while the GPUs run this one. wait(), loss() and loss_sum() are
// host synchronisations: call them at a log interval, not every step.
struct StepResult {
  std::int64_t samples = 0;      // global batch size
  double wall_seconds = 0;       // host time inside train_step (on a GPU: queueing the work)
  std::vector<ReplicaStepStats> replicas;
  // The global mean loss, on replica 0's device. It is summed with the
  // gradients in the same collective (one extra element of the flat buffer),
  // so it costs no communication of its own.
  Tensor loss_mean;

  bool done() const;                     // every replica has finished the step (never waits)
  void wait();                           // the host waits for the step; fills replicas[k].time
  void stream_wait(const Stream& s) const;  // `s` waits for the step; the host does not
  double loss();                         // wait(), then the mean loss
  double loss_sum() { return loss() * static_cast<double>(samples); }

  std::shared_ptr<detail::StepEvents> events;  // set by train_step
  bool resolved = false;
};

class DataParallel {
 public:
  DataParallel(nn::ModulePtr model, std::vector<Replica> replicas, const OptimizerFactory& make_optimizer,
               DataParallelOptions opts = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // One synchronous data-parallel training step on a global batch.
  StepResult train_step(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn = cross_entropy_sum);

  // Sharded evaluation of one batch: each replica runs its shard through its
  // module (eval mode, no gradients) and `fn(replica, outputs, labels)` is
  // called on that replica's thread. Every sample is seen exactly once.
  // Returns the number of samples each replica evaluated.
  std::vector<std::int64_t> evaluate_batch(const Tensor& inputs, const Tensor& labels,
                                           const std::function<void(int, const Tensor&, const Tensor&)>& fn);

  int size() const { return static_cast<int>(replicas_.size()); }
  const Replica& replica(int rank) const { return replicas_.at(rank); }
  nn::ModulePtr module(int rank = 0) const { return modules_.at(rank); }
  nn::Optimizer& optimizer(int rank = 0) { return *optimizers_.at(rank); }
  const Communicator& communicator() const { return *comm_; }
  // The replica's gradients after the last step (summed over replicas, divided by B).
  Tensor flat_grad(int rank) const { return flat_grads_.at(rank).narrow(0, 0, num_grads_); }

  // FNV-1a hash of a replica's parameters (bytes on the host). Buffers are
  // left out: with local BatchNorm they differ until the next broadcast.
  std::uint64_t parameter_hash(int rank) const;
  bool replicas_identical() const;

 private:
  // Called on the replica's thread: buffers (BatchNorm statistics) from replica 0.
  void broadcast_buffers(int rank);
  std::vector<Replica> replicas_;
  std::vector<nn::ModulePtr> modules_;
  std::vector<std::unique_ptr<nn::Optimizer>> optimizers_;
  std::shared_ptr<detail::StepEvents> take_events();
  std::vector<Tensor> flat_grads_;                   // per replica: every gradient, then the loss (one collective)
  std::int64_t num_grads_ = 0;                       // gradient elements in a flat buffer
  std::int64_t current_batch_ = 0;                   // global batch of the step in flight (synchronized BatchNorm)
  std::vector<std::vector<nn::Dropout*>> dropouts_;  // per replica, in module order
  struct EventPool;
  std::shared_ptr<EventPool> event_pool_;            // reused StepEvents (results may outlive a step)
  std::vector<bool> own_stream_;                     // streams this object created
  std::unique_ptr<Communicator> comm_;
  DataParallelOptions opts_;
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace minidp::parallel
