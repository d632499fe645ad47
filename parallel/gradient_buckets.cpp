// minidp/parallel/gradient_buckets.cpp — parameters into buckets, last layer first.
#include "minidp/parallel/gradient_buckets.h"

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"

namespace minidp::parallel {

GradientBuckets::GradientBuckets(const nn::Module& model, std::size_t first_bucket_bytes, std::size_t bucket_bytes) {
  const auto params = model.parameters();
  MINIDP_CHECK(!params.empty(), "DataParallel: the model has no parameters");
  MINIDP_CHECK(first_bucket_bytes > 0 && bucket_bytes > 0, "DataParallel: bucket sizes must be positive, got ",
               first_bucket_bytes, " and ", bucket_bytes);
  for (auto& p : params)
    MINIDP_CHECK(p.dtype() == params[0].dtype() && p.device() == params[0].device(),
                 "DataParallel: parameters must share one dtype and device; ", p.describe(), " differs from ",
                 params[0].describe());
  const std::size_t elem = dtype_size(params[0].dtype());
  std::vector<std::int64_t> numels;
  for (auto& p : params) numels.push_back(p.numel());
  std::vector<std::vector<int>> groups = plan_buckets(numels, elem, first_bucket_bytes, bucket_bytes);
  bucket_of_.assign(params.size(), -1);
  grads_.resize(params.size());
  for (std::size_t b = 0; b < groups.size(); ++b) {
    std::int64_t total = 0;
    for (int i : groups[b]) total += params[i].numel();
    Tensor flat = zeros({total}, params[0].options().with_requires_grad(false));
    std::int64_t off = 0;
    for (int i : groups[b]) {
      Tensor p = params[i];
      grads_[i] = flat.narrow(0, off, p.numel()).view(p.shape());
      p.set_grad(grads_[i]);
      bucket_of_[i] = static_cast<int>(b);
      off += p.numel();
    }
    num_grads_ += total;
    buckets_.push_back(flat);
  }
  params_ = std::move(groups);
  tail_ = zeros({2}, params[0].options().with_requires_grad(false));
}

void GradientBuckets::zero() {
  NoGradGuard ng;
  for (auto& b : buckets_) b.zero_();
  tail_.zero_();
}

Tensor GradientBuckets::flat_copy() const {
  NoGradGuard ng;
  std::vector<Tensor> parts;
  for (const auto& g : grads_) parts.push_back(g.reshape({-1}));
  return cat(parts, 0);
}

}  // namespace minidp::parallel
