// inv/defense/noise.hpp: the random draws of the noise defenses (docs/protocol.md §7).
//
// Gaussian N(0, σ²) and Laplace(0, b) noise, drawn element by element in order from a
// Generator, so that a seed fixes every draw on every machine and thread count.
// Laplace by the inverse CDF: u uniform in (-1/2, 1/2), ε = −b·sign(u)·ln(1 − 2|u|);
// its mean |ε| is b and its variance 2b².
#pragma once

#include <cmath>

#include "inv/random.hpp"
#include "inv/tensor.hpp"

namespace inv::defense {

/// Noise of shape `shape` (float32), each element N(0, sigma²). Throws inv::Error unless
/// sigma is finite and >= 0 (sigma 0 gives zeros).
inline Tensor gaussian_noise(const Shape& shape, double sigma, Generator& gen) {
  INV_CHECK(sigma >= 0 && std::isfinite(sigma), "gaussian_noise: sigma must be finite and >= 0, got ", sigma);
  Tensor t = empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = float(sigma * gen.normal()) + 0.0f;  // + 0: no -0 at sigma 0
  return t;
}

/// Noise of shape `shape` (float32), each element Laplace(0, b) (see the header). Throws
/// inv::Error unless b is finite and >= 0.
inline Tensor laplace_noise(const Shape& shape, double b, Generator& gen) {
  INV_CHECK(b >= 0 && std::isfinite(b), "laplace_noise: scale b must be finite and >= 0, got ", b);
  Tensor t = empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    double u = gen.uniform() - 0.5;    // [-1/2, 1/2)
    while (u == -0.5) u = gen.uniform() - 0.5;  // ln(0) excluded
    p[i] = float(-b * (u < 0 ? -1.0 : 1.0) * std::log1p(-2 * std::fabs(u)));
  }
  return t;
}

}  // namespace inv::defense
