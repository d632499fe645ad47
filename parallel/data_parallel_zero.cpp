// minidp/parallel/data_parallel_zero.cpp — what DataParallel does differently
// under ZeRO-1 (parallel/zero.h), and what needs the whole gradient: the
// optimizer of a replica, the clipping norm and the non-finite check.
#include <cmath>

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"
#include "minidp/parallel/data_parallel.h"
#include "minidp/parallel/process_group.h"
#include "minidp/parallel/zero.h"

namespace minidp::parallel {

std::unique_ptr<nn::Optimizer> DataParallel::make_replica_optimizer(int rank, const OptimizerFactory& make_optimizer) {
  nn::Module& m = *modules_[rank];
  if (opts_.zero_stage == 0) return make_optimizer(m.parameters());
  MINIDP_CHECK(opts_.zero_stage == 1, "ZeRO: stage ", opts_.zero_stage, " is not supported; expected 0 (off) or 1 ",
               "(the optimizer state sharded)");
  MINIDP_CHECK(world_ != nullptr, "ZeRO-1 shards the optimizer state across the processes of ",
               "DistributedDataParallel; DataParallel in one process holds one copy of the state per replica by design");
  MINIDP_CHECK(replicas_[rank].device.is_cpu(), "ZeRO-1 runs on CPU ranks for now, not on ",
               replicas_[rank].device.str(), " (the NCCL path comes later)");
  MINIDP_CHECK(comm_->name() == "MPI" || world_->size() == 1, "ZeRO-1 runs over MPI for now, not over ",
               comm_->name(), " (DistributedOptions::comm = \"mpi\", --comm mpi)");
  MINIDP_CHECK(!opts_.sync_batchnorm, "ZeRO-1 with synchronized BatchNorm is not supported yet");
  zero_ = std::make_shared<ZeroShards>(m, *buckets_[rank], world_->rank(), world_->size());
  std::unique_ptr<nn::Optimizer> inner = make_optimizer(zero_->shard_params());
  return std::make_unique<ShardedOptimizer>(m.parameters(), zero_, std::move(inner), *comm_, opts_.comm_timeout_s);
}

bool DataParallel::gradients_finite(int rank) {
  // One number that is finite exactly when every gradient and the loss are:
  // the sum of each value times zero — 0 for a finite value, NaN for NaN or
  // inf (a sum of squares would also overflow on large finite values).
  NoGradGuard ng;
  GradientBuckets& grads = *buckets_[rank];
  Tensor total = sum(mul(grads.tail().narrow(0, 0, 1), 0.0));
  for (const Tensor& g : zero_ ? zero_->shard_grads() : grads.buckets()) total = add(total, sum(mul(g, 0.0)));
  if (zero_) {  // each rank saw its chunks: NaN on any rank makes the sum NaN on every rank
    Tensor flag = total.reshape({1}).contiguous();
    comm_->allreduce_sum(comm_rank(rank), flag);
    total = flag;
  }
  return std::isfinite(total.item());
}

Tensor DataParallel::clip_grad_norm(double max_norm) {
  MINIDP_CHECK(open_ && open_phase_ == 2, "DataParallel::clip_grad_norm: call it between reduce_gradients() and ",
               "optimizer_step(), on the summed gradients");
  MINIDP_CHECK(max_norm >= 0.0 && std::isfinite(max_norm), "clip_grad_norm: max_norm must be finite and >= 0, got ",
               max_norm);
  if (world_ == nullptr) {  // every replica holds every summed gradient
    Tensor norm;
    for (int r = size() - 1; r >= 0; --r) norm = nn::clip_grad_norm(modules_[r]->parameters(), max_norm);
    return norm;
  }
  NoGradGuard ng;
  GradientBuckets& g = *buckets_[0];
  const int n = world_->size(), me = world_->rank();
  // Chunk r's sum of squares: over the buckets in order, chunk r of each.
  auto chunk_squares = [&](int r) {
    Tensor acc = zeros({1}, g.tail().options());
    for (int b = 0; b < g.num_buckets(); ++b) {
      const Chunk c = chunk_of(g.bucket(b).numel(), n, r);
      if (c.length == 0) continue;
      const Tensor x = g.bucket(b).narrow(0, c.offset, c.length);
      acc = add(acc, sum(mul(x, x)));
    }
    return acc;
  };
  Tensor partial;  // [n]: each chunk's sum of squares
  if (zero_) {     // this rank knows its own chunk's; the others' come from them
    partial = zeros({n}, g.tail().options());
    partial.narrow(0, me, 1).copy_(chunk_squares(me));
    comm_->allgather_chunks_async(me, partial)->wait(opts_.comm_timeout_s, "the gather of the gradient norm");
  } else {
    std::vector<Tensor> parts;
    for (int r = 0; r < n; ++r) parts.push_back(chunk_squares(r));
    partial = cat(parts, 0);
  }
  Tensor norm = sqrt(sum(partial));
  Tensor coef = clamp(div(full({}, max_norm, norm.options()), add(norm, 1e-6)), std::nullopt, 1.0);
  for (Tensor t : zero_ ? zero_->shard_grads() : g.buckets()) t.mul_(coef);
  return norm;
}

}  // namespace minidp::parallel
