// inv/attack/access.hpp: what each attacker is given (the threat model, in types), and
// the guards that let an attack use a model without changing it.
//
// He, Zhang & Lee (ACSAC 2019) consider three attackers of collaborative inference:
//   white-box    knows the edge model f1 (structure and weights): takes the edge Module.
//   black-box    may only query f1: takes an EdgeOracle, which hides the model, counts
//                the images it is asked about and enforces a query budget.
//   query-free   cannot query f1 but knows the cloud model f2: takes the cloud Module
//                and its own labelled data; nothing in its signature reaches the edge.
#pragma once

#include <limits>
#include <memory>

#include "inv/nn/module.hpp"

namespace inv::attack {

/// Query access to the edge f1: features of the images it is asked about, nothing else.
class EdgeOracle {
 public:
  static constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max();

  /// Wraps `edge`; at most `budget` images may be queried in total.
  explicit EdgeOracle(std::shared_ptr<nn::Module> edge, int64_t budget = kUnlimited)
      : edge_(std::move(edge)), budget_(budget) {
    INV_CHECK(edge_ != nullptr, "EdgeOracle: the edge model is null");
    INV_CHECK(budget >= 0, "EdgeOracle: budget must be >= 0, got ", budget);
  }

  /// f1(x) for normalised images x (N, C, H, W), computed in evaluation mode without
  /// gradients. Counts N queries. Throws inv::Error (and answers nothing) when the
  /// budget would be exceeded.
  Tensor query(const Tensor& x) {
    INV_CHECK(x.dim() >= 1, "EdgeOracle: expected a batch of images, got shape ", to_string(x.shape()));
    const int64_t n = x.size(0);
    INV_CHECK(n <= budget_ - used_, "EdgeOracle: query budget exceeded: asked for ", n, " images, ", budget_ - used_,
              " of ", budget_, " left");
    used_ += n;
    nn::ModeGuard mode(*edge_, false);
    NoGradGuard no_grad;
    return edge_->forward(x);
  }

  /// Images queried so far.
  int64_t queries() const { return used_; }
  int64_t budget() const { return budget_; }

 private:
  std::shared_ptr<nn::Module> edge_;
  int64_t budget_;
  int64_t used_ = 0;
};

/// Freezes a module for a scope: evaluation mode and no parameter gradients; restores
/// every module's mode and every parameter's requires_grad on exit (also on exceptions).
/// Gradients already stored on the parameters are left untouched.
class FrozenGuard {
 public:
  explicit FrozenGuard(nn::Module& m) : mode_(m, false) {
    for (auto& [name, p] : m.named_parameters()) {
      params_.push_back(p);
      flags_.push_back(p.requires_grad());
      p.impl().requires_grad = false;
    }
  }
  ~FrozenGuard() {
    for (size_t i = 0; i < params_.size(); ++i) params_[i].impl().requires_grad = flags_[i];
  }
  FrozenGuard(const FrozenGuard&) = delete;
  FrozenGuard& operator=(const FrozenGuard&) = delete;

 private:
  nn::ModeGuard mode_;
  std::vector<Tensor> params_;
  std::vector<bool> flags_;
};

}  // namespace inv::attack
