// inv/ops/upsample.hpp: nearest and bilinear resizing of images, as F.interpolate.
//
//   x (N, C, H, W) -> (N, C, OH, OW), given the output size or a scale factor
//   (then OH = floor(H·scale)).
//
// Source coordinates follow PyTorch exactly. With scale s = H/OH (or 1/scale_factor
// when a scale factor is given):
//   nearest:   src = min(floor(dst·s), H - 1)
//   bilinear:  align_corners = false: src = max(0, (dst + 0.5)·s - 0.5)
//              align_corners = true:  src = dst·(H - 1)/(OH - 1)
//   blended from floor(src) and floor(src) + 1 (clamped) with weight src - floor(src).
#pragma once

#include "inv/ops/pool.hpp"

namespace inv {

enum class UpsampleMode { Nearest, Bilinear };

/// Options of upsample: exactly one of size(...) or scale_factor(...).
struct UpsampleOptions {
  int64_t out_h = 0, out_w = 0;
  double scale_h = 0, scale_w = 0;
  UpsampleMode mode_ = UpsampleMode::Nearest;
  bool align_corners_ = false;

  UpsampleOptions& size(int64_t h, int64_t w) {
    out_h = h;
    out_w = w;
    return *this;
  }
  UpsampleOptions& scale_factor(double s) { return scale_factor(s, s); }
  UpsampleOptions& scale_factor(double sh, double sw) {
    scale_h = sh;
    scale_w = sw;
    return *this;
  }
  UpsampleOptions& mode(UpsampleMode m) {
    mode_ = m;
    return *this;
  }
  UpsampleOptions& align_corners(bool on) {
    align_corners_ = on;
    return *this;
  }
};

namespace detail {

/// For each output index along one axis: the two source indices and the weight of the second.
struct AxisMap {
  std::vector<int64_t> i0, i1;
  std::vector<double> lambda;
};

inline AxisMap axis_map(int64_t in, int64_t out, double scale_factor, UpsampleMode mode, bool align_corners) {
  AxisMap m;
  const double s = scale_factor > 0 ? 1.0 / scale_factor : double(in) / double(out);
  for (int64_t d = 0; d < out; ++d) {
    if (mode == UpsampleMode::Nearest) {
      const int64_t src = std::min<int64_t>(static_cast<int64_t>(std::floor(double(d) * s)), in - 1);
      m.i0.push_back(src);
      m.i1.push_back(src);
      m.lambda.push_back(0.0);
      continue;
    }
    double src = align_corners ? (out > 1 ? double(d) * double(in - 1) / double(out - 1) : 0.0)
                               : std::max(0.0, (double(d) + 0.5) * s - 0.5);
    const int64_t lo = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
    m.i0.push_back(lo);
    m.i1.push_back(std::min<int64_t>(lo + 1, in - 1));
    m.lambda.push_back(src - double(lo));
  }
  return m;
}

}  // namespace detail

// ---------------------------------------------------------------------------
// upsample (see the header). Backward: each output's gradient spread back onto its
// (up to four) source pixels with the same weights.
// ---------------------------------------------------------------------------
inline Tensor upsample(const Tensor& x, const UpsampleOptions& opt) {
  INV_CHECK(x.dim() == 4, "upsample: expected 4-D (N,C,H,W) input, got ", to_string(x.shape()));
  const bool by_size = opt.out_h > 0 && opt.out_w > 0, by_scale = opt.scale_h > 0 && opt.scale_w > 0;
  INV_CHECK(by_size != by_scale, "upsample: give exactly one of size (positive) or scale_factor (positive)");
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = by_size ? opt.out_h : static_cast<int64_t>(std::floor(double(H) * opt.scale_h));
  const int64_t OW = by_size ? opt.out_w : static_cast<int64_t>(std::floor(double(W) * opt.scale_w));
  INV_CHECK(OH >= 1 && OW >= 1, "upsample: output size ", OH, "x", OW, " is empty for input ", to_string(x.shape()));
  auto my = std::make_shared<detail::AxisMap>(
      detail::axis_map(H, OH, by_scale ? opt.scale_h : 0, opt.mode_, opt.align_corners_));
  auto mx = std::make_shared<detail::AxisMap>(
      detail::axis_map(W, OW, by_scale ? opt.scale_w : 0, opt.mode_, opt.align_corners_));
  Tensor y = empty({N, C, OH, OW}, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    detail::for_each_plane(N * C, OH * OW, [&](int64_t p) {
      const T* xp = px + p * H * W;
      for (int64_t oy = 0; oy < OH; ++oy) {
        const double ly = my->lambda[size_t(oy)];
        const T* r0 = xp + my->i0[size_t(oy)] * W;
        const T* r1 = xp + my->i1[size_t(oy)] * W;
        for (int64_t ox = 0; ox < OW; ++ox) {
          const double lx = mx->lambda[size_t(ox)];
          const int64_t a = mx->i0[size_t(ox)], b = mx->i1[size_t(ox)];
          py[(p * OH + oy) * OW + ox] =
              static_cast<T>((1 - ly) * ((1 - lx) * r0[a] + lx * r0[b]) + ly * ((1 - lx) * r1[a] + lx * r1[b]));
        }
      }
    });
  });
  if (detail::should_record({&x})) {
    detail::record(y, "upsample", {x}, [my, mx, in_shape = x.shape(), OH, OW](const Tensor& g, GradSink& s) {
      Tensor dx = zeros(in_shape, g.dtype());
      const int64_t H = in_shape[2], W = in_shape[3];
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* pg = g.data<T>();
        T* pd = dx.data<T>();
        detail::for_each_plane(in_shape[0] * in_shape[1], OH * OW, [&](int64_t p) {
          T* dp = pd + p * H * W;
          for (int64_t oy = 0; oy < OH; ++oy) {
            const double ly = my->lambda[size_t(oy)];
            T* r0 = dp + my->i0[size_t(oy)] * W;
            T* r1 = dp + my->i1[size_t(oy)] * W;
            for (int64_t ox = 0; ox < OW; ++ox) {
              const double v = pg[(p * OH + oy) * OW + ox], lx = mx->lambda[size_t(ox)];
              const int64_t a = mx->i0[size_t(ox)], b = mx->i1[size_t(ox)];
              r0[a] += static_cast<T>((1 - ly) * (1 - lx) * v);
              r0[b] += static_cast<T>((1 - ly) * lx * v);
              r1[a] += static_cast<T>(ly * (1 - lx) * v);
              r1[b] += static_cast<T>(ly * lx * v);
            }
          }
        });
      });
      s.add(0, dx);
    });
  }
  return y;
}

}  // namespace inv
