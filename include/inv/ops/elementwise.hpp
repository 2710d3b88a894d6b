// inv/ops/elementwise.hpp: arithmetic with NumPy broadcasting, and elementwise functions.
//
// Binary ops (add, sub, mul, div) broadcast their operands (align right; equal
// sizes or 1) and throw inv::Error naming both shapes otherwise; both operands
// must have the same dtype. Gradients of a broadcast operand are summed back to
// its shape (sum_to). Unary ops y = f(x) have backward dx = dy · f'(x), with the
// derivative written next to f. Conventions at kinks follow PyTorch: relu'(0) = 0,
// abs'(0) = 0, clamp passes the gradient where lo <= x <= hi, leaky_relu'(0) = slope.
#pragma once

#include <cmath>

#include "inv/ops/reduce.hpp"

namespace inv {

namespace detail {

/// y = f(x) elementwise, with backward dx = bw(dy, x, y) (dy · f'(x), written per op so
/// that kinks are selects, which vectorise, rather than multiplications by 0 or 1).
template <class F, class BW>
Tensor unary(const char* name, const Tensor& x, F f, BW bw) {
  Tensor y = empty_like(x);
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for_each(x.numel(), 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) py[i] = static_cast<T>(f(px[i]));
    }, kElementAlign);
  });
  if (should_record({&x})) {
    record(y, name, {x}, [x, y = y.detach(), bw](const Tensor& g, GradSink& s) {
      Tensor gx = empty_like(x);
      dispatch(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T *px = x.data<T>(), *py = y.data<T>(), *pg = g.data<T>();
        T* out = gx.data<T>();
        parallel_for_each(x.numel(), 1, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) out[i] = static_cast<T>(bw(pg[i], px[i], py[i]));
        }, kElementAlign);
      });
      s.add(0, gx);
    });
  }
  return y;
}

/// out = f(a, b) with broadcasting; out has the broadcast shape.
template <class F>
Tensor broadcast_binary(const char* name, const Tensor& a, const Tensor& b, F f) {
  INV_CHECK(a.dtype() == b.dtype(), name, ": dtypes must match, got ", dtype_name(a.dtype()), " and ",
            dtype_name(b.dtype()));
  const Shape so = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(so, a.dtype());
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *pa = a.data<T>(), *pb = b.data<T>();
    T* po = out.data<T>();
    const int64_t n = out.numel();
    if (a.shape() == so && b.shape() == so) {
      parallel_for_each(n, 1, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], pb[i]);
      }, kElementAlign);
    } else if (b.numel() == 1 && a.shape() == so) {
      const T vb = *pb;
      parallel_for_each(n, 1, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], vb);
      }, kElementAlign);
    } else if (a.numel() == 1 && b.shape() == so) {
      const T va = *pa;
      parallel_for_each(n, 1, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) po[i] = f(va, pb[i]);
      }, kElementAlign);
    } else {
      const kernels::RowWalker<2> w(so, {broadcast_strides(a.shape(), so), broadcast_strides(b.shape(), so)});
      const int64_t len = w.row_len(), ia = w.inner(0), ib = w.inner(1);
      parallel_for_each(w.rows(), len, [&](int64_t s, int64_t e) {
        for (int64_t r = s; r < e; ++r) {
          const auto off = w.offsets(r);
          T* o = po + r * len;
          for (int64_t j = 0; j < len; ++j) o[j] = f(pa[off[0] + j * ia], pb[off[1] + j * ib]);
        }
      });
    }
  });
  return out;
}

}  // namespace detail

inline Tensor mul(const Tensor& a, const Tensor& b);
inline Tensor div(const Tensor& a, const Tensor& b);
inline Tensor neg(const Tensor& x);

// ---------------------------------------------------------------------------
// add / sub / mul / div with broadcasting.
// ---------------------------------------------------------------------------
inline Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = detail::broadcast_binary("add", a, b, [](auto u, auto v) { return u + v; });
  if (detail::should_record({&a, &b})) {
    detail::record(y, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, GradSink& s) {
      if (s.needs(0)) s.add(0, sum_to(g, sa));  // d(a+b)/da = 1
      if (s.needs(1)) s.add(1, sum_to(g, sb));  // d(a+b)/db = 1
    });
  }
  return y;
}

inline Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = detail::broadcast_binary("sub", a, b, [](auto u, auto v) { return u - v; });
  if (detail::should_record({&a, &b})) {
    detail::record(y, "sub", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, GradSink& s) {
      if (s.needs(0)) s.add(0, sum_to(g, sa));       // d(a-b)/da = 1
      if (s.needs(1)) s.add(1, neg(sum_to(g, sb)));  // d(a-b)/db = -1
    });
  }
  return y;
}

inline Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = detail::broadcast_binary("mul", a, b, [](auto u, auto v) { return u * v; });
  if (detail::should_record({&a, &b})) {
    detail::record(y, "mul", {a, b}, [a, b](const Tensor& g, GradSink& s) {
      if (s.needs(0)) s.add(0, sum_to(mul(g, b), a.shape()));  // d(ab)/da = b
      if (s.needs(1)) s.add(1, sum_to(mul(g, a), b.shape()));  // d(ab)/db = a
    });
  }
  return y;
}

inline Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = detail::broadcast_binary("div", a, b, [](auto u, auto v) { return u / v; });
  if (detail::should_record({&a, &b})) {
    detail::record(y, "div", {a, b}, [a, b, y = y.detach()](const Tensor& g, GradSink& s) {
      const Tensor gb = div(g, b);
      if (s.needs(0)) s.add(0, sum_to(gb, a.shape()));                // d(a/b)/da = 1/b
      if (s.needs(1)) s.add(1, neg(sum_to(mul(gb, y), b.shape())));  // d(a/b)/db = -a/b² = -(a/b)/b
    });
  }
  return y;
}

// ---------------------------------------------------------------------------
// Scalar forms: x + s, x · s, ... (s is a double, converted to x's dtype).
// ---------------------------------------------------------------------------
inline Tensor add(const Tensor& x, double c) {
  return detail::unary("add_scalar", x, [c](auto v) { return v + c; }, [](auto g, auto, auto) { return g; });
}
inline Tensor mul(const Tensor& x, double c) {
  return detail::unary("mul_scalar", x, [c](auto v) { return v * c; }, [c](auto g, auto, auto) { return g * c; });
}
inline Tensor sub(const Tensor& x, double c) { return add(x, -c); }
inline Tensor div(const Tensor& x, double c) { return mul(x, 1.0 / c); }

// ---------------------------------------------------------------------------
// Elementwise functions, each with its derivative.
// ---------------------------------------------------------------------------
inline Tensor neg(const Tensor& x) {
  return detail::unary("neg", x, [](auto v) { return -v; }, [](auto g, auto, auto) { return -g; });
}
inline Tensor exp(const Tensor& x) {
  return detail::unary("exp", x, [](auto v) { return std::exp(v); }, [](auto g, auto, auto y) { return g * y; });
}
/// Natural logarithm; log(0) = -inf, log(x < 0) = NaN as in IEEE arithmetic.
inline Tensor log(const Tensor& x) {
  return detail::unary("log", x, [](auto v) { return std::log(v); }, [](auto g, auto v, auto) { return g / v; });
}
inline Tensor sqrt(const Tensor& x) {
  return detail::unary("sqrt", x, [](auto v) { return std::sqrt(v); }, [](auto g, auto, auto y) { return g / (2 * y); });
}
/// x^p for a scalar exponent p.
inline Tensor pow(const Tensor& x, double p) {
  return detail::unary("pow", x, [p](auto v) { return std::pow(v, static_cast<decltype(v)>(p)); },
                       [p](auto g, auto v, auto) { return p == 0 ? 0.0 : g * p * std::pow(double(v), p - 1); });
}
inline Tensor square(const Tensor& x) {
  return detail::unary("square", x, [](auto v) { return v * v; }, [](auto g, auto v, auto) { return 2 * v * g; });
}
inline Tensor abs(const Tensor& x) {
  return detail::unary("abs", x, [](auto v) { return std::abs(v); },
                       [](auto g, auto v, auto) { return v > 0 ? g : (v < 0 ? -g : decltype(g)(0)); });
}
/// min(max(x, lo), hi); the gradient passes where lo <= x <= hi. Throws when lo > hi.
inline Tensor clamp(const Tensor& x, double lo, double hi) {
  INV_CHECK(lo <= hi, "clamp: expected lo <= hi, got lo=", lo, " hi=", hi);
  return detail::unary(
      "clamp", x, [lo, hi](auto v) { return std::min<decltype(v)>(std::max<decltype(v)>(v, lo), hi); },
      // The bounds compared at the tensor's precision, as in the forward (and as PyTorch
      // compares a float tensor with a Python float): x = 0.7f and lo = 0.7 pass the
      // gradient, though 0.7f < 0.7 in double.
      [lo, hi](auto g, auto v, auto) {
        using T = decltype(v);
        return v >= T(lo) && v <= T(hi) ? g : decltype(g)(0);
      });
}
inline Tensor relu(const Tensor& x) {
  return detail::unary("relu", x, [](auto v) { return std::max(v, decltype(v)(0)); },
                       [](auto g, auto v, auto) { return v > 0 ? g : decltype(g)(0); });
}
/// x for x > 0, slope·x otherwise (PyTorch default slope 0.01).
inline Tensor leaky_relu(const Tensor& x, double slope = 0.01) {
  // Written without branches so the loops vectorise: x>0 ? x : slope·x, and its derivative.
  return detail::unary(
      "leaky_relu", x,
      [slope](auto v) {
        using T = decltype(v);
        return std::max(v, T(0)) + T(slope) * std::min(v, T(0));
      },
      [slope](auto g, auto v, auto) { return v > 0 ? g : static_cast<decltype(g)>(slope * g); });
}
/// 1 / (1 + e^-x), computed without overflow for large |x|.
inline Tensor sigmoid(const Tensor& x) {
  return detail::unary(
      "sigmoid", x,
      [](auto v) {
        using T = decltype(v);
        if (v >= 0) return T(1) / (T(1) + std::exp(-v));
        const T e = std::exp(v);
        return e / (T(1) + e);
      },
      [](auto g, auto, auto y) { return g * y * (1 - y); });
}
inline Tensor tanh(const Tensor& x) {
  return detail::unary("tanh", x, [](auto v) { return std::tanh(v); },
                       [](auto g, auto, auto y) { return g * (1 - y * y); });
}

// ---------------------------------------------------------------------------
// Operators.
// ---------------------------------------------------------------------------
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& x, double c) { return add(x, c); }
inline Tensor operator+(double c, const Tensor& x) { return add(x, c); }
inline Tensor operator-(const Tensor& x, double c) { return add(x, -c); }
inline Tensor operator-(double c, const Tensor& x) { return add(neg(x), c); }
inline Tensor operator*(const Tensor& x, double c) { return mul(x, c); }
inline Tensor operator*(double c, const Tensor& x) { return mul(x, c); }
inline Tensor operator/(const Tensor& x, double c) { return mul(x, 1.0 / c); }
inline Tensor operator/(double c, const Tensor& x) { return mul(pow(x, -1.0), c); }

}  // namespace inv
