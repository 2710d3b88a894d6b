// inv/kernels/gemm.hpp: general matrix multiply on raw row-major buffers, through Eigen.
//
//   C (M×N) = alpha · op(A) · op(B) + beta · C,   op(X) = X or Xᵀ,
//
// A is stored (M×K) or, transposed, (K×M); B is (K×N) or (N×K); all row-major with
// leading dimensions lda, ldb, ldc. The largest of M and N is split into fixed
// chunks (depending only on M, N, K) that run in parallel; Eigen works single-
// threaded on each (see inv/parallel.hpp), so results do not depend on the thread
// count. gemm_naive is the reference the fast path is tested against.
#pragma once

#include <Eigen/Core>
#include <cstdint>

#include "inv/parallel.hpp"

namespace inv::kernels {

template <class T>
using RowMajorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, Eigen::Unaligned,
                               Eigen::OuterStride<>>;
template <class T>
using ConstRowMajorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>,
                                    Eigen::Unaligned, Eigen::OuterStride<>>;

/// Reference triple loop (double accumulation), for tests.
template <class T>
void gemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const T a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const T b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        acc += double(a) * double(b);
      }
      T& c = C[i * ldc + j];
      c = static_cast<T>(alpha * acc + (beta == T(0) ? 0.0 : double(beta) * double(c)));
    }
}

namespace detail {

/// One block of the product, single-threaded Eigen. Rows [i0, i1) and columns [j0, j1) of C.
template <class T>
void gemm_block(bool trans_a, bool trans_b, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t K, T alpha,
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

/// C = alpha·op(A)·op(B) + beta·C (see the header comment). Deterministic for any thread count.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
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
          detail::gemm_block(trans_a, trans_b, b, e, 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        else
          detail::gemm_block(trans_a, trans_b, 0, M, b, e, K, alpha, A, lda, B, ldb, beta, C, ldc);
      },
      // Eigen would thread a product of this much work itself outside a region.
      /*always_region=*/work >= 100000.0);
}

}  // namespace inv::kernels
