// inv/nn/sequential.hpp: a Sequential of *named* layers, split execution and forward hooks.
//
// Layers are reachable by name and by index. split("ReLU2") cuts the network of
// collaborative inference into the edge part f1 (every layer up to and including
// ReLU2) and the cloud part f2 (the rest); both hold the very same layer objects as
// the whole, so they share its parameters and buffers, and cloud(edge(x)) equals
// the full forward bitwise. Forward hooks observe, or replace, the tensor a named
// layer produces during a forward pass.
//
// Dotted split points. torchvision-style models are a Sequential whose layers may be
// Sequentials themselves (a ResNet's stages "layer1".."layer4" holding blocks "0", "1",
// ...; a VGG's "features" holding "0".."28"). split("layer2.1") cuts inside such a child:
//   edge  = the layers before layer2, then a Sequential "layer2" holding blocks 0 and 1;
//   cloud = a Sequential "layer2" holding layer2's remaining blocks (left out when there
//           are none), then the layers after layer2.
// The halves hold the very layer objects, under the whole's names, so their state_dict
// names are the whole's ("layer2.0.conv1.weight"), partitioned. Only a child whose type is
// Sequential itself is entered (a BasicBlock, say, is one layer); the rest of the name
// may be dotted again ("a.b.c"). split_points() lists, in network order, each layer's
// name and, before the name of a nested Sequential, its own split points but the last,
// prefixed ("layer2.0", then "layer2"): the last one cuts where the nested Sequential
// ends, which is the cut called by its own name ("layer2.1" == "layer2" for two blocks;
// split() accepts both). The other members (index_of, at, ptr, slice, hooks, layer_info)
// see the top-level layers only; a dotted name there is an unknown name.
#pragma once

#include <iomanip>
#include <map>
#include <typeinfo>

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
  size_t index_of(const std::string& layer) const { return find_layer(layer, ""); }
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
  /// holds the same numbers as its input's (a cut there is the cut before it); before a
  /// nested Sequential's name, its own split points but the last, dotted ("layer2.0").
  /// A model without nested Sequentials gives its layer names, Flatten left out.
  std::vector<std::string> split_points() const {
    std::vector<std::string> out;
    for (const auto& [n, layer] : children()) {
      if (layer->type_name() == "Flatten") continue;
      if (const Sequential* nested = as_nested(*layer)) {
        std::vector<std::string> inner = nested->split_points();
        if (!inner.empty()) inner.pop_back();  // cuts where `nested` ends: the cut called n
        for (const auto& p : inner) out.push_back(n + "." + p);
      }
      out.push_back(n);
    }
    return out;
  }

  /// Splits after the layer called `layer`: {edge = layers up to and including it, cloud = the rest}.
  /// A dotted name ("layer2.1") cuts inside a nested Sequential (see the header comment).
  /// Both parts share this model's layer objects (and so its parameters); both take this
  /// model's mode, as slice() does. Hooks are not carried over. Throws inv::Error for a
  /// name that is not a layer, listing the valid ones.
  std::pair<std::shared_ptr<Sequential>, std::shared_ptr<Sequential>> split(const std::string& layer) const {
    auto parts = split_at(layer, "");
    parts.first->train(is_training());
    parts.second->train(is_training());
    return parts;
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
  /// `m` as a Sequential to split inside, when its type is Sequential itself; else nullptr.
  static const Sequential* as_nested(const Module& m) {
    return typeid(m) == typeid(Sequential) ? static_cast<const Sequential*>(&m) : nullptr;
  }

  /// Index of the layer called `layer`; `prefix` ("layer2.") names this Sequential inside
  /// the one split() was called on, for the message.
  size_t find_layer(const std::string& layer, const std::string& prefix) const {
    for (size_t i = 0; i < size(); ++i)
      if (name(i) == layer) return i;
    std::string valid;
    for (const auto& n : names()) valid += (valid.empty() ? "" : ", ") + n;
    const std::string where = prefix.empty() ? "" : " of " + prefix.substr(0, prefix.size() - 1);
    inv::detail::fail("no layer named '", prefix, layer, "' (layers", where, ": ", valid, ")");
  }

  /// split() of `layer` relative to this Sequential, which is `prefix` inside the whole.
  std::pair<std::shared_ptr<Sequential>, std::shared_ptr<Sequential>> split_at(const std::string& layer,
                                                                                const std::string& prefix) const {
    const size_t dot = layer.find('.');
    if (dot == std::string::npos) {
      const size_t i = find_layer(layer, prefix);
      return {slice(0, i + 1), slice(i + 1, size())};
    }
    const std::string head = layer.substr(0, dot);
    const size_t i = find_layer(head, prefix);
    const Sequential* nested = as_nested(at(i));
    INV_CHECK(nested != nullptr, "no layer named '", prefix, layer, "': '", prefix, head, "' is a ", at(i).type_name(),
              ", and split() enters only nested Sequentials");
    auto [inner_edge, inner_cloud] = nested->split_at(layer.substr(dot + 1), prefix + head + ".");
    auto edge = slice(0, i);
    edge->add(head, inner_edge);
    auto cloud = std::make_shared<Sequential>();
    if (inner_cloud->size() > 0) cloud->add(head, inner_cloud);
    for (size_t j = i + 1; j < size(); ++j) cloud->add(name(j), children()[j].second);
    return {edge, cloud};
  }

  std::map<std::string, std::vector<std::pair<int64_t, ForwardHook>>> hooks_;
  int64_t next_hook_ = 0;
};

}  // namespace inv::nn
