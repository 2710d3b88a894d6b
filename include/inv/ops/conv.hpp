// inv/ops/conv.hpp: conv2d and conv_transpose2d, with PyTorch's layouts and semantics.
//
//   conv2d            x (N, C, H, W), weight (O, C/groups, kH, kW), bias (O) -> (N, O, OH, OW)
//                     OH = (H + pad_top + pad_bottom - dilation·(kH - 1) - 1) / stride + 1
//   conv_transpose2d  x (N, C, H, W), weight (C, O/groups, kH, kW), bias (O) -> (N, O, OH, OW)
//                     OH = (H - 1)·stride - 2·padding + dilation·(kH - 1) + output_padding + 1
//
// conv_transpose2d is the adjoint of conv2d in its input (for the same weight):
// <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>. The fast kernels are in
// inv/kernels/conv.hpp (which chooses among conv_fast.hpp and conv_direct.hpp), the
// reference kernels in inv/kernels/conv_naive.hpp.
#pragma once

#include "inv/kernels/conv.hpp"
#include "inv/kernels/sum.hpp"
#include "inv/ops/elementwise.hpp"

namespace inv {

/// Options of conv2d, set fluently: Conv2dOptions().stride(2).padding(1).
/// Padding is symmetric (padding(p), padding(ph, pw)) or explicit per side
/// (padding(top, bottom, left, right)), as F.pad followed by an unpadded conv in PyTorch.
struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups_ = 1;

  Conv2dOptions& stride(int64_t s) { return stride(s, s); }
  Conv2dOptions& stride(int64_t sh, int64_t sw) {
    stride_h = sh;
    stride_w = sw;
    return *this;
  }
  Conv2dOptions& padding(int64_t p) { return padding(p, p); }
  Conv2dOptions& padding(int64_t ph, int64_t pw) { return padding(ph, ph, pw, pw); }
  Conv2dOptions& padding(int64_t top, int64_t bottom, int64_t left, int64_t right) {
    pad_top = top;
    pad_bottom = bottom;
    pad_left = left;
    pad_right = right;
    return *this;
  }
  Conv2dOptions& dilation(int64_t d) { return dilation(d, d); }
  Conv2dOptions& dilation(int64_t dh, int64_t dw) {
    dilation_h = dh;
    dilation_w = dw;
    return *this;
  }
  Conv2dOptions& groups(int64_t g) {
    groups_ = g;
    return *this;
  }
};

/// Options of conv_transpose2d (symmetric padding, as in PyTorch).
struct ConvTranspose2dOptions {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, out_pad_h = 0, out_pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1, groups_ = 1;

  ConvTranspose2dOptions& stride(int64_t s) { return stride(s, s); }
  ConvTranspose2dOptions& stride(int64_t sh, int64_t sw) {
    stride_h = sh;
    stride_w = sw;
    return *this;
  }
  ConvTranspose2dOptions& padding(int64_t p) { return padding(p, p); }
  ConvTranspose2dOptions& padding(int64_t ph, int64_t pw) {
    pad_h = ph;
    pad_w = pw;
    return *this;
  }
  ConvTranspose2dOptions& output_padding(int64_t p) { return output_padding(p, p); }
  ConvTranspose2dOptions& output_padding(int64_t ph, int64_t pw) {
    out_pad_h = ph;
    out_pad_w = pw;
    return *this;
  }
  ConvTranspose2dOptions& dilation(int64_t d) { return dilation(d, d); }
  ConvTranspose2dOptions& dilation(int64_t dh, int64_t dw) {
    dilation_h = dh;
    dilation_w = dw;
    return *this;
  }
  ConvTranspose2dOptions& groups(int64_t g) {
    groups_ = g;
    return *this;
  }
};

namespace detail {

/// y[n, o, :] += b[o].
template <class T>
void add_channel_bias(T* y, const T* b, int64_t N, int64_t O, int64_t L) {
  parallel_for_each(N * O, L, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T v = b[r % O];
      T* p = y + r * L;
      for (int64_t l = 0; l < L; ++l) p[l] += v;
    }
  });
}

inline void check_conv_args(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, int64_t w_in,
                            int64_t out_channels, int64_t groups) {
  INV_CHECK(x.dim() == 4, op, ": expected 4-D (N,C,H,W) input, got ", to_string(x.shape()));
  INV_CHECK(w.dim() == 4, op, ": expected a 4-D weight, got ", to_string(w.shape()));
  INV_CHECK(x.dtype() == w.dtype(), op, ": input and weight dtypes differ, got ", dtype_name(x.dtype()), " and ",
            dtype_name(w.dtype()));
  INV_CHECK(groups >= 1, op, ": groups must be >= 1, got ", groups);
  INV_CHECK(x.size(1) % groups == 0 && out_channels % groups == 0, op, ": channels ", x.size(1), " -> ",
            out_channels, " are not divisible by groups ", groups);
  INV_CHECK(w_in == x.size(1), op, ": weight ", to_string(w.shape()), " expects ", w_in,
            " input channels, got input ", to_string(x.shape()));
  if (b.defined()) {
    INV_CHECK(b.shape() == Shape{out_channels}, op, ": expected bias of shape (", out_channels, "), got ",
              to_string(b.shape()));
    INV_CHECK(b.dtype() == x.dtype(), op, ": bias dtype ", dtype_name(b.dtype()), " differs from input dtype ",
              dtype_name(x.dtype()));
  }
}

inline void check_geometry(const char* op, const kernels::ConvGeometry& g, const Tensor& x) {
  INV_CHECK(g.sh >= 1 && g.sw >= 1 && g.dh >= 1 && g.dw >= 1, op, ": stride and dilation must be >= 1");
  INV_CHECK(g.pt >= 0 && g.pb >= 0 && g.pl >= 0 && g.pr >= 0, op, ": padding must be >= 0");
  INV_CHECK(g.OH() >= 1 && g.OW() >= 1, op, ": input ", to_string(x.shape()), " is too small for kernel ", g.kh,
            "x", g.kw, " (dilation ", g.dh, "x", g.dw, ", padding ", g.pt, ",", g.pb, ",", g.pl, ",", g.pr,
            "): the output would be empty");
}

}  // namespace detail

// ---------------------------------------------------------------------------
// conv2d (see the header). bias may be an undefined Tensor().
// Backward: dx = convᵀ(dy, w), dw = Σ dy ⊗ patches(x), db = Σ dy.
// ---------------------------------------------------------------------------
inline Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                     const Conv2dOptions& opt = Conv2dOptions()) {
  const int64_t groups = opt.groups_;
  detail::check_conv_args("conv2d", x, weight, bias, weight.dim() == 4 ? weight.size(1) * groups : -1,
                          weight.dim() == 4 ? weight.size(0) : -1, groups);
  kernels::ConvGeometry g;
  g.N = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.O = weight.size(0), g.kh = weight.size(2), g.kw = weight.size(3);
  g.sh = opt.stride_h, g.sw = opt.stride_w, g.dh = opt.dilation_h, g.dw = opt.dilation_w, g.groups = groups;
  g.pt = opt.pad_top, g.pb = opt.pad_bottom, g.pl = opt.pad_left, g.pr = opt.pad_right;
  detail::check_geometry("conv2d", g, x);

  Tensor y = empty({g.N, g.O, g.OH(), g.OW()}, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::conv2d_forward<T>(g, x.data<T>(), weight.data<T>(), bias.defined() ? bias.data<T>() : nullptr,
                               y.data<T>());
  });
  if (detail::should_record({&x, &weight, &bias})) {
    detail::record(y, "conv2d", {x, weight, bias}, [x, weight, g](const Tensor& gy, GradSink& s) {
      Tensor dx = s.needs(0) ? zeros_like(x) : Tensor();
      Tensor dw = s.needs(1) ? empty_like(weight) : Tensor();
      Tensor db = s.needs(2) ? empty({g.O}, gy.dtype()) : Tensor();
      dispatch(gy.dtype(), [&](auto tag) {
        using T = decltype(tag);
        auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
        kernels::conv2d_backward<T>(g, x.data<T>(), weight.data<T>(), gy.data<T>(), ptr(dx), ptr(dw), ptr(db));
      });
      if (dx.defined()) s.add(0, dx);
      if (dw.defined()) s.add(1, dw);
      if (db.defined()) s.add(2, db);
    });
  }
  return y;
}

// ---------------------------------------------------------------------------
// conv_transpose2d (see the header). bias may be an undefined Tensor().
// The forward is conv2d's backward_data; backward: dx = conv2d(dy, w), dw from
// conv2d's backward_weight with the roles of input and output swapped, db = Σ dy.
// Throws when output_padding is not smaller than the stride or the dilation.
// ---------------------------------------------------------------------------
inline Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                               const ConvTranspose2dOptions& opt = ConvTranspose2dOptions()) {
  const int64_t groups = opt.groups_;
  const int64_t out_channels = weight.dim() == 4 ? weight.size(1) * groups : -1;
  detail::check_conv_args("conv_transpose2d", x, weight, bias, weight.dim() == 4 ? weight.size(0) : -1,
                          out_channels, groups);
  INV_CHECK(opt.out_pad_h >= 0 && opt.out_pad_w >= 0 &&
                (opt.out_pad_h < opt.stride_h || opt.out_pad_h < opt.dilation_h) &&
                (opt.out_pad_w < opt.stride_w || opt.out_pad_w < opt.dilation_w),
            "conv_transpose2d: output_padding (", opt.out_pad_h, ",", opt.out_pad_w,
            ") must be smaller than either stride or dilation");
  // The geometry of the conv2d whose adjoint this is: its input is our output.
  kernels::ConvGeometry g;
  g.N = x.size(0), g.O = x.size(1), g.kh = weight.size(2), g.kw = weight.size(3), g.C = out_channels;
  g.sh = opt.stride_h, g.sw = opt.stride_w, g.dh = opt.dilation_h, g.dw = opt.dilation_w, g.groups = groups;
  g.pt = opt.pad_h, g.pl = opt.pad_w;
  g.H = (x.size(2) - 1) * g.sh - 2 * opt.pad_h + g.dh * (g.kh - 1) + opt.out_pad_h + 1;
  g.W = (x.size(3) - 1) * g.sw - 2 * opt.pad_w + g.dw * (g.kw - 1) + opt.out_pad_w + 1;
  INV_CHECK(g.H >= 1 && g.W >= 1, "conv_transpose2d: output size ", g.H, "x", g.W, " for input ",
            to_string(x.shape()), " is empty");
  // The adjoint conv pads by `padding` at the top/left; bottom/right = padding - output_padding
  // (negative when the last output_padding rows lie beyond every kernel's reach: they only
  // receive the bias). The kernels never read pb/pr except through OH()/OW(), which then
  // equal the input size exactly.
  g.pb = opt.pad_h - opt.out_pad_h, g.pr = opt.pad_w - opt.out_pad_w;
  INV_CHECK(g.OH() == x.size(2) && g.OW() == x.size(3), "conv_transpose2d: inconsistent geometry for input ",
            to_string(x.shape()));

  Tensor y = zeros({g.N, g.C, g.H, g.W}, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::conv2d_backward<T>(g, nullptr, weight.data<T>(), x.data<T>(), y.data<T>(), nullptr);
    if (bias.defined()) detail::add_channel_bias<T>(y.data<T>(), bias.data<T>(), g.N, g.C, g.H * g.W);
  });
  if (detail::should_record({&x, &weight, &bias})) {
    detail::record(y, "conv_transpose2d", {x, weight, bias}, [x, weight, g](const Tensor& gy, GradSink& s) {
      Tensor dx = s.needs(0) ? empty_like(x) : Tensor();
      Tensor dw = s.needs(1) ? empty_like(weight) : Tensor();
      Tensor db = s.needs(2) ? empty({g.C}, gy.dtype()) : Tensor();
      dispatch(gy.dtype(), [&](auto tag) {
        using T = decltype(tag);
        if (dx.defined()) kernels::conv2d_forward<T>(g, gy.data<T>(), weight.data<T>(), nullptr, dx.data<T>());
        if (dw.defined())
          kernels::conv2d_backward<T>(g, gy.data<T>(), nullptr, x.data<T>(), nullptr, dw.data<T>());
        if (db.defined()) kernels::channel_sum<T>(gy.data<T>(), g.N, g.C, g.H * g.W, db.data<T>());
      });
      if (dx.defined()) s.add(0, dx);
      if (dw.defined()) s.add(1, dw);
      if (db.defined()) s.add(2, db);
    });
  }
  return y;
}

}  // namespace inv
