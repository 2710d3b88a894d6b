// inv/defense/fisher.hpp: a lower bound on the error of any unbiased attacker against
// Gaussian feature noise, from the Fisher information (Maeng et al., "Bounding the
// invertibility of privacy-preserving instance encoding using Fisher information",
// NeurIPS 2023).
//
// With v = f1(x) + ε, ε ~ N(0, σ²I), the Fisher information of v about x is
// I(x) = J(x)ᵀJ(x)/σ², J the edge's Jacobian at x. Its diagonal Fisher information per
// input coordinate, dFIL = tr(I)/d = ||J||²_F/(σ²·d) for d input coordinates, bounds the
// mean squared error of any unbiased estimator of x: MSE ≥ 1/dFIL (in the space x lives
// in: normalised). An attacker below the bound is biased (a prior such as TV pulls it
// towards smooth images), or the computation is wrong.
//
// J is computed with inv's own autograd, one row per output coordinate: a batch of B
// copies of the image, and a backward pass whose output gradient is one-hot in a
// different coordinate for each copy.
#pragma once

#include <vector>

#include "inv/attack/access.hpp"
#include "inv/ops/reduce.hpp"
#include "inv/ops/shape_ops.hpp"

namespace inv::defense {

/// The Jacobian J (P, d) of `edge` at one input x (1, C, H, W): J[k][j] = ∂f1(x)_k/∂x_j,
/// P the edge's outputs per sample, d = C·H·W, in x's dtype. The edge runs in evaluation
/// mode with its parameters frozen (left unchanged). `rows_per_pass` copies of x go
/// through each backward pass. Throws inv::Error unless x is (1, C, H, W).
inline Tensor edge_jacobian(nn::Module& edge, const Tensor& x, int64_t rows_per_pass = 256) {
  INV_CHECK(x.dim() == 4 && x.size(0) == 1, "edge_jacobian: expected one image (1, C, H, W), got ",
            to_string(x.shape()));
  INV_CHECK(rows_per_pass >= 1, "edge_jacobian: rows_per_pass must be >= 1");
  attack::FrozenGuard frozen(edge);
  const int64_t d = x.numel();
  int64_t P = 0;
  {
    NoGradGuard no_grad;
    P = edge.forward(x).numel();
  }
  Tensor J = zeros({P, d}, x.dtype());
  for (int64_t k0 = 0; k0 < P; k0 += rows_per_pass) {
    const int64_t B = std::min(rows_per_pass, P - k0);
    Shape bs = x.shape();
    bs[0] = B;
    Tensor xb = copy_data(broadcast_to(x.detach(), bs)).requires_grad_();
    const Tensor y = reshape(edge.forward(xb), {B, P});
    Tensor pick = zeros({B, P}, y.dtype());
    dispatch(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* p = pick.data<T>();
      for (int64_t b = 0; b < B; ++b) p[b * P + k0 + b] = T(1);
    });
    sum(mul(y, pick)).backward();
    const Tensor g = reshape(xb.grad(), {B, d});
    dispatch(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* src = g.data<T>();
      T* dst = J.data<T>();
      std::copy(src, src + B * d, dst + k0 * d);
    });
  }
  return J;
}

/// ||J(x_i)||²_F for each image of x (N, C, H, W): the part of dFIL that does not depend
/// on the noise (J per edge_jacobian, summed in double). Compute it once per split and
/// divide by σ²·d for each noise level (dfil below).
inline std::vector<double> jacobian_sq_norms(nn::Module& edge, const Tensor& x, int64_t rows_per_pass = 256) {
  INV_CHECK(x.dim() == 4, "jacobian_sq_norms: expected images (N, C, H, W), got ", to_string(x.shape()));
  std::vector<double> out;
  for (int64_t i = 0; i < x.size(0); ++i) {
    const Tensor J = edge_jacobian(edge, slice(x, 0, i, i + 1), rows_per_pass);
    double frob = 0;
    for (double v : J.to_vector<double>()) frob += v * v;
    out.push_back(frob);
  }
  return out;
}

/// dFIL = ||J||²_F / (σ²·d) from the squared Frobenius norms of jacobian_sq_norms, for
/// Gaussian feature noise of standard deviation sigma and d input coordinates per image.
/// Throws inv::Error unless sigma > 0 and d >= 1.
inline std::vector<double> dfil(const std::vector<double>& jacobian_sq_norms, double sigma, int64_t d) {
  INV_CHECK(sigma > 0 && std::isfinite(sigma), "dfil: sigma must be positive, got ", sigma);
  INV_CHECK(d >= 1, "dfil: expected d >= 1 input coordinates, got ", d);
  std::vector<double> out;
  for (double frob : jacobian_sq_norms) out.push_back(frob / (sigma * sigma * double(d)));
  return out;
}

/// dFIL of each image of x (N, C, H, W) for Gaussian feature noise of standard deviation
/// sigma (see the header): ||J(x_i)||²_F / (σ²·d). Throws inv::Error unless sigma > 0.
inline std::vector<double> dfil(nn::Module& edge, const Tensor& x, double sigma, int64_t rows_per_pass = 256) {
  INV_CHECK(sigma > 0 && std::isfinite(sigma), "dfil: sigma must be positive, got ", sigma);
  INV_CHECK(x.dim() == 4, "dfil: expected images (N, C, H, W), got ", to_string(x.shape()));
  const int64_t d = x.numel() / std::max<int64_t>(x.size(0), 1);
  return dfil(jacobian_sq_norms(edge, x, rows_per_pass), sigma, std::max<int64_t>(d, 1));
}

}  // namespace inv::defense
