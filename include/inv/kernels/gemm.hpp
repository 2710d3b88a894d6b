// inv/kernels/gemm.hpp: general matrix multiply on raw row-major buffers.
//
//   C (M×N) = alpha · op(A) · op(B) + beta · C,   op(X) = X or Xᵀ,
//
// A is stored (M×K) or, transposed, (K×M); B is (K×N) or (N×K); all row-major with
// leading dimensions lda, ldb, ldc. beta == 0 means C is not read (NaN in C does not
// propagate). gemm is the library's kernel; gemm_naive is the reference it is tested
// against and gemm_eigen the Eigen product it replaced (kept for benchmarks).
//
// Structure (GotoBLAS / BLIS)
// ---------------------------
//   for jc in N, step NC:                    B block  (KC × NC)  lives in L3
//     for pc in K, step kc (≤ KC):           C += A[:, pc] · B[pc, jc]
//       for icc in M, step MCC:
//         pack A[icc, pc] into MR-row micro-panels, B[pc, jc] (once per pc) into
//         NR-column micro-panels, zero-padded at the edges          (region 1)
//         for each tile (≤ MC rows × a column group):              (region 2)
//           for jr in the group, step NR:    B micro-panel (kc × NR) lives in L1
//             for ir in the tile, step MR:   A block (MC × kc) lives in L2
//               micro-kernel: MR × NR accumulators, rank-1 update per k.
//
// Micro-kernel: MR = 6 rows × NR = 2 vectors, written with the GCC/Clang vector
// extension (vector_size 32 with AVX, 16 without): 6×16 for float, 6×8 for double
// with AVX2 — 12 accumulators + 2 B vectors + 1 broadcast A value = 15 of the 16
// vector registers; per k, 2 vector loads and 6 broadcasts feed 12 FMAs, enough
// independent chains to cover the FMA latency (4 cycles × 2 units on Zen 3).
//
// Blocking (for 32 KiB L1d, 512 KiB L2, a large shared L3): KC = 256 makes the B
// micro-panel 16 KiB for float (256·16·4 B) and double (256·8·8 B): half of L1,
// leaving room for the streamed A micro-panel (6 KiB / 12 KiB) and C. MC = 144
// (float) / 72 (double) rows make the packed A block 144 KiB, well inside L2 with
// room for the B panels passing through. NC = 4080 / 2040 columns bound the packed B
// block to 4 MiB (L3). K is cut into ⌈K / KC⌉ equal blocks (576 → 3 × 192, not 256 +
// 256 + 64) so no block is short. MCC = 16·MC bounds the packed A buffer (2.3 MiB).
//
// Small products: packing only pays when the packed panel is reused. B is read in
// place (no packing) when its rows are contiguous (op(B) = B) and M is small; A is
// read in place (broadcasts accept any stride) when N is small. Only edge panels
// are then packed. When op(B) = Bᵀ, M is small and N large (linear layers), the
// product is computed as Cᵀ = op(B)ᵀ · op(A)ᵀ so that the large operand is read in
// place and only the small one is packed (the same products are formed, so the
// result is the same either way). Products below ~2^18 multiply-adds run serially.
//
// Threading and determinism
// -------------------------
// Both regions are inv::parallel_for loops over fixed chunks: packing jobs (micro-
// panels) and tiles of C (row blocks × column groups). Every boundary (NC, kc, MCC,
// MC, the column groups, the micro-tile grid) and every choice above (packing, the
// orientation, serial or parallel) is a function of (M, N, K, trans_a, trans_b)
// only, and K is never split across threads. Each C element is therefore computed
// by exactly the same operations in the same order for any thread count: for each
// K block in order, an accumulator starting at 0 gets acc = fma(a_k, b_k, acc) for
// the block's k in increasing order, then c = alpha·acc + beta·c (first block) or
// c = alpha·acc + c (later blocks). Results are bitwise identical for every
// OMP_NUM_THREADS. Called inside a parallel region (the conv kernels do that),
// parallel_for runs everything serially on the calling thread.
//
// Packing buffers are thread_local vectors that only grow: no allocation per call
// in the steady state. Worker threads read the calling thread's buffers during the
// regions (the caller waits for them).
//
// Numerics vs Eigen: both accumulate in the working precision with FMA (under
// -march=native); the K blocking (ours: equal blocks ≤ 256; Eigen: its own kc) and
// the way alpha is applied differ, so the two agree to rounding, not bitwise.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "inv/parallel.hpp"

namespace inv::kernels {

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

// ---------------------------------------------------------------------------
// The Eigen product (the previous implementation), kept for comparison.
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
      },
      // Eigen would thread a product of this much work itself outside a region.
      /*always_region=*/work >= 100000.0);
}

// ---------------------------------------------------------------------------
// The packed, register-blocked GEMM.
// ---------------------------------------------------------------------------

namespace detail {

#if defined(__AVX__)
inline constexpr int kGemmVectorBytes = 32;
#else
inline constexpr int kGemmVectorBytes = 16;
#endif

/// Micro-kernel shape and cache blocking for element type T (see the header comment).
template <class T>
struct GemmBlocking {
  typedef T V __attribute__((vector_size(kGemmVectorBytes)));
  static constexpr int64_t kLanes = kGemmVectorBytes / static_cast<int64_t>(sizeof(T));
  static constexpr int64_t MR = 6;
  static constexpr int64_t NR = 2 * kLanes;
#ifndef TUNE_KC
  static constexpr int64_t KC = 256;
  static constexpr int64_t MC = sizeof(T) == 4 ? 144 : 72;
#else
  static constexpr int64_t KC = TUNE_KC;
  static constexpr int64_t MC = sizeof(T) == 4 ? TUNE_MC : TUNE_MC / 2;
#endif
  static constexpr int64_t NC = sizeof(T) == 4 ? 4080 : 2040;
  static constexpr int64_t MCC = 16 * MC;
};

/// A strided view of the product: op(A)(i, k) = a[i·a_rs + k·a_cs], op(B)(k, j) =
/// b[k·b_rs + j·b_cs], C(i, j) = c[i·c_rs + j·c_cs].
template <class T>
struct GemmProblem {
  int64_t M, N, K;
  T alpha, beta;
  const T* a;
  int64_t a_rs, a_cs;
  const T* b;
  int64_t b_rs, b_cs;
  T* c;
  int64_t c_rs, c_cs;
};

/// The same product seen as Cᵀ = op(B)ᵀ · op(A)ᵀ.
template <class T>
GemmProblem<T> transposed(const GemmProblem<T>& p) {
  return {p.N, p.M, p.K, p.alpha, p.beta, p.b, p.b_cs, p.b_rs, p.a, p.a_cs, p.a_rs, p.c, p.c_cs, p.c_rs};
}

/// out[k·MR + r] = op(A)(i0 + r, k0 + k) for r < m, 0 for m ≤ r < MR; k < kc.
template <class T>
void pack_a_panel(const GemmProblem<T>& p, int64_t i0, int64_t m, int64_t k0, int64_t kc, T* out) {
  constexpr int64_t MR = GemmBlocking<T>::MR;
  const T* a = p.a + i0 * p.a_rs + k0 * p.a_cs;
  if (m == MR && p.a_rs == 1) {
    for (int64_t k = 0; k < kc; ++k) std::memcpy(out + k * MR, a + k * p.a_cs, MR * sizeof(T));
    return;
  }
  if (m == MR) {
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t r = 0; r < MR; ++r) out[k * MR + r] = a[r * p.a_rs + k * p.a_cs];
    return;
  }
  for (int64_t k = 0; k < kc; ++k)
    for (int64_t r = 0; r < MR; ++r) out[k * MR + r] = r < m ? a[r * p.a_rs + k * p.a_cs] : T(0);
}

/// out[k·NR + j] = op(B)(k0 + k, j0 + j) for j < n, 0 for n ≤ j < NR; k < kc.
template <class T>
void pack_b_panel(const GemmProblem<T>& p, int64_t j0, int64_t n, int64_t k0, int64_t kc, T* out) {
  constexpr int64_t NR = GemmBlocking<T>::NR;
  const T* b = p.b + k0 * p.b_rs + j0 * p.b_cs;
  if (p.b_cs == 1 && n == NR) {
    for (int64_t k = 0; k < kc; ++k) std::memcpy(out + k * NR, b + k * p.b_rs, NR * sizeof(T));
    return;
  }
  if (p.b_cs == 1) {
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t j = 0; j < NR; ++j) out[k * NR + j] = j < n ? b[k * p.b_rs + j] : T(0);
    return;
  }
  for (int64_t j = 0; j < NR; ++j)
    if (j < n)
      for (int64_t k = 0; k < kc; ++k) out[k * NR + j] = b[k * p.b_rs + j * p.b_cs];
    else
      for (int64_t k = 0; k < kc; ++k) out[k * NR + j] = T(0);
}

/// Packs the micro-panels of op(B) for columns [j0, j0 + n) into out, one after the
/// other (kc × NR each). Contiguous rows of B are read kPackGroup·NR elements at a time:
/// one cache line per row per panel would be latency-bound for large ldb.
template <class T>
void pack_b_panels(const GemmProblem<T>& p, int64_t j0, int64_t n, int64_t k0, int64_t kc, T* out) {
  constexpr int64_t NR = GemmBlocking<T>::NR;
  const int64_t full = p.b_cs == 1 ? n / NR * NR : 0;
  const T* b = p.b + k0 * p.b_rs + j0;
  constexpr int64_t kAhead = 16;  // rows: each is on another page, out of the prefetchers' reach
  for (int64_t k = 0; k < kc; ++k) {
    if (k + kAhead < kc)
      for (int64_t j = 0; j < full; j += NR) __builtin_prefetch(b + (k + kAhead) * p.b_rs + j, 0, 3);
    for (int64_t j = 0; j < full; j += NR) std::memcpy(out + j * kc + k * NR, b + k * p.b_rs + j, NR * sizeof(T));
  }
  for (int64_t j = full; j < n; j += NR) pack_b_panel(p, j0 + j, std::min(NR, n - j), k0, kc, out + j * kc);
}

/// One MR × NR tile of C (the first m rows and n columns are stored):
///   acc(r, j) = Σ_k a[r·a_r + k·a_k] · b[k·b_k + j],  k < kc, in increasing k;
///   C(r, j) = alpha·acc + beta·C  (beta == 0: C is not read).
/// A packed micro-panel has a_r = 1, a_k = MR; kPackedA makes those constants.
template <class T, bool kPackedA>
__attribute__((always_inline)) inline void micro_tile(int64_t kc, const T* a, int64_t a_r, int64_t a_k, const T* b,
                                                      int64_t b_k, T alpha, T beta, T* c, int64_t c_rs,
                                                      int64_t c_cs, int64_t m, int64_t n) {
  using G = GemmBlocking<T>;
  using V = typename G::V;
  constexpr int64_t MR = G::MR, NR = G::NR, L = G::kLanes;
  if constexpr (kPackedA) {
    a_r = 1;
    a_k = MR;
  }
  // Start fetching the C tile now; it is needed after the k loop.
  for (int64_t r = 0; r < m; ++r) {
    __builtin_prefetch(c + r * c_rs, 1, 3);
    __builtin_prefetch(c + r * c_rs + (n - 1) * c_cs, 1, 3);
  }
  V acc[MR][2] = {};
  for (int64_t k = 0; k < kc; ++k) {
    V b0, b1;
    std::memcpy(&b0, b, sizeof(V));
    std::memcpy(&b1, b + L, sizeof(V));
#pragma GCC unroll 6
    for (int64_t r = 0; r < MR; ++r) {
      const T ar = a[r * a_r];
      acc[r][0] += ar * b0;
      acc[r][1] += ar * b1;
    }
    a += a_k;
    b += b_k;
  }
  if (m == MR && n == NR && c_cs == 1) {
#pragma GCC unroll 6
    for (int64_t r = 0; r < MR; ++r)
#pragma GCC unroll 2
      for (int64_t h = 0; h < 2; ++h) {
        T* cp = c + r * c_rs + h * L;
        V v;
        if (beta == T(0)) {
          v = alpha * acc[r][h];
        } else {
          std::memcpy(&v, cp, sizeof(V));
          v = alpha * acc[r][h] + beta * v;
        }
        std::memcpy(cp, &v, sizeof(V));
      }
    return;
  }
  T tile[MR * NR];
  for (int64_t r = 0; r < MR; ++r)
    for (int64_t h = 0; h < 2; ++h) std::memcpy(tile + r * NR + h * L, &acc[r][h], sizeof(V));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      T& cv = c[r * c_rs + j * c_cs];
      cv = beta == T(0) ? alpha * tile[r * NR + j] : alpha * tile[r * NR + j] + beta * cv;
    }
}

/// A thread's growing scratch buffer of at least n elements, 64-byte aligned.
template <class T, int kSlot>
T* gemm_buffer(int64_t n) {
  static thread_local std::vector<T> buf;
  const size_t pad = 64 / sizeof(T);
  if (buf.size() < static_cast<size_t>(n) + pad) buf.resize(static_cast<size_t>(n) + pad);
  const auto addr = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + ((64 - addr % 64) % 64) / sizeof(T);
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

/// B micro-panels packed together, reading kPackGroup·NR consecutive elements of each row.
constexpr int64_t kPackGroup = 4;

/// Multiply-adds below which a product runs on one thread.
constexpr double kGemmSerialWork = double(1 << 18);

/// One step of the loop nest: C[icc : icc + mcc, jc : jc + nc] (+)= op(A)[icc.., pc : pc + kc] ·
/// op(B)[pc.., jc..], with the packing buffers and the packing choices.
template <class T>
struct GemmStep {
  int64_t icc, mcc, jc, nc, pc, kc;
  T beta;  // p.beta for the first K block, 1 after
  T* ap;   // A's MR-row micro-panels, panel i/MR at ap + i·kc
  T* bp;   // B's NR-column micro-panels, panel j/NR at bp + j·kc
  bool pack_a, pack_b;
};

/// Rows [i0, i1) × columns [j0, j1) of a step (offsets within it, multiples of MR
/// and NR): for each B micro-panel, the micro-kernel over the rows. With pack_b_now,
/// B's micro-panels (all, or the partial last one when B is read in place) are
/// packed just before their first use, while they are hot in L1.
template <class T>
void gemm_tile(const GemmProblem<T>& p, const GemmStep<T>& s, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
               bool pack_b_now) {
  using G = GemmBlocking<T>;
  constexpr int64_t MR = G::MR, NR = G::NR;
  for (int64_t jg = j0; jg < j1; jg += kPackGroup * NR) {
    const int64_t jg1 = std::min(j1, jg + kPackGroup * NR);
    if (pack_b_now && s.pack_b) pack_b_panels(p, s.jc + jg, jg1 - jg, s.pc, s.kc, s.bp + jg * s.kc);
    if (pack_b_now && !s.pack_b && jg1 == s.nc && s.nc % NR)
      pack_b_panel(p, s.jc + s.nc / NR * NR, s.nc % NR, s.pc, s.kc, s.bp + s.nc / NR * NR * s.kc);
    for (int64_t j = jg; j < jg1; j += NR) {
      const int64_t n = std::min(NR, s.nc - j);
      const bool b_direct = !s.pack_b && n == NR;
      const T* b = b_direct ? p.b + s.pc * p.b_rs + (s.jc + j) : s.bp + j * s.kc;
      const int64_t b_k = b_direct ? p.b_rs : NR;
      for (int64_t i = i0; i < i1; i += MR) {
        const int64_t m = std::min(MR, s.mcc - i);
        T* c = p.c + (s.icc + i) * p.c_rs + (s.jc + j) * p.c_cs;
        if (s.pack_a || m < MR)
          micro_tile<T, true>(s.kc, s.ap + i * s.kc, 1, MR, b, b_k, p.alpha, s.beta, c, p.c_rs, p.c_cs, m, n);
        else
          micro_tile<T, false>(s.kc, p.a + (s.icc + i) * p.a_rs + s.pc * p.a_cs, p.a_rs, p.a_cs, b, b_k, p.alpha,
                               s.beta, c, p.c_rs, p.c_cs, m, n);
      }
    }
  }
}

/// One step on all threads. Region 1 packs A's micro-panels (all, or only a partial
/// last one when A is read in place). The step is cut into tiles: row blocks of ≤
/// MC rows × column groups. When B is not packed yet (first row block of a K
/// block), region 2 runs the first row block's tiles, which pack B as they go,
/// and region 3 the other row blocks' tiles.
template <class T>
void gemm_step(const GemmProblem<T>& p, const GemmStep<T>& s, bool b_packed, bool parallel) {
  using G = GemmBlocking<T>;
  constexpr int64_t MR = G::MR, NR = G::NR;
  const int64_t m_panels = ceil_div(s.mcc, MR), n_panels = ceil_div(s.nc, NR);
  const int64_t a_first = s.pack_a ? 0 : s.mcc / MR, a_jobs = m_panels - a_first;
  const int64_t a_grain = parallel && a_jobs * MR * s.kc >= (1 << 16) ? ceil_div(a_jobs, 8) : a_jobs;
  parallel_for(a_jobs, a_grain, [&](int64_t j0, int64_t j1) {
    for (int64_t j = a_first + j0; j < a_first + j1; ++j)
      pack_a_panel(p, s.icc + j * MR, std::min(MR, s.mcc - j * MR), s.pc, s.kc, s.ap + j * MR * s.kc);
  });
  const int64_t m_blocks = ceil_div(s.mcc, G::MC), mc = round_up(ceil_div(s.mcc, m_blocks), MR);
  const int64_t n_groups = parallel ? std::clamp<int64_t>(n_panels / 4, 1, 8) : 1;
  const int64_t nt = round_up(ceil_div(s.nc, n_groups), NR);
  auto tile = [&](int64_t ib, int64_t jg, bool pack_b_now) {
    gemm_tile(p, s, ib * mc, std::min(s.mcc, (ib + 1) * mc), jg * nt, std::min(s.nc, (jg + 1) * nt), pack_b_now);
  };
  const int64_t first = b_packed ? 0 : 1;
  if (!b_packed)
    parallel_for(n_groups, parallel ? 1 : n_groups, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g) tile(0, g, true);
    });
  const int64_t tiles = (m_blocks - first) * n_groups;
  parallel_for(tiles, parallel ? 1 : std::max<int64_t>(tiles, 1), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) tile(first + t % (m_blocks - first), t / (m_blocks - first), false);
  });
}

/// The blocked product of p (see the header comment). Requires M, N, K > 0.
template <class T>
void gemm_blocked(const GemmProblem<T>& p) {
  using G = GemmBlocking<T>;
  constexpr int64_t MR = G::MR, NR = G::NR;
  const int64_t k_blocks = ceil_div(p.K, G::KC), kcb = ceil_div(p.K, k_blocks);
  // Pack an operand when each of its elements is reused often enough (sizes only).
  const bool pack_a = p.N > 4 * NR;
  const bool pack_b = p.b_cs != 1 || p.M > 4 * MR;
  const bool parallel = double(p.M) * double(p.N) * double(p.K) >= kGemmSerialWork;
  T* const ap = gemm_buffer<T, 0>(round_up(std::min(p.M, G::MCC), MR) * kcb);
  T* const bp = gemm_buffer<T, 1>(round_up(std::min(p.N, G::NC), NR) * kcb);
  for (int64_t jc = 0; jc < p.N; jc += G::NC)
    for (int64_t pc = 0; pc < p.K; pc += kcb)
      for (int64_t icc = 0; icc < p.M; icc += G::MCC) {
        const GemmStep<T> s{icc, std::min(G::MCC, p.M - icc), jc, std::min(G::NC, p.N - jc), pc,
                            std::min(kcb, p.K - pc), pc == 0 ? p.beta : T(1), ap, bp, pack_a, pack_b};
        gemm_step(p, s, /*b_packed=*/icc > 0, parallel);
      }
}

}  // namespace detail

/// C = alpha·op(A)·op(B) + beta·C, C (M×N); A (M×K), or (K×M) when trans_a; B (K×N),
/// or (N×K) when trans_b; row-major with leading dimensions lda, ldb, ldc. beta == 0:
/// C is only written. Deterministic: bitwise identical for any thread count (see
/// the header comment). No checks: callers pass valid sizes and buffers.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    return;
  }
  const detail::GemmProblem<T> p{M,
                                 N,
                                 K,
                                 alpha,
                                 beta,
                                 A,
                                 trans_a ? 1 : lda,
                                 trans_a ? lda : 1,
                                 B,
                                 trans_b ? 1 : ldb,
                                 trans_b ? ldb : 1,
                                 C,
                                 ldc,
                                 1};
  // Linear layers: op(B) = Bᵀ with few rows of A and many columns. Computing Cᵀ
  // reads B's rows in place and packs only A.
  using G = detail::GemmBlocking<T>;
  if (trans_b && M <= 4 * G::MR && N > M)
    detail::gemm_blocked(detail::transposed(p));
  else
    detail::gemm_blocked(p);
}

}  // namespace inv::kernels
