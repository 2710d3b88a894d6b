// inv/kernels/conv_tiles.hpp: convolution kernels for CPUs with AVX-512 (float32), with
// channels or pixels in the lanes of a vector and a tile of outputs in registers.
//
// Same contracts as the reference kernels in conv_naive.hpp (and tested against them).
// Chosen at run time (cpu_has_avx512: AVX-512F and VL, so 32 vector registers), so the
// build needs no -mavx512f; inv/kernels/conv.hpp chooses per shape. Nothing is packed:
// where the GEMM of conv_fast.hpp packs an operand that only 8 or 16 rows reuse (and its
// 6-row tiles are partly empty), these read the input where it lies.
//
// Channel tiles (output channels per group a multiple of 8, stride and dilation 1 along
// the width):
//   forward          acc[r][p] (16 lanes) = y[o..o+16, oy + r, ox + p] for up to 3 output
//                    rows × 8 pixels (24 accumulators): per tap (c, i, j), one vector of 16
//                    weights times x[c, (oy + r)·sh + i·dh, ox + p + j], a scalar the FMA
//                    broadcasts from memory. With 8 channels per block, the lanes are 8
//                    channels × 2 output rows and the broadcast is a pair of input rows
//                    (interleaved once per image). The tile is transposed into y (N, O, OH, OW).
//   backward_weight  (VL = 16 channels per 512-bit vector, or 8 per 256-bit vector)
//                    acc[q][j] (VL lanes) = dw[o..o+VL, tap (row q, column j)] for NQ
//                    kernel rows (c, i) × kw columns (up to 28 accumulators): per output
//                    pixel, dY's VL channels (transposed per image to pixel-major) times
//                    the input element under each tap, broadcast from memory; the bias
//                    gradient is summed from the same loads of dY.
//   backward_data    (stride and dilation 1, input channels per group a multiple of 8)
//                    dY scattered into dx: acc[x] (16 lanes) = dx[c.., y, x0 + x] for 8 + kw - 1
//                    columns; per kernel row i, output channel o and dY pixel p, one
//                    broadcast of dY[o, y - i, x0 + p] feeds kw FMAs, acc[p + j] += w[o, c.., i, j]
//                    · dY. With 16 channels per group and vector the lanes are channels;
//                    with 8, the lanes are 8 channels × 2 rows (y, y + 1) and the broadcast
//                    is the pair dY[o, y - i .. y - i + 1, x0 + p] (vbroadcastsd), so that
//                    the 512-bit FMAs are full. No work is spent on dY's zero padding, which
//                    the flipped forward of conv_fast.hpp would read (2.25× the products
//                    for LeNet's conv2).
//
// Pixel tiles (one or two output channels per group, stride 1, dilation 1 along the
// height): acc[o][r][v] = 16 pixels of output row oy + r, for 4 rows × 32 pixels; each
// input row is loaded once per kernel column and feeds every output row it reaches (up
// to kh FMAs per load: unaligned 512-bit loads that cross a cache line cost two). The
// forward of LeNet's conv1 decoder (8 -> 1 channel) and, on the flipped weights, the
// input gradient of LeNet's conv1 (1 -> 8 channels), which rMLE needs.
//
// Batch 32, one core of the Xeon of docs/performance.md, before -> after: LeNet's conv2
// (8 -> 16 channels, 5×5, 12×12 input) forward 0.16 -> 0.09 ms, weight gradient 0.19 ->
// 0.10 ms, input gradient 0.23 -> 0.18 ms; its conv1 (1 -> 8, 28×28) forward 0.14 ->
// 0.13 ms, weight gradient 0.12 -> 0.10 ms, input gradient 0.25 -> 0.14-0.17 ms.
//
// Every output element is summed in a fixed order by one thread (the weight gradient
// per chunk of images, added in chunk order), so results do not depend on the thread
// count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "inv/kernels/conv_fast.hpp"

namespace inv::kernels {

#if defined(INV_GEMM_ZMM) && defined(INV_HAS_SHUFFLEVECTOR)
#define INV_CONV_TILES 1
#define INV_TILES_TARGET __attribute__((noinline, target("avx512f,avx512vl")))
#endif

/// Whether this CPU runs AVX-512F and AVX-512VL (asked once).
inline bool cpu_has_avx512() {
#ifdef INV_CONV_TILES
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  }();
  return has;
#else
  return false;
#endif
}

namespace detail {

/// Pixels of an output row per forward tile, and output rows per tile at most.
constexpr int64_t kTilePixels = 8, kTileRows = 3;
/// Accumulators of a weight-gradient tile at most (plus dY and the bias sum: 30 of 32 registers).
constexpr int64_t kTileTaps = 28;

/// Channels per vector for Og output channels per group: 16, 8, or 0 (no tile kernel).
inline int64_t tile_lanes(int64_t Og) { return Og % 16 == 0 ? 16 : Og % 8 == 0 ? 8 : 0; }

#ifdef INV_CONV_TILES

/// Hides a pointer's provenance from the optimiser, so that it cannot carry the
/// elements read at one tap over to the next (predictive commoning), which would
/// turn each FMA's broadcast operand into register shuffles.
template <class P>
inline P* opaque(P* p) {
  asm("" : "+r"(p));
  return p;
}

/// out[(r·kTilePixels + p)·16 + l] = init[l] + Σ_{c < Cg, i < kh, j < kw} wt[((c·kh + i)·kw + j)·16 + l]
///                                              · x[c·plane + r·rpitch + i·ipitch + (j + p)·H2 + h(l)]
/// for r < R, p < kTilePixels, l < 16: one forward tile (see the header). H2 = 1: the lanes
/// are 16 channels and h(l) = 0, one float broadcast; H2 = 2: the lanes are 8 channels × 2
/// output rows, h(l) = l mod 2, and x holds row pairs interleaved: one pair broadcast.
template <int64_t R, int64_t H2>
INV_TILES_TARGET void forward_tile(const float* x, int64_t plane, int64_t rpitch, int64_t ipitch, const float* wt,
                                   int64_t Cg, int64_t kh, int64_t kw, const float* init, float* out) {
  typedef float V __attribute__((vector_size(64)));
  constexpr int64_t P = kTilePixels;
  V b;
  std::memcpy(&b, init, sizeof b);
  V acc[R][P];
  for (int64_t r = 0; r < R; ++r)
    for (int64_t p = 0; p < P; ++p) acc[r][p] = b;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t i = 0; i < kh; ++i) {
      const float* row = x + c * plane + i * ipitch;
      for (int64_t j = 0; j < kw; ++j, wt += 16) {
        V w;
        std::memcpy(&w, wt, sizeof w);
#pragma GCC unroll 3
        for (int64_t r = 0; r < R; ++r) {
          const float* s = opaque(row + r * rpitch + j * H2);  // one base register per row
#pragma GCC unroll 8
          for (int64_t p = 0; p < P; ++p) {
            if constexpr (H2 == 1) {
              acc[r][p] += w * s[p];
            } else {
              double pair;
              std::memcpy(&pair, s + 2 * p, sizeof pair);
              acc[r][p] += w * (V)_mm512_set1_pd(pair);
            }
          }
        }
      }
    }
  std::memcpy(out, acc, sizeof acc);
}

/// io[(q·KW + j)·VL + l] += Σ_{oy < OH, ox < OW} dyt[(oy·OW + ox)·VL + l] · rows[q][oy·rpitch + ox + j]
/// for q < NQ, j < KW, l < VL: one weight-gradient tile (see the header); with kBias also
/// bias_io[l] += Σ dyt[(oy·OW + ox)·VL + l], the bias gradient, from the same loads.
template <int64_t VL, int64_t NQ, int64_t KW, bool kBias>
INV_TILES_TARGET void weight_tile(const float* dyt, const float* const* rows, int64_t OH, int64_t OW, int64_t rpitch,
                                  float* io, float* bias_io) {
  typedef float V __attribute__((vector_size(VL * sizeof(float))));
  V acc[NQ][KW], bias{};
  std::memcpy(acc, io, sizeof acc);
  if (kBias) std::memcpy(&bias, bias_io, sizeof bias);
  const float* r[NQ];
  for (int64_t q = 0; q < NQ; ++q) r[q] = rows[q];
  for (int64_t oy = 0; oy < OH; ++oy) {
    for (int64_t ox = 0; ox < OW; ++ox, dyt += VL) {
      V d;
      std::memcpy(&d, dyt, sizeof d);
      if (kBias) bias += d;
#pragma GCC unroll 28
      for (int64_t q = 0; q < NQ; ++q) {
        const float* s = opaque(r[q] + ox);
#pragma GCC unroll 7
        for (int64_t j = 0; j < KW; ++j) acc[q][j] += d * s[j];
      }
    }
    for (int64_t q = 0; q < NQ; ++q) r[q] += rpitch;
  }
  std::memcpy(io, acc, sizeof acc);
  if (kBias) std::memcpy(bias_io, &bias, sizeof bias);
}

/// Kernel rows per weight-gradient tile for a kernel KW wide.
constexpr int64_t weight_tile_rows(int64_t KW) { return std::min<int64_t>(kTileTaps / KW, 9); }

/// weight_tile with KW = kw (1..7) and as many rows as fit; the bias gradient when bias_io is non-null.
template <int64_t VL>
void weight_tile(int64_t kw, const float* dyt, const float* const* rows, int64_t OH, int64_t OW, int64_t rpitch,
                 float* io, float* bias_io) {
  auto run = [&](auto KW) {
    constexpr int64_t NQ = weight_tile_rows(KW.value);
    if (bias_io)
      weight_tile<VL, NQ, KW.value, true>(dyt, rows, OH, OW, rpitch, io, bias_io);
    else
      weight_tile<VL, NQ, KW.value, false>(dyt, rows, OH, OW, rpitch, io, bias_io);
  };
  switch (kw) {
    case 1: return run(std::integral_constant<int64_t, 1>());
    case 2: return run(std::integral_constant<int64_t, 2>());
    case 3: return run(std::integral_constant<int64_t, 3>());
    case 4: return run(std::integral_constant<int64_t, 4>());
    case 5: return run(std::integral_constant<int64_t, 5>());
    case 6: return run(std::integral_constant<int64_t, 6>());
    default: return run(std::integral_constant<int64_t, 7>());
  }
}

/// One backward_data tile (see the header): for the 8 + KW - 1 vectors acc[x] at io (16
/// lanes each), acc[p + j] += Σ_{i0 ≤ i < i1, o < Og} wd[((i·Og + o)·KW + j)·16 ..] · bcast(dy at
/// base - i·ipitch + o·opitch + p·H2), for p < 8, j < KW. H2 = 1: one float broadcast to
/// every lane; H2 = 2: a pair of floats (two dY rows) broadcast to alternate lanes.
template <int64_t H2, int64_t KW>
INV_TILES_TARGET void data_tile(const float* base, int64_t ipitch, int64_t opitch, int64_t Og, int64_t i0, int64_t i1,
                                const float* wd, float* io) {
  typedef float V __attribute__((vector_size(64)));
  constexpr int64_t P = kTilePixels, X = P + KW - 1;
  V acc[X];
#pragma GCC unroll 14
  for (int64_t x = 0; x < X; ++x) std::memcpy(&acc[x], io + x * 16, sizeof(V));
  wd += i0 * Og * KW * 16;
  for (int64_t i = i0; i < i1; ++i) {
    const float* s = base - i * ipitch;
    for (int64_t o = 0; o < Og; ++o, wd += KW * 16) {
      V w[KW];
#pragma GCC unroll 7
      for (int64_t j = 0; j < KW; ++j) std::memcpy(&w[j], wd + j * 16, sizeof(V));
      const float* so = opaque(s + o * opitch);
#pragma GCC unroll 8
      for (int64_t p = 0; p < P; ++p) {
        V b;
        if constexpr (H2 == 1) {
          b = V{} + so[p];
        } else {
          double pair;
          std::memcpy(&pair, so + 2 * p, sizeof pair);
          b = (V)_mm512_set1_pd(pair);
        }
#pragma GCC unroll 7
        for (int64_t j = 0; j < KW; ++j) acc[p + j] += w[j] * b;
      }
    }
  }
#pragma GCC unroll 14
  for (int64_t x = 0; x < X; ++x) std::memcpy(io + x * 16, &acc[x], sizeof(V));
}

/// data_tile with KW = kw (1..7).
template <int64_t H2>
void data_tile(int64_t kw, const float* base, int64_t ipitch, int64_t opitch, int64_t Og, int64_t i0, int64_t i1,
               const float* wd, float* io) {
  switch (kw) {
    case 1: return data_tile<H2, 1>(base, ipitch, opitch, Og, i0, i1, wd, io);
    case 2: return data_tile<H2, 2>(base, ipitch, opitch, Og, i0, i1, wd, io);
    case 3: return data_tile<H2, 3>(base, ipitch, opitch, Og, i0, i1, wd, io);
    case 4: return data_tile<H2, 4>(base, ipitch, opitch, Og, i0, i1, wd, io);
    case 5: return data_tile<H2, 5>(base, ipitch, opitch, Og, i0, i1, wd, io);
    case 6: return data_tile<H2, 6>(base, ipitch, opitch, Og, i0, i1, wd, io);
    default: return data_tile<H2, 7>(base, ipitch, opitch, Og, i0, i1, wd, io);
  }
}

/// Output rows and 16-pixel vectors per pixel tile.
constexpr int64_t kPixelRows = 4, kPixelVectors = 2;

/// One pixel tile (pixels in the lanes, one or two output channels NO, stride and
/// dilation 1 along the height, a kernel KH rows high):
///   out[((o·kPixelRows + r)·kPixelVectors + v)·16 + l] = init[o]
///       + Σ_{c < Cg, i < KH, j < kw} w[o·K + (c·KH + i)·kw + j] · x[c·plane + (r + i)·pitch + j·dw + v·16 + l].
/// Input row q serves output rows r = q - i for every kernel row i, so each row's vectors
/// are loaded once per column j and used by up to KH accumulators.
template <int64_t NO, int64_t KH>
INV_TILES_TARGET void pixel_tile(const float* x, int64_t Cg, int64_t plane, int64_t pitch, int64_t kw, int64_t dw,
                                 const float* w, const float* init, float* out) {
  typedef float V __attribute__((vector_size(64)));
  constexpr int64_t R = kPixelRows, NV = kPixelVectors, K1 = KH;  // K1: kernel rows per channel
  const int64_t K = Cg * K1 * kw;
  V acc[NO][R][NV];
  for (int64_t o = 0; o < NO; ++o)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t v = 0; v < NV; ++v) acc[o][r][v] = V{} + init[o];
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t j = 0; j < kw; ++j) {
      V wi[NO][KH];
      for (int64_t o = 0; o < NO; ++o)
        for (int64_t i = 0; i < KH; ++i) wi[o][i] = V{} + w[o * K + (c * K1 + i) * kw + j];
      const float* base = opaque(x + c * plane + j * dw);
#pragma GCC unroll 12
      for (int64_t q = 0; q < R + KH - 1; ++q) {
        V in[NV];
        for (int64_t v = 0; v < NV; ++v) {
          std::memcpy(&in[v], base + q * pitch + v * 16, sizeof(V));
          asm("" : "+v"(in[v]));  // one load into a register for all its FMAs (GCC would load per FMA)
        }
#pragma GCC unroll 4
        for (int64_t r = 0; r < R; ++r)
          if (q - r >= 0 && q - r < KH)
            for (int64_t o = 0; o < NO; ++o)
              for (int64_t v = 0; v < NV; ++v) acc[o][r][v] += wi[o][q - r] * in[v];
      }
    }
  std::memcpy(out, acc, sizeof acc);
}

/// pixel_tile with KH = kh (1..7).
template <int64_t NO>
void pixel_tile(int64_t kh, const float* x, int64_t Cg, int64_t plane, int64_t pitch, int64_t kw, int64_t dw,
                const float* w, const float* init, float* out) {
  switch (kh) {
    case 1: return pixel_tile<NO, 1>(x, Cg, plane, pitch, kw, dw, w, init, out);
    case 2: return pixel_tile<NO, 2>(x, Cg, plane, pitch, kw, dw, w, init, out);
    case 3: return pixel_tile<NO, 3>(x, Cg, plane, pitch, kw, dw, w, init, out);
    case 4: return pixel_tile<NO, 4>(x, Cg, plane, pitch, kw, dw, w, init, out);
    case 5: return pixel_tile<NO, 5>(x, Cg, plane, pitch, kw, dw, w, init, out);
    case 6: return pixel_tile<NO, 6>(x, Cg, plane, pitch, kw, dw, w, init, out);
    default: return pixel_tile<NO, 7>(x, Cg, plane, pitch, kw, dw, w, init, out);
  }
}

/// Output rows per forward tile for OH rows: 3, or 2 where that wastes fewer rows.
inline int64_t tile_rows(int64_t OH) {
  const int64_t waste3 = (3 - OH % 3) % 3, waste2 = OH % 2;
  return OH == 1 ? 1 : waste2 < waste3 ? 2 : 3;
}

/// forward_tile with R = rows (1..3).
template <int64_t H2>
void forward_tile(int64_t rows, const float* x, int64_t plane, int64_t rpitch, int64_t ipitch, const float* wt,
                  int64_t Cg, int64_t kh, int64_t kw, const float* init, float* out) {
  if (rows == 3) return forward_tile<3, H2>(x, plane, rpitch, ipitch, wt, Cg, kh, kw, init, out);
  if (rows == 2) return forward_tile<2, H2>(x, plane, rpitch, ipitch, wt, Cg, kh, kw, init, out);
  forward_tile<1, H2>(x, plane, rpitch, ipitch, wt, Cg, kh, kw, init, out);
}

/// dst[(b·L + p)·VL + l] = src[(b·VL + l)·L + p]: O = nb·VL channels of L pixels (O × L)
/// to pixel-major blocks of VL channels, by 8 × 8 transposes in registers.
inline void to_pixel_major(const float* src, int64_t O, int64_t L, int64_t VL, float* dst) {
  const int64_t L8 = L / 8 * 8;
  for (int64_t o = 0; o < O; o += 8) {
    float* d = dst + ((o / VL) * L) * VL + o % VL;
    for (int64_t p = 0; p < L8; p += 8) transpose_block<float>(src + o * L + p, L, d + p * VL, VL);
    for (int64_t l = 0; l < 8; ++l)
      for (int64_t p = L8; p < L; ++p) d[p * VL + l] = src[(o + l) * L + p];
  }
}

/// d[x·H2 + h] = row h at column x (0 past n or for a null row), x < width, h < H2 (1 or 2):
/// one row copied, or two rows interleaved element by element.
inline void interleave_rows(const float* a, const float* b, int64_t n, int64_t width, int64_t H2, float* d) {
  if (!a && !b) return std::fill(d, d + width * H2, 0.0f);
  std::fill(d + n * H2, d + width * H2, 0.0f);
  if (H2 == 1) {
    if (a) std::copy_n(a, n, d);
    return;
  }
  using V = vec_t<float>;
  constexpr int64_t L = kLanes<float>;
  static_assert(L == 8, "the shuffles below interleave 8 lanes (the tiles need AVX)");
  const V zero{};
  int64_t x = 0;
  for (; x + L <= n; x += L) {
    const V va = a ? load(a + x) : zero, vb = b ? load(b + x) : zero;
    store(d + 2 * x, __builtin_shufflevector(va, vb, 0, 8, 1, 9, 2, 10, 3, 11));
    store(d + 2 * x + L, __builtin_shufflevector(va, vb, 4, 12, 5, 13, 6, 14, 7, 15));
  }
  for (; x < n; ++x) {
    d[2 * x] = a ? a[x] : 0.0f;
    d[2 * x + 1] = b ? b[x] : 0.0f;
  }
}

#endif  // INV_CONV_TILES

}  // namespace detail

/// Whether the tile kernels take this shape (see the header).
inline bool use_tiles(const ConvGeometry& g) {
  return cpu_has_avx512() && g.sw == 1 && g.dw == 1 && g.kw <= 7 && detail::tile_lanes(g.Og()) > 0;
}

/// Whether conv2d_backward_data_tiles takes this shape (see the header).
inline bool use_backward_data_tiles(const ConvGeometry& g) {
  return cpu_has_avx512() && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.kw <= 7 && g.Cg() % 8 == 0;
}

/// Whether conv2d_forward_pixel_tiles takes this shape (see the header).
inline bool use_pixel_tiles(const ConvGeometry& g) {
  return cpu_has_avx512() && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.kh <= 7 && g.Og() <= 2;
}

#ifdef INV_CONV_TILES

namespace detail {

/// The input planes the tile kernels read: Hp × Wp per channel, x itself where it has
/// that size and no padding, else a zero-padded copy in this thread's scratch.
struct Padded {
  int64_t Hp, Wp, plane;
  bool copy;
  Padded(const ConvGeometry& g, int64_t hp, int64_t wp)
      : Hp(hp), Wp(wp), plane(hp * wp), copy(g.pt != 0 || g.pl != 0 || hp != g.H || wp != g.W) {}
  /// Image n of x (N, C, H, W) as planes (C, Hp, Wp).
  const float* image(const ConvGeometry& g, const float* x, int64_t n) const {
    const float* xn = x + n * g.C * g.H * g.W;
    if (!copy) return xn;
    float* xp = scratch<float, 3>(static_cast<size_t>(g.C * plane));
    pad_planes(xn, g.C, g.H, g.W, g.pt, g.pl, Hp, Wp, xp);
    return xp;
  }
};

}  // namespace detail

/// y = conv(x, w) + bias (bias may be null), y (N, O, OH, OW), overwritten. Requires use_tiles(g).
/// Blocks of 16 output channels, or of 8 channels × 2 output rows (Og not a multiple of 16:
/// the input's rows interleaved in pairs, y and y + sh, so that the FMAs are 512 bits wide).
inline void conv2d_forward_tiles(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  constexpr int64_t P = detail::kTilePixels;
  const int64_t OH = g.OH(), OW = g.OW(), L = g.L(), K = g.K();
  const int64_t s = detail::tile_lanes(g.Og()) == 16 ? 0 : 1, H2 = int64_t(1) << s, CB = 16 >> s;  // lane = c·H2 + h
  const int64_t R = detail::tile_rows((OH + H2 - 1) / H2), RH = R * H2;  // vector rows, output rows per tile
  // Zero-padded input planes cover whole tiles: round_up(OH, RH) rows, round_up(OW, P) columns.
  const detail::Padded input(g, ((OH + RH - 1) / RH * RH - 1) * g.sh + (g.kh - 1) * g.dh + 1,
                             (OW + P - 1) / P * P + g.kw - 1);
  const int64_t Wp = input.Wp, Hp = input.Hp, plane = input.plane * H2;
  // wt[((b·K + k)·16 + lane] = w[b·CB + (lane >> s), k]: each block's weights, tap by tap.
  std::vector<float> wt(static_cast<size_t>(g.O / CB * K * 16));
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t h = 0; h < H2; ++h) wt[size_t(((o / CB) * K + k) * 16 + (o % CB) * H2 + h)] = w[o * K + k];
  parallel_for(g.N, 1, [&](int64_t n, int64_t) {
    const float* xp = input.image(g, x, n);
    if (H2 == 2) {  // xi[(c·Hp + Y)·Wp·2 + 2X + h] = xp[c, Y + h·sh, X]
      float* xi = scratch<float, 5>(static_cast<size_t>(g.C * plane));
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t Y = 0; Y < Hp; ++Y) {
          const float* r0 = xp + (c * Hp + Y) * Wp;
          detail::interleave_rows(r0, Y + g.sh < Hp ? r0 + g.sh * Wp : nullptr, Wp, Wp, 2, xi + (c * Hp + Y) * Wp * 2);
        }
      xp = xi;
    }
    alignas(64) float init[16] = {}, io[detail::kTileRows * P * 16];
    alignas(64) float t[16 * P];  // one row of the tile, lane-major: t[l·P + p]
    for (int64_t ob = 0; ob < g.O / CB; ++ob) {
      const int64_t o0 = ob * CB, gr = o0 / g.Og();
      if (bias)
        for (int64_t l = 0; l < 16; ++l) init[l] = bias[o0 + (l >> s)];
      const float* xg = xp + gr * g.Cg() * plane;
      float* yo = y + (n * g.O + o0) * L;
      for (int64_t oy = 0; oy < OH; oy += RH)
        for (int64_t ox = 0; ox < OW; ox += P) {
          const float* src = xg + (oy * g.sh * Wp + ox) * H2;
          const float* wb = wt.data() + ob * K * 16;
          if (H2 == 1)
            detail::forward_tile<1>(R, src, plane, g.sh * Wp, g.dh * Wp, wb, g.Cg(), g.kh, g.kw, init, io);
          else
            detail::forward_tile<2>(R, src, plane, 4 * g.sh * Wp, 2 * g.dh * Wp, wb, g.Cg(), g.kh, g.kw, init, io);
          const int64_t cols = std::min(P, OW - ox);
          for (int64_t r = 0; r < R; ++r) {
            const int64_t y0 = oy + r * H2;  // output row of lane h = 0
            if (y0 >= OH) break;
            if (cols == P && y0 + H2 <= OH) {  // whole rows of 8 pixels: transposed straight into y
              for (int64_t b = 0; b < 16; b += 8) {
                auto tile_row = [&](int64_t p) { return io + (r * P + p) * 16 + b; };
                auto y_row = [&](int64_t l) { return yo + ((b + l) >> s) * L + (y0 + (l & s)) * OW + ox; };
                detail::transpose_rows_to<float>(tile_row, y_row);
              }
              continue;
            }
            for (int64_t b = 0; b < 16; b += 8) detail::transpose_block<float>(io + r * P * 16 + b, 16, t + b * P, P);
            for (int64_t l = 0; l < 16; ++l)
              if (y0 + (l & s) < OH)
                std::memcpy(yo + (l >> s) * L + (y0 + (l & s)) * OW + ox, t + l * P, sizeof(float) * size_t(cols));
          }
        }
    }
  });
}

/// dw = the weight gradient (overwritten), and db[o] = Σ dy[·, o, ·] when db is non-null
/// (summed in float, lane by lane, as the tiles load dY). Requires use_tiles(g).
inline void conv2d_backward_weight_tiles(const ConvGeometry& g, const float* x, const float* dy, float* dw,
                                         float* db = nullptr) {
  const int64_t VL = detail::tile_lanes(g.Og()), OH = g.OH(), OW = g.OW(), L = g.L(), K = g.K(), Cg = g.Cg();
  const int64_t NQ = detail::weight_tile_rows(g.kw), rows = Cg * g.kh, rows_padded = (rows + NQ - 1) / NQ * NQ;
  const detail::Padded input(g, (OH - 1) * g.sh + (g.kh - 1) * g.dh + 1, OW + g.kw - 1);
  // A chunk of images sums into its block of partial, laid out as the tiles hold it:
  // acc[((ob·rows_padded + q)·kw + j)·VL + l] for output channel ob·VL + l, kernel row q
  // = (c, i), column j, then the bias gradient's O sums. The blocks are added in chunk
  // order, then transposed into dw.
  const int64_t B = conv_weight_images_per_chunk(g), chunks = std::max<int64_t>(chunk_count(g.N, B), 1);
  const int64_t wsize = g.O * rows_padded * g.kw, asize = wsize + g.O;
  float* partial = scratch<float, 4>(static_cast<size_t>(chunks * asize));
  std::fill(partial, partial + chunks * asize, 0.0f);
  parallel_for(g.N, B, [&](int64_t n0, int64_t n1) {
    float* acc = partial + (n0 / B) * asize;
    float* dyt = scratch<float, 6>(static_cast<size_t>(g.O * L));
    for (int64_t n = n0; n < n1; ++n) {
      const float* xp = input.image(g, x, n);
      detail::to_pixel_major(dy + n * g.O * L, g.O, L, VL, dyt);  // dyt[(ob·L + p)·VL + l]
      for (int64_t ob = 0; ob < g.O / VL; ++ob) {
        const float* xg = xp + (ob * VL / g.Og()) * Cg * input.plane;
        for (int64_t q0 = 0; q0 < rows; q0 += NQ) {
          const float* src[detail::kTileTaps];
          for (int64_t q = 0; q < NQ; ++q) {
            const int64_t row = std::min(q0 + q, rows - 1);  // past the last row: a copy, discarded
            src[q] = xg + (row / g.kh) * input.plane + (row % g.kh) * g.dh * input.Wp;
          }
          float* io = acc + ((ob * rows_padded + q0) * g.kw) * VL;
          float* bias_io = db && q0 == 0 ? acc + wsize + ob * VL : nullptr;
          if (VL == 16)
            detail::weight_tile<16>(g.kw, dyt + ob * L * 16, src, OH, OW, g.sh * input.Wp, io, bias_io);
          else
            detail::weight_tile<8>(g.kw, dyt + ob * L * 8, src, OH, OW, g.sh * input.Wp, io, bias_io);
        }
      }
    }
  });
  for (int64_t c = 1; c < chunks; ++c)
    for (int64_t k = 0; k < asize; ++k) partial[k] += partial[c * asize + k];
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t k = 0; k < K; ++k) dw[o * K + k] = partial[((o / VL) * rows_padded * g.kw + k) * VL + o % VL];
  if (db) std::copy_n(partial + wsize, g.O, db);
}

/// dx += convᵀ(dy, w) for stride and dilation 1 (see the header). Per image and group,
/// dY is laid out as dy2[o][yy][x][H2] (rows yy - (kh - 1) .. + H2 - 1 of channel o at
/// column x, zero outside dY), the weights as wd[cb][i][o][j][lane], and dx is summed,
/// padded and with its rows interleaved as the lanes hold them, in dxp[cb][Y/H2][X][16],
/// then added into dx. Requires use_backward_data_tiles(g).
inline void conv2d_backward_data_tiles(const ConvGeometry& g, const float* w, const float* dy, float* dx) {
  constexpr int64_t P = detail::kTilePixels;
  const int64_t Og = g.Og(), Cg = g.Cg(), OH = g.OH(), OW = g.OW(), kh = g.kh, kw = g.kw;
  // H2 rows per vector (lane = c·H2 + h: shift and mask by s), CB channels per vector, nb blocks.
  const int64_t s = Cg % 16 == 0 ? 0 : 1, H2 = int64_t(1) << s, CB = 16 >> s, nb = Cg / CB;
  // dxp: Hp rows (whole row pairs) × Wp columns (whole blocks of 8 for the transposes).
  const int64_t Hp = (OH + kh - 1 + H2 - 1) / H2 * H2, Wq = (OW + P - 1) / P * P, Wp = (Wq + kw - 1 + 7) / 8 * 8;
  const int64_t Hq = Hp + kh - 1, opitch = Hq * Wq * H2;
  // wd[(((gr·nb + cb)·kh + i)·Og + o)·kw + j)·16 + lane], lane = c·H2 + h: w[gr·Og + o, cb·CB + c, i, j].
  std::vector<float> wd(static_cast<size_t>(g.groups * nb * kh * Og * kw * 16));
  for (int64_t gr = 0; gr < g.groups; ++gr)
    for (int64_t cb = 0; cb < nb; ++cb)
      for (int64_t i = 0; i < kh; ++i)
        for (int64_t o = 0; o < Og; ++o)
          for (int64_t j = 0; j < kw; ++j)
            for (int64_t lane = 0; lane < 16; ++lane)
              wd[size_t(((((gr * nb + cb) * kh + i) * Og + o) * kw + j) * 16 + lane)] =
                  w[(((gr * Og + o) * Cg + cb * CB + (lane >> s)) * kh + i) * kw + j];
  parallel_for(g.N, 1, [&](int64_t n, int64_t) {
    float* dy2 = scratch<float, 5>(static_cast<size_t>(Og * opitch));
    float* dxp = scratch<float, 6>(static_cast<size_t>(nb * Hp * Wp * CB));
    alignas(64) float t[8 * P];
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      const float* dyg = dy + (n * g.O + gr * Og) * OH * OW;
      for (int64_t o = 0; o < Og; ++o)
        for (int64_t yy = 0; yy < Hq; ++yy) {
          float* d = dy2 + o * opitch + yy * Wq * H2;
          const int64_t oy = yy - (kh - 1);  // rows oy .. oy + H2 - 1, zero outside dY
          auto row = [&](int64_t y) { return y >= 0 && y < OH ? dyg + (o * OH + y) * OW : nullptr; };
          if (H2 == 1)
            detail::interleave_rows(row(oy), nullptr, OW, Wq, 1, d);
          else
            detail::interleave_rows(row(oy), row(oy + 1), OW, Wq, 2, d);
        }
      std::fill(dxp, dxp + nb * Hp * Wp * CB, 0.0f);
      for (int64_t cb = 0; cb < nb; ++cb)
        for (int64_t Y = 0; Y < Hp; Y += H2) {
          // Kernel rows i that reach a dY row of this row pair: Y + H2 - 1 - i ≥ 0, Y - i < OH.
          const int64_t i0 = std::max<int64_t>(0, Y - OH + 1), i1 = std::min(kh, Y + H2);
          if (i0 >= i1) continue;
          for (int64_t x0 = 0; x0 < Wq; x0 += P) {
            const float* base = dy2 + ((Y + kh - 1) * Wq + x0) * H2;
            float* io = dxp + (((cb * Hp + Y) >> s) * Wp + x0) * 16;
            const float* wcb = wd.data() + (gr * nb + cb) * kh * Og * kw * 16;
            if (H2 == 1)
              detail::data_tile<1>(kw, base, Wq, opitch, Og, i0, i1, wcb, io);
            else
              detail::data_tile<2>(kw, base, Wq * 2, opitch, Og, i0, i1, wcb, io);
          }
        }
      // Add dxp into dx: per 8 columns and half vector, an 8 × 8 transpose gives, for each
      // lane (channel c, row h), 8 consecutive columns; padding rows and columns are dropped.
      float* dxg = dx + (n * g.C + gr * Cg) * g.H * g.W;
      const int64_t x_lo = g.pl, x_hi = std::min(Wp, g.W + g.pl);  // columns X of dxp inside dx
      for (int64_t cb = 0; cb < nb; ++cb)
        for (int64_t Yh = 0; Yh < Hp >> s; ++Yh)
          for (int64_t X0 = x_lo / 8 * 8; X0 < x_hi; X0 += 8)
            for (int64_t half = 0; half < 16; half += 8) {
              detail::transpose_block<float>(dxp + (((cb * Hp) >> s) + Yh) * Wp * 16 + X0 * 16 + half, 16, t, P);
              const int64_t a = std::max(X0, x_lo) - X0, b = std::min(X0 + 8, x_hi) - X0;
              for (int64_t l = 0; l < 8; ++l) {
                const int64_t lane = half + l, y = (Yh << s) + (lane & s) - g.pt;
                if (y < 0 || y >= g.H) continue;
                float* row = dxg + ((cb * CB + (lane >> s)) * g.H + y) * g.W + X0 - g.pl;
                if (a == 0 && b == 8)  // a whole block of 8 columns
                  store(row, load(row) + load(t + l * P));
                else
                  for (int64_t x = a; x < b; ++x) row[x] += t[l * P + x];
              }
            }
    }
  });
}

/// y = conv(x, w) + bias (bias may be null), or y += conv(x, w) when accumulating (bias null
/// then), for one or two output channels per group and stride 1 (dilation 1 along the
/// height): blocks of 4 output rows × 32 pixels in registers (see pixel_tile).
/// Requires use_pixel_tiles(g).
inline void conv2d_forward_pixel_tiles(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                                       float* y, bool accumulate = false) {
  constexpr int64_t R = detail::kPixelRows, BL = detail::kPixelVectors * 16;
  const int64_t OH = g.OH(), OW = g.OW(), L = g.L(), K = g.K(), Og = g.Og();
  const int64_t Wp = (OW + BL - 1) / BL * BL + (g.kw - 1) * g.dw;
  const detail::Padded input(g, (OH + R - 1) / R * R + g.kh - 1, Wp);
  parallel_for(g.N, 1, [&](int64_t n, int64_t) {
    const float* xp = input.image(g, x, n);
    alignas(64) float out[2 * R * BL];
    for (int64_t o0 = 0, no; o0 < g.O; o0 += no) {
      no = std::min<int64_t>(2, (o0 / Og + 1) * Og - o0);  // a tile stays in one group
      const float init[2] = {bias ? bias[o0] : 0.0f, bias && no == 2 ? bias[o0 + 1] : 0.0f};
      const float* xg = xp + (o0 / Og) * g.Cg() * input.plane;
      for (int64_t oy = 0; oy < OH; oy += R)
        for (int64_t ox = 0; ox < OW; ox += BL) {
          const float* src = xg + oy * Wp + ox;
          if (no == 2)
            detail::pixel_tile<2>(g.kh, src, g.Cg(), input.plane, Wp, g.kw, g.dw, w + o0 * K, init, out);
          else
            detail::pixel_tile<1>(g.kh, src, g.Cg(), input.plane, Wp, g.kw, g.dw, w + o0 * K, init, out);
          const int64_t rows = std::min(R, OH - oy), cols = std::min(BL, OW - ox);
          for (int64_t o = 0; o < no; ++o)
            for (int64_t r = 0; r < rows; ++r) {
              float* dst = y + (n * g.O + o0 + o) * L + (oy + r) * OW + ox;
              const float* t = out + (o * R + r) * BL;
              if (accumulate)
                for (int64_t p = 0; p < cols; ++p) dst[p] += t[p];
              else
                std::memcpy(dst, t, sizeof(float) * size_t(cols));
            }
        }
    }
  });
}

/// dx += convᵀ(dy, w) for stride 1 and one or two input channels per group: the pixel
/// tiles on dY with the flipped weights (flipped_geometry, flipped_weights). Requires
/// g.sh == 1 and use_pixel_tiles(flipped_geometry(g)).
inline void conv2d_backward_data_pixel_tiles(const ConvGeometry& g, const float* w, const float* dy, float* dx) {
  const std::vector<float> wf = flipped_weights(g, w);
  conv2d_forward_pixel_tiles(flipped_geometry(g), dy, wf.data(), nullptr, dx, /*accumulate=*/true);
}

#endif  // INV_CONV_TILES

}  // namespace inv::kernels
