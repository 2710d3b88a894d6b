// inv/nn/activation.hpp: ReLU, LeakyReLU, Sigmoid, Tanh layers (elementwise, any shape).
#pragma once

#include "inv/nn/module.hpp"
#include "inv/ops/elementwise.hpp"

namespace inv::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
  std::string type_name() const override { return "ReLU"; }
};

/// LeakyReLU(negative_slope = 0.01).
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : slope_(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, slope_); }
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override {
    std::ostringstream os;
    os << "negative_slope=" << slope_;
    return os.str();
  }

 private:
  double slope_;
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
  std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override { return tanh(x); }
  std::string type_name() const override { return "Tanh"; }
};

}  // namespace inv::nn
