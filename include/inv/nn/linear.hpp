// inv/nn/linear.hpp: Linear and Flatten layers.
#pragma once

#include "inv/nn/init.hpp"
#include "inv/nn/module.hpp"
#include "inv/ops/linear.hpp"

namespace inv::nn {

/// Linear(in, out): x (*, in) -> (*, out), y = x·Wᵀ + b; weight (out, in), bias (out).
class Linear : public Module {
 public:
  Tensor weight, bias;

  Linear(int64_t in, int64_t out, bool with_bias = true, Generator& gen = default_generator()) {
    INV_CHECK(in > 0 && out > 0, "Linear: features must be positive, got ", in, " -> ", out);
    weight = init::default_uniform({out, in}, in, gen);
    register_parameter("weight", &weight);
    if (with_bias) {
      bias = init::default_uniform({out}, in, gen);
      register_parameter("bias", &bias);
    }
  }
  Tensor forward(const Tensor& x) override { return linear(x, weight, bias); }
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override {
    return "in_features=" + std::to_string(weight.size(1)) + ", out_features=" + std::to_string(weight.size(0)) +
           ", bias=" + (bias.defined() ? "True" : "False");
  }
};

/// Flatten(start_dim = 1, end_dim = -1): (N, C, H, W) -> (N, C·H·W), a view.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_(start_dim), end_(end_dim) {}
  Tensor forward(const Tensor& x) override { return flatten(x, start_, end_); }
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override {
    return "start_dim=" + std::to_string(start_) + ", end_dim=" + std::to_string(end_);
  }

 private:
  int64_t start_, end_;
};

/// Unflatten(shape): (N, D) -> (N, shape...), D = numel(shape), a view (as nn.Unflatten(1, shape)).
class Unflatten : public Module {
 public:
  explicit Unflatten(Shape shape) : shape_(std::move(shape)) {}
  Tensor forward(const Tensor& x) override {
    INV_CHECK(x.dim() == 2 && x.size(1) == inv::numel(shape_), "Unflatten: expected (N, ", inv::numel(shape_),
              ") input, got ", to_string(x.shape()));
    Shape s{x.size(0)};
    s.insert(s.end(), shape_.begin(), shape_.end());
    return reshape(x, s);
  }
  std::string type_name() const override { return "Unflatten"; }
  std::string extra_repr() const override { return "shape=" + to_string(shape_); }

 private:
  Shape shape_;
};

}  // namespace inv::nn
