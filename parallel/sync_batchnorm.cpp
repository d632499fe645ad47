// minidp/parallel/sync_batchnorm.cpp — statistics and gradients summed across replicas.
//
// Forward, per channel c over the global batch of N values (N = global batch
// x spatial size, known on the host: no collective, no read-back):
//   mean = (sum over replicas of sum x) / N         (collective 1: the sums)
//   var  = (sum over replicas of sum (x - mean)^2) / N   (collective 2; two passes, no cancellation)
//   y = (x - mean) / sqrt(var + eps) * w + b
// Backward, with xhat = (x - mean) invstd and global sums (collective 3):
//   dx = w invstd (g - sum(g)/N - xhat sum(g xhat)/N)
//   dw, db stay local sums: DataParallel's gradient allreduce adds them up.
#include "minidp/parallel/sync_batchnorm.h"

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"

namespace minidp::parallel {

namespace {
// Per-channel sum over every dim but 1, as a [C] tensor.
Tensor channel_sum(const Tensor& t) {
  Dims dims{0};
  for (std::int64_t d = 2; d < t.dim(); ++d) dims.push_back(d);
  return sum(t, dims);
}
Shape channel_shape(const Tensor& x) {
  Shape s(x.dim(), 1);
  s[1] = x.size(1);
  return s;
}
}  // namespace

Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, double momentum, double eps, Communicator& comm, int rank,
                       std::int64_t global_batch) {
  MINIDP_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 4), "sync_batch_norm: expected input [N, C] or [N, C, H, W], got ",
               x.describe());
  MINIDP_CHECK(x.size(0) > 0, "sync_batch_norm: replica ", rank, " has no samples; synchronized BatchNorm needs at ",
               "least one sample on every replica (use a global batch >= the number of replicas)");
  const std::int64_t c = x.size(1);
  const Shape cs = channel_shape(x);
  MINIDP_CHECK(global_batch >= x.size(0), "sync_batch_norm: global batch ", global_batch,
               " is smaller than replica ", rank, "'s ", x.size(0), " samples");
  const double count = static_cast<double>(global_batch) * static_cast<double>(x.numel() / (x.size(0) * c));
  Tensor xd = x.detach();
  Tensor mean, invstd;
  {
    NoGradGuard ng;
    // collective 1: per-channel sums
    Tensor s1 = channel_sum(xd).contiguous();
    comm.allreduce_sum(rank, s1);
    mean = div(s1, count);
    // collective 2: squared deviations from the global mean
    Tensor dev = sub(xd, mean.reshape(cs));
    Tensor s2 = channel_sum(mul(dev, dev)).contiguous();
    comm.allreduce_sum(rank, s2);
    Tensor var = div(s2, count);
    invstd = div(ones({c}, x.options()), sqrt(add(var, eps)));
    if (running_mean.defined()) {
      running_mean.mul_(1.0 - momentum).add_(mean, momentum);
      running_var.mul_(1.0 - momentum).add_(mul(var, count / std::max(count - 1.0, 1.0)), momentum);
    }
  }
  const Tensor w = weight.defined() ? weight.detach() : ones({c}, x.options());
  const Tensor b = bias.defined() ? bias.detach() : zeros({c}, x.options());
  Tensor xhat, y;
  {
    NoGradGuard ng;
    xhat = mul(sub(xd, mean.reshape(cs)), invstd.reshape(cs));
    y = add(mul(xhat, w.reshape(cs)), b.reshape(cs));
  }
  const bool gw = needs_grad(weight), gb = needs_grad(bias);
  Communicator* cm = &comm;
  return record("sync_batch_norm", y, {x, weight, bias},
                [xhat, invstd, w, cs, c, count, gw, gb, cm, rank](const Tensor& g) {
                  // collective 3: global sums of g and g * xhat per channel
                  Tensor sg = channel_sum(g), sgx = channel_sum(mul(g, xhat));
                  Tensor both = cat({sg, sgx}, 0);
                  cm->allreduce_sum(rank, both);
                  Tensor gsum = both.narrow(0, 0, c).reshape(cs), gxsum = both.narrow(0, c, c).reshape(cs);
                  Tensor scale = mul(w, invstd).reshape(cs);
                  Tensor gx = mul(scale, sub(sub(g, div(gsum, count)), mul(xhat, div(gxsum, count))));
                  return std::vector<Tensor>{gx, gw ? sgx : Tensor(), gb ? sg : Tensor()};
                });
}

}  // namespace minidp::parallel
