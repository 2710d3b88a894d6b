// inv/attack/evaluate.hpp: scoring reconstructions with the papers' metrics.
#pragma once

#include "inv/data/transforms.hpp"
#include "inv/metrics.hpp"

namespace inv::attack {

/// De-normalises a reconstruction (N, C, H, W) and clips it to [0, 1], as the papers do
/// before computing metrics and saving images.
inline Tensor to_image(const Tensor& normalised, const std::vector<double>& mean, const std::vector<double>& std) {
  NoGradGuard no_grad;
  return clamp(data::denormalize(normalised.detach(), mean, std), 0.0, 1.0);
}

/// MSE, PSNR and SSIM (both modes) of each reconstruction against the originals in [0, 1].
inline metrics::ImageQuality score(const Tensor& originals, const Tensor& reconstruction_normalised,
                                   const std::vector<double>& mean, const std::vector<double>& std) {
  return metrics::evaluate(originals, to_image(reconstruction_normalised, mean, std));
}

}  // namespace inv::attack
