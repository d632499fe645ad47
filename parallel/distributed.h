// minidp/parallel/distributed.h — one process per device: DistributedDataParallel
// and the sampler that gives each process its part of every batch.
//
// Launched by `mpirun -np N ./program` (one node) or `mpirun -H a:8,b:8 ...`
// (several), every process builds the same model, wraps it, and loads its own
// part of each global batch. The rules are DataParallel's: each process's
// loss is the SUM over its samples; the gradients are summed across
// processes and divided by the GLOBAL sample count — which travels with the
// gradients — so N processes compute the gradient one process computes on the
// whole batch, for any batch size. What is new is *when* the sums happen:
// autograd hooks mark each gradient complete, and a full bucket
// (parallel/gradient_buckets.h) is summed at once, on a communication thread
// (MPI) or stream (NCCL), while backward computes the layers before it.
//
//   auto& world = parallel::ProcessGroup::world();
//   parallel::DistributedDataParallel dp(model, make_sgd);           // device: cuda:(local rank) or the CPU
//   nn::data::DataLoader loader(train, parallel::DistributedSampler(world).apply(opts));
//   for (auto& b : loader) dp.train_step(b.inputs, b.labels);        // b: this process's part
#pragma once

#include <optional>
#include <string>

#include "minidp/nn/data/loader.h"
#include "minidp/parallel/data_parallel.h"
#include "minidp/parallel/process_group.h"

namespace minidp::parallel {

struct DistributedOptions : DataParallelOptions {
  std::string comm = "auto";  // mpi | nccl | auto (NCCL for GPUs that each have a process of their own)
};

class DistributedDataParallel : public DataParallel {
 public:
  // `device`: this process's device (default: world.default_device(), the
  // local rank's GPU or the CPU).
  DistributedDataParallel(nn::ModulePtr model, const OptimizerFactory& make_optimizer, DistributedOptions opts = {},
                          ProcessGroup& world = ProcessGroup::world(), std::optional<Device> device = std::nullopt);
  ProcessGroup& world() const { return *process_group(); }
};

// Each process's part of every global batch: consecutive rows, as even as
// possible, the same rule as DataParallel's shards — so N processes see
// exactly the batches one process sees, with no sample padded or repeated.
// (PyTorch's DistributedSampler pads the data set with repeated samples so
// that every rank gets the same count; an evaluation then counts those
// samples twice.)
class DistributedSampler {
 public:
  explicit DistributedSampler(const ProcessGroup& world) : rank_(world.rank()), size_(world.size()) {}
  DistributedSampler(int rank, int size) : rank_(rank), size_(size) {}
  // The same options, loading this process's part (batch_size stays global).
  nn::data::DataLoaderOptions apply(nn::data::DataLoaderOptions o) const {
    o.part = rank_;
    o.parts = size_;
    return o;
  }

 private:
  int rank_, size_;
};

}  // namespace minidp::parallel
