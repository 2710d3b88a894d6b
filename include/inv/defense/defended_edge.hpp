// inv/defense/defended_edge.hpp: a defense, and the deployed edge that applies it.
//
// He, Zhang & Lee (IEEE IoT-J 2021; docs/protocol.md §7, §9) measure defenses that the
// edge applies at inference, to its input or to its output, without retraining:
//   gaussian   v = f1(x + ε) or f1(x) + ε, ε ~ N(0, σ²) per element, σ = level
//   laplace    the same with ε ~ Laplace(0, b), b = level
//   dropout    x ⊙ m or f1(x) ⊙ m, m Bernoulli: 0 with probability r = level, else 1;
//              no 1/(1 − r) rescaling
//   optimised  f1(x) + n, one fixed tensor n learned at the split (defense/optimised_noise.hpp,
//              protocol §9); `level` is the scale of its random reference
// All in normalised space. A DefendedEdge is what is deployed: the cloud's accuracy, the
// black-box attacker's oracle and the features every attacker sees come from it. Each
// forward draws fresh noise or masks from the edge's own Generator, so a seed fixes every
// draw of a run; concurrent forward calls are serialised on the draws (their order, and
// so which call gets which draw, is then up to the threads).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "inv/defense/noise.hpp"
#include "inv/nn/module.hpp"
#include "inv/ops/dropout.hpp"
#include "inv/ops/elementwise.hpp"

namespace inv::defense {

enum class DefenseKind { None, Gaussian, Laplace, Dropout, Optimised };
enum class Position { Input, Features };

/// "none", "gaussian", "laplace", "dropout", "optimised".
inline const char* kind_name(DefenseKind k) {
  switch (k) {
    case DefenseKind::None: return "none";
    case DefenseKind::Gaussian: return "gaussian";
    case DefenseKind::Laplace: return "laplace";
    case DefenseKind::Dropout: return "dropout";
    case DefenseKind::Optimised: return "optimised";
  }
  return "?";
}

/// The kind named `name`. Throws inv::Error naming the value and the kinds.
inline DefenseKind parse_kind(const std::string& name) {
  for (DefenseKind k : {DefenseKind::None, DefenseKind::Gaussian, DefenseKind::Laplace, DefenseKind::Dropout,
                        DefenseKind::Optimised})
    if (name == kind_name(k)) return k;
  inv::detail::fail("unknown defense '", name, "' (none, gaussian, laplace, dropout, optimised)");
}

/// "input" or "features".
inline const char* position_name(Position p) { return p == Position::Input ? "input" : "features"; }

/// The position named `name`. Throws inv::Error naming the value.
inline Position parse_position(const std::string& name) {
  if (name == "input") return Position::Input;
  if (name == "features") return Position::Features;
  inv::detail::fail("unknown defense position '", name, "' (input, features)");
}

/// A defense: its kind, where it applies and its level (σ, b, r, or the optimised noise's
/// reference scale). What an attacker who knows the defense knows: everything here but
/// the optimised noise's tensor.
struct Defense {
  DefenseKind kind = DefenseKind::None;
  Position position = Position::Features;
  double level = 0;
  /// Optimised only: n, of one sample's feature shape (learn_optimised_noise). Secret.
  Tensor offset;

  /// Throws inv::Error naming the value: a negative or non-finite level, a dropout rate
  /// outside [0, 1), optimised noise anywhere but on the features or without its tensor.
  void validate() const {
    INV_CHECK(std::isfinite(level) && level >= 0, "defense ", kind_name(kind), ": level must be finite and >= 0, got ",
              level);
    if (kind == DefenseKind::Dropout)
      INV_CHECK(level < 1, "defense dropout: the rate must be in [0, 1), got ", level);
    if (kind == DefenseKind::Optimised) {
      INV_CHECK(position == Position::Features, "defense optimised: applies to the features only");
      INV_CHECK(offset.defined(), "defense optimised: no noise tensor (learn_optimised_noise or load_optimised_noise)");
    }
  }
  /// E.g. "dropout 0.6 on the features", "none".
  std::string describe() const {
    if (kind == DefenseKind::None) return "none";
    char level_text[32];
    std::snprintf(level_text, sizeof level_text, "%g", level);
    return std::string(kind_name(kind)) + " " + level_text + " on the " + position_name(position);
  }
};

/// The deployed edge: the edge f1 with its defense (see the header). Its state_dict is the
/// edge's, under "edge.". Throws inv::Error from the constructor for an invalid defense or
/// a null edge; forward throws when an optimised offset does not fit the edge's output.
class DefendedEdge : public nn::Module {
 public:
  DefendedEdge(std::shared_ptr<nn::Module> edge, Defense defense, uint64_t seed)
      : edge_(std::move(edge)), defense_(std::move(defense)), gen_(seed) {
    INV_CHECK(edge_ != nullptr, "DefendedEdge: the edge is null");
    defense_.validate();
    register_module("edge", edge_);
  }

  Tensor forward(const Tensor& x) override {
    if (defense_.position == Position::Input) return edge_->forward(apply(x));
    return apply(edge_->forward(x));
  }

  std::string type_name() const override { return "DefendedEdge"; }
  std::string extra_repr() const override { return defense_.describe(); }

  const Defense& defense() const { return defense_; }
  nn::Module& edge() { return *edge_; }

 private:
  Tensor apply(const Tensor& t) {
    switch (defense_.kind) {
      case DefenseKind::None: return t;
      case DefenseKind::Optimised: {
        const Shape per(t.shape().begin() + 1, t.shape().end());
        INV_CHECK(defense_.offset.shape() == per, "DefendedEdge: the optimised noise is ",
                  to_string(defense_.offset.shape()), " but the edge's output is ", to_string(per), " per sample");
        return add(t, defense_.offset);
      }
      default: break;
    }
    if (defense_.level == 0) return t;
    std::lock_guard<std::mutex> lock(draw_);
    switch (defense_.kind) {
      case DefenseKind::Gaussian: return add(t, gaussian_noise(t.shape(), defense_.level, gen_));
      case DefenseKind::Laplace: return add(t, laplace_noise(t.shape(), defense_.level, gen_));
      case DefenseKind::Dropout: return dropout_mask(t, defense_.level, gen_);
      default: return t;
    }
  }

  std::shared_ptr<nn::Module> edge_;
  Defense defense_;
  Generator gen_;
  std::mutex draw_;
};

}  // namespace inv::defense
