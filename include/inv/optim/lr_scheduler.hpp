// inv/optim/lr_scheduler.hpp: StepLR, as torch.optim.lr_scheduler.StepLR.
//
// Call step() once per epoch, after the epoch's optimiser steps. After e calls the
// learning rate is base_lr · gamma^floor(e / step_size) (halve every 20 epochs:
// StepLR(opt, 20, 0.5)).
#pragma once

#include "inv/optim/optimizer.hpp"

namespace inv::optim {

class StepLR {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1)
      : opt_(opt), step_size_(step_size), gamma_(gamma), base_lr_(opt.lr()) {
    INV_CHECK(step_size >= 1, "StepLR: step_size must be >= 1, got ", step_size);
  }
  void step() {
    ++epoch_;
    apply();
  }
  /// Epochs completed so far (for resuming: set_epoch(e) restores the rate of epoch e).
  int64_t epoch() const { return epoch_; }
  void set_epoch(int64_t e) {
    epoch_ = e;
    apply();
  }
  double base_lr() const { return base_lr_; }

 private:
  void apply() { opt_.set_lr(base_lr_ * std::pow(gamma_, static_cast<double>(epoch_ / step_size_))); }
  Optimizer& opt_;
  int64_t step_size_;
  double gamma_, base_lr_;
  int64_t epoch_ = 0;
};

}  // namespace inv::optim
