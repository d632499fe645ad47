// minidp/core/tensor.h — the n-dimensional array every layer of minidp works on.
//
// A Tensor is a cheap handle (a shared pointer) to a view: shape, strides and
// an offset into a reference-counted Storage, plus its dtype and device.
// Copying a Tensor copies the handle, not the data — like PyTorch. Views
// (reshape of a contiguous tensor, flatten, narrow, slicing along dim 0,
// transpose, permute) share storage; that is how the parallel layer cuts a
// batch into per-replica shards without copying a byte.
//
// Autograd state lives here too: requires_grad, the accumulated .grad, and the
// graph node (grad_fn) that produced a non-leaf tensor. See core/autograd.h.
//
//   Tensor x = randn({4, 3});                    // float32 on the CPU
//   Tensor w = zeros({3, 2}).requires_grad_();
//   Tensor loss = sum(relu(matmul(x, w)));
//   loss.backward();                             // w.grad() now holds d loss / d w
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "minidp/core/device.h"
#include "minidp/core/dtype.h"
#include "minidp/core/error.h"
#include "minidp/core/storage.h"

namespace minidp {

using Shape = std::vector<std::int64_t>;
std::string shape_str(const Shape& s);  // "[2, 3]"
std::int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

struct Node;  // a step of the autograd graph (core/autograd.h)
class Tensor;
using GradHook = std::function<void(const Tensor& grad)>;

// What a new tensor is made of: dtype, device, and whether autograd tracks it.
struct TensorOptions {
  DType dtype = kFloat32;
  Device device = Device::cpu();
  bool requires_grad = false;

  TensorOptions() = default;
  TensorOptions(DType t) : dtype(t) {}   // NOLINT: zeros({2}, kInt64) reads well
  TensorOptions(Device d) : device(d) {}  // NOLINT
  TensorOptions with_dtype(DType t) const { auto o = *this; o.dtype = t; return o; }
  TensorOptions with_device(Device d) const { auto o = *this; o.device = d; return o; }
  TensorOptions with_requires_grad(bool r) const { auto o = *this; o.requires_grad = r; return o; }
};

struct TensorImpl {
  StoragePtr storage;
  Shape shape;
  Shape strides;  // in elements
  std::int64_t offset = 0;  // in elements
  DType dtype = kFloat32;

  // autograd
  bool requires_grad = false;
  std::shared_ptr<Tensor> grad;    // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;   // null for leaves
  std::vector<GradHook> hooks;     // run when this leaf's gradient is complete
  std::string name;                // optional, used in error messages
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // An uninitialised contiguous tensor.
  static Tensor empty(const Shape& shape, TensorOptions opts = {});

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }

  // ---- metadata
  const Shape& shape() const { return checked()->shape; }
  const Shape& strides() const { return checked()->strides; }
  std::int64_t offset() const { return checked()->offset; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape().size()); }
  std::int64_t size(std::int64_t d) const;  // negative d counts from the end
  std::int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const { return checked()->dtype; }
  Device device() const { return checked()->storage->device(); }
  TensorOptions options() const;
  bool is_contiguous() const;
  const StoragePtr& storage() const { return checked()->storage; }
  std::string shape_str() const { return minidp::shape_str(shape()); }
  // "float32[2, 3] on cpu" — what error messages print.
  std::string describe() const;

  // ---- data access (host only; checks dtype and device)
  template <typename T> T* data() const;
  // Start of this view, any device. On a simulated GPU (sim:N) only its
  // kernels may touch the memory: the host calling this raises, as a host
  // pointer into GPU memory would fault (copy with to(Device::cpu()) first).
  void* raw_data() const;
  void* device_address() const;  // the same address, unchecked: for copies and collectives that queue work
  // The single value of a one-element tensor (synchronises with its device).
  double item() const;
  template <typename T> T item() const { return static_cast<T>(item()); }
  // Copy to a std::vector on the host, in row-major order.
  template <typename T> std::vector<T> to_vector() const;

  // ---- views and copies (differentiable)
  Tensor reshape(const Shape& shape) const;  // -1 infers one size
  Tensor view(const Shape& shape) const;     // like reshape, but never copies
  Tensor flatten(std::int64_t start = 0, std::int64_t end = -1) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Tensor slice(std::int64_t start, std::int64_t end) const;  // rows [start, end) of dim 0
  Tensor operator[](std::int64_t i) const;                   // row i, dim 0 removed
  Tensor transpose(std::int64_t d0, std::int64_t d1) const;
  // 0-D and 1-D tensors are returned as they are (as PyTorch's t()).
  Tensor t() const { return dim() < 2 ? *this : transpose(0, 1); }
  Tensor permute(const std::vector<std::int64_t>& dims) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(const Device& device) const;
  Tensor to(DType dtype) const;

  // ---- in-place (not differentiable; used by optimizers and initialisers)
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);                  // same shape, any device pair
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double value);
  Tensor& mul_(const Tensor& other);  // other broadcasts over this (a one-element scale on the device, say)

  // ---- autograd
  bool requires_grad() const { return checked()->requires_grad; }
  Tensor& requires_grad_(bool r = true);
  bool is_leaf() const { return checked()->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return checked()->grad_fn; }
  // The accumulated gradient (undefined until a backward pass reaches this leaf).
  Tensor grad() const;
  void set_grad(const Tensor& g);
  // A tensor sharing this one's data but cut from the graph.
  Tensor detach() const;
  // Back-propagate from this tensor. Without `grad` the tensor must hold one
  // element (a loss); `retain_graph` keeps the graph for a second backward.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  // Call `hook(grad)` when this leaf's gradient is complete in a backward pass.
  void register_hook(GradHook hook) const;
  Tensor& set_name(const std::string& name);
  const std::string& name() const { return checked()->name; }

  bool same_as(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  TensorImpl* checked() const {
    MINIDP_CHECK(impl_ != nullptr, "use of an undefined Tensor (default-constructed or moved-from)");
    return impl_.get();
  }
  std::shared_ptr<TensorImpl> impl_;
};

// A view of `base`'s storage with the given geometry (no autograd link).
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, std::int64_t offset);

// Readable printing: values (abridged past 6 per dimension), then
// "[float32 tensor of shape [2, 3] on cpu, requires_grad]".
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string to_string(const Tensor& t);

// ---------------------------------------------------------------- templates
template <typename T>
T* Tensor::data() const {
  MINIDP_CHECK(dtype() == dtype_of<T>, "Tensor::data<", dtype_name(dtype_of<T>),
               ">: tensor holds ", dtype_name(dtype()));
  MINIDP_CHECK(device().is_cpu(), "Tensor::data: tensor is on ", device().str(),
               "; expected cpu (call .to(Device::cpu()) first)");
  return static_cast<T*>(raw_data());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(Device::cpu()).to(dtype_of<T>).contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}

}  // namespace minidp
