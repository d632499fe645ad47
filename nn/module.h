// minidp/nn/module.h — the base class of every layer and model.
//
// A Module owns named parameters (leaves that require grad), named buffers
// (state that is not trained, e.g. BatchNorm's running statistics) and named
// child modules. Names follow PyTorch — "fc1.weight", "0.bias" inside a
// Sequential — so state dicts and checkpoints line up with PyTorch's.
//
// The parallel layer builds its replicas with deep_copy(device): same
// structure, parameters and buffers copied onto another device.
//
//   auto model = std::make_shared<Sequential>();
//   model->add(std::make_shared<Linear>(784, 10));
//   Tensor logits = (*model)(x);
//   for (auto& [name, p] : model->named_parameters()) std::cout << name << '\n';
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "minidp/core/tensor.h"

namespace minidp::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;

// A process-wide counter advanced by everything that moves, replaces or
// reloads parameters, buffers or optimizer state: Module::load_state_dict,
// Module::to, a new parameter or buffer, an optimizer's load_state_tensors
// and load_state_scalars. A captured CUDA graph holds the addresses and
// constants it was captured with; it remembers the version of that moment and
// is captured again, never replayed, once the version has moved.
std::uint64_t state_version();
void bump_state_version();
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // "Linear", "Conv2d", ... and the part inside the parentheses when printed.
  virtual std::string type_name() const = 0;
  virtual std::string extra_repr() const { return ""; }

  // ---- parameters, buffers, children (recursive, PyTorch names)
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  // Parameters then buffers, as PyTorch's state_dict.
  NamedTensors state_dict() const;
  // Copy values in (shapes and dtypes must match). Lists every missing,
  // unexpected or mismatched name in one minidp::Error when strict.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);
  const std::vector<std::pair<std::string, ModulePtr>>& children() const { return children_; }
  std::int64_t num_parameters() const;

  // ---- modes and devices
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Zero every parameter's gradient in place (keeps gradients that are views
  // into one flat buffer, as the parallel layer arranges them, valid).
  void zero_grad();
  // Move parameters and buffers to `device` (in place).
  void to(const Device& device);
  Device device() const;  // of the first parameter or buffer (cpu if none)
  // A new module of the same structure with copies of every parameter and
  // buffer on `device`; gradients are not copied.
  ModulePtr deep_copy(const Device& device) const;

  // Readable structure, like PyTorch's print(model).
  std::string repr(int indent = 0) const;

 protected:
  Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;

  // Shallow copy of the concrete module (copy constructor); deep_copy fixes up the rest.
  virtual ModulePtr shallow_copy() const = 0;

  void register_parameter(const std::string& name, Tensor t);
  void register_buffer(const std::string& name, Tensor t);
  void register_module(const std::string& name, ModulePtr m);
  // Own (non-recursive) parameter/buffer by name; undefined Tensor if absent.
  Tensor param(const std::string& name) const;
  Tensor buffer(const std::string& name) const;
  void set_buffer(const std::string& name, Tensor t);

 private:
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  bool training_ = true;
};

// Implements shallow_copy() for a concrete module type.
template <typename Derived>
class Cloneable : public Module {
 protected:
  ModulePtr shallow_copy() const override {
    return std::make_shared<Derived>(static_cast<const Derived&>(*this));
  }
};

}  // namespace minidp::nn
