// minidp/nn/module.cpp — registries, state dicts, copies and printing of modules.
#include "minidp/nn/module.h"

#include <atomic>
#include <sstream>

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"

namespace minidp::nn {

namespace {
void collect(const Module& m, const std::string& prefix, bool params, NamedTensors& out,
             const NamedTensors& own) {
  for (const auto& [name, t] : own) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : m.children()) {
    const NamedTensors sub = params ? child->named_parameters() : child->named_buffers();
    for (const auto& [n, t] : sub) out.emplace_back(prefix + name + "." + n, t);
  }
}
}  // namespace

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect(*this, "", true, out, params_);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect(*this, "", false, out, buffers_);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out = named_parameters();
  for (auto& nb : named_buffers()) out.push_back(nb);
  return out;
}

namespace {
std::atomic<std::uint64_t> g_state_version{0};
}  // namespace
std::uint64_t state_version() { return g_state_version.load(); }
void bump_state_version() { ++g_state_version; }

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  bump_state_version();  // also when it fails half-way: some tensors may have been copied
  std::vector<std::string> problems;
  std::map<std::string, bool> used;
  for (auto& [name, dst] : state_dict()) {
    auto it = state.find(name);
    if (it == state.end()) {
      if (strict) problems.push_back("missing '" + name + "' " + dst.describe());
      continue;
    }
    used[name] = true;
    const Tensor& src = it->second;
    if (src.shape() != dst.shape() || src.dtype() != dst.dtype()) {
      problems.push_back("'" + name + "': expected " + dst.describe() + ", got " + src.describe());
      continue;
    }
    NoGradGuard ng;
    Tensor d = dst;
    d.copy_(src);
  }
  if (strict)
    for (auto& [name, t] : state)
      if (!used.count(name)) problems.push_back("unexpected '" + name + "' " + t.describe());
  if (!problems.empty()) {
    std::string msg = "load_state_dict: " + std::to_string(problems.size()) + " mismatch(es) for " + type_name() + ":";
    for (auto& p : problems) msg += "\n  " + p;
    MINIDP_FAIL(msg);
  }
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  NoGradGuard ng;
  for (auto& p : parameters()) {
    Tensor g = p.grad();
    if (g.defined()) g.zero_();
  }
}

void Module::to(const Device& device) {
  bump_state_version();
  for (auto& [n, p] : params_) {
    if (p.device() == device) continue;
    const bool rg = p.requires_grad();
    p = p.detach().to(device);
    if (rg) p.requires_grad_(true);
  }
  for (auto& [n, b] : buffers_) b = b.to(device);
  for (auto& [n, c] : children_) c->to(device);
}

Device Module::device() const {
  for (auto& [n, p] : named_parameters()) return p.device();
  for (auto& [n, b] : named_buffers()) return b.device();
  return Device::cpu();
}

ModulePtr Module::deep_copy(const Device& device) const {
  ModulePtr m = shallow_copy();
  for (auto& [n, p] : m->params_) {
    const bool rg = p.requires_grad();
    p = p.detach().to(device).clone();  // clone: never share storage with the original
    if (rg) p.requires_grad_(true);
  }
  for (auto& [n, b] : m->buffers_) b = b.to(device).clone();
  for (auto& [n, c] : m->children_) c = c->deep_copy(device);
  return m;
}

std::string Module::repr(int indent) const {
  std::ostringstream os;
  os << type_name() << "(" << extra_repr();
  if (!children_.empty()) {
    os << "\n";
    for (auto& [n, c] : children_)
      os << std::string(indent + 2, ' ') << "(" << n << "): " << c->repr(indent + 2) << "\n";
    os << std::string(indent, ' ');
  }
  os << ")";
  return os.str();
}

void Module::register_parameter(const std::string& name, Tensor t) {
  bump_state_version();
  MINIDP_CHECK(t.defined() && is_floating(t.dtype()), type_name(), ": parameter '", name,
               "' must be a defined float tensor");
  if (!t.requires_grad()) t.requires_grad_(true);
  t.set_name(name);
  params_.emplace_back(name, std::move(t));
}

void Module::register_buffer(const std::string& name, Tensor t) {
  bump_state_version();
  buffers_.emplace_back(name, std::move(t));
}

void Module::register_module(const std::string& name, ModulePtr m) {
  MINIDP_CHECK(m != nullptr, type_name(), ": child module '", name, "' is null");
  children_.emplace_back(name, std::move(m));
}

Tensor Module::param(const std::string& name) const {
  for (auto& [n, t] : params_)
    if (n == name) return t;
  return Tensor();
}

Tensor Module::buffer(const std::string& name) const {
  for (auto& [n, t] : buffers_)
    if (n == name) return t;
  return Tensor();
}

void Module::set_buffer(const std::string& name, Tensor t) {
  for (auto& [n, b] : buffers_)
    if (n == name) b = std::move(t);
}

}  // namespace minidp::nn
