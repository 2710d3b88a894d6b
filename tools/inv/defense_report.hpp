// defense_report.hpp: the results of `inv defend` — defense.csv, defense.json, the
// report's Defenses section (the privacy–utility plot, every setting with its strongest
// attacker's reconstructions, the recommendation) and the terminal table.
//
// The privacy bar (--bar): every attacker's SSIM (reference mode, report.hpp) at most
// `bar`, and no better than the label-only baseline (the mean image of the class the
// cloud predicts). The recommendation is the cell that meets it with the highest accuracy.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <inv/defense/defended_edge.hpp>
#include <inv/metrics.hpp>
#include <inv/tensor.hpp>

#include "report.hpp"

namespace cli {

/// One defense setting at one split, and what every attacker did against it.
struct DefenseCell {
  std::string split;
  inv::defense::Defense defense;  // kind None for the undefended split
  double accuracy = 0;
  std::vector<std::string> attacks;
  std::vector<inv::metrics::ImageQuality> quality;
  std::vector<inv::Tensor> reconstructions;  // (N, C, H, W) in [0, 1]
  std::vector<std::string> architecture;
  double seconds = 0;
  /// Gaussian noise on the features: the Fisher bound on any unbiased attacker's MSE, in
  /// pixel units (std² / dFIL, mean over the images; defense/fisher.hpp); else NaN.
  double fisher_bound = NAN;

  std::string label() const { return split + " · " + defense.describe(); }
  /// Mean SSIM (reference) of attack `a`, or NaN when it did not run.
  double ssim(const std::string& a) const {
    for (size_t i = 0; i < attacks.size(); ++i)
      if (attacks[i] == a) return mean_of(quality[i].ssim_reference);
    return NAN;
  }
  /// The strongest attacker by SSIM (reference), baselines excluded; -1 when none ran.
  int strongest() const {
    int best = -1;
    for (size_t i = 0; i < attacks.size(); ++i) {
      if (attacks[i] == "label-only") continue;
      if (best < 0 || mean_of(quality[i].ssim_reference) > mean_of(quality[size_t(best)].ssim_reference)) best = int(i);
    }
    return best;
  }
};

/// Whether a cell meets the bar: every attacker's SSIM <= bar and <= the label-only baseline's.
bool meets_bar(const DefenseCell& c, double bar);

/// The recommendation: among the cells that meet the bar, the one with the highest accuracy
/// (ties: the first in grid order), with its loss against `clean_accuracy`; or a sentence
/// saying that nothing meets it.
std::string recommend(const std::vector<DefenseCell>& cells, double bar, double clean_accuracy);

/// defense.csv: one row per cell and attacker (split, defense, position, level, accuracy,
/// attack, psnr, ssim_reference, ssim_gaussian, mse, fisher_mse_bound, note).
std::string defense_csv(const std::vector<DefenseCell>& cells);

/// defense.json: the command, whether the grid is complete, the bar, the recommendation and
/// every cell with its attackers.
std::string defense_json(const std::vector<DefenseCell>& cells, const std::string& recommendation, double bar,
                         const std::string& command, bool complete);

/// The report's Defenses section (an HTML fragment for write_section).
std::string defense_section(const std::vector<DefenseCell>& cells, const std::string& recommendation, double bar,
                            const inv::Tensor& originals, const std::string& command, bool complete);

/// The terminal table: one row per cell, each attacker's SSIM (reference).
std::string defense_table(const std::vector<DefenseCell>& cells, double bar);

}  // namespace cli
