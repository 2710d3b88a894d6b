// inv/nn/module.hpp: the Module base class, as torch.nn.Module.
//
// A Module owns parameters (leaf tensors that require grad), buffers (state that is
// saved but not trained, e.g. BatchNorm's running statistics) and named child
// modules. named_parameters()/named_buffers()/state_dict() walk the tree and give
// dotted names ("features.conv1.weight"). train()/eval() set the mode of the whole
// tree; ModeGuard sets it for a scope and restores every module's previous mode on
// exit, also when an exception passes through.
//
// Modules are held by std::shared_ptr and are not copyable: a Sequential split into
// edge and cloud parts shares the very same layer objects, and so their parameters.
//
// Threads. forward() may be called on one model from several threads at once, with the
// same results bit for bit as one call after another (tests/test_nn.cpp), as long as
//   - no thread changes the model meanwhile (parameters, buffers, modes, hooks), and
//   - no module draws random numbers (Dropout in training mode shares its Generator).
// Each thread may record its own autograd graph (grad mode is per thread, NoGradGuard
// included), but backward() must not run on two graphs that share parameters at once:
// both would accumulate into the same .grad. BatchNorm2d in training mode updates its
// running statistics in forward(), so it counts as changing the model. One call's loops
// run on inv's thread pool; the loops of calls made meanwhile run on their own threads
// (inv/parallel.hpp).
#pragma once

#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "inv/autograd.hpp"

namespace inv::nn {

class ModeGuard;
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// The computation. Input and output shapes are documented by each layer.
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  /// PyTorch's class name, e.g. "Conv2d".
  virtual std::string type_name() const = 0;
  /// The arguments shown in summaries, e.g. "1, 8, kernel_size=(5, 5)".
  virtual std::string extra_repr() const { return ""; }
  /// "Conv2d(1, 8, kernel_size=(5, 5))".
  std::string repr() const { return type_name() + "(" + extra_repr() + ")"; }

  /// Parameters of this module and its descendants, with dotted names, in registration order.
  NamedTensors named_parameters() const {
    NamedTensors out;
    visit("", [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, t] : m.params_) out.emplace_back(prefix + name, *t);
    });
    return out;
  }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, t] : named_parameters()) out.push_back(t);
    return out;
  }
  NamedTensors named_buffers() const {
    NamedTensors out;
    visit("", [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, t] : m.buffers_) out.emplace_back(prefix + name, *t);
    });
    return out;
  }
  /// Parameters then buffers of each module, depth-first: what a checkpoint stores.
  /// The tensors share storage with the module, so copying into them loads a state.
  NamedTensors state_dict() const {
    NamedTensors out;
    visit("", [&](const std::string& prefix, const Module& m) {
      for (const auto& [name, t] : m.params_) out.emplace_back(prefix + name, *t);
      for (const auto& [name, t] : m.buffers_) out.emplace_back(prefix + name, *t);
    });
    return out;
  }
  /// Total number of parameter elements.
  int64_t parameter_count() const {
    int64_t n = 0;
    for (const auto& [name, t] : named_parameters()) n += t.numel();
    return n;
  }

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

  /// Sets training mode (true) or evaluation mode (false) for the whole tree.
  void train(bool on = true) {
    visit_mut([&](Module& m) { m.training_ = on; });
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }
  /// True for modules whose forward differs between training and evaluation mode
  /// (Dropout, BatchNorm2d): only for them does the mode change a result.
  virtual bool mode_dependent() const { return false; }

  /// Clears the gradients of all parameters.
  void zero_grad() {
    for (auto& [name, t] : named_parameters()) t.zero_grad();
  }

  /// Sets requires_grad on every parameter (e.g. false to freeze a model).
  void requires_grad_(bool on) {
    visit_mut([&](Module& m) {
      for (auto& [name, t] : m.params_) t->requires_grad_(on);
    });
  }

  /// Converts every parameter and buffer to `dtype` in place (parameters stay leaves
  /// and keep requires_grad; gradients are cleared).
  void to(Dtype dtype) {
    visit_mut([&](Module& m) {
      for (auto& [name, t] : m.params_) {
        if (t->dtype() == dtype) continue;
        const bool rg = t->requires_grad();
        Tensor c = empty(t->shape(), dtype);
        c.copy_(*t);
        *t = c.requires_grad_(rg);
      }
      for (auto& [name, t] : m.buffers_) {
        if (t->dtype() == dtype) continue;
        Tensor c = empty(t->shape(), dtype);
        c.copy_(*t);
        *t = c;
      }
    });
  }

  /// Pre-order visit of this module and its descendants: f(dotted prefix, module).
  void visit(const std::string& prefix, const std::function<void(const std::string&, const Module&)>& f) const {
    f(prefix, *this);
    for (const auto& [name, c] : children_) c->visit(prefix + name + ".", f);
  }
  void visit_mut(const std::function<void(Module&)>& f) {
    f(*this);
    for (auto& [name, c] : children_) c->visit_mut(f);
  }

 protected:
  /// Registers a member tensor as a parameter (it becomes a leaf that requires grad).
  void register_parameter(const std::string& name, Tensor* t) {
    t->requires_grad_(true);
    params_.emplace_back(name, t);
  }
  /// Registers a member tensor as a buffer (saved in state_dict, not trained).
  void register_buffer(const std::string& name, Tensor* t) { buffers_.emplace_back(name, t); }
  /// Registers a child module under `name`.
  void register_module(const std::string& name, std::shared_ptr<Module> m) {
    INV_CHECK(m != nullptr, "register_module: '", name, "' is null");
    for (const auto& [n, c] : children_) INV_CHECK(n != name, "register_module: duplicate name '", name, "'");
    children_.emplace_back(name, std::move(m));
  }
  std::vector<std::pair<std::string, std::shared_ptr<Module>>>& mutable_children() { return children_; }

 private:
  friend class ModeGuard;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor*>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

/// Puts a module tree into training or evaluation mode for a scope and restores each
/// module's previous mode on exit (also when an exception passes through).
class ModeGuard {
 public:
  ModeGuard(Module& m, bool training) : root_(m) {
    m.visit("", [&](const std::string&, const Module& mod) { saved_.push_back(mod.is_training()); });
    m.train(training);
  }
  ~ModeGuard() {
    size_t i = 0;
    root_.visit_mut([&](Module& mod) { mod.training_ = saved_[i++]; });
  }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  Module& root_;
  std::vector<bool> saved_;
};

}  // namespace inv::nn
