// inv/kernels/conv_fast.hpp: the fast convolution kernels: GEMM with an implicit im2col.
//
// Same contracts as the reference kernels in conv_naive.hpp (and tested against
// them). Each kernel cuts the batch into chunks of B images, B a function of the
// shapes only (never of the thread count), and runs the chunks in parallel; with a
// single chunk the GEMMs parallelise themselves instead. For one chunk the column
// matrix col ((C·kh·kw) × B·L, rows of group g contiguous) is never built: the
// chunk's images are copied once, zero-padded, into xp (B, C, Hp, Wp), and
//
//   col(tap (c, i, j), pixel (b, oy, ox)) = xp[tap_off(c, i, j) + pix_off(b, oy, ox)]
//   tap_off = c·Hp·Wp + i·dh·Wp + j·dw,   pix_off = b·C·Hp·Wp + oy·sh·Wp + ox·sw,
//
// so the GEMM's B-packing reads it straight from xp (gemm_implicit_b): a panel of
// consecutive pixels of one output row is a contiguous copy per tap, and for the
// weight gradient (pixels along the GEMM's depth) 8 × 8 blocks are transposed in
// registers. Per group:
//
//   forward          Y_g  (Og × B·L) = W_g (Og × K) · col_g (K × B·L)
//   backward_weight  dW_g (Og × K)   = Σ_chunks dY_g (Og × B·L) · col_gᵀ (B·L × K)
//   backward_data    stride 1: a forward convolution of dY with the flipped weights
//                      w'[c, o, i, j] = w[o, c, kh-1-i, kw-1-j] and padding
//                      dh·(kh-1) - pt (top; bottom, left, right likewise), which adds
//                      into dx: the same well-shaped GEMM as the forward;
//                    other strides: dcol_g (K × B·L) = W_gᵀ · dY_g, then col2im adds
//                      into dx;
//                    stride 1 and few input channels (a multiple of the vector
//                      lanes, one group): the same sums without the column matrix
//                      (conv2d_backward_data_lanes), bitwise col2im's.
//
// The weight gradient is summed over per-chunk partials (at most 8) in chunk order,
// so results are bitwise independent of the thread count.
//
// Measured on the CIFAR net's 3×3 layers (batch 32, 2 threads, Zen 3): the explicit
// im2col matrix cost 5-6 ms per pass (it is 9× the input and falls out of L2)
// on top of the GEMM's own packing, and col2im 3.5-5.5 ms per backward; both are
// gone here. The flipped backward_data's GEMM has M = C/groups rows and each packed
// column element is used by those rows only, so it loses where C is small: against
// W^T dY + col2im it took 0.78 vs 0.29 ms at C = 8 (LeNet's conv2); at C = 16, 1.22 vs
// 1.03 ms (3×3, 22×22) and 0.90 vs 1.05 ms (3×3, 16×16); at C = 32, 1.45 vs 2.26 ms
// (3×3, 16×16); at C = 64, 3.5 vs 10 ms (64 -> 3 channels, 32×32). It is used from
// kFlippedMinChannels on.
//
// Shapes with few output channels per group run in register tiles instead
// (inv/kernels/conv_direct.hpp); inv/kernels/conv.hpp chooses.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "inv/kernels/conv_naive.hpp"
#include "inv/kernels/gemm.hpp"
#include "inv/kernels/simd.hpp"
#include "inv/kernels/sum.hpp"
#include "inv/parallel.hpp"

namespace inv::kernels {

/// A per-thread scratch buffer of at least n elements (slot tells buffers apart).
template <class T, int Slot>
T* scratch(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

/// Images per chunk of the col2im backward: at most 16 chunks, and a chunk's column
/// matrix below 4M elements.
inline int64_t conv_images_per_chunk(const ConvGeometry& g) {
  const int64_t per_image = std::max<int64_t>(1, g.C * g.kh * g.kw * g.L());
  const int64_t by_count = (g.N + 15) / 16;
  const int64_t by_memory = std::max<int64_t>(1, (int64_t(1) << 22) / per_image);
  return std::max<int64_t>(1, std::min(by_count, by_memory));
}

/// Images per chunk of the forward: enough for 256 GEMM columns (one image for most layers:
/// its output is then written in place).
inline int64_t conv_forward_images_per_chunk(const ConvGeometry& g) {
  return std::max<int64_t>(1, (256 + g.L() - 1) / std::max<int64_t>(1, g.L()));
}

/// Images per chunk of the weight gradient: at most 8 chunks (8 partial sums).
inline int64_t conv_weight_images_per_chunk(const ConvGeometry& g) { return std::max<int64_t>(1, (g.N + 7) / 8); }

/// The flipped backward_data from this many input channels per group on (see the header).
constexpr int64_t kFlippedMinChannels = 32;

namespace detail {

/// Output columns ox whose input column ox·sw - pl + j·dw lies in [0, W): [lo, hi).
inline void valid_range(int64_t OW, int64_t W, int64_t sw, int64_t off, int64_t& lo, int64_t& hi) {
  // ix = ox·sw + off must satisfy 0 <= ix < W.
  lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  hi = W - 1 - off < 0 ? 0 : std::min(OW, (W - 1 - off) / sw + 1);
  if (hi < lo) hi = lo;
}

/// Copies planes (P, H, W) into zero-filled planes (P, Hp, Wp), the input placed at
/// (top, left); negative top/left, or a smaller Hp/Wp, crop the input instead.
template <class T>
void pad_planes(const T* x, int64_t P, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp, int64_t Wp,
                T* out) {
  parallel_for_each(P, Hp * Wp, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* o = out + p * Hp * Wp;
      std::fill(o, o + Hp * Wp, T(0));
      const int64_t c0 = std::max<int64_t>(0, -left), c1 = std::min<int64_t>(W, Wp - left);
      for (int64_t r = 0; r < Hp; ++r) {
        const int64_t sr = r - top;
        if (sr < 0 || sr >= H || c1 <= c0) continue;
        std::copy(x + (p * H + sr) * W + c0, x + (p * H + sr) * W + c1, o + r * Wp + left + c0);
      }
    }
  });
}

/// Copies `rows` rows of `width` elements into rows of `pitch` ≥ width, zero-filled past width.
template <class T>
void pad_rows(const T* src, int64_t rows, int64_t width, int64_t pitch, T* out) {
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(out + r * pitch, src + r * width, size_t(width) * sizeof(T));
    std::fill(out + r * pitch + width, out + (r + 1) * pitch, T(0));
  }
}

/// Offsets of the taps (c, i, j) of one group in padded planes of pitch Wp:
/// tap[(c·kh + i)·kw + j] = c·plane + i·dh·Wp + j·dw.
inline void tap_offsets(const ConvGeometry& g, int64_t plane, int64_t Wp, int64_t* tap) {
  for (int64_t c = 0; c < g.Cg(); ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) tap[(c * g.kh + i) * g.kw + j] = c * plane + i * g.dh * Wp + j * g.dw;
}

/// The implicit column matrix of one group of a chunk (see the header):
/// col(t, p) = xp[tap[t] + pix[p]]; run[p] counts the pixels from p on whose
/// offsets are consecutive (at most NR).
template <class T>
struct ImplicitColumns {
  const T* xp;
  const int64_t* tap;
  const int64_t* pix;
  const int64_t* run;
  int64_t group_stride;  // Cg·Hp·Wp: xp of group g is xp + g·group_stride
  ImplicitColumns group(int64_t g) const { return {xp + g * group_stride, tap, pix, run, group_stride}; }
};

/// The layout this thread's offsets (scratch<int64_t, 0..2>) were last laid out for.
/// One key for float and double, which share those buffers (the key holds NR, which
/// tells their layouts apart): a key per type would let double reuse offsets that a
/// float call overwrote.
inline std::array<int64_t, 14>& laid_out_offsets() {
  thread_local std::array<int64_t, 14> layout{};
  return layout;
}

/// Pads the chunk of b images at x into this thread's scratch and lays out the offsets.
template <class T>
ImplicitColumns<T> implicit_columns(const ConvGeometry& g, const T* x, int64_t b) {
  constexpr int64_t NR = gemm_panel_width<T>();
  const int64_t OH = g.OH(), OW = g.OW(), L = OH * OW, P = b * L;
  // Just the rows and columns some window reaches (padding may also crop).
  const int64_t Hp = (OH - 1) * g.sh + (g.kh - 1) * g.dh + 1, Wp = (OW - 1) * g.sw + (g.kw - 1) * g.dw + 1;
  const int64_t plane = Hp * Wp;
  T* xp = scratch<T, 3>(static_cast<size_t>(b * g.C * plane));
  pad_planes(x, b * g.C, g.H, g.W, g.pt, g.pl, Hp, Wp, xp);
  int64_t* tap = scratch<int64_t, 0>(static_cast<size_t>(g.K()));
  int64_t* pix = scratch<int64_t, 1>(static_cast<size_t>(P));
  int64_t* run = scratch<int64_t, 2>(static_cast<size_t>(P));
  // The offsets depend on the shapes only: this thread lays them out again only when
  // they differ from its previous chunk's (every chunk but the last of a call has the same).
  std::array<int64_t, 14>& laid_out = laid_out_offsets();
  const std::array<int64_t, 14> layout{g.C, g.Cg(), g.kh, g.kw, g.dh, g.dw, g.sh, g.sw, OH, OW, Hp, Wp, b, NR};
  if (layout == laid_out) return {xp, tap, pix, run, g.Cg() * plane};
  tap_offsets(g, plane, Wp, tap);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox) pix[(bi * OH + oy) * OW + ox] = bi * g.C * plane + oy * g.sh * Wp + ox * g.sw;
  for (int64_t p = P - 1; p >= 0; --p)
    run[p] = p + 1 < P && pix[p + 1] == pix[p] + 1 ? std::min(run[p + 1] + 1, NR) : 1;
  laid_out = layout;
  return {xp, tap, pix, run, g.Cg() * plane};
}

/// Packs op(B) = col (taps × pixels) for gemm_implicit_b: the forward's operand.
template <class T>
struct PackColumns {
  ImplicitColumns<T> col;
  void operator()(int64_t j0, int64_t n, int64_t k0, int64_t kc, T* out) const {
    constexpr int64_t NR = gemm_panel_width<T>(), L = NR / 2;
    for (int64_t q = 0; q < n; q += NR, out += NR * kc) {
      const int64_t p0 = j0 + q, m = std::min(NR, n - q);
      if (m == NR && col.run[p0] >= NR) {  // the panel is part of one output row
        const T* src = col.xp + col.pix[p0];
        for (int64_t k = 0; k < kc; ++k) std::memcpy(out + k * NR, src + col.tap[k0 + k], NR * sizeof(T));
        continue;
      }
      for (int64_t h = 0; h < NR; h += L) {  // half panels: rows of 8 (float) pixels
        if (h + L <= m && col.run[p0 + h] >= L) {
          const T* src = col.xp + col.pix[p0 + h];
          for (int64_t k = 0; k < kc; ++k) std::memcpy(out + k * NR + h, src + col.tap[k0 + k], L * sizeof(T));
          continue;
        }
        for (int64_t k = 0; k < kc; ++k) {
          const T* src = col.xp + col.tap[k0 + k];
          for (int64_t t = h; t < h + L; ++t) out[k * NR + t] = t < m ? src[col.pix[p0 + t]] : T(0);
        }
      }
    }
  }
};

/// Packs op(B) = colᵀ (pixels × taps) for gemm_implicit_b: the weight gradient's operand.
template <class T>
struct PackColumnsT {
  ImplicitColumns<T> col;
  void operator()(int64_t j0, int64_t n, int64_t k0, int64_t kc, T* out) const {
    constexpr int64_t NR = gemm_panel_width<T>();
    for (int64_t q = 0; q < n; q += NR, out += NR * kc) {
      const int64_t t0 = j0 + q, m = std::min(NR, n - q);
      // out[k·NR + t] = col(t0 + t, k0 + k), zero for t ≥ m.
      auto scalar_row = [&](int64_t k) {
        const T* src = col.xp + col.pix[k0 + k];
        for (int64_t t = 0; t < NR; ++t) out[k * NR + t] = t < m ? src[col.tap[t0 + t]] : T(0);
      };
      int64_t k = 0;
#ifdef INV_HAS_SHUFFLEVECTOR
      // Full panels, L consecutive pixels: L × L blocks (taps × pixels) transposed in registers.
      constexpr int64_t L = NR / 2;
      if (m == NR)
        for (; k + L <= kc; k += L) {
          if (col.run[k0 + k] < L) {
            for (int64_t r = k; r < k + L; ++r) scalar_row(r);
            continue;
          }
          const T* src = col.xp + col.pix[k0 + k];
          for (int64_t h = 0; h < NR; h += L)
            detail::transpose_rows<T>([&](int64_t r) { return src + col.tap[t0 + h + r]; }, out + k * NR + h, NR);
        }
#endif
      for (; k < kc; ++k) scalar_row(k);
    }
  }
};

/// y = conv(x, w) + bias (bias may be null), or y += conv(x, w) when accumulating
/// (bias null then). See the header.
template <class T>
void forward_implicit(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y, bool accumulate) {
  const int64_t B = conv_forward_images_per_chunk(g), K = g.K(), L = g.L(), Og = g.Og();
  const int64_t in_size = g.C * g.H * g.W, out_size = g.O * L;
  parallel_for(g.N, B, [&](int64_t n0, int64_t n1) {
    const int64_t b = n1 - n0, ld = b * L;
    const ImplicitColumns<T> col = implicit_columns(g, x + n0 * in_size, b);
    // One image: the GEMM writes straight into y, on top of the bias (or of y when
    // accumulating). Several: into tmp (O × B·L), then each image's block is added out.
    T* out = b == 1 ? y + n0 * out_size : scratch<T, 1>(static_cast<size_t>(g.O * ld));
    const bool onto = b == 1 && (bias || accumulate);
    if (b == 1 && bias)
      for (int64_t o = 0; o < g.O; ++o) std::fill(out + o * L, out + (o + 1) * L, bias[o]);
    for (int64_t gr = 0; gr < g.groups; ++gr)
      gemm_implicit_b<T>(false, Og, ld, K, T(1), w + gr * Og * K, K, PackColumns<T>{col.group(gr)},
                         onto ? T(1) : T(0), out + gr * Og * ld, ld);
    if (b > 1)
      for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t o = 0; o < g.O; ++o) {
          const T* src = out + o * ld + bi * L;
          T* dst = y + (n0 + bi) * out_size + o * L;
          const T add = bias ? bias[o] : T(0);
          if (accumulate)
            for (int64_t l = 0; l < L; ++l) dst[l] += src[l];
          else
            for (int64_t l = 0; l < L; ++l) dst[l] = src[l] + add;
        }
  });
}

/// The weight gradient dw (O·K) by chunks of B images: part(n0, n1, out) writes the
/// chunk's sum into its own block out (dw itself when there is one chunk); the blocks
/// are then added in chunk order, so the result does not depend on the thread count.
template <class T, class Part>
void weight_gradient_by_chunks(const ConvGeometry& g, int64_t B, T* dw, Part&& part) {
  const int64_t wsize = g.O * g.K(), chunks = chunk_count(g.N, B);
  if (chunks == 0) {
    std::fill(dw, dw + wsize, T(0));
    return;
  }
  T* partial = chunks == 1 ? dw : scratch<T, 4>(static_cast<size_t>(chunks * wsize));
  parallel_for(g.N, B, [&](int64_t n0, int64_t n1) { part(n0, n1, partial + (n0 / B) * wsize); });
  if (chunks == 1) return;
  parallel_for(wsize, kElementwiseGrain, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      T s = partial[k];
      for (int64_t c = 1; c < chunks; ++c) s += partial[c * wsize + k];
      dw[k] = s;
    }
  });
}

/// dY of images [n0, n0 + b) as (O × b·L), each image's (O × L) block side by side: dy
/// itself for one image, else gathered into this thread's scratch.
template <class T>
const T* gather_dy(const ConvGeometry& g, const T* dy, int64_t n0, int64_t b) {
  const int64_t L = g.L(), ld = b * L, out_size = g.O * L;
  if (b == 1) return dy + n0 * out_size;
  T* gathered = scratch<T, 1>(static_cast<size_t>(g.O * ld));
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t o = 0; o < g.O; ++o)
      std::memcpy(gathered + o * ld + bi * L, dy + (n0 + bi) * out_size + o * L, static_cast<size_t>(L) * sizeof(T));
  return gathered;
}

}  // namespace detail

/// db[o] = Σ over n and pixels of dy (N, O, L), in double, in a fixed order; parallel over channels.
template <class T>
void channel_sum(const T* dy, int64_t N, int64_t O, int64_t L, T* db) {
  parallel_for(O, 1, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      double acc = 0;
      for (int64_t n = 0; n < N; ++n) acc += lane_sum(dy + (n * O + o) * L, L);
      db[o] = static_cast<T>(acc);
    }
  });
}

/// y = conv(x, w) (+ bias[o] when bias is non-null), y (N, O, OH, OW), overwritten.
/// See conv2d_forward_naive.
template <class T>
void conv2d_forward_gemm(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  detail::forward_implicit(g, x, w, bias, y, /*accumulate=*/false);
}

/// dw = the weight gradient (overwritten). See conv2d_backward_weight_naive.
template <class T>
void conv2d_backward_weight_gemm(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
  const int64_t K = g.K(), L = g.L(), Og = g.Og(), in_size = g.C * g.H * g.W;
  detail::weight_gradient_by_chunks(g, conv_weight_images_per_chunk(g), dw, [&](int64_t n0, int64_t n1, T* part) {
    const int64_t b = n1 - n0, ld = b * L;
    const detail::ImplicitColumns<T> col = detail::implicit_columns(g, x + n0 * in_size, b);
    const T* dyc = detail::gather_dy(g, dy, n0, b);
    for (int64_t gr = 0; gr < g.groups; ++gr)
      gemm_implicit_b<T>(false, Og, K, ld, T(1), dyc + gr * Og * ld, ld, detail::PackColumnsT<T>{col.group(gr)}, T(0),
                         part + gr * Og * K, K);
  });
}

/// The stride-1 convolution whose forward is g's backward_data (see the header): input dy
/// (N, O, OH, OW), output dx (N, C, H, W), weights flipped_weights(g, w).
inline ConvGeometry flipped_geometry(const ConvGeometry& g) {
  ConvGeometry f = g;
  f.C = g.O, f.H = g.OH(), f.W = g.OW(), f.O = g.C;
  f.pt = g.dh * (g.kh - 1) - g.pt, f.pb = g.dh * (g.kh - 1) - g.pb;
  f.pl = g.dw * (g.kw - 1) - g.pl, f.pr = g.dw * (g.kw - 1) - g.pr;
  return f;
}

/// w' (C, O/groups, kh, kw) with w'[g·Cg + c, o, i, j] = w[g·Og + o, c, kh-1-i, kw-1-j].
template <class T>
std::vector<T> flipped_weights(const ConvGeometry& g, const T* w) {
  const int64_t Cg = g.Cg(), Og = g.Og(), taps = g.kh * g.kw;
  std::vector<T> wf(static_cast<size_t>(g.O * Cg * taps));
  for (int64_t gr = 0; gr < g.groups; ++gr)
    for (int64_t o = 0; o < Og; ++o)
      for (int64_t c = 0; c < Cg; ++c) {
        const T* src = w + ((gr * Og + o) * Cg + c) * taps;
        T* dst = wf.data() + ((gr * Cg + c) * Og + o) * taps;
        for (int64_t t = 0; t < taps; ++t) dst[t] = src[taps - 1 - t];
      }
  return wf;
}

/// dx += convᵀ(dy, w) for stride 1, as a forward convolution (see the header).
template <class T>
void conv2d_backward_data_flipped(const ConvGeometry& g, const T* w, const T* dy, T* dx) {
  const std::vector<T> wf = flipped_weights(g, w);
  detail::forward_implicit(flipped_geometry(g), dy, wf.data(), static_cast<const T*>(nullptr), dx,
                           /*accumulate=*/true);
}

/// The adjoint of im2col: adds col's entries (rows (c, i, j), columns 0..L-1, row stride
/// ld) into dx (C, H, W).
template <class T>
void col2im(const ConvGeometry& g, const T* col, int64_t ld, T* dx) {
  const int64_t OH = g.OH(), OW = g.OW();
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = col + ((c * g.kh + i) * g.kw + j) * ld;
        const int64_t off = j * g.dw - g.pl;
        int64_t lo, hi;
        detail::valid_range(OW, g.W, g.sw, off, lo, hi);
        for (int64_t oy = 0; oy < OH; ++oy) {
          const int64_t iy = oy * g.sh - g.pt + i * g.dh;
          if (iy < 0 || iy >= g.H) continue;
          const T* __restrict r = row + oy * OW;
          T* __restrict xr = dx + (c * g.H + iy) * g.W + off;
          if (g.sw == 1)
            for (int64_t ox = lo; ox < hi; ++ox) xr[ox] += r[ox];
          else
            for (int64_t ox = lo; ox < hi; ++ox) xr[ox * g.sw] += r[ox];
        }
      }
}

/// dx += convᵀ(dy, w) for any stride: dcol = Wᵀ · dY, then col2im.
template <class T>
void conv2d_backward_data_col2im(const ConvGeometry& g, const T* w, const T* dy, T* dx) {
  const int64_t B = conv_images_per_chunk(g), K = g.K(), L = g.L(), Og = g.Og(), CK = g.C * g.kh * g.kw;
  const int64_t in_size = g.C * g.H * g.W;
  parallel_for(g.N, B, [&](int64_t n0, int64_t n1) {
    const int64_t b = n1 - n0, ld = b * L;
    const T* dyc = detail::gather_dy(g, dy, n0, b);
    T* dcol = scratch<T, 0>(static_cast<size_t>(CK * ld));
    for (int64_t gr = 0; gr < g.groups; ++gr)
      gemm<T>(true, false, K, ld, Og, T(1), w + gr * Og * K, K, dyc + gr * Og * ld, ld, T(0), dcol + gr * K * ld, ld);
    for (int64_t n = n0; n < n1; ++n) col2im(g, dcol + (n - n0) * L, ld, dx + n * in_size);
  });
}

/// Whether conv2d_backward_data_lanes takes this shape: stride and dilation 1, one
/// group, input channels a multiple of the vector lanes, at most one GEMM K block of
/// output channels (so that it gives the col2im path's bits).
template <class T>
bool use_backward_data_lanes(const ConvGeometry& g) {
  return g.groups == 1 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.C % kLanes<T> == 0 &&
         g.O <= detail::GemmBlocking<T>::KC;
}

namespace detail {

/// Output pixels and taps of a block of the lanes kernel: 4 × 3 vector accumulators.
constexpr int64_t kLanesPixels = 4, kLanesTaps = 3;

/// part[jj·RL + ox..ox+3] = Σ_o wt[tap j0 + jj, o]·dy[o, ox..ox+3] over o in increasing
/// order (one fused multiply-add chain per pixel and tap), for the NJ taps from j0 and
/// the blocks of 4 output pixels of one row. wv: the first tap's weights of output 0
/// (tap stride O·C, output stride C); src: the row in output plane 0 (plane stride ps).
template <class T, int64_t NJ>
void lanes_tap_terms(const T* wv, int64_t O, int64_t C, const T* src, int64_t ps, int64_t RL, vec_t<T>* part) {
  using V = vec_t<T>;
  constexpr int64_t PB = kLanesPixels;
  for (int64_t ox0 = 0; ox0 < RL; ox0 += PB) {
    V acc[NJ][PB] = {};
    for (int64_t o = 0; o < O; ++o) {
      V wo[NJ];
#pragma GCC unroll 3
      for (int64_t jj = 0; jj < NJ; ++jj) wo[jj] = load<T>(wv + (jj * O + o) * C);
      const T* s = src + o * ps + ox0;
#pragma GCC unroll 4
      for (int64_t t = 0; t < PB; ++t) {
        const T st = s[t];
#pragma GCC unroll 3
        for (int64_t jj = 0; jj < NJ; ++jj) acc[jj][t] += st * wo[jj];
      }
    }
    for (int64_t jj = 0; jj < NJ; ++jj)
      for (int64_t t = 0; t < PB; ++t) part[jj * RL + ox0 + t] = acc[jj][t];
  }
}

}  // namespace detail

/// dx += convᵀ(dy, w) as W^T dY + col2im computes it, without the column matrix. For
/// an input row y and each tap (i, j), the tap's term of every output pixel ox,
/// Σ_o w[o, c, i, j]·dy[o, y + pt - i, ox] over o in increasing order (the GEMM's
/// sum), is added into dx[c, y, ox - pl + j] in col2im's order of the taps. The input
/// channels c are the lanes of a vector; 4 pixels × 3 taps are summed side by side,
/// enough independent chains to keep two FMA units busy. The fused multiply-adds and
/// additions are those of the GEMM and col2im, so dx is bitwise the same. For
/// LeNet's conv2 (8 input channels, 8-pixel output rows) W^T dY ran at 57 GFLOP/s on
/// one core, being K = 16 deep, and col2im took as long again.
/// Requires use_backward_data_lanes(g).
template <class T>
void conv2d_backward_data_lanes(const ConvGeometry& g, const T* w, const T* dy, T* dx) {
  using V = vec_t<T>;
  constexpr int64_t L = kLanes<T>, PB = detail::kLanesPixels, NJ = detail::kLanesTaps;
  const int64_t OH = g.OH(), OW = g.OW(), O = g.O, C = g.C, H = g.H, W = g.W, taps = g.kh * g.kw;
  // wt[(tap·O + o)·C + c] = w[o, c, tap]: per tap and output channel, the input channels in a row.
  std::vector<T> wt(static_cast<size_t>(taps * O * C));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < taps; ++t) wt[size_t((t * O + o) * C + c)] = w[(o * C + c) * taps + t];
  // dy's rows zero-padded to whole blocks of PB pixels: dy[o, oy, ox] at dyp[(o·OH + oy)·RL + ox].
  const int64_t RL = (OW + PB - 1) / PB * PB;
  parallel_for(g.N, 1, [&](int64_t n0, int64_t n1) {
    T* dyp = scratch<T, 5>(static_cast<size_t>(O * OH * RL));
    // One row of dx (acc[x][l] = dx[cb + l, y, x]) and the terms of NJ taps (part[jj·RL + ox]).
    thread_local std::vector<V> rows;  // std::vector<V>: aligned for V, unlike scratch<T>
    if (rows.size() < size_t(W + NJ * RL)) rows.resize(size_t(W + NJ * RL));
    V* acc = rows.data();
    V* part = acc + W;
    for (int64_t n = n0; n < n1; ++n) {
      detail::pad_rows(dy + n * O * OH * OW, O * OH, OW, RL, dyp);
      T* dxn = dx + n * C * H * W;
      for (int64_t cb = 0; cb < C; cb += L)
        for (int64_t y = 0; y < H; ++y) {
          for (int64_t x = 0; x < W; ++x)
            for (int64_t l = 0; l < L; ++l) acc[x][l] = dxn[((cb + l) * H + y) * W + x];
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t oy = y + g.pt - i;
            if (oy < 0 || oy >= OH) continue;
            for (int64_t j0 = 0; j0 < g.kw; j0 += NJ) {
              const int64_t nj = std::min(NJ, g.kw - j0);
              const T* wv = wt.data() + (i * g.kw + j0) * O * C + cb;
              const T* src = dyp + oy * RL;
              if (nj == 3) detail::lanes_tap_terms<T, 3>(wv, O, C, src, OH * RL, RL, part);
              if (nj == 2) detail::lanes_tap_terms<T, 2>(wv, O, C, src, OH * RL, RL, part);
              if (nj == 1) detail::lanes_tap_terms<T, 1>(wv, O, C, src, OH * RL, RL, part);
              for (int64_t jj = 0; jj < nj; ++jj) {
                const int64_t off = j0 + jj - g.pl;  // x = ox + off
                const int64_t lo = std::max<int64_t>(0, -off), hi = std::min(OW, W - off);
                for (int64_t ox = lo; ox < hi; ++ox) acc[ox + off] += part[jj * RL + ox];
              }
            }
          }
          for (int64_t x = 0; x < W; ++x)
            for (int64_t l = 0; l < L; ++l) dxn[((cb + l) * H + y) * W + x] = acc[x][l];
        }
    }
  });
}

/// dx += convᵀ(dy, w) (see conv2d_backward_data_naive): flipped for stride 1 and enough
/// input channels, else the lanes kernel where it applies, else col2im.
template <class T>
void conv2d_backward_data_gemm(const ConvGeometry& g, const T* w, const T* dy, T* dx) {
  if (g.sh == 1 && g.sw == 1 && g.Cg() >= kFlippedMinChannels)
    conv2d_backward_data_flipped(g, w, dy, dx);
  else if (use_backward_data_lanes<T>(g))
    conv2d_backward_data_lanes(g, w, dy, dx);
  else
    conv2d_backward_data_col2im(g, w, dy, dx);
}

/// dx += convᵀ(dy, w) when dx is non-null; dw = the weight gradient when dw is non-null.
/// See conv2d_backward_data_naive and conv2d_backward_weight_naive.
template <class T>
void conv2d_backward_gemm(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  if (dw) conv2d_backward_weight_gemm(g, x, dy, dw);
  if (dx) conv2d_backward_data_gemm(g, w, dy, dx);
}

}  // namespace inv::kernels
