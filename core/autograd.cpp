// minidp/core/autograd.cpp — recording the graph and walking it backwards.
#include "minidp/core/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "minidp/core/ops.h"

namespace minidp {

namespace {
thread_local bool t_grad_enabled = true;
}

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = prev_; }

Node::~Node() {
  // The outermost destructor on this thread drains a work list; the nodes it
  // frees on the way only hand their inputs over to it, so the stack stays
  // flat however deep the graph is.
  thread_local std::vector<Tensor>* draining = nullptr;
  if (draining != nullptr) {
    for (auto& t : inputs) draining->push_back(std::move(t));
    return;
  }
  std::vector<Tensor> work(std::make_move_iterator(inputs.begin()), std::make_move_iterator(inputs.end()));
  draining = &work;
  while (!work.empty()) {
    Tensor t = std::move(work.back());
    work.pop_back();
  }  // `t` dies here; if it held the last reference to a node, that node's inputs join `work`
  draining = nullptr;
}

bool needs_grad(const Tensor& t) { return t.defined() && t.requires_grad() && t_grad_enabled; }

Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn fn) {
  if (!t_grad_enabled) return out;
  bool any = false;
  for (const auto& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(fn);
  // `out` may be a view sharing a handle with an input (e.g. reshape of a
  // contiguous tensor); give it a fresh handle so the input keeps its own grad_fn.
  Tensor result = make_view(out, out.shape(), out.strides(), out.offset());
  result.impl()->requires_grad = true;
  result.impl()->grad_fn = std::move(node);
  return result;
}

namespace {

// Reverse topological order of the nodes reachable from `root` (iterative DFS,
// so deep graphs cannot overflow the stack).
std::vector<Node*> topo_order(Node* root) {
  std::vector<Node*> order;
  std::unordered_set<Node*> seen{root};
  std::vector<std::pair<Node*, std::size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const Tensor& in = node->inputs[next++];
      if (in.defined() && in.requires_grad() && !in.is_leaf()) {
        Node* child = in.grad_fn().get();
        if (seen.insert(child).second) stack.push_back({child, 0});
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};  // root first
}

void accumulate(Tensor& slot, const Tensor& g) {
  if (!slot.defined()) {
    slot = g;
  } else {
    slot = add(slot, g);
  }
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  MINIDP_CHECK(root.requires_grad(), "backward: ", root.describe(),
               " does not require grad (no input of the computation had requires_grad)");
  Tensor seed = grad;
  if (!seed.defined()) {
    MINIDP_CHECK(root.numel() == 1, "backward: ", root.describe(),
                 " is not a scalar; pass the gradient of the output explicitly, e.g. "
                 "y.backward(ones_like(y))");
    seed = ones_like(root);
  }
  MINIDP_CHECK(seed.shape() == root.shape() && seed.dtype() == root.dtype() &&
                   seed.device() == root.device(),
               "backward: gradient ", seed.describe(), " does not match the output ", root.describe());

  NoGradGuard no_grad;  // backward closures use ordinary ops without recording them

  auto add_to_leaf = [](const Tensor& leaf, const Tensor& g) {
    TensorImpl* im = leaf.impl();
    if (!im->grad) {
      // A fresh gradient is a private copy: `g` may alias another tensor.
      im->grad = std::make_shared<Tensor>(g.contiguous().same_as(g) ? g.clone() : g.contiguous());
    } else {
      im->grad->add_(g);  // in place: parameters' grads may be views of one flat buffer
    }
  };

  if (root.is_leaf()) {
    add_to_leaf(root, seed);
    for (auto& h : root.impl()->hooks) h(*root.impl()->grad);
    return;
  }

  std::vector<Node*> order = topo_order(root.grad_fn().get());

  // How many contributions each leaf will receive, to fire its hooks on the last one.
  std::unordered_map<TensorImpl*, int> pending;
  for (Node* n : order)
    for (const auto& in : n->inputs)
      if (in.defined() && in.requires_grad() && in.is_leaf()) ++pending[in.impl()];

  std::unordered_map<Node*, Tensor> grads;
  grads[order.front()] = seed;
  for (Node* node : order) {
    MINIDP_CHECK(!node->released, "backward: the graph through '", node->name,
                 "' was already freed by an earlier backward; pass retain_graph=true to the first "
                 "backward to call it twice");
    Tensor g = std::move(grads[node]);
    grads.erase(node);
    std::vector<Tensor> gins;
    if (g.defined()) gins = node->backward(g);
    MINIDP_CHECK(gins.size() == node->inputs.size() || !g.defined(), "autograd: '", node->name,
                 "' returned ", gins.size(), " gradients for ", node->inputs.size(), " inputs");
    for (std::size_t i = 0; i < node->inputs.size(); ++i) {
      const Tensor& in = node->inputs[i];
      if (!in.defined() || !in.requires_grad()) continue;
      const Tensor gi = i < gins.size() ? gins[i] : Tensor();
      if (gi.defined())
        MINIDP_CHECK(gi.shape() == in.shape(), "autograd: '", node->name, "' produced a gradient ",
                     gi.describe(), " for input ", in.describe());
      if (in.is_leaf()) {
        if (gi.defined()) add_to_leaf(in, gi);
        if (--pending[in.impl()] == 0 && in.impl()->grad)
          for (auto& h : in.impl()->hooks) h(*in.impl()->grad);
      } else if (gi.defined()) {
        accumulate(grads[in.grad_fn().get()], gi);
      }
    }
    if (!retain_graph) {
      node->backward = nullptr;  // frees the tensors the closure saved
      node->released = true;
    }
  }
}

}  // namespace minidp
