// inv/data/transforms.hpp: per-channel normalisation and data augmentation.
//
// Every transform takes one image (C, H, W) or a batch (N, C, H, W), float32 or
// float64, and returns a new tensor of the same rank.
//
// * normalize / denormalize are differentiable (built from the autograd ops): the
//   attacks optimise an image in [0, 1] through the normalisation a model expects.
// * The geometric transforms (hflip, crop, affine and their random versions) are data
//   augmentation: they record no graph. Each is an index map: output pixel (i, j) of
//   image n copies input pixel map(n, i, j) of every channel, or 0 where the map
//   points outside the image. The random versions draw each image's parameters from
//   the given Generator, in image order, so a seed fixes the result; the parameter
//   distributions follow torchvision's RandomHorizontalFlip, RandomCrop and
//   RandomAffine (our Generator, not torch's, so the draws themselves differ).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "inv/autograd.hpp"
#include "inv/error.hpp"
#include "inv/ops/elementwise.hpp"
#include "inv/parallel.hpp"
#include "inv/random.hpp"
#include "inv/tensor.hpp"

namespace inv::data {

namespace data_detail {

/// (N, C, H, W) of an image (N = 1) or batch; throws unless x is 3-D or 4-D.
struct ImageDims {
  int64_t n, c, h, w;
  bool batched;
};

inline ImageDims image_dims(const Tensor& x, const char* op) {
  INV_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4), op, ": expected an image (C,H,W) or a batch (N,C,H,W), got ",
            x.defined() ? to_string(x.shape()) : std::string("an undefined tensor"));
  const bool b = x.dim() == 4;
  return {b ? x.size(0) : 1, x.size(-3), x.size(-2), x.size(-1), b};
}

/// The per-channel constants as a (C, 1, 1) tensor of x's dtype (one value: all channels).
inline Tensor channel_constants(const std::vector<double>& v, const ImageDims& d, Dtype dtype, const char* op,
                                const char* what) {
  INV_CHECK(v.size() == 1 || int64_t(v.size()) == d.c, op, ": ", what, " has ", v.size(),
            " values, expected 1 or one per channel (", d.c, ")");
  const int64_t c = static_cast<int64_t>(v.size());
  return from_vector(v, {c, 1, 1}, dtype);
}

/// The geometric transforms' common kernel. map_for(n, map) fills map[i·ow + j] with
/// the input pixel (row·W + col) that output pixel (i, j) of image n copies, or -1 for 0.
/// Images run in parallel; map_for must not throw.
template <class MapFor>
Tensor remap(const Tensor& x, const ImageDims& d, int64_t oh, int64_t ow, MapFor map_for) {
  Tensor out = empty(d.batched ? Shape{d.n, d.c, oh, ow} : Shape{d.c, oh, ow}, x.dtype());
  const int64_t in_plane = d.h * d.w, out_plane = oh * ow;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, d.c * out_plane));
    parallel_for(d.n, grain, [&](int64_t b, int64_t e) {
      std::vector<int64_t> map(static_cast<size_t>(out_plane));
      for (int64_t n = b; n < e; ++n) {
        map_for(n, map.data());
        for (int64_t c = 0; c < d.c; ++c) {
          const T* in = src + (n * d.c + c) * in_plane;
          T* o = dst + (n * d.c + c) * out_plane;
          for (int64_t p = 0; p < out_plane; ++p) o[p] = map[size_t(p)] >= 0 ? in[map[size_t(p)]] : T(0);
        }
      }
    });
  });
  return out;
}

/// Parameters of one affine transform (see affine()).
struct AffineParams {
  double angle = 0, tx = 0, ty = 0, scale = 1;
};

/// The source pixel of every output pixel under torchvision's affine (tensor version,
/// center = image centre, shear 0, nearest): torchvision.transforms.functional.affine
/// builds the inverse matrix M = [cos a, sin a, m2; -sin a, cos a, m5] / scale with
/// (m2, m5) = -M·(tx, ty), applies it to the output pixel centre in coordinates
/// relative to the image centre, x = j + 0.5 - W/2, y = i + 0.5 - H/2, and samples with
/// grid_sample(mode="nearest", padding_mode="zeros", align_corners=False). The
/// arithmetic below follows that order (theta divided by W/2, H/2, then unnormalised)
/// so that rounding ties go the same way.
inline void affine_map(const AffineParams& p, int64_t h, int64_t w, int64_t* map) {
  const double rot = p.angle * 3.14159265358979323846 / 180.0;
  const double cs = std::cos(rot), sn = std::sin(rot);
  double m[6] = {cs / p.scale, sn / p.scale, 0.0, -sn / p.scale, cs / p.scale, 0.0};
  m[2] += m[0] * (-p.tx) + m[1] * (-p.ty);
  m[5] += m[3] * (-p.tx) + m[4] * (-p.ty);
  const double hw = 0.5 * double(w), hh = 0.5 * double(h);
  const double ax[3] = {m[0] / hw, m[1] / hw, m[2] / hw}, ay[3] = {m[3] / hh, m[4] / hh, m[5] / hh};
  for (int64_t i = 0; i < h; ++i) {
    const double y = -hh + 0.5 + double(i);
    for (int64_t j = 0; j < w; ++j) {
      const double x = -hw + 0.5 + double(j);
      const double gx = x * ax[0] + y * ax[1] + ax[2], gy = x * ay[0] + y * ay[1] + ay[2];
      const double col = std::nearbyint(((gx + 1.0) * double(w) - 1.0) / 2.0);
      const double row = std::nearbyint(((gy + 1.0) * double(h) - 1.0) / 2.0);
      const bool inside = col >= 0 && col < double(w) && row >= 0 && row < double(h);
      map[i * w + j] = inside ? int64_t(row) * w + int64_t(col) : -1;
    }
  }
}

inline Tensor affine_each(const Tensor& x, const ImageDims& d, const std::vector<AffineParams>& params) {
  return remap(x, d, d.h, d.w, [&](int64_t n, int64_t* map) { affine_map(params[size_t(n)], d.h, d.w, map); });
}

}  // namespace data_detail

// ---------------------------------------------------------------------------
// Normalisation (differentiable)
// ---------------------------------------------------------------------------

/// (x - mean[c]) / std[c] per channel c, as torchvision.transforms.Normalize.
/// x is (C, H, W) or (N, C, H, W); mean and std have C values (or 1 for all channels).
/// Differentiable in x. When no graph is recorded (x does not require gradients, or they
/// are disabled) it runs in one pass without the intermediate x - mean, with the same
/// rounding (the difference rounded to x's dtype, then divided): a data set is normalised
/// with one copy of it, not two. Throws inv::Error on a wrong rank, a wrong number of
/// values or a std value that is not positive.
inline Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std) {
  const auto d = data_detail::image_dims(x, "normalize");
  for (double s : std) INV_CHECK(s > 0, "normalize: std values must be positive, got ", s);
  const Tensor m = data_detail::channel_constants(mean, d, x.dtype(), "normalize", "mean");
  const Tensor s = data_detail::channel_constants(std, d, x.dtype(), "normalize", "std");
  if (inv::detail::should_record({&x})) return div(sub(x, m), s);
  Tensor out = empty_like(x);
  const int64_t plane = d.h * d.w;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *src = x.data<T>(), *mv = m.data<T>(), *sv = s.data<T>();
    T* dst = out.data<T>();
    const bool one_m = m.numel() == 1, one_s = s.numel() == 1;
    const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, plane));
    parallel_for(d.n * d.c, grain, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {  // plane k is channel k % C of image k / C
        const T mk = mv[one_m ? 0 : k % d.c], sk = sv[one_s ? 0 : k % d.c];
        const T* in = src + k * plane;
        T* o = dst + k * plane;
        for (int64_t p = 0; p < plane; ++p) {
          const T centred = in[p] - mk;  // rounded to T, as sub() stores it
          o[p] = centred / sk;
        }
      }
    });
  });
  return out;
}

/// The inverse of normalize: x · std[c] + mean[c]. Same shapes, checks and gradient.
inline Tensor denormalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std) {
  const auto d = data_detail::image_dims(x, "denormalize");
  for (double s : std) INV_CHECK(s > 0, "denormalize: std values must be positive, got ", s);
  return add(mul(x, data_detail::channel_constants(std, d, x.dtype(), "denormalize", "std")),
             data_detail::channel_constants(mean, d, x.dtype(), "denormalize", "mean"));
}

// ---------------------------------------------------------------------------
// Flip and crop
// ---------------------------------------------------------------------------

/// Mirrors every image left-right: out[..., i, j] = x[..., i, W-1-j].
inline Tensor hflip(const Tensor& x) {
  const auto d = data_detail::image_dims(x, "hflip");
  return data_detail::remap(x, d, d.h, d.w, [&](int64_t, int64_t* map) {
    for (int64_t i = 0; i < d.h; ++i)
      for (int64_t j = 0; j < d.w; ++j) map[i * d.w + j] = i * d.w + (d.w - 1 - j);
  });
}

/// Flips each image independently with probability p (torchvision RandomHorizontalFlip;
/// one Bernoulli draw per image). Throws when p is outside [0, 1].
inline Tensor random_horizontal_flip(const Tensor& x, double p, Generator& gen) {
  const auto d = data_detail::image_dims(x, "random_horizontal_flip");
  INV_CHECK(p >= 0 && p <= 1, "random_horizontal_flip: p must be in [0, 1], got ", p);
  std::vector<char> flip(static_cast<size_t>(d.n));
  for (auto& f : flip) f = gen.bernoulli(p);
  return data_detail::remap(x, d, d.h, d.w, [&](int64_t n, int64_t* map) {
    for (int64_t i = 0; i < d.h; ++i)
      for (int64_t j = 0; j < d.w; ++j) map[i * d.w + j] = i * d.w + (flip[size_t(n)] ? d.w - 1 - j : j);
  });
}

/// The height x width window of every image whose top-left corner is at (top, left);
/// top and left may be negative and the window may extend past the image: pixels
/// outside it are 0 (a crop of the zero-padded image). Throws when height or width < 1.
inline Tensor crop(const Tensor& x, int64_t top, int64_t left, int64_t height, int64_t width) {
  const auto d = data_detail::image_dims(x, "crop");
  INV_CHECK(height >= 1 && width >= 1, "crop: expected a window of at least 1x1, got ", height, "x", width);
  return data_detail::remap(x, d, height, width, [&](int64_t, int64_t* map) {
    for (int64_t i = 0; i < height; ++i)
      for (int64_t j = 0; j < width; ++j) {
        const int64_t r = top + i, c = left + j;
        map[i * width + j] = (r >= 0 && r < d.h && c >= 0 && c < d.w) ? r * d.w + c : -1;
      }
  });
}

/// torchvision RandomCrop(size, padding): pads each image with `padding` zeros on all
/// sides, then takes a size x size window at a uniformly random position (top drawn
/// first, then left, each from randint over the valid offsets). Output
/// (N, C, size, size). Throws when padding < 0, size < 1 or size exceeds the padded image.
inline Tensor random_crop(const Tensor& x, int64_t size, int64_t padding, Generator& gen) {
  const auto d = data_detail::image_dims(x, "random_crop");
  INV_CHECK(padding >= 0, "random_crop: padding must be >= 0, got ", padding);
  INV_CHECK(size >= 1 && size <= d.h + 2 * padding && size <= d.w + 2 * padding, "random_crop: crop size ", size,
            " does not fit the padded image of ", d.h + 2 * padding, "x", d.w + 2 * padding);
  std::vector<std::array<int64_t, 2>> corner(static_cast<size_t>(d.n));
  for (auto& tl : corner) {
    tl[0] = gen.randint(d.h + 2 * padding - size + 1) - padding;
    tl[1] = gen.randint(d.w + 2 * padding - size + 1) - padding;
  }
  return data_detail::remap(x, d, size, size, [&](int64_t n, int64_t* map) {
    const auto [top, left] = corner[size_t(n)];
    for (int64_t i = 0; i < size; ++i)
      for (int64_t j = 0; j < size; ++j) {
        const int64_t r = top + i, c = left + j;
        map[i * size + j] = (r >= 0 && r < d.h && c >= 0 && c < d.w) ? r * d.w + c : -1;
      }
  });
}

// ---------------------------------------------------------------------------
// Affine
// ---------------------------------------------------------------------------

/// torchvision.transforms.functional.affine(x, angle, [tx, ty], scale, shear=0,
/// NEAREST, fill=0) on tensors: rotation by `angle` degrees (clockwise on the displayed
/// image, y pointing down) and scaling by `scale` about the image centre, then a shift
/// by (tx, ty) pixels (right, down). Each output pixel is inverse-mapped to the nearest
/// input pixel (rounding half to even, as grid_sample); pixels that map outside the image
/// are 0. Example: angle 90 on a square image moves the top-left pixel to the top-right.
/// Throws when scale <= 0 or a parameter is not finite.
inline Tensor affine(const Tensor& x, double angle, double tx, double ty, double scale) {
  const auto d = data_detail::image_dims(x, "affine");
  INV_CHECK(std::isfinite(angle) && std::isfinite(tx) && std::isfinite(ty), "affine: angle ", angle,
            " and translation (", tx, ", ", ty, ") must be finite");
  INV_CHECK(scale > 0 && std::isfinite(scale), "affine: scale must be positive, got ", scale);
  return data_detail::affine_each(x, d, std::vector<data_detail::AffineParams>(size_t(d.n), {angle, tx, ty, scale}));
}

/// torchvision RandomAffine(degrees, translate=(t, t), scale=(scale_min, scale_max)) with
/// nearest interpolation and fill 0, per image: angle ~ U(-degrees, degrees),
/// tx = round(U(-t·W, t·W)), ty = round(U(-t·H, t·H)) (round half to even, as Python),
/// scale ~ U(scale_min, scale_max), drawn in that order, then affine(). The reference
/// training recipe uses degrees 10, translate 0.1, scale (0.9, 1.1). Throws when
/// degrees < 0, translate is outside [0, 1] or not 0 < scale_min <= scale_max.
inline Tensor random_affine(const Tensor& x, double degrees, double translate, double scale_min, double scale_max,
                            Generator& gen) {
  const auto d = data_detail::image_dims(x, "random_affine");
  INV_CHECK(degrees >= 0 && std::isfinite(degrees), "random_affine: degrees must be >= 0, got ", degrees);
  INV_CHECK(translate >= 0 && translate <= 1, "random_affine: translate must be in [0, 1], got ", translate);
  INV_CHECK(scale_min > 0 && scale_min <= scale_max && std::isfinite(scale_max),
            "random_affine: expected 0 < scale_min <= scale_max, got (", scale_min, ", ", scale_max, ")");
  std::vector<data_detail::AffineParams> params(static_cast<size_t>(d.n));
  const double max_dx = translate * double(d.w), max_dy = translate * double(d.h);
  for (auto& p : params) {
    p.angle = gen.uniform(-degrees, degrees);
    p.tx = std::nearbyint(gen.uniform(-max_dx, max_dx));
    p.ty = std::nearbyint(gen.uniform(-max_dy, max_dy));
    p.scale = gen.uniform(scale_min, scale_max);
  }
  return data_detail::affine_each(x, d, params);
}

}  // namespace inv::data
