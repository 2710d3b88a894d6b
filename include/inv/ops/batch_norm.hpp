// inv/ops/batch_norm.hpp: batch normalisation over (N, H, W) per channel, as F.batch_norm.
//
//   y = (x - μ) / sqrt(σ² + eps) · γ + β,   x (N, C, H, W) or (N, C); γ, β, running stats (C)
//
// Training (PyTorch semantics): μ, σ² are the batch mean and the *biased* variance
// (divided by n = N·H·W); the running statistics are updated in place with
//   running_mean = (1 - momentum)·running_mean + momentum·μ
//   running_var  = (1 - momentum)·running_var  + momentum·σ²·n/(n - 1)   (unbiased)
// (momentum weights the new value; default 0.1). Evaluation: μ, σ² are the running
// statistics, which are not changed. γ/β may be undefined (affine = false); the
// running statistics may be undefined in training (track_running_stats = false).
#pragma once

#include "inv/ops/elementwise.hpp"

namespace inv {

namespace detail {
inline void check_channel_vector(const Tensor& t, int64_t C, Dtype dt, const char* what) {
  if (!t.defined()) return;
  INV_CHECK(t.shape() == Shape{C} && t.dtype() == dt, "batch_norm: expected ", what, " of shape (", C, ") ",
            dtype_name(dt), ", got ", to_string(t.shape()), " ", dtype_name(t.dtype()));
}
}  // namespace detail

// ---------------------------------------------------------------------------
// batch_norm (see the header).
// Backward, training:  dx = γ/σ · (dy - mean(dy) - x̂·mean(dy·x̂)), σ = sqrt(σ² + eps)
//           evaluation: dx = γ/σ · dy
//           dγ = Σ dy·x̂, dβ = Σ dy (sums over N, H, W).
// Throws when n = N·H·W is 1 in training (the variance is undefined), as PyTorch.
// ---------------------------------------------------------------------------
inline Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                         const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                         double eps = 1e-5) {
  INV_CHECK(x.dim() == 4 || x.dim() == 2, "batch_norm: expected (N,C,H,W) or (N,C) input, got ",
            to_string(x.shape()));
  const int64_t N = x.size(0), C = x.size(1), L = x.dim() == 4 ? x.size(2) * x.size(3) : 1, n = N * L;
  for (auto [t, what] : {std::pair{&running_mean, "running_mean"}, {&running_var, "running_var"},
                         {&weight, "weight"}, {&bias, "bias"}})
    detail::check_channel_vector(*t, C, x.dtype(), what);
  INV_CHECK(training || (running_mean.defined() && running_var.defined()),
            "batch_norm: evaluation mode needs running_mean and running_var");
  INV_CHECK(!training || n > 1, "batch_norm: expected more than 1 value per channel in training, got input ",
            to_string(x.shape()));

  // Per-channel statistics used for normalising (double).
  auto mean = std::make_shared<std::vector<double>>(size_t(C)), inv_std = std::make_shared<std::vector<double>>(size_t(C));
  Tensor y = empty_like(x);
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double mu, var;
        if (training) {
          double s = 0, s2 = 0;
          for (int64_t i = 0; i < N; ++i)
            for (int64_t l = 0; l < L; ++l) s += px[(i * C + c) * L + l];
          mu = s / double(n);
          for (int64_t i = 0; i < N; ++i)
            for (int64_t l = 0; l < L; ++l) s2 += (px[(i * C + c) * L + l] - mu) * (px[(i * C + c) * L + l] - mu);
          var = s2 / double(n);
          if (running_mean.defined()) {
            T& rm = running_mean.data<T>()[c];
            T& rv = running_var.data<T>()[c];
            rm = static_cast<T>((1 - momentum) * rm + momentum * mu);
            rv = static_cast<T>((1 - momentum) * rv + momentum * var * double(n) / double(n - 1));
          }
        } else {
          mu = running_mean.data<T>()[c];
          var = running_var.data<T>()[c];
        }
        const double is = 1.0 / std::sqrt(var + eps);
        (*mean)[size_t(c)] = mu;
        (*inv_std)[size_t(c)] = is;
        const double gam = weight.defined() ? double(weight.data<T>()[c]) : 1.0;
        const double bet = bias.defined() ? double(bias.data<T>()[c]) : 0.0;
        for (int64_t i = 0; i < N; ++i)
          for (int64_t l = 0; l < L; ++l) {
            const int64_t k = (i * C + c) * L + l;
            py[k] = static_cast<T>((px[k] - mu) * is * gam + bet);
          }
      }
    });
  });
  if (detail::should_record({&x, &weight, &bias})) {
    detail::record(y, "batch_norm", {x, weight, bias},
                   [x, weight, mean, inv_std, training, N, C, L, n](const Tensor& g, GradSink& s) {
      Tensor dx = s.needs(0) ? empty_like(x) : Tensor();
      Tensor dw = s.needs(1) ? empty({C}, g.dtype()) : Tensor();
      Tensor db = s.needs(2) ? empty({C}, g.dtype()) : Tensor();
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T *px = x.data<T>(), *pg = g.data<T>();
        parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) {
            const double mu = (*mean)[size_t(c)], is = (*inv_std)[size_t(c)];
            double sg = 0, sgx = 0;  // Σ dy, Σ dy·x̂
            for (int64_t i = 0; i < N; ++i)
              for (int64_t l = 0; l < L; ++l) {
                const int64_t k = (i * C + c) * L + l;
                sg += pg[k];
                sgx += pg[k] * (px[k] - mu) * is;
              }
            if (dw.defined()) dw.data<T>()[c] = static_cast<T>(sgx);
            if (db.defined()) db.data<T>()[c] = static_cast<T>(sg);
            if (!dx.defined()) continue;
            const double k0 = (weight.defined() ? double(weight.data<T>()[c]) : 1.0) * is;
            T* pd = dx.data<T>();
            for (int64_t i = 0; i < N; ++i)
              for (int64_t l = 0; l < L; ++l) {
                const int64_t k = (i * C + c) * L + l;
                const double xhat = (px[k] - mu) * is;
                pd[k] = static_cast<T>(training ? k0 * (pg[k] - sg / double(n) - xhat * sgx / double(n)) : k0 * pg[k]);
              }
          }
        });
      });
      if (dx.defined()) s.add(0, dx);
      if (dw.defined()) s.add(1, dw);
      if (db.defined()) s.add(2, db);
    });
  }
  return y;
}

}  // namespace inv
