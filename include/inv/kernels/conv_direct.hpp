// inv/kernels/conv_direct.hpp: convolution kernels without a GEMM, for few output
// channels per group (stride 1 along the width).
//
// Same contracts as the reference kernels in conv_naive.hpp (and tested against them);
// the padded layouts, chunking and partial sums are those of conv_fast.hpp.
//
// With one or two output channels per group (and stride 1 along the width) the forward
// runs direct rather than by GEMM (conv2d_forward_direct): the GEMM's packed operand would be used by
// one or two rows only, so packing cost as much as the products. Measured at batch 32 on
// LeNet's conv1 decoder (8 -> 1 channel, 5×5, padding 4, 28-pixel rows; 1 thread, Zen 4):
// 0.95 ms by GEMM, 0.26 ms direct. With more output channels the GEMM wins: LeNet's conv1
// (1 -> 8) 0.14 vs 0.21 ms; its conv2 (8 -> 16, 8-pixel rows, which the direct kernels pad
// to 32) 0.18 vs 1.02 ms.
//
// The weight gradient with up to 8 output channels per group (stride 1 along the width)
// runs in register tiles of 2 outputs × 5 taps (conv2d_backward_weight_rows): there the
// transposed packing of the GEMM's B operand, a gather per element, cost more than the
// products it fed. Batch 32, 1 thread, Zen 4, GEMM vs tiles: LeNet's conv1 (1 -> 8,
// 5×5, 24-pixel rows) 0.22-0.29 vs 0.09-0.11 ms; the conv1 decoder (8 -> 1) 1.13 vs
// 0.28 ms (0.31 ms by the direct kernel it replaces); 8 -> 8, 3×3, 28×28: 0.90 vs
// 0.83 ms. At 16 outputs the GEMM wins: LeNet's conv2 (8 -> 16) 0.25 vs 0.48 ms, 16 -> 16,
// 3×3, 16×16: 0.65 vs 0.91 ms.
#pragma once

#include <algorithm>
#include <vector>

#include "inv/kernels/conv_fast.hpp"

namespace inv::kernels {

/// Output channels per group up to which stride-(·, 1) forwards run direct.
constexpr int64_t kDirectMaxOutputs = 2;
/// Output channels per group up to which stride-(·, 1) weight gradients run in register
/// tiles (conv2d_backward_weight_rows) rather than by GEMM.
constexpr int64_t kRowsMaxOutputs = 8;

namespace detail {

/// The padded copy the direct kernels read, one image at a time: planes (C, Hp, Wp)
/// with Wp = a whole number of register blocks (NV vectors) plus the kernel's reach,
/// so that every block of every row is read in full. The layout depends on the shapes
/// only and is made once per call.
template <class T>
struct DirectLayout {
  static constexpr int64_t NV = 4, BL = NV * kLanes<T>;
  int64_t Hp, Wp, plane;
  std::vector<int64_t> tap;  // per group, see tap_offsets

  explicit DirectLayout(const ConvGeometry& g)
      : Hp((g.OH() - 1) * g.sh + (g.kh - 1) * g.dh + 1),
        Wp((g.OW() + BL - 1) / BL * BL + (g.kw - 1) * g.dw),
        plane(Hp * Wp),
        tap(static_cast<size_t>(g.K())) {
    tap_offsets(g, plane, Wp, tap.data());
  }
  /// Image x (C, H, W) padded into this thread's scratch.
  const T* pad(const ConvGeometry& g, const T* x) const {
    T* xp = scratch<T, 3>(static_cast<size_t>(g.C * plane));
    pad_planes(x, g.C, g.H, g.W, g.pt, g.pl, Hp, Wp, xp);
    return xp;
  }
  /// Start of output row oy of group gr in the padded image xp.
  const T* row(const ConvGeometry& g, const T* xp, int64_t gr, int64_t oy) const {
    return xp + gr * g.Cg() * plane + oy * g.sh * Wp;
  }
};

}  // namespace detail

/// y = conv(x, w) (+ bias) for sw = 1: each output row is cut into blocks of NV vectors
/// held in registers and accumulated tap by tap from the padded input (no packed
/// operand: with one or two output channels, packing costs as much as the products).
template <class T>
void conv2d_forward_direct(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  using V = vec_t<T>;
  constexpr int64_t VL = kLanes<T>, NV = detail::DirectLayout<T>::NV, BL = NV * VL;
  const int64_t OH = g.OH(), OW = g.OW(), L = g.L(), K = g.K(), Og = g.Og();
  const int64_t in_size = g.C * g.H * g.W, out_size = g.O * L;
  const detail::DirectLayout<T> layout(g);
  const int64_t* tap = layout.tap.data();
  parallel_for(g.N, 1, [&](int64_t n, int64_t) {
    const T* xp = layout.pad(g, x + n * in_size);
    for (int64_t o = 0; o < g.O; ++o) {
      const T* wo = w + o * K;
      const T b = bias ? bias[o] : T(0);
      for (int64_t oy = 0; oy < OH; ++oy) {
        const T* row = layout.row(g, xp, o / Og, oy);
        T* yr = y + n * out_size + o * L + oy * OW;
        for (int64_t ox0 = 0; ox0 < OW; ox0 += BL) {
          V acc[NV];
          for (V& a : acc) a = V{} + b;
          for (int64_t k = 0; k < K; ++k) {
            const T* src = row + tap[k] + ox0;
            const V wk = V{} + wo[k];
            for (int64_t v = 0; v < NV; ++v) acc[v] += wk * load(src + v * VL);
          }
          T out[BL];
          for (int64_t v = 0; v < NV; ++v) store(out + v * VL, acc[v]);
          std::copy_n(out, std::min(BL, OW - ox0), yr + ox0);
        }
      }
    }
  });
}

namespace detail {

/// A register tile of conv2d_backward_weight_rows: NB output channels × NJ taps of one
/// kernel row, at most 2 × 5 (10 accumulators, in 16 vector registers).
constexpr int64_t kRowsOutputs = 2, kRowsTaps = 5;

/// acc[b·astride + jj] += Σ_{oy, v} dy_b[oy·dpitch + v·VL ..] · xr[oy·xpitch + jj·dw + v·VL ..]
/// lane by lane, over output rows oy < OH and nv vectors per row, for NB output channels
/// (dy rows at dy_b = dy + b·dplane) and NJ taps along a kernel row (dilation dw).
template <class T, int64_t NB, int64_t NJ>
void rows_tap_products(const T* dy, int64_t dplane, int64_t dpitch, const T* xr, int64_t xpitch, int64_t dw,
                       int64_t OH, int64_t nv, vec_t<T>* acc, int64_t astride) {
  using V = vec_t<T>;
  constexpr int64_t VL = kLanes<T>;
  V a[NB][NJ] = {};
  for (int64_t oy = 0; oy < OH; ++oy) {
    const T* d = dy + oy * dpitch;
    const T* s = xr + oy * xpitch;
    for (int64_t v = 0; v < nv; ++v) {
      V dv[NB];
      for (int64_t b = 0; b < NB; ++b) dv[b] = load(d + b * dplane + v * VL);
#pragma GCC unroll 5
      for (int64_t jj = 0; jj < NJ; ++jj) {
        V sv = load(s + jj * dw + v * VL);
#if defined(__x86_64__) || defined(__i386__)
        asm("" : "+x"(sv));  // one load into a register for all NB outputs (GCC would load it per FMA)
#endif
        for (int64_t b = 0; b < NB; ++b) a[b][jj] += dv[b] * sv;
      }
    }
  }
  for (int64_t b = 0; b < NB; ++b)
    for (int64_t jj = 0; jj < NJ; ++jj) acc[b * astride + jj] += a[b][jj];
}

/// rows_tap_products for nb ≤ kRowsOutputs outputs and nj ≤ kRowsTaps taps.
template <class T, int64_t NB>
void rows_tap_products(int64_t nj, const T* dy, int64_t dplane, int64_t dpitch, const T* xr, int64_t xpitch,
                       int64_t dw, int64_t OH, int64_t nv, vec_t<T>* acc, int64_t astride) {
  switch (nj) {
    case 5: return rows_tap_products<T, NB, 5>(dy, dplane, dpitch, xr, xpitch, dw, OH, nv, acc, astride);
    case 4: return rows_tap_products<T, NB, 4>(dy, dplane, dpitch, xr, xpitch, dw, OH, nv, acc, astride);
    case 3: return rows_tap_products<T, NB, 3>(dy, dplane, dpitch, xr, xpitch, dw, OH, nv, acc, astride);
    case 2: return rows_tap_products<T, NB, 2>(dy, dplane, dpitch, xr, xpitch, dw, OH, nv, acc, astride);
    default: return rows_tap_products<T, NB, 1>(dy, dplane, dpitch, xr, xpitch, dw, OH, nv, acc, astride);
  }
}

}  // namespace detail

/// dw = the weight gradient for sw = 1, tiled in registers: per image, pair of output
/// channels, input channel and kernel row, the dot products of the pair's dY rows with the
/// input rows that up to 5 taps of the kernel row met are summed in 10 vector
/// accumulators (dY read once per tap group, each input vector used by both outputs),
/// then added per tap into vector partial sums whose lanes are added in a fixed order at
/// the end. Without packing, it beats the GEMM where output channels are few (see
/// kRowsMaxOutputs and the header). Chunks of images and their partial sums as in
/// conv2d_backward_weight_gemm.
template <class T>
void conv2d_backward_weight_rows(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
  using V = vec_t<T>;
  constexpr int64_t VL = kLanes<T>, NB = detail::kRowsOutputs, NJ = detail::kRowsTaps;
  const int64_t OH = g.OH(), OW = g.OW(), L = g.L(), K = g.K(), Og = g.Og(), Cg = g.Cg();
  const int64_t in_size = g.C * g.H * g.W, out_size = g.O * L, wsize = g.O * K;
  // dY's rows in whole vectors: dY itself when OW is a multiple of VL, else a zero-padded copy.
  const int64_t nv = (OW + VL - 1) / VL, RL = nv * VL;
  const detail::DirectLayout<T> layout(g);
  const int64_t xpitch = g.sh * layout.Wp;  // between the input rows of consecutive output rows
  detail::weight_gradient_by_chunks(g, conv_weight_images_per_chunk(g), dw, [&](int64_t n0, int64_t n1, T* part) {
    std::vector<V> acc(static_cast<size_t>(wsize), V{});  // acc[o·K + k]: lanes of tap k's dot product
    T* dyp = RL == OW ? nullptr : scratch<T, 6>(static_cast<size_t>(g.O * OH * RL));
    for (int64_t n = n0; n < n1; ++n) {
      const T* xp = layout.pad(g, x + n * in_size);
      const T* dyn = dy + n * out_size;
      if (dyp) {
        detail::pad_rows(dyn, g.O * OH, OW, RL, dyp);
        dyn = dyp;
      }
      for (int64_t o = 0, nb; o < g.O; o += nb) {
        nb = std::min(NB, (o / Og + 1) * Og - o);  // a tile stays in one group
        const T* d = dyn + o * OH * RL;
        const T* xg = layout.row(g, xp, o / Og, 0);
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j0 = 0; j0 < g.kw; j0 += NJ) {
              const T* s = xg + c * layout.plane + i * g.dh * layout.Wp + j0 * g.dw;
              V* a = acc.data() + o * K + (c * g.kh + i) * g.kw + j0;
              const int64_t nj = std::min(NJ, g.kw - j0);
              if (nb == 2)
                detail::rows_tap_products<T, 2>(nj, d, OH * RL, RL, s, xpitch, g.dw, OH, nv, a, K);
              else
                detail::rows_tap_products<T, 1>(nj, d, OH * RL, RL, s, xpitch, g.dw, OH, nv, a, K);
            }
      }
    }
    for (int64_t k = 0; k < wsize; ++k) {
      T s = 0;
      for (int64_t l = 0; l < VL; ++l) s += acc[size_t(k)][l];
      part[k] = s;
    }
  });
}

/// The direct forward applies (see kDirectMaxOutputs).
inline bool use_direct(const ConvGeometry& g) { return g.sw == 1 && g.Og() <= kDirectMaxOutputs; }
/// conv2d_backward_weight_rows applies (see kRowsMaxOutputs).
inline bool use_backward_weight_rows(const ConvGeometry& g) { return g.sw == 1 && g.Og() <= kRowsMaxOutputs; }

}  // namespace inv::kernels
