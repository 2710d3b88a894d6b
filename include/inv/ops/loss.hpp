// inv/ops/loss.hpp: softmax, log_softmax and the losses (mse, cross-entropy, nll).
//
// Stability is structural: softmax and log_softmax subtract the maximum before
// exponentiating, and cross_entropy works on logits through log_softmax, never
// taking the log of a probability. Logits like (1000, 0, -1000) give a finite loss
// and gradient.
#pragma once

#include "inv/ops/elementwise.hpp"

namespace inv {

/// How a loss combines its per-element (or per-sample) values, as in PyTorch.
enum class Reduction { None, Mean, Sum };

namespace detail {

/// y = softmax (log = false) or log_softmax (log = true) of x along the middle axis of (outer, n, inner).
template <class T>
void softmax_kernel(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  parallel_for(outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t o = r / inner, i = r % inner;
      const T* px = x + o * n * inner + i;
      T* py = y + o * n * inner + i;
      T m = px[0];
      for (int64_t j = 1; j < n; ++j) m = std::max(m, px[j * inner]);
      double z = 0;
      for (int64_t j = 0; j < n; ++j) z += std::exp(double(px[j * inner] - m));
      const double logz = std::log(z);
      for (int64_t j = 0; j < n; ++j) {
        const double lp = double(px[j * inner] - m) - logz;
        py[j * inner] = static_cast<T>(log ? lp : std::exp(lp));
      }
    }
  });
}

/// Shared forward of softmax/log_softmax.
inline Tensor softmax_forward(const Tensor& x, int64_t dim, bool log) {
  const auto [outer, n, inner] = outer_dim_inner(x.shape(), dim);
  Tensor y = empty_like(x);
  dispatch(x.dtype(), [&, outer = outer, n = n, inner = inner](auto tag) {
    using T = decltype(tag);
    softmax_kernel<T>(x.data<T>(), y.data<T>(), outer, n, inner, log);
  });
  return y;
}

/// The class label of each sample, checked against the number of classes.
inline void check_labels(const std::vector<int64_t>& labels, int64_t n, int64_t classes, const char* op) {
  INV_CHECK(static_cast<int64_t>(labels.size()) == n, op, ": expected ", n, " labels (one per sample), got ",
            labels.size());
  for (size_t i = 0; i < labels.size(); ++i)
    INV_CHECK(labels[i] >= 0 && labels[i] < classes, op, ": label ", labels[i], " of sample ", i,
              " is out of range for ", classes, " classes (valid: 0..", classes - 1, ")");
}

/// Applies a reduction to per-sample values v (N) and records nothing.
inline Tensor reduce_values(const Tensor& v, Reduction r) {
  if (r == Reduction::None) return v;
  return r == Reduction::Sum ? sum(v) : mean(v);
}

}  // namespace detail

// ---------------------------------------------------------------------------
// softmax along `dim`: y_j = exp(x_j - max) / Σ exp(x_k - max).
// Backward: dx = y · (g - Σ_j g_j y_j).
// ---------------------------------------------------------------------------
inline Tensor softmax(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "softmax");
  Tensor y = detail::softmax_forward(x, dim, false);
  if (detail::should_record({&x})) {
    detail::record(y, "softmax", {x}, [y = y.detach(), dim](const Tensor& g, GradSink& s) {
      s.add(0, mul(y, sub(g, sum(mul(g, y), {dim}, true))));
    });
  }
  return y;
}

// ---------------------------------------------------------------------------
// log_softmax along `dim`: y_j = x_j - max - log Σ exp(x_k - max).
// Backward: dx = g - softmax(x) · Σ_j g_j.
// ---------------------------------------------------------------------------
inline Tensor log_softmax(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "log_softmax");
  Tensor y = detail::softmax_forward(x, dim, true);
  if (detail::should_record({&x})) {
    detail::record(y, "log_softmax", {x}, [y = y.detach(), dim](const Tensor& g, GradSink& s) {
      s.add(0, sub(g, mul(exp(y), sum(g, {dim}, true))));
    });
  }
  return y;
}

// ---------------------------------------------------------------------------
// nll_loss: -log_probs[i, labels[i]], reduced. log_probs is (N, C).
// Throws for a label outside 0..C-1 (naming it) or a label count other than N.
// Backward: -g at the labelled entries (÷N for the mean).
// ---------------------------------------------------------------------------
inline Tensor nll_loss(const Tensor& log_probs, const std::vector<int64_t>& labels,
                       Reduction reduction = Reduction::Mean) {
  INV_CHECK(log_probs.dim() == 2, "nll_loss: expected (N, C) log-probabilities, got ", to_string(log_probs.shape()));
  const int64_t n = log_probs.size(0), c = log_probs.size(1);
  detail::check_labels(labels, n, c, "nll_loss");
  Tensor picked = empty({n}, log_probs.dtype());
  dispatch(log_probs.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) picked.data<T>()[i] = -log_probs.data<T>()[i * c + labels[size_t(i)]];
  });
  if (detail::should_record({&log_probs})) {
    detail::record(picked, "nll_loss", {log_probs}, [labels, n, c](const Tensor& g, GradSink& s) {
      Tensor gx = zeros({n, c}, g.dtype());
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        for (int64_t i = 0; i < n; ++i) gx.data<T>()[i * c + labels[size_t(i)]] = -g.data<T>()[i];
      });
      s.add(0, gx);
    });
  }
  return detail::reduce_values(picked, reduction);
}

// ---------------------------------------------------------------------------
// cross_entropy on logits (N, C) with integer class labels:
//   loss_i = logsumexp(x_i) - x_i[labels[i]]   (= nll_loss(log_softmax(x)), fused)
// Backward: dx_i = g_i · (softmax(x_i) - onehot(labels[i])).
// ---------------------------------------------------------------------------
inline Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels,
                            Reduction reduction = Reduction::Mean) {
  INV_CHECK(logits.dim() == 2, "cross_entropy: expected (N, C) logits, got ", to_string(logits.shape()));
  const int64_t n = logits.size(0), c = logits.size(1);
  detail::check_labels(labels, n, c, "cross_entropy");
  const Tensor logp = detail::softmax_forward(logits, 1, true);
  Tensor per_sample = empty({n}, logits.dtype());
  dispatch(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) per_sample.data<T>()[i] = -logp.data<T>()[i * c + labels[size_t(i)]];
  });
  if (detail::should_record({&logits})) {
    detail::record(per_sample, "cross_entropy", {logits}, [logp, labels, n, c](const Tensor& g, GradSink& s) {
      Tensor gx = empty({n, c}, g.dtype());
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T *lp = logp.data<T>(), *pg = g.data<T>();
        T* out = gx.data<T>();
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < c; ++j)
            out[i * c + j] = pg[i] * (std::exp(lp[i * c + j]) - (j == labels[size_t(i)] ? T(1) : T(0)));
      });
      s.add(0, gx);
    });
  }
  return detail::reduce_values(per_sample, reduction);
}

// ---------------------------------------------------------------------------
// mse_loss: (input - target)², reduced (mean by default). Shapes must match exactly.
// Mean and Sum are fused into one pass (this is the inner loop of every attack).
// Backward: 2·(input - target)·g/count to the input, the negation to the target.
// ---------------------------------------------------------------------------
inline Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean) {
  INV_CHECK(input.shape() == target.shape(), "mse_loss: shapes must match, got ", to_string(input.shape()),
            " and ", to_string(target.shape()));
  INV_CHECK(input.dtype() == target.dtype(), "mse_loss: dtypes must match, got ", dtype_name(input.dtype()),
            " and ", dtype_name(target.dtype()));
  if (reduction == Reduction::None) return square(sub(input, target));
  const int64_t n = input.numel();
  const double scale = reduction == Reduction::Mean ? 1.0 / static_cast<double>(std::max<int64_t>(n, 1)) : 1.0;
  Tensor y = empty({}, input.dtype());
  dispatch(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *a = input.data<T>(), *b = target.data<T>();
    const int64_t grain = kElementwiseGrain;
    std::vector<double> part(static_cast<size_t>(chunk_count(n, grain)), 0.0);
    parallel_for(n, grain, [&](int64_t s, int64_t e) {
      part[static_cast<size_t>(s / grain)] = kernels::lane_sum(e - s, [&](int64_t i) {
        const double d = double(a[s + i]) - double(b[s + i]);
        return d * d;
      });
    });
    double total = 0;
    for (double p : part) total += p;
    *y.data<T>() = static_cast<T>(total * scale);
  });
  if (detail::should_record({&input, &target})) {
    detail::record(y, "mse_loss", {input, target}, [input, target, scale](const Tensor& g, GradSink& s) {
      Tensor gi = empty_like(input);
      dispatch(input.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T *a = input.data<T>(), *b = target.data<T>();
        const T k = static_cast<T>(2.0 * scale * g.item());
        T* out = gi.data<T>();
        parallel_for_each(gi.numel(), 1, [&](int64_t s0, int64_t e) {
          for (int64_t i = s0; i < e; ++i) out[i] = k * (a[i] - b[i]);
        }, kElementAlign);
      });
      if (s.needs(1)) s.add(1, neg(gi));
      if (s.needs(0)) s.add(0, gi);
    });
  }
  return y;
}

}  // namespace inv
