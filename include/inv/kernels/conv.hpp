// inv/kernels/conv.hpp: the convolution kernels the ops call, chosen by shape among the
// GEMM kernels (conv_fast.hpp) and the register-tiled ones (conv_direct.hpp).
#pragma once

#include "inv/kernels/conv_direct.hpp"
#include "inv/kernels/conv_fast.hpp"

namespace inv::kernels {

/// y = conv(x, w) (+ bias). See conv2d_forward_naive.
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  if (use_direct(g))
    conv2d_forward_direct(g, x, w, bias, y);
  else
    conv2d_forward_gemm(g, x, w, bias, y);
}

/// dx += convᵀ(dy, w) when dx is non-null; dw = the weight gradient when dw is non-null.
template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  if (dw && use_backward_weight_rows(g))
    conv2d_backward_weight_rows(g, x, dy, dw);
  else if (dw)
    conv2d_backward_weight_gemm(g, x, dy, dw);
  if (dx) conv2d_backward_data_gemm(g, w, dy, dx);
}

}  // namespace inv::kernels
