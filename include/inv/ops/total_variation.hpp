// inv/ops/total_variation.hpp: the total-variation image priors used by rMLE.
//
// Two variants, named after where they come from (see the rMLE attack):
//
//   TvVariant::Reference  the reference code's count-normalised squared anisotropic TV
//       TV_sq(x) = [ Σ (x[i+1,j] - x[i,j])² / (C·(H-1)·W) + Σ (x[i,j+1] - x[i,j])² / (C·H·(W-1)) ] / N
//     (every vertical and every horizontal neighbour pair; channels summed).
//
//   TvVariant::PaperBeta1 / PaperBeta2  the paper's TV_β (He, Zhang & Lee 2019, §4):
//       TV_β(x) = Σ_{n,c} Σ_{i<H-1, j<W-1} ((x[i+1,j] - x[i,j])² + (x[i,j+1] - x[i,j])²)^(β/2)
//     with β = 1 (isotropic TV) or 2. For β < 2 the gradient where both differences
//     are zero is taken as 0 (a subgradient).
//
// Input: x (N, C, H, W) with H, W >= 2. Output: a 0-dim tensor.
#pragma once

#include <cmath>
#include <vector>

#include "inv/ops/elementwise.hpp"

namespace inv {

enum class TvVariant { Reference, PaperBeta1, PaperBeta2 };

inline const char* tv_variant_name(TvVariant v) {
  switch (v) {
    case TvVariant::Reference: return "reference";
    case TvVariant::PaperBeta1: return "paper-beta1";
    case TvVariant::PaperBeta2: return "paper-beta2";
  }
  return "?";
}

namespace detail {
inline void check_tv_input(const Tensor& x, const char* op) {
  INV_CHECK(x.dim() == 4, op, ": expected 4-D (N,C,H,W) input, got ", to_string(x.shape()));
  INV_CHECK(x.size(2) >= 2 && x.size(3) >= 2, op, ": expected H, W >= 2, got ", to_string(x.shape()));
}

/// Per plane (n, c) of x, the sums of squared vertical (sv) and horizontal (sh)
/// neighbour differences, in double (each plane's sum in a fixed order).
inline void tv_plane_sums(const Tensor& x, std::vector<double>& sv, std::vector<double>& sh) {
  const int64_t H = x.size(2), W = x.size(3), planes = x.size(0) * x.size(1);
  sv.assign(static_cast<size_t>(planes), 0.0);
  sh.assign(static_cast<size_t>(planes), 0.0);
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    parallel_for_each(planes, H * W, [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) {
        const T* q = p + m * H * W;
        double v = 0, h = 0;
        for (int64_t i = 0; i < H; ++i) {
          const T* r = q + i * W;
          auto square_of = [](T d) { return double(d) * double(d); };
          if (i + 1 < H) v += kernels::lane_sum(W, [&](int64_t j) { return square_of(r[W + j] - r[j]); });
          h += kernels::lane_sum(W - 1, [&](int64_t j) { return square_of(r[j + 1] - r[j]); });
        }
        sv[size_t(m)] = v, sh[size_t(m)] = h;
      }
    });
  });
}

/// TV_β of each plane (n, c) of x, in double.
inline std::vector<double> tv_beta_planes(const Tensor& x, double beta) {
  const int64_t H = x.size(2), W = x.size(3), planes = x.size(0) * x.size(1);
  std::vector<double> out(static_cast<size_t>(planes), 0.0);
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    for (int64_t m = 0; m < planes; ++m) {
      const T* q = p + m * H * W;
      double total = 0;
      for (int64_t i = 0; i + 1 < H; ++i)
        for (int64_t j = 0; j + 1 < W; ++j) {
          const double dv = double(q[(i + 1) * W + j] - q[i * W + j]);
          const double dh = double(q[i * W + j + 1] - q[i * W + j]);
          total += std::pow(dv * dv + dh * dh, beta / 2);
        }
      out[size_t(m)] = total;
    }
  });
  return out;
}

}  // namespace detail

/// The reference code's TV_sq (see the header). x (N,C,H,W) -> 0-dim.
inline Tensor tv_reference(const Tensor& x) {
  detail::check_tv_input(x, "tv_reference");
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), planes = N * C;
  const double kv = 1.0 / (double(C) * double(H - 1) * double(W) * double(N));
  const double kh = 1.0 / (double(C) * double(H) * double(W - 1) * double(N));
  Tensor y = empty({}, x.dtype());
  std::vector<double> sv, sh;
  detail::tv_plane_sums(x, sv, sh);
  double tv = 0, th = 0;
  for (int64_t m = 0; m < planes; ++m) tv += sv[size_t(m)], th += sh[size_t(m)];
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    *y.data<T>() = static_cast<T>(tv * kv + th * kh);
  });
  if (detail::should_record({&x})) {
    detail::record(y, "tv_reference", {x}, [x, kv, kh](const Tensor& g, GradSink& s) {
      const int64_t H = x.size(2), W = x.size(3), planes = x.size(0) * x.size(1);
      Tensor gx = zeros_like(x);
      dispatch(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const double cv = 2 * kv * g.item(), ch = 2 * kh * g.item();
        const T* p = x.data<T>();
        T* out = gx.data<T>();
        parallel_for_each(planes, H * W, [&](int64_t m0, int64_t m1) {
          std::vector<T> d(static_cast<size_t>(W));
          for (int64_t m = m0; m < m1; ++m) {
            const T* q = p + m * H * W;
            T* o = out + m * H * W;
            // d/dx of kv·(x[i+1,j] - x[i,j])²: +d at (i+1, j), -d at (i, j).
            for (int64_t i = 0; i + 1 < H; ++i) {
              const T* __restrict r = q + i * W;
              T* __restrict o0 = o + i * W;
              T* __restrict o1 = o0 + W;
              for (int64_t j = 0; j < W; ++j) d[size_t(j)] = static_cast<T>(cv * double(r[W + j] - r[j]));
              for (int64_t j = 0; j < W; ++j) o1[j] += d[size_t(j)];
              for (int64_t j = 0; j < W; ++j) o0[j] -= d[size_t(j)];
            }
            // d/dx of kh·(x[i,j+1] - x[i,j])²: +d at (i, j+1), -d at (i, j).
            for (int64_t i = 0; i < H; ++i) {
              const T* __restrict r = q + i * W;
              T* __restrict oi = o + i * W;
              for (int64_t j = 0; j + 1 < W; ++j) d[size_t(j)] = static_cast<T>(ch * double(r[j + 1] - r[j]));
              for (int64_t j = 0; j + 1 < W; ++j) oi[j + 1] += d[size_t(j)];
              for (int64_t j = 0; j + 1 < W; ++j) oi[j] -= d[size_t(j)];
            }
          }
        });
      });
      s.add(0, gx);
    });
  }
  return y;
}

/// The paper's TV_β (see the header), β > 0. x (N,C,H,W) -> 0-dim.
inline Tensor tv_beta(const Tensor& x, double beta) {
  detail::check_tv_input(x, "tv_beta");
  INV_CHECK(beta > 0, "tv_beta: expected beta > 0, got ", beta);
  const int64_t H = x.size(2), W = x.size(3), planes = x.size(0) * x.size(1);
  Tensor y = empty({}, x.dtype());
  double total = 0;
  for (double t : detail::tv_beta_planes(x, beta)) total += t;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    *y.data<T>() = static_cast<T>(total);
  });
  if (detail::should_record({&x})) {
    detail::record(y, "tv_beta", {x}, [x, beta, H, W, planes](const Tensor& g, GradSink& s) {
      Tensor gx = zeros_like(x);
      dispatch(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const double gy = g.item();
        const T* p = x.data<T>();
        T* out = gx.data<T>();
        for (int64_t m = 0; m < planes; ++m) {
          const T* q = p + m * H * W;
          T* o = out + m * H * W;
          for (int64_t i = 0; i + 1 < H; ++i)
            for (int64_t j = 0; j + 1 < W; ++j) {
              const double dv = double(q[(i + 1) * W + j] - q[i * W + j]);
              const double dh = double(q[i * W + j + 1] - q[i * W + j]);
              const double s2 = dv * dv + dh * dh;
              // d(s^(β/2))/ds = (β/2)·s^(β/2-1); 0 at s = 0 for β < 2 (subgradient).
              const double k = s2 > 0 || beta >= 2 ? gy * beta * std::pow(s2, beta / 2 - 1) : 0.0;
              o[(i + 1) * W + j] += static_cast<T>(k * dv);
              o[i * W + j + 1] += static_cast<T>(k * dh);
              o[i * W + j] -= static_cast<T>(k * (dv + dh));
            }
        }
      });
      s.add(0, gx);
    });
  }
  return y;
}

/// The TV of each image of x (N values, no autograd): total_variation of x[n:n+1], so
/// that for the reference variant their mean, and for TV_β their sum, is total_variation(x).
inline std::vector<double> total_variation_per_image(const Tensor& x, TvVariant variant) {
  detail::check_tv_input(x, "total_variation_per_image");
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  std::vector<double> out(static_cast<size_t>(N), 0.0);
  if (variant == TvVariant::Reference) {
    std::vector<double> sv, sh;
    detail::tv_plane_sums(x, sv, sh);
    const double kv = 1.0 / (double(C) * double(H - 1) * double(W)), kh = 1.0 / (double(C) * double(H) * double(W - 1));
    for (int64_t n = 0; n < N; ++n) {
      double v = 0, h = 0;
      for (int64_t c = 0; c < C; ++c) v += sv[size_t(n * C + c)], h += sh[size_t(n * C + c)];
      out[size_t(n)] = v * kv + h * kh;
    }
  } else {
    const std::vector<double> planes = detail::tv_beta_planes(x, variant == TvVariant::PaperBeta1 ? 1.0 : 2.0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) out[size_t(n)] += planes[size_t(n * C + c)];
  }
  return out;
}

/// TV of x in the chosen variant.
inline Tensor total_variation(const Tensor& x, TvVariant variant) {
  switch (variant) {
    case TvVariant::PaperBeta1: return tv_beta(x, 1.0);
    case TvVariant::PaperBeta2: return tv_beta(x, 2.0);
    case TvVariant::Reference: break;
  }
  return tv_reference(x);
}

}  // namespace inv
