// inv/nn/dropout.hpp: the Dropout layer (inverted dropout in training, identity in eval).
#pragma once

#include "inv/nn/module.hpp"
#include "inv/ops/dropout.hpp"

namespace inv::nn {

/// Dropout(p = 0.5): any shape. Masks come from the given generator (default: the global one).
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator& gen = default_generator()) : p_(p), gen_(&gen) {
    INV_CHECK(p >= 0 && p <= 1, "Dropout: probability must be in [0, 1], got ", p);
  }
  Tensor forward(const Tensor& x) override { return dropout(x, p_, is_training(), *gen_); }
  std::string type_name() const override { return "Dropout"; }
  bool mode_dependent() const override { return true; }
  std::string extra_repr() const override {
    std::ostringstream os;
    os << "p=" << p_;
    return os.str();
  }

 private:
  double p_;
  Generator* gen_;
};

}  // namespace inv::nn
