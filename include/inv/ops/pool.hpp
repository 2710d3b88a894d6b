// inv/ops/pool.hpp: max_pool2d and avg_pool2d with PyTorch's semantics.
//
//   x (N, C, H, W) -> (N, C, OH, OW),  OH = (H + 2·padding - dilation·(k - 1) - 1) / stride + 1
//
// max_pool2d pads with -inf and sends each output's gradient to the first maximum of
// its window in row-major scan order (as PyTorch's CPU kernel). avg_pool2d pads with
// zeros and by default divides by the full window size (count_include_pad = true).
// Planes (n, c) are independent and run in parallel.
#pragma once

#include <limits>

#include "inv/kernels/conv_naive.hpp"
#include "inv/kernels/simd.hpp"
#include "inv/ops/elementwise.hpp"

namespace inv {

/// Options of max_pool2d / avg_pool2d. The stride defaults to the kernel size.
struct Pool2dOptions {
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  bool count_include_pad_ = true;  // avg_pool2d only

  explicit Pool2dOptions(int64_t k) : Pool2dOptions(k, k) {}
  Pool2dOptions(int64_t kh, int64_t kw) : kernel_h(kh), kernel_w(kw), stride_h(kh), stride_w(kw) {}
  Pool2dOptions& stride(int64_t s) { return stride(s, s); }
  Pool2dOptions& stride(int64_t sh, int64_t sw) {
    stride_h = sh;
    stride_w = sw;
    return *this;
  }
  Pool2dOptions& padding(int64_t p) { return padding(p, p); }
  Pool2dOptions& padding(int64_t ph, int64_t pw) {
    pad_h = ph;
    pad_w = pw;
    return *this;
  }
  Pool2dOptions& dilation(int64_t d) {
    dilation_h = dilation_w = d;
    return *this;
  }
  Pool2dOptions& count_include_pad(bool on) {
    count_include_pad_ = on;
    return *this;
  }
  int64_t out_h(int64_t H) const { return kernels::out_size(H + 2 * pad_h, kernel_h, stride_h, dilation_h); }
  int64_t out_w(int64_t W) const { return kernels::out_size(W + 2 * pad_w, kernel_w, stride_w, dilation_w); }
};

namespace detail {

/// The first output position along one dimension whose window reaches no input position
/// (only padding: with dilation, rows -1 and 1 of a one-row input), or -1 if none.
inline int64_t first_empty_window(int64_t size, int64_t k, int64_t s, int64_t p, int64_t d, int64_t out) {
  for (int64_t o = 0; o < out; ++o) {
    bool reaches = false;
    for (int64_t q = o * s - p, i = 0; i < k && !reaches; ++i, q += d) reaches = q >= 0 && q < size;
    if (!reaches) return o;
  }
  return -1;
}

inline void check_pool(const char* op, const Tensor& x, const Pool2dOptions& o) {
  INV_CHECK(x.dim() == 4, op, ": expected 4-D (N,C,H,W) input, got ", to_string(x.shape()));
  INV_CHECK(o.kernel_h >= 1 && o.kernel_w >= 1 && o.stride_h >= 1 && o.stride_w >= 1 && o.dilation_h >= 1 &&
                o.dilation_w >= 1,
            op, ": kernel, stride and dilation must be >= 1");
  INV_CHECK(o.pad_h >= 0 && o.pad_w >= 0 && 2 * o.pad_h <= o.kernel_h && 2 * o.pad_w <= o.kernel_w, op,
            ": padding (", o.pad_h, ",", o.pad_w, ") must be between 0 and half the kernel size (", o.kernel_h, ",",
            o.kernel_w, ")");
  INV_CHECK(o.out_h(x.size(2)) >= 1 && o.out_w(x.size(3)) >= 1, op, ": input ", to_string(x.shape()),
            " is smaller than the ", o.kernel_h, "x", o.kernel_w, " window");
  const int64_t eh = first_empty_window(x.size(2), o.kernel_h, o.stride_h, o.pad_h, o.dilation_h, o.out_h(x.size(2)));
  const int64_t ew = first_empty_window(x.size(3), o.kernel_w, o.stride_w, o.pad_w, o.dilation_w, o.out_w(x.size(3)));
  INV_CHECK(eh < 0 && ew < 0, op, ": the window at output ", eh >= 0 ? "row " : "column ", eh >= 0 ? eh : ew,
            " covers only padding (kernel (", o.kernel_h, ",", o.kernel_w, "), dilation (", o.dilation_h, ",",
            o.dilation_w, "), padding (", o.pad_h, ",", o.pad_w, "), input ", to_string(x.shape()), ")");
}

/// Runs f(plane) for every (n, c) plane, in parallel.
template <class F>
void for_each_plane(int64_t planes, int64_t plane_work, F&& f) {
  parallel_for_each(planes, plane_work, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) f(p);
  });
}

}  // namespace detail

namespace kernels {

/// Whether max_pool2d takes the 2x2 stride-2 fast paths.
inline bool is_pool2x2(const Pool2dOptions& o) {
  return o.kernel_h == 2 && o.kernel_w == 2 && o.stride_h == 2 && o.stride_w == 2 && o.pad_h == 0 && o.pad_w == 0 &&
         o.dilation_h == 1 && o.dilation_w == 1;
}

/// The common 2x2, stride 2, unpadded case of max_pool2d_forward.
template <class T>
void max_pool2x2_forward(const T* x, int64_t P, int64_t H, int64_t W, T* y, int32_t* idx) {
  const int64_t OH = H / 2, OW = W / 2;
  inv::detail::for_each_plane(P, OH * OW * 4, [&](int64_t p) {
    const T* xp = x + p * H * W;
    T* yp = y + p * OH * OW;
    int32_t* ip = idx + p * OH * OW;
    for (int64_t oy = 0; oy < OH; ++oy) {
      const T* r0 = xp + 2 * oy * W;
      const T* r1 = r0 + W;
      const int32_t row = static_cast<int32_t>(2 * oy * W), w = static_cast<int32_t>(W);
      // Scan order (0,0) (0,1) (1,0) (1,1); a later element wins only if strictly larger
      // (or NaN). Branch-free and 4 lanes wide: LeNet's rows are 12 and 4 outputs long.
      INV_SIMD(4)
      for (int64_t ox = 0; ox < OW; ++ox) {
        const int64_t a = 2 * ox;
        T best = r0[a];
        int32_t arg = row + static_cast<int32_t>(a);
        const T c[3] = {r0[a + 1], r1[a], r1[a + 1]};
        const int32_t ci[3] = {arg + 1, arg + w, arg + w + 1};
        for (int k = 0; k < 3; ++k) {
          const bool take = c[k] > best || c[k] != c[k];
          best = take ? c[k] : best;
          arg = take ? ci[k] : arg;
        }
        yp[oy * OW + ox] = best;
        ip[oy * OW + ox] = arg;
      }
    }
  });
}

/// Max pooling of planes (P, H, W) -> y (P, OH, OW); idx gets the flat (iy·W + ix) argmax.
/// The reference for every kernel size, stride, padding and dilation.
template <class T>
void max_pool2d_forward_general(const T* x, int64_t P, int64_t H, int64_t W, const Pool2dOptions& o, T* y,
                                int32_t* idx) {
  const int64_t OH = o.out_h(H), OW = o.out_w(W);
  inv::detail::for_each_plane(P, OH * OW * o.kernel_h * o.kernel_w, [&](int64_t p) {
    const T* xp = x + p * H * W;
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox) {
        T best = -std::numeric_limits<T>::infinity();
        int64_t arg = -1;
        for (int64_t i = 0; i < o.kernel_h; ++i) {
          const int64_t iy = oy * o.stride_h - o.pad_h + i * o.dilation_h;
          if (iy < 0 || iy >= H) continue;
          for (int64_t j = 0; j < o.kernel_w; ++j) {
            const int64_t ix = ox * o.stride_w - o.pad_w + j * o.dilation_w;
            if (ix < 0 || ix >= W) continue;
            const T v = xp[iy * W + ix];
            if (arg < 0 || v > best || std::isnan(v)) {  // as PyTorch: NaN propagates
              best = v;
              arg = iy * W + ix;
            }
          }
        }
        y[(p * OH + oy) * OW + ox] = best;
        idx[(p * OH + oy) * OW + ox] = static_cast<int32_t>(arg);
      }
  });
}

/// max_pool2d's kernel: the 2x2 stride-2 fast path when it applies, else the general one.
template <class T>
void max_pool2d_forward(const T* x, int64_t P, int64_t H, int64_t W, const Pool2dOptions& o, T* y, int32_t* idx) {
  if (is_pool2x2(o))
    max_pool2x2_forward(x, P, H, W, y, idx);
  else
    max_pool2d_forward_general(x, P, H, W, o, y, idx);
}

/// dx (P, H, W) = max_pool2d's input gradient: dy (P, OH, OW) at the saved argmax
/// positions idx, 0 elsewhere (several windows may share a maximum: their gradients add).
/// The reference for every kernel size, stride, padding and dilation.
template <class T>
void max_pool2d_backward_general(const T* dy, const int32_t* idx, int64_t P, int64_t H, int64_t W, int64_t L,
                                 T* dx) {
  inv::detail::for_each_plane(P, H * W + L, [&](int64_t p) {
    T* dp = dx + p * H * W;
    std::fill(dp, dp + H * W, T(0));
    for (int64_t k = p * L; k < (p + 1) * L; ++k) dp[idx[k]] += dy[k];
  });
}

/// The 2x2, stride 2, unpadded case: the windows do not overlap, so every element of dx
/// is written once, dy or 0 (the rows and the column beyond the last window get 0).
template <class T>
void max_pool2x2_backward(const T* dy, const int32_t* idx, int64_t P, int64_t H, int64_t W, T* dx) {
  const int64_t OH = H / 2, OW = W / 2;
  inv::detail::for_each_plane(P, H * W, [&](int64_t p) {
    const T* gp = dy + p * OH * OW;
    const int32_t* ip = idx + p * OH * OW;
    T* dp = dx + p * H * W;
    for (int64_t oy = 0; oy < OH; ++oy) {
      T* r0 = dp + 2 * oy * W;
      T* r1 = r0 + W;
      const int32_t row = static_cast<int32_t>(2 * oy * W), w = static_cast<int32_t>(W);
      INV_SIMD(4)
      for (int64_t ox = 0; ox < OW; ++ox) {
        const T g = gp[oy * OW + ox];
        const int32_t at = ip[oy * OW + ox] - row - static_cast<int32_t>(2 * ox);  // 0, 1, W or W + 1
        r0[2 * ox] = at == 0 ? g : T(0);
        r0[2 * ox + 1] = at == 1 ? g : T(0);
        r1[2 * ox] = at == w ? g : T(0);
        r1[2 * ox + 1] = at == w + 1 ? g : T(0);
      }
      if (W % 2) r0[W - 1] = r1[W - 1] = T(0);
    }
    if (H % 2) std::fill(dp + (H - 1) * W, dp + H * W, T(0));
  });
}

/// max_pool2d's backward kernel: the 2x2 stride-2 fast path when it applies, else the general one.
template <class T>
void max_pool2d_backward(const T* dy, const int32_t* idx, int64_t P, int64_t H, int64_t W, const Pool2dOptions& o,
                         T* dx) {
  if (is_pool2x2(o))
    max_pool2x2_backward(dy, idx, P, H, W, dx);
  else
    max_pool2d_backward_general(dy, idx, P, H, W, o.out_h(H) * o.out_w(W), dx);
}

/// Average pooling of planes (P, H, W) -> y (P, OH, OW).
template <class T>
void avg_pool2d_forward(const T* x, int64_t P, int64_t H, int64_t W, const Pool2dOptions& o, T* y) {
  const int64_t OH = o.out_h(H), OW = o.out_w(W);
  inv::detail::for_each_plane(P, OH * OW * o.kernel_h * o.kernel_w, [&](int64_t p) {
    const T* xp = x + p * H * W;
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox) {
        double acc = 0;
        int64_t count = 0;
        for (int64_t i = 0; i < o.kernel_h; ++i) {
          const int64_t iy = oy * o.stride_h - o.pad_h + i * o.dilation_h;
          for (int64_t j = 0; j < o.kernel_w; ++j) {
            const int64_t ix = ox * o.stride_w - o.pad_w + j * o.dilation_w;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            acc += xp[iy * W + ix];
            ++count;
          }
        }
        const int64_t div = o.count_include_pad_ ? o.kernel_h * o.kernel_w : count;
        y[(p * OH + oy) * OW + ox] = static_cast<T>(div > 0 ? acc / double(div) : 0.0);
      }
  });
}

/// dx += the adjoint of avg_pool2d_forward applied to dy.
template <class T>
void avg_pool2d_backward(const T* dy, int64_t P, int64_t H, int64_t W, const Pool2dOptions& o, T* dx) {
  const int64_t OH = o.out_h(H), OW = o.out_w(W);
  inv::detail::for_each_plane(P, OH * OW * o.kernel_h * o.kernel_w, [&](int64_t p) {
    T* dp = dx + p * H * W;
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox) {
        int64_t count = 0;
        if (!o.count_include_pad_)
          for (int64_t i = 0; i < o.kernel_h; ++i)
            for (int64_t j = 0; j < o.kernel_w; ++j) {
              const int64_t iy = oy * o.stride_h - o.pad_h + i * o.dilation_h;
              const int64_t ix = ox * o.stride_w - o.pad_w + j * o.dilation_w;
              count += (iy >= 0 && iy < H && ix >= 0 && ix < W);
            }
        const int64_t div = o.count_include_pad_ ? o.kernel_h * o.kernel_w : count;
        if (div == 0) continue;
        const T g = static_cast<T>(dy[(p * OH + oy) * OW + ox] / double(div));
        for (int64_t i = 0; i < o.kernel_h; ++i) {
          const int64_t iy = oy * o.stride_h - o.pad_h + i * o.dilation_h;
          if (iy < 0 || iy >= H) continue;
          for (int64_t j = 0; j < o.kernel_w; ++j) {
            const int64_t ix = ox * o.stride_w - o.pad_w + j * o.dilation_w;
            if (ix >= 0 && ix < W) dp[iy * W + ix] += g;
          }
        }
      }
  });
}

}  // namespace kernels

// ---------------------------------------------------------------------------
// max_pool2d (see the header). Backward: dy routed to the saved argmax positions.
// ---------------------------------------------------------------------------
inline Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  detail::check_pool("max_pool2d", x, opt);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), OH = opt.out_h(H), OW = opt.out_w(W);
  Tensor y = empty({N, C, OH, OW}, x.dtype());
  // The argmax of each output, in storage from the tensor block cache (a std::vector of
  // LeNet's 147 KB would be mapped, page-faulted and zeroed again every step).
  auto idx_block = std::make_shared<detail::Storage>(static_cast<size_t>(y.numel()) * sizeof(int32_t));
  auto* idx = static_cast<int32_t*>(idx_block->data());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::max_pool2d_forward<T>(x.data<T>(), N * C, H, W, opt, y.data<T>(), idx);
  });
  if (detail::should_record({&x})) {
    detail::record(y, "max_pool2d", {x}, [idx_block, idx, in_shape = x.shape(), opt](const Tensor& g, GradSink& s) {
      Tensor dx = empty(in_shape, g.dtype());
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        kernels::max_pool2d_backward<T>(g.data<T>(), idx, in_shape[0] * in_shape[1], in_shape[2],
                                        in_shape[3], opt, dx.data<T>());
      });
      s.add(0, dx);
    });
  }
  return y;
}

/// max_pool2d(x, k): kernel k×k, stride k, no padding (the common case).
inline Tensor max_pool2d(const Tensor& x, int64_t kernel) { return max_pool2d(x, Pool2dOptions(kernel)); }

// ---------------------------------------------------------------------------
// avg_pool2d (see the header). Backward: dy / divisor spread over each window.
// ---------------------------------------------------------------------------
inline Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  detail::check_pool("avg_pool2d", x, opt);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Tensor y = empty({N, C, opt.out_h(H), opt.out_w(W)}, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::avg_pool2d_forward<T>(x.data<T>(), N * C, H, W, opt, y.data<T>());
  });
  if (detail::should_record({&x})) {
    detail::record(y, "avg_pool2d", {x}, [opt, in_shape = x.shape()](const Tensor& g, GradSink& s) {
      Tensor dx = zeros(in_shape, g.dtype());
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        kernels::avg_pool2d_backward<T>(g.data<T>(), in_shape[0] * in_shape[1], in_shape[2], in_shape[3], opt,
                                        dx.data<T>());
      });
      s.add(0, dx);
    });
  }
  return y;
}

inline Tensor avg_pool2d(const Tensor& x, int64_t kernel) { return avg_pool2d(x, Pool2dOptions(kernel)); }

}  // namespace inv
