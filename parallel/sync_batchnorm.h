// minidp/parallel/sync_batchnorm.h — BatchNorm whose statistics span all replicas.
//
// By default each replica normalises with the mean and variance of its own
// shard ("local" BatchNorm, as PyTorch's DataParallel/DDP). With small shards
// those statistics are noisy and k replicas no longer compute what one device
// computes on the whole batch. Synchronized BatchNorm sums, per channel, the
// sample count, the sum and the squared deviations across replicas in the
// forward pass, and the two gradient sums the backward pass needs — so k
// replicas give exactly the single-device result on the global batch.
// The global sample count is not a collective: the caller knows the global
// batch, and reading a summed count back from a GPU would make the host wait
// in the middle of the forward pass.
//
// Every replica must take part in every collective, so each needs at least
// one sample per step. DataParallel installs it with
// DataParallelOptions{.sync_batchnorm = true}.
#pragma once

#include "minidp/core/tensor.h"
#include "minidp/parallel/communicator.h"

namespace minidp::parallel {

// batch_norm() in training mode, with statistics over all ranks of `comm`
// (called by `rank`'s thread). `global_batch` is the number of samples over
// all ranks (dim 0 of every rank's x added up; every rank has the same
// spatial size). Running statistics get the global mean and unbiased global
// variance, so all replicas keep the same ones.
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, double momentum, double eps, Communicator& comm, int rank,
                       std::int64_t global_batch);

}  // namespace minidp::parallel
