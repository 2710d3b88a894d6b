// inv/ops/linear.hpp: the fully connected layer, y = x·Wᵀ + b (as torch.nn.functional.linear).
//
//   x (*, in), weight (out, in), bias (out) -> (*, out)
#pragma once

#include "inv/kernels/gemm.hpp"
#include "inv/ops/elementwise.hpp"

namespace inv {

// ---------------------------------------------------------------------------
// linear (see the header). bias may be an undefined Tensor().
// Backward: dx = dy·W, dW = dyᵀ·x, db = Σ_rows dy.
// ---------------------------------------------------------------------------
inline Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor()) {
  INV_CHECK(x.dim() >= 1 && weight.dim() == 2, "linear: expected input (*, in) and weight (out, in), got ",
            to_string(x.shape()), " and ", to_string(weight.shape()));
  const int64_t in = weight.size(1), out = weight.size(0);
  INV_CHECK(x.size(-1) == in, "linear: input ", to_string(x.shape()), " has ", x.size(-1),
            " features, weight ", to_string(weight.shape()), " expects ", in);
  INV_CHECK(x.dtype() == weight.dtype(), "linear: input and weight dtypes differ, got ", dtype_name(x.dtype()),
            " and ", dtype_name(weight.dtype()));
  if (bias.defined())
    INV_CHECK(bias.shape() == Shape{out} && bias.dtype() == x.dtype(), "linear: expected bias (", out, ") ",
              dtype_name(x.dtype()), ", got ", to_string(bias.shape()), " ", dtype_name(bias.dtype()));
  const int64_t rows = x.numel() / std::max<int64_t>(in, 1);
  Shape out_shape = x.shape();
  out_shape.back() = out;
  Tensor y = empty(out_shape, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* py = y.data<T>();
    if (bias.defined())
      for (int64_t r = 0; r < rows; ++r) std::copy_n(bias.data<T>(), out, py + r * out);
    kernels::gemm<T>(false, true, rows, out, in, T(1), x.data<T>(), in, weight.data<T>(), in,
                     bias.defined() ? T(1) : T(0), py, out);
  });
  if (detail::should_record({&x, &weight, &bias})) {
    detail::record(y, "linear", {x, weight, bias}, [x, weight, rows, in, out](const Tensor& g, GradSink& s) {
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* pg = g.data<T>();
        if (s.needs(0)) {
          Tensor dx = empty_like(x);
          kernels::gemm<T>(false, false, rows, in, out, T(1), pg, out, weight.data<T>(), in, T(0), dx.data<T>(), in);
          s.add(0, dx);
        }
        if (s.needs(1)) {
          Tensor dw = empty_like(weight);
          kernels::gemm<T>(true, false, out, in, rows, T(1), pg, out, x.data<T>(), in, T(0), dw.data<T>(), in);
          s.add(1, dw);
        }
        if (s.needs(2)) {
          Tensor db = empty({out}, g.dtype());
          for (int64_t j = 0; j < out; ++j) {
            double acc = 0;
            for (int64_t r = 0; r < rows; ++r) acc += pg[r * out + j];
            db.data<T>()[j] = static_cast<T>(acc);
          }
          s.add(2, db);
        }
      });
    });
  }
  return y;
}

}  // namespace inv
