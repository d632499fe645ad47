// minidp/parallel/zero.h — ZeRO stage 1: each of N ranks keeps the optimizer
// state of 1/N of the parameters.
//
// Under DistributedDataParallel every rank holds the whole model, its whole
// gradient and, without ZeRO, the whole optimizer state: with Adam two floats
// per parameter (8 bytes), twice the model itself, N times over in the job.
// ZeRO-1 (Rajbhandari et al. 2020; PyTorch's ZeroRedundancyOptimizer) cuts
// the state into N shards. One step, per gradient bucket:
//   1. backward fills the bucket, as in DDP;
//   2. the bucket is REDUCE-SCATTERED instead of all-reduced: rank r gets the
//      sum of its chunk only (chunk_of in parallel/communicator.h);
//   3. rank r divides its chunk by the global sample count and runs the
//      optimizer on it: the "parameters" of its optimizer are views of its
//      chunks, so momentum or Adam's moments exist for its chunks only;
//   4. the updated chunks are ALL-GATHERED into every rank's weights before
//      the next forward.
// The parameters of a bucket are made views into one flat buffer, as their
// gradients already are: a chunk may cut through a parameter, and the
// all-gather writes straight into the weights.
//
// Why the bits are DDP's. DDP's MPI sum is this very reduce-scatter followed
// by an allgather of the sums (parallel/mpi_communicator.h), so every summed
// gradient element is the same bits. The division and the optimizers (SGD,
// Adam, AdamW) are element-wise, so every updated element is the same bits
// whichever rank computes it, and the all-gather only copies. What needs the
// whole gradient is reduced across ranks: the clipping norm
// (DataParallel::clip_grad_norm, summed chunk by chunk in both modes) and the
// non-finite check (skip_nonfinite). And the bytes: DDP sends a
// reduce-scatter and an allgather of the gradients, ZeRO-1 the same
// reduce-scatter and an allgather of the parameters — the same count.
//
//   parallel::DistributedOptions o;  o.zero_stage = 1;     // --zero 1 in the examples
//   parallel::DistributedDataParallel dp(model, make_adam, o);
//   dp.train_step(x, y);                                   // the same bits as without ZeRO
//   parallel::save_training_state("run.safetensors", dp, at);   // every rank calls; rank 0 writes
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "minidp/nn/module.h"
#include "minidp/nn/optim/optimizer.h"
#include "minidp/nn/training_state.h"
#include "minidp/parallel/communicator.h"
#include "minidp/parallel/gradient_buckets.h"

namespace minidp::parallel {

class DataParallel;

// Where this rank's shard lies. Made once, by DataParallel: every parameter of
// `model` becomes a view into the flat buffer of its bucket (same layout as the
// gradient buckets), and this rank's chunk of each bucket is cut out of both.
class ZeroShards {
 public:
  ZeroShards(nn::Module& model, GradientBuckets& grads, int rank, int size);

  int rank() const { return rank_; }
  int size() const { return size_; }
  int num_buckets() const { return static_cast<int>(flat_.size()); }
  Tensor& params(int b) { return flat_.at(b); }  // bucket b's parameters, flat (the weights' memory)
  Chunk chunk(int b) const { return chunks_.at(b); }
  // This rank's chunks, bucket by bucket (empty chunks left out): leaf views
  // of the weights whose .grad is the same chunk of the gradient bucket.
  const std::vector<Tensor>& shard_params() const { return shard_params_; }
  const std::vector<Tensor>& shard_grads() const { return shard_grads_; }
  int bucket_of_shard(int k) const { return shard_bucket_.at(k); }
  // Which parameter lies where in bucket b: for checkpoints, which speak of whole parameters.
  struct Slot {
    int param;  // index into model.parameters()
    std::int64_t offset, numel;
    Shape shape;
  };
  const std::vector<Slot>& slots(int b) const { return slots_.at(b); }
  int num_parameters() const { return num_params_; }

 private:
  int rank_, size_, num_params_ = 0;
  std::vector<Tensor> flat_;
  std::vector<Chunk> chunks_;
  std::vector<std::vector<Slot>> slots_;
  std::vector<Tensor> shard_params_, shard_grads_;
  std::vector<int> shard_bucket_;
};

// The optimizer of one rank under ZeRO-1: an ordinary optimizer (`inner`,
// made by the same factory as without ZeRO) over this rank's chunks, which
// speaks to the outside as the optimizer of the whole model: params() are
// the model's parameters, lr() and set_lr() the rate of every step (a
// schedule works unchanged), kind() and hyperparameters() the inner one's.
// The factory is given flat 1-D views that may cut through parameters, so
// the optimizer must be element-wise and treat every parameter alike (SGD,
// Adam, AdamW with one set of options): a factory that groups parameters by
// shape, or a layer-wise rule (LARS, LAMB), would mean something else here.
class ShardedOptimizer : public nn::Optimizer {
 public:
  ShardedOptimizer(std::vector<Tensor> params, std::shared_ptr<ZeroShards> shards,
                   std::unique_ptr<nn::Optimizer> inner, Communicator& comm, double timeout_s);

  // The inner optimizer on this rank's chunks, then the all-gather of every
  // bucket's updated chunks into every rank's weights (the host waits for it).
  void step() override;
  std::string kind() const override { return inner_->kind(); }
  std::vector<std::pair<std::string, std::string>> hyperparameters() const override;
  // The state is sharded: no rank holds all of it. state_tensors() raises and
  // says what to call instead: gather_state() (a collective: every rank calls
  // it, one rank gets the whole state) or parallel::save_training_state.
  std::vector<std::pair<std::string, Tensor>> state_tensors() const override;
  // An ordinary checkpoint's state (per parameter, as any optimizer writes
  // it, from ZeRO-1 on any number of ranks or from none): this rank keeps
  // its chunks. Everything is checked before anything changes.
  void load_state_tensors(const std::map<std::string, Tensor>& state) override;
  // Every rank's chunks put together, on rank `root` (the others get an empty
  // list): the state an ordinary optimizer of the whole model would hold
  // ("state.<param index>.<buffer>"). A collective: every rank calls it. It
  // goes one bucket at a time, so no rank but the root ever holds more than
  // one bucket of the state beyond its own shard.
  std::vector<std::pair<std::string, Tensor>> gather_state(int root = 0) const;
  // Bytes of optimizer state this rank holds (its chunks' momentum or moments).
  std::int64_t state_bytes() const;
  const nn::Optimizer& inner() const { return *inner_; }
  const ZeroShards& shards() const { return *shards_; }
  // The all-gathers of the last step: seconds, and when they ran (for the report and the trace).
  double gather_seconds() const { return gather_seconds_; }
  const std::vector<std::pair<double, double>>& gather_spans() const { return gather_spans_; }

 private:
  void sync_inner() const;  // the rate and step count set on this object, onto the inner optimizer
  std::shared_ptr<ZeroShards> shards_;
  std::unique_ptr<nn::Optimizer> inner_;
  Communicator& comm_;
  double timeout_s_;
  double gather_seconds_ = 0;
  std::vector<std::pair<double, double>> gather_spans_;
};

// Optimizer-state bytes this process holds for `dp`: under ZeRO-1 its shard,
// otherwise the whole state of every replica it runs.
std::int64_t optimizer_state_bytes(const DataParallel& dp);

// Saves a run as nn::save_training_state does, from a DataParallel or a rank
// of DistributedDataParallel. Every process calls it (under ZeRO-1 the
// optimizer state is first gathered, a collective); rank 0 writes one
// ordinary checkpoint, which resumes on any number of ranks, with or
// without ZeRO-1 (TrainingState::load_optimizer into dp.optimizer()).
void save_training_state(const std::string& path, DataParallel& dp, const nn::TrainingProgress& progress);

}  // namespace minidp::parallel
