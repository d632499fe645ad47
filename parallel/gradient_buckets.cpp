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
  // Group in reverse order; close a bucket when the next parameter would overflow it.
  std::vector<std::vector<int>> groups(1);
  std::size_t bytes = 0;
  for (int i = static_cast<int>(params.size()) - 1; i >= 0; --i) {
    const std::size_t limit = groups.size() == 1 ? first_bucket_bytes : bucket_bytes;
    const std::size_t need = static_cast<std::size_t>(params[i].numel()) * elem;
    if (!groups.back().empty() && bytes + need > limit) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(i);
    bytes += need;
  }
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
