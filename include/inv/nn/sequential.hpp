// inv/nn/sequential.hpp: a Sequential of *named* layers, split execution and forward hooks.
//
// Layers are reachable by name and by index. split("ReLU2") cuts the network of
// collaborative inference into the edge part f1 (every layer up to and including
// ReLU2) and the cloud part f2 (the rest); both hold the very same layer objects as
// the whole, so they share its parameters and buffers, and cloud(edge(x)) equals
// the full forward bitwise. Forward hooks observe, or replace, the tensor a named
// layer produces during a forward pass.
#pragma once

#include <iomanip>
#include <map>

#include "inv/nn/module.hpp"

namespace inv::nn {

/// One row of a model summary.
struct LayerInfo {
  std::string name, op;  // "conv1", "Conv2d(1, 8, kernel_size=(5, 5))"
  Shape output_shape;    // for the batch of the summary's input
  int64_t parameters = 0;
};

class Sequential : public Module {
 public:
  /// Called with the layer's name and output; return a defined tensor to replace the
  /// output, or Tensor() to leave it unchanged.
  using ForwardHook = std::function<Tensor(const std::string& layer, const Tensor& output)>;

  Sequential() = default;

  /// Appends a layer under a unique, non-empty name. Returns *this for chaining.
  Sequential& add(const std::string& name, std::shared_ptr<Module> layer) {
    INV_CHECK(!name.empty(), "Sequential::add: layer names must not be empty");
    INV_CHECK(name.find('.') == std::string::npos, "Sequential::add: layer name '", name, "' must not contain '.'");
    register_module(name, std::move(layer));
    return *this;
  }
  /// Constructs a layer of type M in place: seq.emplace<Conv2d>("conv1", 1, 8, 5).
  template <class M, class... Args>
  std::shared_ptr<M> emplace(const std::string& name, Args&&... args) {
    auto m = std::make_shared<M>(std::forward<Args>(args)...);
    add(name, m);
    return m;
  }

  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (const auto& [name, layer] : children()) {
      h = layer->forward(h);
      if (auto it = hooks_.find(name); it != hooks_.end())
        for (const auto& [id, hook] : it->second)
          if (Tensor r = hook(name, h); r.defined()) h = r;
    }
    return h;
  }
  std::string type_name() const override { return "Sequential"; }

  size_t size() const { return children().size(); }
  const std::string& name(size_t i) const { return children().at(i).first; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [n, m] : children()) out.push_back(n);
    return out;
  }
  /// Index of the layer called `layer`. Throws inv::Error listing the valid names.
  size_t index_of(const std::string& layer) const {
    for (size_t i = 0; i < size(); ++i)
      if (name(i) == layer) return i;
    std::string valid;
    for (const auto& n : names()) valid += (valid.empty() ? "" : ", ") + n;
    inv::detail::fail("no layer named '", layer, "' (layers: ", valid, ")");
  }
  Module& at(size_t i) const {
    INV_CHECK(i < size(), "Sequential: index ", i, " out of range for ", size(), " layers");
    return *children()[i].second;
  }
  Module& at(const std::string& layer) const { return *children()[index_of(layer)].second; }
  std::shared_ptr<Module> ptr(const std::string& layer) const { return children()[index_of(layer)].second; }

  /// Layers [begin, end) as a new Sequential sharing the layer objects.
  std::shared_ptr<Sequential> slice(size_t begin, size_t end) const {
    INV_CHECK(begin <= end && end <= size(), "Sequential::slice: [", begin, ", ", end, ") out of range for ", size(),
              " layers");
    auto s = std::make_shared<Sequential>();
    for (size_t i = begin; i < end; ++i) s->add(name(i), children()[i].second);
    s->train(is_training());
    return s;
  }

  /// The layers split() may cut after, in order: every layer but a Flatten, whose output
  /// holds the same numbers as its input's (a cut there is the cut before it).
  std::vector<std::string> split_points() const {
    std::vector<std::string> out;
    for (const auto& [n, layer] : children())
      if (layer->type_name() != "Flatten") out.push_back(n);
    return out;
  }

  /// Splits after the layer called `layer`: {edge = layers up to and including it, cloud = the rest}.
  /// Both parts share this model's layer objects (and so its parameters). Hooks are not carried over.
  std::pair<std::shared_ptr<Sequential>, std::shared_ptr<Sequential>> split(const std::string& layer) const {
    const size_t i = index_of(layer);
    return {slice(0, i + 1), slice(i + 1, size())};
  }

  /// Registers a hook on the output of layer `layer`; returns a handle for remove_hook.
  int64_t register_forward_hook(const std::string& layer, ForwardHook hook) {
    index_of(layer);  // validates the name
    hooks_[layer].emplace_back(next_hook_, std::move(hook));
    return next_hook_++;
  }
  void remove_hook(int64_t handle) {
    for (auto& [layer, list] : hooks_)
      for (auto it = list.begin(); it != list.end(); ++it)
        if (it->first == handle) {
          list.erase(it);
          return;
        }
    inv::detail::fail("remove_hook: no hook with handle ", handle);
  }

  /// Name, op, output shape and parameter count of every layer for an input of `input_shape`
  /// (a dry run without gradients, in evaluation mode; the model's state is not changed).
  std::vector<LayerInfo> layer_info(const Shape& input_shape, Dtype dtype = kFloat32) {
    std::vector<LayerInfo> rows;
    NoGradGuard no_grad;
    ModeGuard mode(*this, false);
    Tensor h = zeros(input_shape, dtype);
    for (const auto& [n, layer] : children()) {
      h = layer->forward(h);
      rows.push_back({n, layer->repr(), h.shape(), layer->parameter_count()});
    }
    return rows;
  }

  /// A printable table of layer_info, with the total parameter count.
  std::string summary(const Shape& input_shape) {
    const auto rows = layer_info(input_shape);
    size_t wn = 5, wo = 2;
    for (const auto& r : rows) {
      wn = std::max(wn, r.name.size());
      wo = std::max(wo, r.op.size());
    }
    std::ostringstream os;
    os << std::left << std::setw(int(wn)) << "layer" << "  " << std::setw(int(wo)) << "op" << "  " << std::setw(16)
       << "output" << "  " << std::right << std::setw(10) << "params" << "\n";
    for (const auto& r : rows)
      os << std::left << std::setw(int(wn)) << r.name << "  " << std::setw(int(wo)) << r.op << "  " << std::setw(16)
         << to_string(r.output_shape) << "  " << std::right << std::setw(10) << r.parameters << "\n";
    os << "total parameters: " << parameter_count() << "\n";
    return os.str();
  }

 private:
  std::map<std::string, std::vector<std::pair<int64_t, ForwardHook>>> hooks_;
  int64_t next_hook_ = 0;
};

}  // namespace inv::nn
