// inv/kernels/conv_naive.hpp: the geometry of a 2-D convolution and its reference kernels.
//
// A convolution maps x (N, C, H, W) with weight w (O, C/groups, kH, kW) to
// y (N, O, OH, OW):
//
//   y[n,o,oy,ox] = Σ_{c,i,j} w[o,c,i,j] · x[n, g·C/groups + c, oy·sh - pt + i·dh, ox·sw - pl + j·dw]
//
// where g = o / (O/groups) and out-of-range x reads are zero (padding top/bottom/
// left/right = pt/pb/pl/pr). Three kernels cover conv2d and conv_transpose2d:
// forward (x, w -> y), backward_data (w, dy -> dx, the adjoint of forward in x) and
// backward_weight (x, dy -> dw). conv_transpose2d's forward *is* backward_data.
//
// The kernels here are the naive reference: direct loops, double accumulation.
// The fast kernels (inv/kernels/conv_fast.hpp, conv_direct.hpp) are tested against them.
#pragma once

#include <cstdint>
#include <string>

#include "inv/error.hpp"

namespace inv::kernels {

/// Output length of a sliding window over a (padded) length: floor((padded - d·(k-1) - 1) / s) + 1,
/// or 0 when the window does not fit.
inline int64_t out_size(int64_t padded, int64_t k, int64_t s, int64_t d) {
  const int64_t span = padded - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

struct ConvGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0;  // input
  int64_t O = 0, kh = 0, kw = 0;       // weight (O, C/groups, kh, kw)
  int64_t sh = 1, sw = 1;              // stride
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // padding top, bottom, left, right
  int64_t dh = 1, dw = 1;              // dilation
  int64_t groups = 1;

  int64_t OH() const { return out_size(H + pt + pb, kh, sh, dh); }
  int64_t OW() const { return out_size(W + pl + pr, kw, sw, dw); }
  int64_t Cg() const { return C / groups; }  // input channels per group
  int64_t Og() const { return O / groups; }  // output channels per group
  int64_t K() const { return Cg() * kh * kw; }  // GEMM depth per group
  int64_t L() const { return OH() * OW(); }     // output pixels per image
};

/// y = conv(x, w), y (N, O, OH, OW), overwritten.
template <class T>
void conv2d_forward_naive(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const int64_t OH = g.OH(), OW = g.OW(), Cg = g.Cg(), Og = g.Og();
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double acc = 0;
          const int64_t c0 = (o / Og) * Cg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t iy = oy * g.sh - g.pt + i * g.dh, ix = ox * g.sw - g.pl + j * g.dw;
                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                acc += double(w[((o * Cg + c) * g.kh + i) * g.kw + j]) *
                       double(x[((n * g.C + c0 + c) * g.H + iy) * g.W + ix]);
              }
          y[((n * g.O + o) * OH + oy) * OW + ox] = static_cast<T>(acc);
        }
}

/// dx += convᵀ(dy, w): the gradient of <conv(x, w), dy> with respect to x.
template <class T>
void conv2d_backward_data_naive(const ConvGeometry& g, const T* w, const T* dy, T* dx) {
  const int64_t OH = g.OH(), OW = g.OW(), Cg = g.Cg(), Og = g.Og();
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          const double d = dy[((n * g.O + o) * OH + oy) * OW + ox];
          const int64_t c0 = (o / Og) * Cg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t iy = oy * g.sh - g.pt + i * g.dh, ix = ox * g.sw - g.pl + j * g.dw;
                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                T& t = dx[((n * g.C + c0 + c) * g.H + iy) * g.W + ix];
                t = static_cast<T>(t + d * double(w[((o * Cg + c) * g.kh + i) * g.kw + j]));
              }
        }
}

/// dw = the gradient of <conv(x, w), dy> with respect to w, overwritten.
template <class T>
void conv2d_backward_weight_naive(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
  const int64_t OH = g.OH(), OW = g.OW(), Cg = g.Cg(), Og = g.Og();
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) {
          double acc = 0;
          const int64_t c0 = (o / Og) * Cg;
          for (int64_t n = 0; n < g.N; ++n)
            for (int64_t oy = 0; oy < OH; ++oy)
              for (int64_t ox = 0; ox < OW; ++ox) {
                const int64_t iy = oy * g.sh - g.pt + i * g.dh, ix = ox * g.sw - g.pl + j * g.dw;
                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                acc += double(dy[((n * g.O + o) * OH + oy) * OW + ox]) *
                       double(x[((n * g.C + c0 + c) * g.H + iy) * g.W + ix]);
              }
          dw[((o * Cg + c) * g.kh + i) * g.kw + j] = static_cast<T>(acc);
        }
}

}  // namespace inv::kernels
