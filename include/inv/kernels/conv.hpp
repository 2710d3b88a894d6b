// inv/kernels/conv.hpp: the convolution kernels the ops call, chosen by shape among the
// GEMM kernels (conv_fast.hpp), the register-tiled ones (conv_direct.hpp) and, on CPUs
// with AVX-512, the channel tiles (conv_tiles.hpp).
#pragma once

#include <type_traits>

#include "inv/kernels/conv_direct.hpp"
#include "inv/kernels/conv_fast.hpp"
#include "inv/kernels/conv_tiles.hpp"

namespace inv::kernels {

/// The channel-tile forward for this shape (float32): few output channels per group or
/// a shallow sum, where the GEMM's packing and 6-row tiles cost most. Batch 32, one core:
/// LeNet's conv1 0.14 -> 0.13 ms, conv2 0.16 -> 0.09 ms; CIFAR's 64-channel 3×3 layers
/// are within a few per cent either way and stay on the GEMM.
template <class T>
bool use_forward_tiles(const ConvGeometry& g) {
  return std::is_same_v<T, float> && use_tiles(g) && (g.Og() <= 32 || g.K() <= 64);
}

/// The channel-tile weight gradient for this shape (float32): few output channels per
/// group, or images of at least 256 output pixels. Batch 32, one core: LeNet's conv1
/// 0.12 -> 0.10 ms, conv2 0.19 -> 0.10 ms, CIFAR's conv12 21 -> 18 ms; CIFAR's conv32
/// (8×8 pixels, 128 channels) is faster by GEMM (5.2 against 5.6 ms).
template <class T>
bool use_backward_weight_tiles(const ConvGeometry& g) {
  return std::is_same_v<T, float> && use_tiles(g) && (g.Og() <= 16 || g.L() >= 256);
}

/// The channel-tile input gradient for this shape (float32): fewer input channels per
/// group than the flipped GEMM takes (kFlippedMinChannels), where the lanes kernel or
/// col2im would run. Batch 32, one core: LeNet's conv2 0.23 -> 0.18 ms, its conv1
/// decoder (8 -> 1 channel, padding 4) 0.52 -> 0.30 ms.
template <class T>
bool use_backward_data_tiles(const ConvGeometry& g) {
  return std::is_same_v<T, float> && use_backward_data_tiles(g) && g.Cg() < kFlippedMinChannels;
}

/// dx += convᵀ(dy, w). See conv2d_backward_data_naive. On CPUs with AVX-512 (float32):
/// the channel tiles, or for one or two input channels per group and stride 1 the pixel
/// tiles on the flipped weights (LeNet's conv1, one core: batch 10 0.069 -> 0.044 ms, as
/// rMLE runs it; batch 32 0.25 -> 0.14-0.17 ms).
template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* w, const T* dy, T* dx) {
#ifdef INV_CONV_TILES
  if constexpr (std::is_same_v<T, float>) {
    if (use_backward_data_tiles<T>(g)) return conv2d_backward_data_tiles(g, w, dy, dx);
    if (g.sh == 1 && use_pixel_tiles(flipped_geometry(g))) return conv2d_backward_data_pixel_tiles(g, w, dy, dx);
  }
#endif
  conv2d_backward_data_gemm(g, w, dy, dx);
}

/// y = conv(x, w) (+ bias). See conv2d_forward_naive.
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
#ifdef INV_CONV_TILES
  if constexpr (std::is_same_v<T, float>)
    if (use_forward_tiles<T>(g)) return conv2d_forward_tiles(g, x, w, bias, y);
#endif
  if (use_direct(g)) {  // with AVX-512, pixel tiles: LeNet's conv1 decoder (8 -> 1) 0.32 -> 0.14-0.18 ms
#ifdef INV_CONV_TILES
    if constexpr (std::is_same_v<T, float>)
      if (use_pixel_tiles(g)) return conv2d_forward_pixel_tiles(g, x, w, bias, y);
#endif
    conv2d_forward_direct(g, x, w, bias, y);
  } else {
    conv2d_forward_gemm(g, x, w, bias, y);
  }
}

/// dx += convᵀ(dy, w) when dx is non-null; dw = the weight gradient and db[o] = Σ dy[·, o, ·]
/// (in double where no tile sums it) when they are non-null. See conv2d_backward_data_naive
/// and conv2d_backward_weight_naive.
template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db = nullptr) {
#ifdef INV_CONV_TILES
  if constexpr (std::is_same_v<T, float>)
    if (dw && use_backward_weight_tiles<T>(g)) {
      conv2d_backward_weight_tiles(g, x, dy, dw, db);  // sums the bias gradient on the way
      if (dx) conv2d_backward_data(g, w, dy, dx);
      return;
    }
#endif
  if (dw && use_backward_weight_rows(g))
    conv2d_backward_weight_rows(g, x, dy, dw);
  else if (dw)
    conv2d_backward_weight_gemm(g, x, dy, dw);
  if (db) channel_sum(dy, g.N, g.O, g.L(), db);
  if (dx) conv2d_backward_data(g, w, dy, dx);
}

}  // namespace inv::kernels
