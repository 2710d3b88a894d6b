// inv/attack/reconstruction.hpp: what every attack returns.
//
// The three attacks of He, Zhang & Lee (rMLE, inverse network, shadow model + rMLE) and
// every attack of the registry (inv/attack/registry.hpp) return one Reconstruction: the
// images in normalised space, what the attack optimised, and what it cost.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "inv/tensor.hpp"

namespace inv::attack {

/// What an attack spent.
struct AttackCost {
  double seconds = 0;         // wall time, training included
  int64_t iterations = 0;     // rMLE steps taken (0 when the attack runs none)
  int64_t epochs = 0;         // epochs of the decoder or shadow it trained (0 when none)
  int64_t training_images = 0;  // images it trained on (0 when none)
  int64_t queries = 0;        // images it asked the edge oracle about (black-box)
};

/// A reconstruction of the private inputs x from observed features v = f1(x).
struct Reconstruction {
  /// (N, C, H, W) in normalised space, not clipped; attack::to_image de-normalises and clips.
  Tensor images;
  /// Per image, the attack's objective at the returned point (rMLE: mean squared feature
  /// distance + λ_TV·TV + λ_l2·mean(x²), protocol §3). Empty when the attack minimises
  /// nothing per image (an inverse network outputs g(v) directly).
  std::vector<double> objective;
  /// Per image, the rMLE iterate returned: 0 = the start, k = after k steps (else empty).
  std::vector<int64_t> best_iteration;
  /// rMLE's summed objective every RmleConfig::trace_every iterations (else empty).
  std::vector<double> trace;
  /// The mean training loss per epoch of the decoder (MSE) or shadow (cross-entropy).
  std::vector<double> train_loss;
  AttackCost cost;
  /// The decoder or shadow used, e.g. "paper decoder (protocol §4)" ("" when none).
  std::string architecture;
  /// Empty, or why the attack stopped early (e.g. a non-finite rMLE objective).
  std::string stopped;
};

}  // namespace inv::attack
