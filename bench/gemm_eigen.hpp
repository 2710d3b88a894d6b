// bench/gemm_eigen.hpp: the Eigen product that inv's GEMM replaced, the baseline of
// bench/bench_gemm.cpp. Eigen is a benchmark dependency only; the library does not use it.
//
// Eigen's own threading is switched off (Eigen::setNbThreads(1)): its blocking, and so
// its rounding, would depend on the thread count. gemm_eigen splits the product into
// fixed chunks itself and calls Eigen single-threaded in each parallel_for chunk.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

#include <inv/parallel.hpp>

namespace inv::kernels {

// ---------------------------------------------------------------------------
// The Eigen product (the previous implementation).
// ---------------------------------------------------------------------------

template <class T>
using RowMajorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, Eigen::Unaligned,
                               Eigen::OuterStride<>>;
template <class T>
using ConstRowMajorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>,
                                    Eigen::Unaligned, Eigen::OuterStride<>>;

namespace detail {

/// One block of the product, single-threaded Eigen. Rows [i0, i1) and columns [j0, j1) of C.
template <class T>
void eigen_block(bool trans_a, bool trans_b, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t K, T alpha,
                 const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const int64_t m = i1 - i0, n = j1 - j0;
  RowMajorMap<T> c(C + i0 * ldc + j0, m, n, Eigen::OuterStride<>(ldc));
  if (beta == T(0))
    c.setZero();
  else if (beta != T(1))
    c *= beta;
  if (K == 0) return;
  // op(A) rows [i0, i1): stored rows of A, or stored columns of Aᵀ.
  const ConstRowMajorMap<T> a = trans_a ? ConstRowMajorMap<T>(A + i0, K, m, Eigen::OuterStride<>(lda))
                                        : ConstRowMajorMap<T>(A + i0 * lda, m, K, Eigen::OuterStride<>(lda));
  const ConstRowMajorMap<T> b = trans_b ? ConstRowMajorMap<T>(B + j0 * ldb, n, K, Eigen::OuterStride<>(ldb))
                                        : ConstRowMajorMap<T>(B + j0, K, n, Eigen::OuterStride<>(ldb));
  if (!trans_a && !trans_b) c.noalias() += alpha * (a * b);
  if (!trans_a && trans_b) c.noalias() += alpha * (a * b.transpose());
  if (trans_a && !trans_b) c.noalias() += alpha * (a.transpose() * b);
  if (trans_a && trans_b) c.noalias() += alpha * (a.transpose() * b.transpose());
}

}  // namespace detail

/// The same product through Eigen 3.4, split into fixed row or column chunks that
/// run in parallel with Eigen single-threaded in each (deterministic for any thread
/// count). Kept as the baseline of bench/bench_gemm.cpp.
template <class T>
void gemm_eigen(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  Eigen::setNbThreads(1);
  const double work = double(M) * double(N) * double(K);
  const bool split_rows = M >= N;
  const int64_t L = split_rows ? M : N;
  // Chunks of at least 64 rows/columns, at most 8 of them; a function of the sizes only.
  int64_t chunk = L;
  if (work >= double(1 << 20)) chunk = std::max<int64_t>(64, ((L + 7) / 8 + 15) / 16 * 16);
  parallel_for(
      L, chunk,
      [&](int64_t b, int64_t e) {
        if (split_rows)
          detail::eigen_block(trans_a, trans_b, b, e, 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        else
          detail::eigen_block(trans_a, trans_b, 0, M, b, e, K, alpha, A, lda, B, ldb, beta, C, ldc);
      });
}

}  // namespace inv::kernels
