// inv/attack/shadow.hpp: the query-free attack, a shadow edge model then rMLE (P1 §6).
//
// The attacker cannot query the edge f1 but knows the cloud f2 and has labelled data of
// its own. It trains a shadow f̃1 so that f2(f̃1(x)) classifies that data (cross-entropy;
// f2 frozen: in evaluation mode and left bitwise unchanged, only f̃1 is optimised; the
// images are normalised, as for every attack), then
// runs rMLE against f̃1 with the observed features. The shadow is either a copy of the
// target prefix's architecture with fresh weights ("same structure") or another
// architecture with the same output shape (the paper's Table 5, models::paper_shadow).
#pragma once

#include "inv/attack/inverse_network.hpp"
#include "inv/attack/rmle.hpp"
#include "inv/data/dataset.hpp"
#include "inv/data/transforms.hpp"

namespace inv::attack {

class ShadowModel {
 public:
  ShadowModel(std::shared_ptr<nn::Module> shadow, TrainConfig config = {})
      : shadow_(std::move(shadow)), config_(config) {
    INV_CHECK(shadow_ != nullptr, "ShadowModel: the shadow model is null");
    config_.validate("ShadowModel");
  }

  /// Trains the shadow through the frozen `cloud` on the attacker's labelled images,
  /// normalised as the target expects (attacker_data.images (N, C, H, W) in normalised
  /// space, as every attack takes them). Returns the mean loss per epoch. Throws
  /// inv::Error when the cloud cannot consume the shadow's output or the data is invalid.
  std::vector<double> fit(nn::Module& cloud, const data::Dataset& attacker_data) {
    attacker_data.check();
    FrozenGuard frozen(cloud);
    {
      NoGradGuard no_grad;
      nn::ModeGuard mode(*shadow_, false);
      const Tensor probe = slice(attacker_data.images, 0, 0, 1);
      const Tensor logits = cloud.forward(shadow_->forward(probe));
      INV_CHECK(logits.dim() == 2 && logits.size(1) >= attacker_data.num_classes(), "ShadowModel: the cloud produced ",
                to_string(logits.shape()), " from the shadow's output, expected (1, ", attacker_data.num_classes(), ")");
    }
    return detail::train_attacker_model(*shadow_, config_, attacker_data.size(), "shadow model",
                                        [&](const std::vector<int64_t>& idx) {
                                          std::vector<int64_t> labels;
                                          for (int64_t i : idx) labels.push_back(attacker_data.labels[size_t(i)]);
                                          const Tensor x = data::gather_rows(attacker_data.images, idx);
                                          return cross_entropy(cloud.forward(shadow_->forward(x)), labels);
                                        });
  }

  /// rMLE against the trained shadow (see attack::rmle).
  Reconstruction invert(const Tensor& features, const Shape& input_shape, const RmleConfig& config) {
    return rmle(*shadow_, features, input_shape, config);
  }

  nn::Module& shadow() { return *shadow_; }

 private:
  std::shared_ptr<nn::Module> shadow_;
  TrainConfig config_;
};

}  // namespace inv::attack
