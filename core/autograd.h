// minidp/core/autograd.h — the reverse-mode autograd graph and engine.
//
// Every differentiable op that sees an input with requires_grad creates one
// Node: the inputs it must send gradients to, and a closure that turns the
// gradient of its output into gradients of those inputs. The closure is
// written right beside the op's forward (see core/ops/*.cpp), micrograd-style:
//
//   Tensor y = /* forward */;
//   return record("exp", y, {x}, [y = y.detach()](const Tensor& g) {
//     return std::vector<Tensor>{mul(g, y)};       // d exp(x) = exp(x) dx
//   });
//
// backward() walks the graph once in reverse topological order, summing the
// gradients that reach each node before calling it, accumulates into the
// leaves' .grad, and fires a leaf's hooks as soon as its last contribution
// has arrived — the point where a bucketed allreduce can start sending a
// gradient while backward is still running (DataParallel today sums all
// gradients after backward, in one flat buffer).
// Backward closures run with gradient recording off, so they may use the
// ordinary ops. The graph is released afterwards unless retain_graph is set.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "minidp/core/tensor.h"

namespace minidp {

// Gradients of the node's inputs, in order; an undefined Tensor means "none".
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string name;            // the op, for error messages
  std::vector<Tensor> inputs;  // where gradients flow to
  BackwardFn backward;         // emptied when the graph is released
  bool released = false;

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Releases the graph behind it iteratively: freeing a long chain of nodes
  // one destructor inside the other would overflow the stack.
  ~Node();
};

// Is gradient recording on for this thread? (off inside NoGradGuard)
bool grad_enabled();

// Turns recording off for a scope (evaluation, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Attach `out` to the graph when recording is on and any input requires a
// gradient; otherwise return it untouched. `fn` receives d(loss)/d(out).
Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn fn);

// True if `t` is defined and recording would track it.
bool needs_grad(const Tensor& t);

// The engine behind Tensor::backward.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

}  // namespace minidp
