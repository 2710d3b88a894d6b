// inv/autograd.hpp: the tape-based reverse-mode autograd engine.
//
// Every op that runs with grad mode on and at least one input requiring grad
// records a Node on its output: the inputs that need gradients and a backward
// closure. Tensor::backward() walks the nodes reachable from the output in
// reverse topological order. The backward contract: a closure receives the
// gradient of the op's output and *adds* one gradient per input into a GradSink;
// the engine accumulates them (so a tensor used twice, as in c + c, gets both
// contributions) into intermediate buffers or, for leaves, into tensor.grad().
// After the pass every visited node is emptied, so the graph's memory is freed
// at once; calling backward through it again throws.
#pragma once

#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "inv/tensor.hpp"

namespace inv {

/// Whether ops record the graph (per thread). See NoGradGuard.
class GradMode {
 public:
  static bool is_enabled() { return flag(); }
  static void set_enabled(bool on) { flag() = on; }

 private:
  static bool& flag() {
    thread_local bool enabled = true;
    return enabled;
  }
};

/// Disables graph recording in its scope and restores the previous mode on exit
/// (also when an exception passes through).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// Collects the gradients a backward closure produces, one slot per input.
class GradSink {
 public:
  explicit GradSink(const std::vector<std::shared_ptr<detail::TensorImpl>>& inputs) : inputs_(inputs) {
    grads_.resize(inputs.size());
  }
  /// Whether input i needs a gradient (closures skip the work otherwise).
  bool needs(size_t i) const { return inputs_[i] != nullptr; }
  /// Adds g to the gradient of input i. g must have the input's shape and dtype.
  void add(size_t i, Tensor g);
  std::vector<Tensor>& grads() { return grads_; }

 private:
  const std::vector<std::shared_ptr<detail::TensorImpl>>& inputs_;
  std::vector<Tensor> grads_;
};

/// One recorded op: the inputs that need gradients and the backward closure.
struct Node {
  using Backward = std::function<void(const Tensor& grad_output, GradSink& sink)>;

  const char* name;
  std::vector<std::shared_ptr<detail::TensorImpl>> inputs;  // null where no gradient is needed
  Backward backward;                                        // empty once the graph is freed

  Node(const char* n, std::vector<std::shared_ptr<detail::TensorImpl>> in, Backward b)
      : name(n), inputs(std::move(in)), backward(std::move(b)) {
    ++detail::live_nodes();
  }
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
};

namespace detail {

/// True when an op on these inputs must be recorded.
inline bool should_record(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}
inline bool should_record(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

/// Attaches a Node named `name` to `out` with the given inputs and backward closure.
/// The closure must not capture `out` itself (that would be a reference cycle);
/// capture out.detach() when the backward needs the output's values.
inline void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, Node::Backward backward) {
  std::vector<std::shared_ptr<TensorImpl>> in;
  in.reserve(inputs.size());
  for (const Tensor& t : inputs) in.push_back(t.defined() && t.requires_grad() ? t.impl_ptr() : nullptr);
  out.impl().requires_grad = true;
  out.impl().grad_fn = std::make_shared<Node>(name, std::move(in), std::move(backward));
}

/// True when nothing else refers to this tensor or its memory, so it may be updated in place.
inline bool sole_owner(const std::shared_ptr<TensorImpl>& p) {
  return p.use_count() == 1 && p->storage.use_count() == 1;
}

/// acc += g. A gradient buffer is only ever updated in place when nothing else
/// refers to it: closures may pass one tensor to several inputs (add does).
inline void accumulate(std::shared_ptr<TensorImpl>& acc, const Tensor& g) {
  if (!acc) {
    acc = sole_owner(g.impl_ptr()) ? g.impl_ptr() : copy_data(g).impl_ptr();
    return;
  }
  if (!sole_owner(acc)) acc = copy_data(Tensor(acc)).impl_ptr();
  const Tensor a(acc);
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* pa = a.data<T>();
    const T* pg = g.data<T>();
    const int64_t n = a.numel();
    for (int64_t i = 0; i < n; ++i) pa[i] += pg[i];
  });
}

/// Nodes reachable from root, in post-order (inputs before the nodes that use them).
/// The list holds the nodes alive while the pass frees their inputs.
inline std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_map<Node*, bool> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  seen[root.get()] = true;
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const auto& in = node->inputs[next++];
      if (in && in->grad_fn && !seen[in->grad_fn.get()]) {
        seen[in->grad_fn.get()] = true;
        stack.emplace_back(in->grad_fn, 0);
      }
    } else {
      order.push_back(std::move(node));
      stack.pop_back();
    }
  }
  return order;
}

inline void run_backward(const Tensor& root, const Tensor& grad_root) {
  INV_CHECK(root.requires_grad(), "backward: the tensor does not require grad (no input had requires_grad "
            "set, or it was computed under NoGradGuard)");
  INV_CHECK(grad_root.shape() == root.shape() && grad_root.dtype() == root.dtype(),
            "backward: gradient must match the output, expected ", to_string(root.shape()), " ",
            dtype_name(root.dtype()), ", got ", to_string(grad_root.shape()), " ", dtype_name(grad_root.dtype()));
  NoGradGuard no_grad;
  if (root.is_leaf()) {
    accumulate(root.impl().grad, copy_data(grad_root));  // never alias the caller's tensor
    return;
  }
  const std::vector<std::shared_ptr<Node>> order = topological_order(root.grad_fn());
  std::unordered_map<Node*, std::shared_ptr<TensorImpl>> pending;  // gradient of each node's output
  pending[root.grad_fn().get()] = grad_root.impl_ptr();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = it->get();
    INV_CHECK(node->backward, "backward: the graph through '", node->name,
              "' was already freed by an earlier backward pass");
    auto found = pending.find(node);
    if (found != pending.end() && found->second) {
      const Tensor g(std::move(found->second));
      pending.erase(found);
      GradSink sink(node->inputs);
      node->backward(g, sink);
      for (size_t i = 0; i < node->inputs.size(); ++i) {
        const Tensor& gi = sink.grads()[i];
        const auto& in = node->inputs[i];
        if (!in || !gi.defined()) continue;
        accumulate(in->grad_fn ? pending[in->grad_fn.get()] : in->grad, gi);
      }
    }
    node->backward = nullptr;  // free the closure's saved tensors
    node->inputs.clear();
  }
}

}  // namespace detail

/// Releases the graph behind this node iteratively: a long chain (y = y * k, ten
/// thousand times, never run backward) would otherwise overflow the stack with
/// nested destructor calls.
inline Node::~Node() {
  --detail::live_nodes();
  backward = nullptr;  // saved tensors go first, while `inputs` still holds the chain
  std::vector<std::shared_ptr<detail::TensorImpl>> stack = std::move(inputs);
  while (!stack.empty()) {
    std::shared_ptr<detail::TensorImpl> impl = std::move(stack.back());
    stack.pop_back();
    if (impl && impl.use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1) {
      std::shared_ptr<Node> node = std::move(impl->grad_fn);
      node->backward = nullptr;
      for (auto& in : node->inputs) stack.push_back(std::move(in));
      node->inputs.clear();
    }  // `node` and `impl` die here with nothing left to recurse into
  }
}

inline void GradSink::add(size_t i, Tensor g) {
  INV_CHECK(i < inputs_.size() && inputs_[i], "GradSink: input ", i, " does not need a gradient");
  INV_CHECK(g.shape() == inputs_[i]->shape && g.dtype() == inputs_[i]->dtype, "GradSink: gradient for input ",
            i, " must be ", to_string(inputs_[i]->shape), " ", dtype_name(inputs_[i]->dtype), ", got ",
            to_string(g.shape()), " ", dtype_name(g.dtype()));
  if (!grads_[i].defined()) {
    grads_[i] = std::move(g);
    return;
  }
  std::shared_ptr<detail::TensorImpl> acc = grads_[i].impl_ptr();
  grads_[i] = Tensor();  // drop our reference so acc may be updated in place
  detail::accumulate(acc, g);
  grads_[i] = Tensor(acc);
}

inline void Tensor::backward() const {
  INV_CHECK(numel() == 1, "backward: an implicit gradient needs a one-element output, got shape ",
            to_string(shape()), "; pass the upstream gradient explicitly");
  detail::run_backward(*this, ones(shape(), dtype()));
}

inline void Tensor::backward(const Tensor& grad_output) const { detail::run_backward(*this, grad_output); }

}  // namespace inv
