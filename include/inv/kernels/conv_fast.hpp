// inv/kernels/conv_fast.hpp: im2col + GEMM convolution kernels, and the dispatch between
// them and the direct kernels of conv_direct.hpp.
//
// Same contracts as the reference kernels in conv_naive.hpp (and tested against
// them). The batch is cut into chunks of B images, B a function of the shapes only
// (never of the thread count). For one chunk, im2col lays the B images' patches
// side by side in a column matrix col ((C·kh·kw) × B·L, rows of group g contiguous),
// and each group is one GEMM:
//
//   forward          Y_g  (Og × B·L) = W_g (Og × K) · col_g (K × B·L)
//   backward_data    dcol_g (K × B·L) = W_gᵀ · dY_g, then col2im adds into dx
//   backward_weight  dW_g (Og × K)   = Σ_chunks dY_g · col_gᵀ
//
// Chunks run in parallel; the weight gradient is summed over per-chunk partials in
// chunk order (at most 16 partials), so results are bitwise independent of the
// thread count. With a single chunk the GEMMs parallelise themselves instead.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "inv/kernels/conv_direct.hpp"
#include "inv/kernels/conv_naive.hpp"
#include "inv/kernels/gemm.hpp"

namespace inv::kernels {

/// A per-thread scratch buffer of at least n elements (slot tells buffers apart).
template <class T, int Slot>
T* scratch(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

/// Images per chunk: at most 16 chunks, and a chunk's column matrix below 4M elements.
inline int64_t conv_images_per_chunk(const ConvGeometry& g) {
  const int64_t per_image = std::max<int64_t>(1, g.C * g.kh * g.kw * g.L());
  const int64_t by_count = (g.N + 15) / 16;
  const int64_t by_memory = std::max<int64_t>(1, (int64_t(1) << 22) / per_image);
  return std::max<int64_t>(1, std::min(by_count, by_memory));
}

namespace detail {
/// Output columns ox whose input column ox·sw - pl + j·dw lies in [0, W): [lo, hi).
inline void valid_range(int64_t OW, int64_t W, int64_t sw, int64_t off, int64_t& lo, int64_t& hi) {
  // ix = ox·sw + off must satisfy 0 <= ix < W.
  lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  hi = W - 1 - off < 0 ? 0 : std::min(OW, (W - 1 - off) / sw + 1);
  if (hi < lo) hi = lo;
}
}  // namespace detail

/// Patches of one image x (C, H, W) into col rows (c, i, j), columns 0..L-1, row stride ld.
template <class T>
void im2col(const ConvGeometry& g, const T* x, T* col, int64_t ld) {
  const int64_t OH = g.OH(), OW = g.OW();
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * ld;
        const int64_t off = j * g.dw - g.pl;
        int64_t lo, hi;
        detail::valid_range(OW, g.W, g.sw, off, lo, hi);
        for (int64_t oy = 0; oy < OH; ++oy) {
          T* r = row + oy * OW;
          const int64_t iy = oy * g.sh - g.pt + i * g.dh;
          if (iy < 0 || iy >= g.H) {
            for (int64_t ox = 0; ox < OW; ++ox) r[ox] = T(0);
            continue;
          }
          const T* xr = x + (c * g.H + iy) * g.W + off;
          for (int64_t ox = 0; ox < lo; ++ox) r[ox] = T(0);
          if (g.sw == 1)
            for (int64_t ox = lo; ox < hi; ++ox) r[ox] = xr[ox];
          else
            for (int64_t ox = lo; ox < hi; ++ox) r[ox] = xr[ox * g.sw];
          for (int64_t ox = hi; ox < OW; ++ox) r[ox] = T(0);
        }
      }
}

/// The adjoint of im2col: adds col's entries into dx (C, H, W).
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

/// y = conv(x, w) (+ bias[o] when bias is non-null), y (N, O, OH, OW), overwritten.
/// See conv2d_forward_naive.
template <class T>
void conv2d_forward_gemm(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t B = conv_images_per_chunk(g), K = g.K(), L = g.L(), Og = g.Og(), CK = g.C * g.kh * g.kw;
  const int64_t in_size = g.C * g.H * g.W, out_size = g.O * L;
  parallel_for(g.N, B, [&](int64_t n0, int64_t n1) {
    const int64_t b = n1 - n0, ld = b * L;
    T* col = scratch<T, 0>(static_cast<size_t>(CK * ld));
    for (int64_t n = n0; n < n1; ++n) im2col(g, x + n * in_size, col + (n - n0) * L, ld);
    // One image: the GEMM writes straight into y, on top of the bias. Several: into
    // tmp (O × B·L), then each image's block is copied out with the bias added.
    T* out = b == 1 ? y + n0 * out_size : scratch<T, 1>(static_cast<size_t>(g.O * ld));
    const bool bias_first = b == 1 && bias;
    if (bias_first)
      for (int64_t o = 0; o < g.O; ++o) std::fill(out + o * L, out + (o + 1) * L, bias[o]);
    for (int64_t gr = 0; gr < g.groups; ++gr)
      gemm<T>(false, false, Og, ld, K, T(1), w + gr * Og * K, K, col + gr * K * ld, ld, bias_first ? T(1) : T(0),
              out + gr * Og * ld, ld);
    if (b > 1)
      for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t o = 0; o < g.O; ++o) {
          const T* src = out + o * ld + bi * L;
          T* dst = y + (n0 + bi) * out_size + o * L;
          const T add = bias ? bias[o] : T(0);
          for (int64_t l = 0; l < L; ++l) dst[l] = src[l] + add;
        }
  });
}

/// dx += convᵀ(dy, w) when dx is non-null; dw = the weight gradient when dw is non-null.
/// See conv2d_backward_data_naive and conv2d_backward_weight_naive.
template <class T>
void conv2d_backward_gemm(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const int64_t B = conv_images_per_chunk(g), K = g.K(), L = g.L(), Og = g.Og(), CK = g.C * g.kh * g.kw;
  const int64_t in_size = g.C * g.H * g.W, out_size = g.O * L, wsize = g.O * K;
  const int64_t chunks = chunk_count(g.N, B);
  std::vector<T> partial(dw ? static_cast<size_t>(chunks * wsize) : 0);
  parallel_for(g.N, B, [&](int64_t n0, int64_t n1) {
    const int64_t b = n1 - n0, ld = b * L;
    // dY of the chunk as (O × B·L): each image's (O × L) block side by side.
    const T* dyc = dy + n0 * out_size;
    if (b > 1) {
      T* gathered = scratch<T, 1>(static_cast<size_t>(g.O * ld));
      for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t o = 0; o < g.O; ++o)
          std::memcpy(gathered + o * ld + bi * L, dy + (n0 + bi) * out_size + o * L, static_cast<size_t>(L) * sizeof(T));
      dyc = gathered;
    }
    if (dw) {
      T* col = scratch<T, 0>(static_cast<size_t>(CK * ld));
      for (int64_t n = n0; n < n1; ++n) im2col(g, x + n * in_size, col + (n - n0) * L, ld);
      T* part = partial.data() + (n0 / B) * wsize;
      for (int64_t gr = 0; gr < g.groups; ++gr)
        gemm<T>(false, true, Og, K, ld, T(1), dyc + gr * Og * ld, ld, col + gr * K * ld, ld, T(0), part + gr * Og * K, K);
    }
    if (dx) {
      T* dcol = scratch<T, 2>(static_cast<size_t>(CK * ld));
      for (int64_t gr = 0; gr < g.groups; ++gr)
        gemm<T>(true, false, K, ld, Og, T(1), w + gr * Og * K, K, dyc + gr * Og * ld, ld, T(0), dcol + gr * K * ld, ld);
      for (int64_t n = n0; n < n1; ++n) col2im(g, dcol + (n - n0) * L, ld, dx + n * in_size);
    }
  });
  if (dw && chunks == 0) std::fill(dw, dw + wsize, T(0));
  if (dw && chunks > 0) {
    std::copy(partial.begin(), partial.begin() + wsize, dw);
    for (int64_t c = 1; c < chunks; ++c)
      for (int64_t k = 0; k < wsize; ++k) dw[k] += partial[static_cast<size_t>(c * wsize + k)];
  }
}

// ---------------------------------------------------------------------------
// The kernels the ops call: the direct forward where it wins (see conv_direct.hpp),
// im2col + GEMM otherwise.
// ---------------------------------------------------------------------------

/// y = conv(x, w) (+ bias). See conv2d_forward_naive.
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  if (conv_direct_forward(g))
    direct::forward(g, x, w, bias, y);
  else
    conv2d_forward_gemm(g, x, w, bias, y);
}

/// dx += convᵀ(dy, w) when dx is non-null; dw = the weight gradient when dw is non-null.
template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  conv2d_backward_gemm(g, x, w, dy, dx, dw);
}

}  // namespace inv::kernels
