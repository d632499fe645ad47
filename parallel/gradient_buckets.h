// minidp/parallel/gradient_buckets.h — a replica's gradients, laid out in the
// buckets that are summed across replicas.
//
// Every parameter's .grad is a view into one bucket (no copy: backward
// accumulates straight into it). Parameters go into buckets in *reverse*
// registration order — the order backward produces their gradients, last
// layer first — so the first bucket is complete early in backward and its sum
// can start while backward is still computing the rest. The first bucket is
// small (1 MiB by default) to start communication as early as possible; the
// others hold up to `bucket_bytes` (25 MiB by default), as PyTorch's DDP. A
// parameter is never split between buckets.
//
// One more tiny buffer, the tail, holds [loss sum, sample count] of the
// replica: summed with the same collectives, it gives the global mean loss
// and the global sample count — the divisor of the gradients — without a
// collective or a read-back of its own.
//
//   GradientBuckets b(*model, 1 << 20, 25 << 20);
//   b.num_buckets();  b.bucket(0);  b.bucket_of(param_index);  b.tail();
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "minidp/core/tensor.h"
#include "minidp/nn/module.h"

namespace minidp::parallel {

class GradientBuckets {
 public:
  GradientBuckets(const nn::Module& model, std::size_t first_bucket_bytes, std::size_t bucket_bytes);

  int num_buckets() const { return static_cast<int>(buckets_.size()); }
  Tensor& bucket(int b) { return buckets_.at(b); }
  const Tensor& bucket(int b) const { return buckets_.at(b); }
  // The parameters (indices into model.parameters()) of bucket b, in the order backward finishes them.
  const std::vector<int>& params_of(int b) const { return params_.at(b); }
  int bucket_of(int param) const { return bucket_of_.at(param); }
  const std::vector<Tensor>& buckets() const { return buckets_; }
  Tensor& tail() { return tail_; }  // [loss sum, sample count]
  const Tensor& tail() const { return tail_; }
  std::int64_t num_gradients() const { return num_grads_; }

  void zero();  // every bucket and the tail
  // Every gradient in parameter order, as one new tensor (for tests and inspection).
  Tensor flat_copy() const;

 private:
  std::vector<Tensor> buckets_;
  std::vector<std::vector<int>> params_;
  std::vector<int> bucket_of_;
  std::vector<Tensor> grads_;  // the views, in parameter order
  Tensor tail_;
  std::int64_t num_grads_ = 0;
};

// Which parameters go into which bucket (parameter indices, in the order
// backward finishes them), given each parameter's size in elements: in
// reverse registration order; a bucket is closed when the next parameter
// would take it past its limit — `first_bucket_bytes` for the first bucket,
// `bucket_bytes` for the others; a parameter is never split, and one larger
// than the limit gets a bucket of its own. (parallel/bucket_plan.cpp; lab 2.)
std::vector<std::vector<int>> plan_buckets(const std::vector<std::int64_t>& numels, std::size_t element_bytes,
                                           std::size_t first_bucket_bytes, std::size_t bucket_bytes);

// After the sum, every bucket holds the SUM over every replica's samples of
// the gradient, and the tail [loss sum, sample count] the global loss sum and
// sample count. Makes gradients and loss means over the global batch: divides
// them by the global count, on the device (a count of 0 divides by 1), in
// place: the handles share their memory with the buckets.
// (parallel/global_mean.cpp; lab 1.)
void divide_by_global_count(std::vector<Tensor> buckets, Tensor tail);

}  // namespace minidp::parallel
