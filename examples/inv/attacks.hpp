// attacks.hpp: running one of the three attacks at one split layer.
//
// Each attacker gets only what its threat model allows (inv/attack/access.hpp):
//   white-box   the edge f1 = layers up to the split, and the observed features v.
//   black-box   an EdgeOracle over f1 (queried once on each of its own images), and v.
//   query-free  the cloud f2 = the layers after the split, its own labelled images, and v.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <inv/metrics.hpp>
#include <inv/tensor.hpp>

#include "datasets.hpp"
#include "settings.hpp"
#include "target.hpp"

namespace cli {

/// One attack at one split, fully specified.
struct AttackJob {
  Attack attack = Attack::WhiteBox;
  std::string split;
  RmleChoice rmle{};           // white-box, and the inversion step of query-free
  AttackerSettings attacker;   // black-box and query-free
  uint64_t seed = 0;
  bool quiet = false;

  /// The settings this attack used, as (key, value) rows with fixed keys:
  /// iterations, lr, lambda_tv, lambda_l2, epochs, attacker_set, attacker_images, architecture.
  std::vector<std::pair<std::string, std::string>> settings(const std::string& architecture) const;
  /// Everything the result depends on, for caching.
  std::string fingerprint() const;
};

/// The job of `attack` at `split` under the command's settings.
AttackJob make_job(const Settings& s, const std::string& split, Attack attack);

struct AttackResult {
  inv::Tensor reconstruction;  // (N, C, H, W), normalised, not clipped
  double seconds = 0;
  std::string architecture;    // the decoder / shadow used ("" for white-box)
  int64_t queries = 0;         // images the black-box attacker asked the oracle about
  std::vector<double> train_loss;  // decoder / shadow loss per epoch
};

/// A decoder or shadow whose last epoch's mean training loss is above this has diverged.
constexpr double kDivergedLoss = 1e4;

/// Runs `job` against `target` on the observed features (N, ...) of split `job.split`.
/// `attacker` is needed by black-box and query-free (nullptr otherwise). Throws inv::Error
/// (a non-finite training loss among others); a last-epoch loss above kDivergedLoss only
/// prints a warning on stderr.
AttackResult run_attack(Target& target, const AttackJob& job, const inv::Tensor& features,
                        const AttackerData* attacker);

/// A reconstruction (normalised) as images: de-normalised and clipped to [0, 1].
inv::Tensor to_pixels(const Target& target, const inv::Tensor& reconstruction);

/// MSE, PSNR and both SSIM modes of a reconstruction (normalised) against the originals
/// (in [0, 1]), per image (inv/metrics.hpp).
inv::metrics::ImageQuality score_reconstruction(const Target& target, const inv::Tensor& originals,
                                                const inv::Tensor& reconstruction);

/// True when the attack needs the attacker's data.
inline bool needs_attacker_data(Attack a) { return a != Attack::WhiteBox; }

}  // namespace cli
