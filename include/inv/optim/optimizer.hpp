// inv/optim/optimizer.hpp: the Optimizer base class, as torch.optim.Optimizer.
//
// An optimiser updates a fixed list of parameters in place (outside autograd) from
// their .grad(); parameters without a gradient are skipped, as in PyTorch. The step
// counter advances once per step(), not once per parameter tensor. state_dict()
// holds everything needed to resume: a resumed run continues exactly as an
// uninterrupted one.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "inv/nn/module.hpp"
#include "inv/parallel.hpp"

namespace inv::optim {

using nn::NamedTensors;

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
    INV_CHECK(lr >= 0, "optimizer: learning rate must be >= 0, got ", lr);
    for (size_t i = 0; i < params_.size(); ++i)
      INV_CHECK(params_[i].defined() && params_[i].is_leaf() && params_[i].requires_grad(), "optimizer: parameter ", i,
                " must be a leaf tensor that requires grad");
  }
  virtual ~Optimizer() = default;

  /// One update of every parameter that has a gradient.
  void step() {
    ++steps_;
    NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
      const Tensor g = params_[i].grad();
      if (!g.defined()) continue;
      INV_CHECK(g.shape() == params_[i].shape(), "optimizer: gradient of parameter ", i, " has shape ",
                to_string(g.shape()), ", expected ", to_string(params_[i].shape()));
      update(i, params_[i], g);
    }
  }
  /// Clears every parameter's gradient.
  void zero_grad() {
    for (Tensor& p : params_) p.zero_grad();
  }

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  /// Number of step() calls so far.
  int64_t steps() const { return steps_; }
  const std::vector<Tensor>& params() const { return params_; }

  /// The state needed to resume: "lr", "steps" and each parameter's buffers "<i>.<buffer>".
  NamedTensors state_dict() const {
    NamedTensors out{{"lr", scalar_tensor(lr_, kFloat64)}, {"steps", scalar_tensor(double(steps_), kFloat64)}};
    for (size_t i = 0; i < state_.size(); ++i)
      for (const auto& [name, t] : state_[i]) out.emplace_back(std::to_string(i) + "." + name, t);
    return out;
  }
  /// Restores a state_dict() of an optimiser of the same kind over the same parameters.
  /// Throws inv::Error naming the first entry that is missing or has the wrong shape.
  void load_state_dict(const NamedTensors& sd) {
    auto find = [&](const std::string& name) -> const Tensor& {
      for (const auto& [n, t] : sd)
        if (n == name) return t;
      inv::detail::fail("optimizer state: missing entry '", name, "'");
    };
    lr_ = find("lr").item();
    steps_ = static_cast<int64_t>(find("steps").item());
    state_.assign(params_.size(), {});
    for (size_t i = 0; i < params_.size(); ++i)
      for (const std::string& b : buffer_names()) {
        const std::string key = std::to_string(i) + "." + b;
        bool present = false;
        for (const auto& [n, t] : sd) present |= n == key;
        if (!present) continue;  // the parameter had no gradient yet
        const Tensor& t = find(key);
        INV_CHECK(t.shape() == params_[i].shape(), "optimizer state: ", key, ": expected ",
                  to_string(params_[i].shape()), ", found ", to_string(t.shape()));
        Tensor c = empty(t.shape(), params_[i].dtype());
        c.copy_(t);
        state_[i].emplace_back(b, c);
      }
  }

 protected:
  /// Updates parameter i in place from its gradient g.
  virtual void update(size_t i, Tensor& p, const Tensor& g) = 0;
  /// Names of the per-parameter buffers this optimiser keeps.
  virtual std::vector<std::string> buffer_names() const = 0;

  /// The buffer `name` of parameter i, created as zeros on first use (`created` tells).
  Tensor& buffer(size_t i, const std::string& name, bool* created = nullptr) {
    if (state_.size() < params_.size()) state_.resize(params_.size());
    for (auto& [n, t] : state_[i])
      if (n == name) {
        if (created) *created = false;
        return t;
      }
    state_[i].emplace_back(name, zeros_like(params_[i]));
    if (created) *created = true;
    return state_[i].back().second;
  }

 private:
  std::vector<Tensor> params_;
  std::vector<NamedTensors> state_;
  double lr_;
  int64_t steps_ = 0;
};

namespace detail {
/// Runs f(i) for every element index of an n-element parameter, in parallel when large.
template <class F>
void for_each_element(int64_t n, F&& f) {
  parallel_for_each(n, 2, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  }, kElementAlign);
}
}  // namespace detail

}  // namespace inv::optim
