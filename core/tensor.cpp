// minidp/core/tensor.cpp — tensor metadata, views, copies and printing.
#include "minidp/core/tensor.h"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"
#include "minidp/core/ops/op_utils.h"
#include "minidp/core/stream.h"
#include "minidp/kernels/cuda/runtime.h"
#include "minidp/kernels/sim/runtime.h"
#include "minidp/kernels/kernels.h"

namespace minidp {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

std::int64_t shape_numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  std::int64_t acc = 1;
  for (std::size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<std::int64_t>(s[i], 1);
  }
  return st;
}

Tensor Tensor::empty(const Shape& shape, TensorOptions opts) {
  // The product of the sizes, a zero counted as one: the strides are formed
  // from it even when a zero size makes the tensor empty, so it must fit too.
  std::int64_t span = 1;
  for (auto d : shape) {
    MINIDP_CHECK(d >= 0, "Tensor::empty: negative size in shape ", minidp::shape_str(shape));
    MINIDP_CHECK(!__builtin_mul_overflow(span, std::max<std::int64_t>(d, 1), &span) && span <= (std::int64_t{1} << 56),
                 "Tensor::empty: shape ", minidp::shape_str(shape), " has too many elements (the sizes' product, ",
                 "zeros counted as one, must stay below 2^56)");
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape_numel(shape) * dtype_size(opts.dtype), opts.device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = opts.dtype;
  Tensor t(std::move(impl));
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, std::int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

std::int64_t Tensor::size(std::int64_t d) const {
  const std::int64_t n = dim();
  MINIDP_CHECK(d >= -n && d < n, "Tensor::size: dim ", d, " out of range for ", describe());
  return shape()[d < 0 ? d + n : d];
}

TensorOptions Tensor::options() const {
  TensorOptions o;
  o.dtype = dtype();
  o.device = device();
  return o;
}

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  const auto& sh = shape();
  const auto& st = strides();
  for (std::size_t i = sh.size(); i-- > 0;) {
    if (sh[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= sh[i];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  std::string s = std::string(dtype_name(dtype())) + minidp::shape_str(shape()) + " on " + device().str();
  if (!name().empty()) s = "'" + name() + "' " + s;
  return s;
}

void* Tensor::device_address() const {
  auto* im = checked();
  return static_cast<char*>(im->storage->data()) + im->offset * static_cast<std::int64_t>(dtype_size(im->dtype));
}

void* Tensor::raw_data() const {
  MINIDP_CHECK(!device().is_sim() || kernels::sim::on_worker(), "the host read or wrote ", describe(),
               ", which lives in (simulated) GPU memory; copy it to the host first (.to(Device::cpu()))");
  return device_address();
}

double Tensor::item() const {
  MINIDP_CHECK(numel() == 1, "item: expected a tensor with one element, got ", describe());
  if (device().is_cpu()) count_host_sync();  // a device tensor counts in its copy to the host below
  Tensor c = to(Device::cpu()).to(kFloat64).contiguous();
  return *c.data<double>();
}

// ------------------------------------------------------------------ views
Tensor Tensor::reshape(const Shape& shape) const { return minidp::reshape(*this, shape); }
Tensor Tensor::flatten(std::int64_t start, std::int64_t end) const { return minidp::flatten(*this, start, end); }
Tensor Tensor::narrow(std::int64_t d, std::int64_t start, std::int64_t length) const {
  return minidp::narrow(*this, d, start, length);
}
Tensor Tensor::slice(std::int64_t start, std::int64_t end) const {
  MINIDP_CHECK(dim() >= 1, "slice: expected at least 1 dimension, got ", describe());
  MINIDP_CHECK(start >= 0 && start <= end && end <= size(0), "slice: rows [", start, ", ", end,
               ") out of range for ", describe());
  return minidp::narrow(*this, 0, start, end - start);
}
Tensor Tensor::operator[](std::int64_t i) const {
  MINIDP_CHECK(dim() >= 1, "operator[]: expected at least 1 dimension, got ", describe());
  MINIDP_CHECK(i >= 0 && i < size(0), "operator[]: index ", i, " out of range for ", describe());
  return minidp::narrow(*this, 0, i, 1).squeeze(0);
}
Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1) const { return minidp::transpose(*this, d0, d1); }
Tensor Tensor::permute(const std::vector<std::int64_t>& dims) const { return minidp::permute(*this, dims); }

Tensor Tensor::view(const Shape& shape) const {
  MINIDP_CHECK(is_contiguous(), "view: ", describe(),
               " is not contiguous; use reshape() (which copies) or contiguous() first");
  return minidp::reshape(*this, shape);
}

Tensor Tensor::unsqueeze(std::int64_t d) const {
  const std::int64_t n = dim();
  MINIDP_CHECK(d >= -n - 1 && d <= n, "unsqueeze: dim ", d, " out of range for ", describe());
  if (d < 0) d += n + 1;
  Shape s = shape();
  s.insert(s.begin() + d, 1);
  return minidp::reshape(*this, s);
}

Tensor Tensor::squeeze(std::int64_t d) const {
  const std::int64_t n = dim();
  MINIDP_CHECK(d >= -n && d < n, "squeeze: dim ", d, " out of range for ", describe());
  if (d < 0) d += n;
  if (shape()[d] != 1) return *this;
  Shape s = shape();
  s.erase(s.begin() + d);
  return minidp::reshape(*this, s);
}

// contiguous/clone/to go through one differentiable copy op.
namespace {
Tensor copy_op(const Tensor& x, TensorOptions opts, const char* name) {
  Tensor out = Tensor::empty(x.shape(), opts);
  if (x.device() == opts.device) {
    MINIDP_KERNEL(x.device(), copy, x, out);
  } else if (x.dtype() != opts.dtype) {
    out.copy_(x.to(opts.dtype));
  } else {
    out.copy_(x);
  }
  const bool differentiable = is_floating(x.dtype()) && is_floating(opts.dtype);
  if (!differentiable) return out;
  const TensorOptions back = x.options();
  return record(name, out, {x}, [back](const Tensor& g) {
    return std::vector<Tensor>{g.device() == back.device && g.dtype() == back.dtype
                                   ? g
                                   : g.to(back.device).to(back.dtype)};
  });
}
}  // namespace

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : copy_op(*this, options(), "contiguous"); }
Tensor Tensor::clone() const { return copy_op(*this, options(), "clone"); }
Tensor Tensor::to(const Device& d) const {
  return device() == d ? *this : copy_op(*this, options().with_device(d), "to(device)");
}
Tensor Tensor::to(DType t) const { return dtype() == t ? *this : copy_op(*this, options().with_dtype(t), "to(dtype)"); }

// ------------------------------------------------------------------ in-place
namespace {
void check_inplace(const Tensor& t, const char* op) {
  MINIDP_CHECK(!(grad_enabled() && t.requires_grad() && t.is_leaf()), op, ": ", t.describe(),
               " is a leaf that requires grad; in-place updates of it must run under NoGradGuard");
}
}  // namespace

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  if (is_contiguous()) {
    MINIDP_KERNEL(device(), fill, *this, value);
  } else {
    copy_(full(shape(), value, options()));
  }
  return *this;
}

namespace {
// A copy with a simulated GPU on one side or both (the CUDA branches below,
// over kernels/sim/runtime.h). `d` and `s` contiguous, of one dtype.
void copy_sim(const Tensor& d, const Tensor& s, std::size_t nbytes) {
  namespace sim = kernels::sim;
  const Device dd = d.device(), sd = s.device();
  MINIDP_CHECK((dd.is_sim() || dd.is_cpu()) && (sd.is_sim() || sd.is_cpu()), "copy_: between ", sd.str(), " and ",
               dd.str(), " (a simulated GPU exchanges data with the host and other simulated GPUs only)");
  if (dd.is_sim() && sd.is_sim()) {
    sim::copy_peer(d.device_address(), dd.index, current_stream(dd).handle, s.device_address(), sd.index,
                   current_stream(sd).handle, nbytes);
  } else if (dd.is_sim()) {
    sim::copy_to_device(d.device_address(), s.device_address(), nbytes, s.storage()->pinned(),
                        current_stream(dd).handle, dd.index);
    // From pinned host memory the copy is asynchronous: the host tensor lives until it has run.
    if (s.storage()->pinned()) sim::enqueue(current_stream(dd).handle, dd.index, [s] {});
  } else {
    count_host_sync();
    sim::copy_to_host(d.device_address(), s.device_address(), nbytes, current_stream(sd).handle, sd.index);
  }
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  MINIDP_CHECK(src.shape() == shape(), "copy_: source ", src.describe(), " does not match destination ",
               describe());
  if (src.device() == device()) {
    MINIDP_KERNEL(device(), copy, src, *this);
    return *this;
  }
  // Across devices: both sides contiguous and of one dtype, then one async copy
  // on the current stream of the GPU side.
  Tensor s = src.to(dtype()).contiguous();
  const std::size_t nbytes = static_cast<std::size_t>(numel()) * dtype_size(dtype());
  Tensor d = is_contiguous() ? *this : Tensor::empty(shape(), options());
  using kernels::cuda::CopyKind;
  if (device().is_sim() || s.device().is_sim()) {
    copy_sim(d, s, nbytes);
  } else if (device().is_cuda() && s.device().is_cuda()) {
    // GPU to GPU: each side's stream waits for the other (no early reuse either side).
    kernels::cuda::memcpy_peer_async(d.raw_data(), device().index, current_stream(device()).handle, s.raw_data(),
                                     s.device().index, current_stream(s.device()).handle, nbytes);
  } else if (device().is_cuda()) {
    void* stream = current_stream(device()).handle;
    kernels::cuda::memcpy_async(d.raw_data(), s.raw_data(), nbytes, CopyKind::HostToDevice, stream, device().index);
    // From pinned memory the copy is asynchronous: the pinned block must not
    // be reused (by the loader's next batch) before the copy has read it.
    if (s.storage()->pinned()) kernels::cuda::host_pinned_record_use(s.storage()->data(), stream, device().index);
  } else {
    void* stream = current_stream(s.device()).handle;
    count_host_sync();
    kernels::cuda::memcpy_async(d.raw_data(), s.raw_data(), nbytes, CopyKind::DeviceToHost, stream,
                                s.device().index);
    kernels::cuda::stream_synchronize(stream, s.device().index);  // host memory must be ready when we return
  }
  if (!d.same_as(*this)) MINIDP_KERNEL(device(), copy, d, *this);
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  NoGradGuard ng;
  Tensor o = alpha == 1.0 ? other : mul(other, alpha);
  MINIDP_CHECK(o.device() == device() && o.dtype() == dtype(), "add_: ", o.describe(),
               " must match the destination's dtype and device: ", describe());
  Tensor ob = o;
  if (o.shape() != shape()) {
    // A smaller operand broadcasts over the destination, as PyTorch's add_ does
    // (sum_to alone rejected e.g. adding a row to every row of a matrix); a
    // larger one is still summed down to the destination's shape.
    const Shape joint = detail::broadcast_shapes("add_", shape(), o.shape());
    ob = joint == shape() ? detail::expand_to(o, shape()) : sum_to(o, shape());
  }
  MINIDP_KERNEL(device(), binary, kernels::BinaryOp::Add, *this, ob, *this);
  return *this;
}

Tensor& Tensor::mul_(double value) {
  check_inplace(*this, "mul_");
  MINIDP_CHECK(is_contiguous(), "mul_: expected a contiguous tensor, got ", describe());
  MINIDP_KERNEL(device(), unary, kernels::UnaryOp::Affine, *this, *this, value, 0.0);
  return *this;
}

Tensor& Tensor::mul_(const Tensor& other) {
  check_inplace(*this, "mul_");
  MINIDP_CHECK(other.device() == device() && other.dtype() == dtype(), "mul_: ", other.describe(),
               " must match the destination's dtype and device: ", describe());
  const Shape joint = detail::broadcast_shapes("mul_", shape(), other.shape());
  MINIDP_CHECK(joint == shape(), "mul_: ", other.describe(), " does not broadcast to the destination ", describe());
  MINIDP_KERNEL(device(), binary, kernels::BinaryOp::Mul, *this, detail::expand_to(other, shape()), *this);
  return *this;
}

// ------------------------------------------------------------------ autograd
Tensor& Tensor::requires_grad_(bool r) {
  MINIDP_CHECK(!r || is_floating(dtype()), "requires_grad_: only floating-point tensors can require "
               "gradients, got ", describe());
  MINIDP_CHECK(r || is_leaf(), "requires_grad_(false): ", describe(), " is not a leaf; use detach()");
  checked()->requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const {
  auto& g = checked()->grad;
  return g ? *g : Tensor();
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined())
    MINIDP_CHECK(g.shape() == shape() && g.dtype() == dtype() && g.device() == device(),
                 "set_grad: gradient ", g.describe(), " does not match ", describe());
  checked()->grad = g.defined() ? std::make_shared<Tensor>(g) : nullptr;
}

Tensor Tensor::detach() const {
  Tensor d = make_view(*this, shape(), strides(), offset());
  d.impl()->name = name();
  return d;
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const { run_backward(*this, grad, retain_graph); }

void Tensor::register_hook(GradHook hook) const {
  MINIDP_CHECK(requires_grad() && is_leaf(), "register_hook: ", describe(),
               " must be a leaf that requires grad");
  checked()->hooks.push_back(std::move(hook));
}

Tensor& Tensor::set_name(const std::string& n) {
  checked()->name = n;
  return *this;
}

// ------------------------------------------------------------------ printing
namespace {
void print_rec(std::ostream& os, const Tensor& t, const std::vector<double>& v, std::size_t dim,
               std::int64_t base, int indent) {
  const auto& shape = t.shape();
  const auto strides = contiguous_strides(shape);
  const std::int64_t n = shape[dim];
  const bool abridge = n > 6;
  os << '[';
  for (std::int64_t i = 0; i < n; ++i) {
    if (abridge && i == 3) {
      os << (dim + 1 == shape.size() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - 3;
    }
    if (dim + 1 == shape.size()) {
      os << std::setw(9) << v[base + i];
    } else {
      print_rec(os, t, v, dim + 1, base + i * strides[dim], indent + 1);
    }
    if (i + 1 < n) os << (dim + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << ']';
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "[undefined tensor]";
  const auto v = t.detach().to_vector<double>();
  std::ostringstream body;
  body << std::setprecision(4);
  if (t.dim() == 0) {
    body << v[0];
  } else if (t.numel() > 0) {
    print_rec(body, t, v, 0, 0, 0);
  } else {
    body << "[]";
  }
  os << body.str() << "\n[" << dtype_name(t.dtype()) << " tensor of shape " << t.shape_str() << " on "
     << t.device().str() << (t.requires_grad() ? ", requires_grad" : "") << "]";
  return os;
}

std::string to_string(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

}  // namespace minidp
