// minidp/nn/optim/optimizer.h — the interface every optimizer implements.
//
// An optimizer holds the parameters it updates and per-parameter state
// (momentum buffers, Adam moments). step() reads each parameter's .grad and
// updates the parameter in place, outside the autograd graph. Under data
// parallelism every replica runs the same step on the same summed gradients,
// so the replicas stay bitwise identical.
//
//   nn::SGD opt(model->parameters(), {.lr = 0.05, .momentum = 0.9});
//   loss.backward(); opt.step(); opt.zero_grad();
#pragma once

#include <map>
#include <string>
#include <vector>

#include "minidp/core/tensor.h"

namespace minidp::nn {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;

  virtual void step() = 0;
  // "sgd", "adam", "adamw": a checkpoint records it, and loading it into another kind is refused.
  virtual std::string kind() const = 0;
  // Its settings by name ("lr" first), for a distributed job to check that
  // every rank runs the same optimizer (parallel/agreement.h). Numbers are
  // written so that they read back exactly.
  // (An optimizer of your own that does not say more gives its lr.)
  virtual std::vector<std::pair<std::string, std::string>> hyperparameters() const;
  // Zero the gradients in place (they may be views of one flat buffer).
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  const std::vector<Tensor>& params() const { return params_; }
  std::int64_t steps_taken() const { return step_count_; }
  // Steps taken without step(): a replayed CUDA graph runs the update on the
  // device, and the count (which checkpoints record) follows it (`n` may be
  // negative: a capture recorded a step it did not take).
  void count_steps(std::int64_t n) { step_count_ += n; }

  // State for checkpoints: tensors named "state.<param index>.<buffer>" and
  // scalars ("optimizer.lr", "optimizer.step"). Loading checks everything
  // before it changes anything: numbers parsed whole, lr finite and >= 0, the
  // step count >= 0, no state names this optimizer does not have; a refusal
  // raises minidp::Error and leaves the optimizer as it was.
  virtual std::vector<std::pair<std::string, Tensor>> state_tensors() const = 0;
  virtual void load_state_tensors(const std::map<std::string, Tensor>& state) = 0;
  std::map<std::string, std::string> state_scalars() const;
  void load_state_scalars(const std::map<std::string, std::string>& s);

 protected:
  // For load_state_tensors: every name in `state` must be "state.<i>.<buffer>"
  // with i a parameter index and <buffer> one of `buffers`; anything else is
  // another optimizer's or another model's state, refused rather than dropped.
  void check_state_names(const std::map<std::string, Tensor>& state, const std::vector<std::string>& buffers) const;

  std::vector<Tensor> params_;
  double lr_;
  std::int64_t step_count_ = 0;
};

// Scale all gradients so that their global L2 norm is at most max_norm (as
// torch.nn.utils.clip_grad_norm_). Everything stays on the gradients' device:
// the norm, the clipping factor min(1, max_norm / (norm + 1e-6)) and the
// scaling, so clipping inside a training step never makes the host wait.
// Returns the norm before clipping as a one-element tensor on that device
// (reading it with item() is a host synchronisation).
Tensor clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

// A number as hyperparameters() writes it: the shortest text that reads back
// as the same double ("0.1", "1e-08").
std::string exact_number(double v);

}  // namespace minidp::nn
