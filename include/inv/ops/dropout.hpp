// inv/ops/dropout.hpp: dropout (training-time regulariser) and the dropout mask (a defense).
//
// dropout:       inverted dropout as F.dropout. In training each element is zeroed with
//                probability p and the survivors are scaled by 1/(1 - p); in evaluation
//                it is the identity. p = 1 zeroes everything.
// dropout_mask:  the dropout defense of He, Zhang & Lee (IEEE IoT-J 2021, §7 of the
//                protocol): each element is zeroed with probability `rate` and NOT
//                rescaled, at inference time, whatever the mode.
// Masks are drawn sequentially from the given generator: a seed fixes them.
#pragma once

#include "inv/ops/elementwise.hpp"

namespace inv {

/// A tensor like x whose elements are 0 with probability `rate` and `keep` otherwise.
inline Tensor bernoulli_mask(const Tensor& x, double rate, double keep, Generator& gen) {
  Tensor mask = empty_like(x);
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* m = mask.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) m[i] = gen.uniform() < rate ? T(0) : static_cast<T>(keep);
  });
  return mask;
}

/// Inverted dropout (see the header). x any shape; returns x itself when not training or p = 0.
inline Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator()) {
  INV_CHECK(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  const double scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
  return mul(x, bernoulli_mask(x, p, scale, gen));  // backward: g·mask·scale
}

/// The dropout defense (see the header): zero each element with probability `rate`, no rescaling.
inline Tensor dropout_mask(const Tensor& x, double rate, Generator& gen = default_generator()) {
  INV_CHECK(rate >= 0 && rate <= 1, "dropout_mask: rate must be in [0, 1], got ", rate);
  return mul(x, bernoulli_mask(x, rate, 1.0, gen));
}

}  // namespace inv
