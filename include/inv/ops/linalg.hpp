// inv/ops/linalg.hpp: matrix multiplication, through the GEMM of inv/kernels/gemm.hpp.
#pragma once

#include "inv/kernels/gemm.hpp"
#include "inv/ops/elementwise.hpp"

namespace inv {

// ---------------------------------------------------------------------------
// matmul: a (..., M, K) · b (..., K, N) -> (..., M, N).
// Both operands need at least 2 dims; the leading (batch) dims broadcast as in
// NumPy, so (B, M, K) · (K, N) multiplies every batch by the same matrix.
// Backward: da = g · bᵀ, db = aᵀ · g, summed over broadcast batch dims.
// Throws inv::Error naming both shapes when the inner sizes differ.
// ---------------------------------------------------------------------------
inline Tensor matmul(const Tensor& a, const Tensor& b) {
  INV_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: expected operands with at least 2 dims, got ",
            to_string(a.shape()), " and ", to_string(b.shape()));
  INV_CHECK(a.dtype() == b.dtype(), "matmul: dtypes must match, got ", dtype_name(a.dtype()), " and ",
            dtype_name(b.dtype()));
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  INV_CHECK(b.size(-2) == K, "matmul: inner sizes differ, got ", to_string(a.shape()), " and ",
            to_string(b.shape()));
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  const int64_t nb = numel(batch);
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor y = empty(out_shape, a.dtype());
  // Batch index -> matrix index in a and b (0 stride on broadcast batch dims).
  const auto sa = broadcast_strides(ba, batch), sb = broadcast_strides(bb, batch);
  const auto bs = contiguous_strides(batch);
  auto matrix_of = [&](const std::vector<int64_t>& st, int64_t i) {
    int64_t m = 0;
    for (size_t d = 0; d < batch.size(); ++d) m += (i / bs[d]) % batch[d] * st[d];
    return m;
  };
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < nb; ++i)
      kernels::gemm<T>(false, false, M, N, K, T(1), a.data<T>() + matrix_of(sa, i) * M * K, K,
                       b.data<T>() + matrix_of(sb, i) * K * N, N, T(0), y.data<T>() + i * M * N, N);
  });
  if (detail::should_record({&a, &b})) {
    detail::record(y, "matmul", {a, b}, [a, b](const Tensor& g, GradSink& s) {
      if (s.needs(0)) s.add(0, sum_to(matmul(g, transpose(b, -1, -2)), a.shape()));
      if (s.needs(1)) s.add(1, sum_to(matmul(transpose(a, -1, -2), g), b.shape()));
    });
  }
  return y;
}

}  // namespace inv
