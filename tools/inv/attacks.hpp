// attacks.hpp: one attack of the library's catalogue (inv/attack/registry.hpp) at one
// split layer, configured from the command's settings.
//
// Each attacker gets only what its threat model allows (the registry's harness grants it):
//   white-box   the edge f1 = layers up to the split, and the observed features v.
//   black-box   an EdgeOracle over f1 (queried once on each of its own images), and v.
//   query-free  the cloud f2 = the layers after the split, its own labelled images, and v.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <inv/attack/registry.hpp>
#include <inv/metrics.hpp>
#include <inv/protocol/attacker_data.hpp>
#include <inv/tensor.hpp>

#include "settings.hpp"
#include "target.hpp"

namespace cli {

/// One attack at one split, fully specified.
struct AttackJob {
  const AttackInfo* attack = nullptr;
  std::string split;
  RmleChoice rmle{};           // when the attack runs rMLE
  AttackerSettings attacker;   // when it trains a decoder or shadow
  uint64_t seed = 0;
  bool quiet = false;

  /// The settings this attack used, as (key, value) rows with fixed keys:
  /// iterations, lr, lambda_tv, lambda_l2, epochs, attacker_set, attacker_images, architecture.
  std::vector<std::pair<std::string, std::string>> settings(const std::string& architecture) const;
  /// Everything the result depends on, for caching.
  std::string fingerprint() const;
};

/// The job of `attack` at `split` under the command's settings.
AttackJob make_job(const Settings& s, const std::string& split, const AttackInfo& attack);

/// A decoder or shadow whose last epoch's mean training loss is above this has diverged.
constexpr double kDivergedLoss = 1e4;

/// Runs `job` against `target` on the observed features (N, ...) of split `job.split`
/// (inv::attack::run_attack). `attacker` is needed when the attack uses the attacker's
/// data (nullptr otherwise). Throws inv::Error (a non-finite training loss among others);
/// a last-epoch loss above kDivergedLoss only prints a warning on stderr.
/// `deployment` (may be null) is what is deployed: a defended edge and what the cloud observed.
inv::attack::Reconstruction run_attack(Target& target, const AttackJob& job, const inv::Tensor& features,
                                       const inv::protocol::AttackerData* attacker,
                                       const inv::attack::Deployment* deployment = nullptr);

/// A reconstruction (normalised) as images: de-normalised and clipped to [0, 1].
inv::Tensor to_pixels(const Target& target, const inv::Tensor& reconstruction);

/// MSE, PSNR and both SSIM modes of a reconstruction (normalised) against the originals
/// (in [0, 1]), per image (inv/metrics.hpp).
inv::metrics::ImageQuality score_reconstruction(const Target& target, const inv::Tensor& originals,
                                                const inv::Tensor& reconstruction);

}  // namespace cli
