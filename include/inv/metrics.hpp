// inv/metrics.hpp: image-quality metrics of reconstructions: MSE, PSNR and SSIM.
//
// These are evaluation functions, not ops: they read plain tensor data (float32 or
// float64), compute in double, record no autograd graph and return one value per
// image. The attacks report all of them (see evaluate()).
//
// Conventions shared by every function here
// -----------------------------------------
// * Images are (N, C, H, W), or a single image (C, H, W) which counts as N = 1.
//   The caller de-normalises them to pixel values in [0, data_range] (data_range = 1
//   unless a function is given another).
// * Both images are clipped to [0, data_range] first (values below 0 become 0, above
//   data_range become data_range; ±inf are clipped too), as the reference code clips
//   to [0, 1] before measuring. So scaling both images and the data range by the same
//   factor leaves PSNR and SSIM unchanged. A NaN anywhere throws inv::Error.
// * `reference` is the original image x, `reconstruction` the attacker's x*. The
//   order matters only for the reference SSIM's data range (see SsimMode).
// * Both tensors must have the same shape; otherwise inv::Error names both shapes.
//   N = 0 gives empty results; C, H and W must be at least 1.
//
// Source: He, Zhang & Lee (ACSAC 2019) and their reference code (get_PSNR and
// skimage.measure.compare_ssim); scikit-image 0.19 structural_similarity; Wang,
// Bovik, Sheikh & Simoncelli, "Image quality assessment: from error visibility to
// structural similarity", IEEE TIP 13(4), 2004.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "inv/error.hpp"
#include "inv/parallel.hpp"
#include "inv/shape.hpp"
#include "inv/tensor.hpp"

namespace inv::metrics {

/// The two SSIM variants (both follow scikit-image 0.19 `structural_similarity`:
/// filter, form the SSIM map, crop (window − 1)/2 pixels at every border, average
/// the rest; colour images average the per-channel values).
///
///   Reference  what the reference code reported (scikit-image `compare_ssim`
///              before v0.18, called with data_range = max − min of the
///              reconstruction): uniform 7×7 window, K1 = 0.01, K2 = 0.03,
///              sample covariance (variances and covariance × 49/48), 3-pixel
///              border cropped, data range = max − min of the clipped
///              reconstruction over all its channels, per image. If that range is
///              0 (a constant reconstruction, where scikit-image divides 0 by 0 in
///              flat windows and returns NaN) or so small that (K1·range)² would
///              underflow (< ~1e-152, float64 input only), the data range is 1.
///   Gaussian   Wang et al. 2004 (scikit-image gaussian_weights=True, sigma=1.5,
///              use_sample_covariance=False): 11×11 Gaussian window, σ = 1.5
///              (truncated at radius 5 = int(3.5·σ + 0.5), weights normalised to
///              sum 1), K1 = 0.01, K2 = 0.03, population covariance, 5-pixel border
///              cropped, data range 1.
/// Both agree with scikit-image 0.19 on float64 input to rounding error (the
/// reference code's compare_ssim also computed in float64).
enum class SsimMode { Reference, Gaussian };

inline const char* ssim_mode_name(SsimMode m) {
  return m == SsimMode::Reference ? "reference" : "gaussian";
}

/// Side of the SSIM window: 7 (Reference) or 11 (Gaussian). Images must be at
/// least this large in H and W.
inline int64_t ssim_window_size(SsimMode m) { return m == SsimMode::Reference ? 7 : 11; }

namespace detail {

constexpr double kSsimK1 = 0.01;
constexpr double kSsimK2 = 0.03;

/// Both images of a pair, clipped to [0, data_range], as doubles in (N, C, H, W) order.
struct ClippedPair {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<double> ref, rec;
  int64_t image_size() const { return c * h * w; }
};

inline void check_finite_data_range(double data_range, const char* op) {
  INV_CHECK(std::isfinite(data_range) && data_range > 0, op,
            ": data_range must be a positive finite number, got ", data_range);
}

/// Copies t into doubles, clipped to [0, hi]; throws on NaN naming the element.
inline std::vector<double> clipped_values(const Tensor& t, double hi, const char* op, const char* which) {
  std::vector<double> v = t.to_vector<double>();
  const Shape& s = t.shape();
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) {
      Shape idx(s.size());
      size_t rest = i;
      for (size_t d = s.size(); d-- > 0;) {
        idx[d] = static_cast<int64_t>(rest % static_cast<size_t>(s[d]));
        rest /= static_cast<size_t>(s[d]);
      }
      inv::detail::fail(op, ": the ", which, " contains NaN at index ", to_string(idx));
    }
    v[i] = std::clamp(v[i], 0.0, hi);
  }
  return v;
}

/// Validates a (reference, reconstruction) pair and returns both clipped to [0, hi].
inline ClippedPair load_pair(const Tensor& reference, const Tensor& reconstruction, const char* op, double hi = 1.0) {
  INV_CHECK(reference.defined() && reconstruction.defined(), op,
            ": reference and reconstruction must be defined tensors");
  const Shape& a = reference.shape();
  const Shape& b = reconstruction.shape();
  INV_CHECK(a.size() == 3 || a.size() == 4, op, ": expected images (N, C, H, W) or (C, H, W), got ",
            to_string(a));
  INV_CHECK(a == b, op, ": reference and reconstruction must have the same shape, got ", to_string(a),
            " and ", to_string(b));
  ClippedPair p;
  const size_t o = a.size() == 4 ? 1 : 0;
  p.n = a.size() == 4 ? a[0] : 1;
  p.c = a[o];
  p.h = a[o + 1];
  p.w = a[o + 2];
  INV_CHECK(p.c >= 1 && p.h >= 1 && p.w >= 1, op, ": images need C, H, W >= 1, got ", to_string(a));
  p.ref = clipped_values(reference, hi, op, "reference");
  p.rec = clipped_values(reconstruction, hi, op, "reconstruction");
  return p;
}

inline std::vector<double> mse_of(const ClippedPair& p) {
  const int64_t m = p.image_size();
  std::vector<double> out(static_cast<size_t>(p.n));
  for (int64_t i = 0; i < p.n; ++i) {
    double s = 0;
    for (int64_t k = i * m; k < (i + 1) * m; ++k) {
      const double d = p.ref[static_cast<size_t>(k)] - p.rec[static_cast<size_t>(k)];
      s += d * d;
    }
    out[static_cast<size_t>(i)] = s / static_cast<double>(m);
  }
  return out;
}

/// 10·log10(data_range² / mse), written as 10·(2·log10(data_range) − log10(mse)) so
/// that a tiny nonzero MSE cannot overflow to +inf; +inf exactly when mse is 0.
inline double psnr_from_mse(double mse, double data_range) {
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * (2.0 * std::log10(data_range) - std::log10(mse));
}

/// The K×K window weights (row-major, summing to 1) of a mode: the outer product of
/// the 1-D kernel with itself, as a separable ndimage filter applies it.
inline std::vector<double> ssim_window(SsimMode mode) {
  const size_t k = static_cast<size_t>(ssim_window_size(mode));
  std::vector<double> g(k, 1.0 / static_cast<double>(k));
  if (mode == SsimMode::Gaussian) {
    // scipy.ndimage's Gaussian kernel: exp(−x²/(2σ²)) for x = −r..r, normalised.
    const double sigma = 1.5;
    const double r = static_cast<double>(k / 2);
    double sum = 0;
    for (size_t i = 0; i < k; ++i) {
      const double x = static_cast<double>(i) - r;
      g[i] = std::exp(-0.5 * x * x / (sigma * sigma));
      sum += g[i];
    }
    for (double& v : g) v /= sum;
  }
  std::vector<double> w(k * k);
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j) w[i * k + j] = g[i] * g[j];
  return w;
}

/// Mean SSIM of one H×W plane over the interior positions whose K×K window lies
/// inside the image (exactly scikit-image's filter-then-crop: the crop removes every
/// position whose window would read the reflected border). Moments are centred
/// (Σw(x−μ)² rather than Σwx² − μ²): equal in exact arithmetic, never negative.
inline double ssim_plane(const double* x, const double* y, int64_t H, int64_t W, const std::vector<double>& win,
                         int64_t K, double cov_norm, double C1, double C2) {
  double total = 0;
  for (int64_t i = 0; i + K <= H; ++i)
    for (int64_t j = 0; j + K <= W; ++j) {
      double mx = 0, my = 0;
      for (int64_t a = 0; a < K; ++a)
        for (int64_t b = 0; b < K; ++b) {
          const double wt = win[static_cast<size_t>(a * K + b)];
          mx += wt * x[(i + a) * W + j + b];
          my += wt * y[(i + a) * W + j + b];
        }
      double vx = 0, vy = 0, vxy = 0;
      for (int64_t a = 0; a < K; ++a)
        for (int64_t b = 0; b < K; ++b) {
          const double wt = win[static_cast<size_t>(a * K + b)];
          const double dx = x[(i + a) * W + j + b] - mx, dy = y[(i + a) * W + j + b] - my;
          vx += wt * dx * dx;
          vy += wt * dy * dy;
          vxy += wt * dx * dy;
        }
      vx *= cov_norm;
      vy *= cov_norm;
      vxy *= cov_norm;
      // (A1/B1)·(A2/B2): B1 >= C1 > 0 and B2 >= C2 > 0, so never 0/0.
      total += (2 * mx * my + C1) / (mx * mx + my * my + C1) * ((2 * vxy + C2) / (vx + vy + C2));
    }
  return total / static_cast<double>((H - K + 1) * (W - K + 1));
}

/// True when (K1·data_range)² is a normal positive double, i.e. C1 and C2 are usable.
inline bool ssim_constants_usable(double data_range) {
  const double c1 = (kSsimK1 * data_range) * (kSsimK1 * data_range);
  return c1 >= std::numeric_limits<double>::min();
}

inline std::vector<double> ssim_of(const ClippedPair& p, SsimMode mode, std::optional<double> data_range,
                                   const char* op) {
  const int64_t K = ssim_window_size(mode);
  INV_CHECK(p.h >= K && p.w >= K, op, " (", ssim_mode_name(mode), " mode): images must be at least ", K, "x", K,
            " (the SSIM window), got ", p.h, "x", p.w);
  if (data_range) {
    check_finite_data_range(*data_range, op);
    INV_CHECK(ssim_constants_usable(*data_range), op, ": data_range ", *data_range,
              " is too small: the SSIM constants (0.01·data_range)² underflow");
  }
  const std::vector<double> win = ssim_window(mode);
  const double cov_norm = mode == SsimMode::Reference ? double(K * K) / double(K * K - 1) : 1.0;
  const int64_t m = p.image_size(), plane = p.h * p.w;

  // The data range of each image: explicit, 1 (Gaussian), or the reconstruction's
  // max − min with the documented fallback to 1 (Reference).
  std::vector<double> ranges(static_cast<size_t>(p.n), data_range.value_or(1.0));
  if (mode == SsimMode::Reference && !data_range)
    for (int64_t i = 0; i < p.n; ++i) {
      const auto first = p.rec.begin() + i * m;
      const auto [lo, hi] = std::minmax_element(first, first + m);
      const double r = *hi - *lo;
      ranges[static_cast<size_t>(i)] = ssim_constants_usable(r) ? r : 1.0;
    }

  // One value per (image, channel), each written by exactly one chunk.
  std::vector<double> per_channel(static_cast<size_t>(p.n * p.c));
  parallel_for(p.n * p.c, 1, [&](int64_t begin, int64_t end) {
    for (int64_t q = begin; q < end; ++q) {
      const double R = ranges[static_cast<size_t>(q / p.c)];
      const double C1 = (kSsimK1 * R) * (kSsimK1 * R), C2 = (kSsimK2 * R) * (kSsimK2 * R);
      per_channel[static_cast<size_t>(q)] =
          ssim_plane(p.ref.data() + q * plane, p.rec.data() + q * plane, p.h, p.w, win, K, cov_norm, C1, C2);
    }
  });
  std::vector<double> out(static_cast<size_t>(p.n));
  for (int64_t i = 0; i < p.n; ++i) {
    double s = 0;
    for (int64_t ch = 0; ch < p.c; ++ch) s += per_channel[static_cast<size_t>(i * p.c + ch)];
    out[static_cast<size_t>(i)] = s / static_cast<double>(p.c);
  }
  return out;
}

}  // namespace detail

/// Mean squared error per image, mean over C·H·W of (reference − reconstruction)²
/// after clipping both to [0, 1].
/// reference, reconstruction: (N, C, H, W) or (C, H, W), same shape. Returns N values in [0, 1].
/// Throws inv::Error on a shape mismatch, a wrong rank or NaN.
inline std::vector<double> mse(const Tensor& reference, const Tensor& reconstruction) {
  return detail::mse_of(detail::load_pair(reference, reconstruction, "mse"));
}

/// Peak signal-to-noise ratio in dB per image: 10·log10(data_range² / MSE), the MSE of
/// the images clipped to [0, data_range]. The reference code uses data_range 1.
/// Identical images (MSE 0) give +infinity, never NaN; see summarize_psnr() for
/// averaging such values.
/// Throws inv::Error as mse() does, and when data_range is not positive and finite.
inline std::vector<double> psnr(const Tensor& reference, const Tensor& reconstruction, double data_range = 1.0) {
  detail::check_finite_data_range(data_range, "psnr");
  std::vector<double> out = detail::mse_of(detail::load_pair(reference, reconstruction, "psnr", data_range));
  for (double& v : out) v = detail::psnr_from_mse(v, data_range);
  return out;
}

/// Structural similarity per image, in [−1, 1] (1 for identical images), computed as
/// described at SsimMode after clipping both images to [0, data_range] ([0, 1] when no
/// data_range is given).
/// reference, reconstruction: (N, C, H, W) or (C, H, W), same shape, H and W at least
/// ssim_window_size(mode) (7 or 11).
/// data_range: when given, it replaces the mode's data range (Reference: the
/// reconstruction's max − min; Gaussian: 1) for every image.
/// Throws inv::Error on a shape mismatch, a wrong rank, NaN, images smaller than the
/// window (the message names the minimum size) or a data_range that is not positive
/// and finite (or so small that (0.01·data_range)² underflows).
inline std::vector<double> ssim(const Tensor& reference, const Tensor& reconstruction,
                                SsimMode mode = SsimMode::Reference,
                                std::optional<double> data_range = std::nullopt) {
  if (data_range) detail::check_finite_data_range(*data_range, "ssim");
  return detail::ssim_of(detail::load_pair(reference, reconstruction, "ssim", data_range.value_or(1.0)), mode,
                         data_range, "ssim");
}

/// A set of per-image PSNR values reduced to numbers a report can print.
struct PsnrSummary {
  /// Arithmetic mean over all images. +infinity when any image was reconstructed
  /// exactly (MSE 0): the mean of a set containing +inf is +inf, as in IEEE arithmetic.
  double mean = 0;
  /// Mean over the images with finite PSNR; +infinity when every image is exact.
  double finite_mean = 0;
  /// How many images have PSNR = +inf (exact reconstructions), and how many in all.
  int64_t exact = 0;
  int64_t count = 0;
};

/// Summarises per-image PSNR values (e.g. from psnr()). Report `finite_mean` together
/// with `exact` ("23.1 dB, 1 of 10 exact") when `mean` is +inf.
/// Throws inv::Error for an empty list or a value that is NaN or −inf.
inline PsnrSummary summarize_psnr(const std::vector<double>& psnr_values) {
  INV_CHECK(!psnr_values.empty(), "summarize_psnr: expected at least one PSNR value, got none");
  PsnrSummary s;
  s.count = static_cast<int64_t>(psnr_values.size());
  double sum = 0;
  for (size_t i = 0; i < psnr_values.size(); ++i) {
    const double v = psnr_values[i];
    INV_CHECK(!std::isnan(v) && v != -std::numeric_limits<double>::infinity(), "summarize_psnr: value ", i,
              " is ", v, "; PSNR values are finite or +inf");
    if (std::isinf(v))
      ++s.exact;
    else
      sum += v;
  }
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t finite = s.count - s.exact;
  s.finite_mean = finite > 0 ? sum / static_cast<double>(finite) : inf;
  s.mean = s.exact > 0 ? inf : s.finite_mean;
  return s;
}

/// Every metric of every image, as the attacks report them.
struct ImageQuality {
  std::vector<double> mse;             ///< mse()
  std::vector<double> psnr;            ///< psnr(), data_range 1, dB
  std::vector<double> ssim_reference;  ///< ssim(SsimMode::Reference)
  std::vector<double> ssim_gaussian;   ///< ssim(SsimMode::Gaussian)
};

/// Computes MSE, PSNR (data_range 1) and both SSIM modes in one call, validating and
/// clipping the images once. Shapes as for ssim(); H and W must be at least 11 (the
/// Gaussian window). Throws inv::Error as mse(), psnr() and ssim() do.
inline ImageQuality evaluate(const Tensor& reference, const Tensor& reconstruction) {
  const detail::ClippedPair p = detail::load_pair(reference, reconstruction, "evaluate");
  ImageQuality q;
  q.ssim_gaussian = detail::ssim_of(p, SsimMode::Gaussian, std::nullopt, "evaluate");
  q.ssim_reference = detail::ssim_of(p, SsimMode::Reference, std::nullopt, "evaluate");
  q.mse = detail::mse_of(p);
  q.psnr.reserve(q.mse.size());
  for (double m : q.mse) q.psnr.push_back(detail::psnr_from_mse(m, 1.0));
  return q;
}

}  // namespace inv::metrics
