// minidp/nn/layers.h — the layers models are built from, with PyTorch's
// parameter names, shapes and default initialisation.
//
//   auto cnn = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
//       std::make_shared<nn::Conv2d>(1, 32, 3, 1, 1), std::make_shared<nn::ReLU>(),
//       std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
//       std::make_shared<nn::Linear>(32 * 14 * 14, 10)});
#pragma once

#include <functional>

#include "minidp/core/ops.h"
#include "minidp/nn/module.h"

namespace minidp::nn {

// y = x W^T + b, W [out_features, in_features].
class Linear : public Cloneable<Linear> {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  Tensor weight() const { return param("weight"); }
  Tensor bias() const { return param("bias"); }

 private:
  std::int64_t in_, out_;
};

// 2-D convolution over [N, C, H, W]; weight [out, in, k, k].
class Conv2d : public Cloneable<Conv2d> {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, std::int64_t stride = 1,
         std::int64_t padding = 0, std::int64_t dilation = 1, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  Tensor weight() const { return param("weight"); }
  Tensor bias() const { return param("bias"); }

 private:
  std::int64_t in_, out_, k_;
  Conv2dOptions opts_;
};

class MaxPool2d : public Cloneable<MaxPool2d> {
 public:
  explicit MaxPool2d(std::int64_t kernel_size, std::int64_t stride = 0, std::int64_t padding = 0);
  Tensor forward(const Tensor& x) override { return max_pool2d(x, opts_); }
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;

 private:
  Pool2dOptions opts_;
};

class AvgPool2d : public Cloneable<AvgPool2d> {
 public:
  explicit AvgPool2d(std::int64_t kernel_size, std::int64_t stride = 0, std::int64_t padding = 0);
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, opts_); }
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;

 private:
  Pool2dOptions opts_;
};

// Batch normalisation over the channel dim of [N, C] (1d) or [N, C, H, W] (2d).
// Buffers: running_mean, running_var, num_batches_tracked (as PyTorch).
// In training each call normalises with the statistics of the batch it sees —
// under data parallelism, of the replica's shard (see parallel/).
class BatchNorm : public Cloneable<BatchNorm> {
 public:
  BatchNorm(std::int64_t num_features, int spatial_dims, double eps = 1e-5, double momentum = 0.1,
            bool affine = true);
  Tensor forward(const Tensor& x) override;
  // Replaces the training-mode normalisation (same arguments as batch_norm()).
  // The parallel layer installs one that computes the statistics over all
  // replicas (synchronized BatchNorm); nullptr restores the local one.
  using TrainingFn = std::function<Tensor(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                          Tensor running_mean, Tensor running_var, double momentum, double eps)>;
  void set_training_fn(TrainingFn fn) { training_fn_ = std::move(fn); }
  bool has_training_fn() const { return training_fn_ != nullptr; }
  std::string type_name() const override { return spatial_dims_ == 2 ? "BatchNorm2d" : "BatchNorm1d"; }
  std::string extra_repr() const override;
  Tensor weight() const { return param("weight"); }
  Tensor bias() const { return param("bias"); }
  Tensor running_mean() const { return buffer("running_mean"); }
  Tensor running_var() const { return buffer("running_var"); }
  std::int64_t num_features() const { return c_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }

 private:
  std::int64_t c_;
  int spatial_dims_;
  double eps_, momentum_;
  TrainingFn training_fn_;
};
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(std::int64_t n, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : BatchNorm(n, 1, eps, momentum, affine) {}
};
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(std::int64_t n, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : BatchNorm(n, 2, eps, momentum, affine) {}
};

// Zeroes elements with probability p in training. Its mask comes from its own
// generator (seeded), so runs repeat exactly.
//
// Under data parallelism a replica sees rows [offset, offset + n) of a global
// batch of `global_rows`; set_shard() makes it draw the mask of the whole
// global batch and keep its rows, so k replicas drop exactly the elements one
// device would (the parallel layer sets it before every step).
class Dropout : public Cloneable<Dropout> {
 public:
  explicit Dropout(double p = 0.5, std::uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  Generator& generator() { return gen_; }
  const Generator& generator() const { return gen_; }
  void set_shard(std::int64_t row_offset, std::int64_t global_rows) {
    shard_offset_ = row_offset;
    global_rows_ = global_rows;
  }

 private:
  double p_;
  Generator gen_;
  std::int64_t shard_offset_ = 0, global_rows_ = -1;  // -1: the input is the whole batch
};

// Stateless activations and reshapes.
#define MINIDP_SIMPLE_LAYER(Name, expr)                                       \
  class Name : public Cloneable<Name> {                                       \
   public:                                                                    \
    Tensor forward(const Tensor& x) override { return expr; }                 \
    std::string type_name() const override { return #Name; }                  \
  };
MINIDP_SIMPLE_LAYER(ReLU, relu(x))
MINIDP_SIMPLE_LAYER(GELU, gelu(x))
MINIDP_SIMPLE_LAYER(Sigmoid, sigmoid(x))
MINIDP_SIMPLE_LAYER(Tanh, tanh(x))
#undef MINIDP_SIMPLE_LAYER

// [N, d1, d2, ...] -> [N, d1*d2*...] (start_dim 1, as PyTorch's nn.Flatten).
class Flatten : public Cloneable<Flatten> {
 public:
  Tensor forward(const Tensor& x) override { return flatten(x, 1, -1); }
  std::string type_name() const override { return "Flatten"; }
};

// Runs its children in order; they are named "0", "1", ...
class Sequential : public Cloneable<Sequential> {
 public:
  Sequential() = default;
  explicit Sequential(const std::vector<ModulePtr>& layers);
  Sequential& add(ModulePtr layer);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  std::size_t size() const { return children().size(); }
  ModulePtr operator[](std::size_t i) const { return children().at(i).second; }
};

}  // namespace minidp::nn
