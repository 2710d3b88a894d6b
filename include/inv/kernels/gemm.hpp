// inv/kernels/gemm.hpp: general matrix multiply on raw row-major buffers.
//
//   C (M×N) = alpha · op(A) · op(B) + beta · C,   op(X) = X or Xᵀ,
//
// A is stored (M×K) or, transposed, (K×M); B is (K×N) or (N×K); all row-major with
// leading dimensions lda, ldb, ldc. beta == 0 means C is not read (NaN in C does not
// propagate). gemm is the library's kernel: every convolution, linear layer and
// matmul goes through it. gemm_naive is the reference it is tested against; the Eigen
// product it replaced is bench/gemm_eigen.hpp, the baseline of bench/bench_gemm.cpp.
//
// Structure (GotoBLAS / BLIS)
// ---------------------------
// C is cut into tasks (blocks of rows × columns, see below). Each task runs
//   for jc in its columns, step NC:
//     for pc in 0..K, step kc ≤ KC:                C += op(A)[:, pc] · op(B)[pc, jc]
//       for ic in its rows, step mc ≤ MC:
//         pack op(A)[ic, pc] into MR-row micro-panels              (mc × kc: L2)
//         for each group of 4 NR-column micro-panels of op(B)[pc, jc]:
//           first ic only: pack them, zero-padded at the edge      (kc × NC: L3)
//           for each B micro-panel (kc × NR: L1), for each A micro-panel:
//             micro-kernel: one MR × NR tile of C, a rank-1 update per k.
// B is packed by the first row block, group by group, just before it is used, so
// the copy is still in cache; the later row blocks reuse it.
//
// Micro-kernels and tiles: inv/kernels/gemm_micro.hpp.
//
// Blocking, for 32 KiB L1d and 512 KiB L2 per core and a large shared L3:
//  * KC = 256: a B micro-panel is 256·16·4 B (float) or 256·8·8 B (double) = 16 KiB,
//    half of L1, leaving room for the A micro-panel streaming past it. K is cut
//    into ⌈K / KC⌉ equal blocks (576 → 3 × 192, not 256 + 256 + 64).
//  * MC = 144 (float) / 72 (double) rows: the packed A block is 144 KiB, well inside
//    L2 with room for the B micro-panels and C passing through. Row blocks are
//    equalised the same way (rounded up to MR).
//  * NC = 4080 (float) / 2040 (double) columns: the packed B block is ≤ 4 MiB (L3).
// (KC ∈ {192, 256, 384} × MC ∈ {96, 144, 240} measured within noise of each other.)
//
// Small products. Packing pays only when the packed panel is reused enough: B is
// read in place when its rows are contiguous (op(B) = B) and M ≤ 24, A (broadcasts
// take any stride) when N ≤ 64; only partial edge panels are then packed. Bᵀ is
// packed by transposing vector blocks in registers. A cost model (padded micro-tiles,
// packing, scattered stores into C) chooses between computing C and Cᵀ = op(B)ᵀ ·
// op(A)ᵀ: for linear layers (op(B) = Wᵀ, few rows of A) Cᵀ reads W in place and
// packs only the small operand.
//
// Threading and determinism
// -------------------------
// A product of W = M·N·K multiply-adds is cut into tasks: one below 2^20, on one
// thread or inside a parallel region (they would run serially), else W / 2^22
// clamped to [2, 8] (each extra task repeats some packing; more tasks balance the
// load of large products). They form a grid of row groups × column
// groups (multiples of MR and NR) shaped so that the repeated work is cheapest
// (each column group packs its rows of A, each row group its columns of B). The
// tasks run through one inv::parallel_for; each packs into its own thread's
// buffers and computes its block of C over all of K, which is never split. The
// K blocking, the packing choices and the orientation are functions of (M, N, K,
// trans_a, trans_b) only, and the grid decides only which task computes an element,
// so every element of C is computed by the same operations in the same order on
// any number of threads: for each K block in
// order, an accumulator starting at 0 takes acc += a_k · b_k (one FMA under
// -march=native) over the block's k in increasing order, then c = alpha·acc +
// beta·c (first block) or c = alpha·acc + c (later blocks). Results are bitwise
// identical for every OMP_NUM_THREADS. Inside a parallel region (the conv kernels
// call gemm per chunk of images) parallel_for runs the tasks serially on the
// calling thread.
//
// Packing buffers are thread_local vectors that only grow: no allocation per call
// in the steady state.
//
// Numerics vs Eigen (bench/gemm_eigen.hpp): both accumulate in the working precision
// (with FMA under -march=native) and agree to rounding, not bitwise: the K blocks and
// the order in which alpha, beta and the partial sums are combined differ.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "inv/kernels/gemm_micro.hpp"
#include "inv/kernels/simd.hpp"
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
// The packed, register-blocked GEMM.
// ---------------------------------------------------------------------------

namespace detail {


/// A strided view of the product: op(A)(i, k) = a[i·a_rs + k·a_cs], op(B)(k, j) =
/// b[k·b_rs + j·b_cs], C(i, j) = c[i·c_rs + j·c_cs].
/// With pack_b set, op(B) exists only through it (an implicit operand, e.g. the
/// column matrix of a convolution): pack_b(ctx, j0, n, k0, kc, out) writes the
/// micro-panels of columns [j0, j0 + n), n ≤ kPackGroup·NR, rows [k0, k0 + kc):
/// panel q at out + q·NR·kc, out[q·NR·kc + k·NR + j] = op(B)(k0 + k, j0 + q·NR + j),
/// zero for columns ≥ n. b, b_rs and b_cs are then unused.
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
  void (*pack_b)(const void* ctx, int64_t j0, int64_t n, int64_t k0, int64_t kc, T* out) = nullptr;
  const void* pack_b_ctx = nullptr;
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

#ifdef INV_HAS_SHUFFLEVECTOR

/// One stage of an in-register transpose of L vectors of L lanes: swaps bit s of
/// the row index with bit s of the lane index (rows a = i and b = i + s).
template <class V, int64_t L, int64_t s, size_t... l>
inline void transpose_stage(V& a, V& b, std::index_sequence<l...>) {
  const V lo = __builtin_shufflevector(a, b, ((l & s) ? L + l - s : l)...);
  const V hi = __builtin_shufflevector(a, b, ((l & s) ? L + l : l + s)...);
  a = lo;
  b = hi;
}

/// out(c)[r] = row(r)[c] for an L × L block (L = lanes of a vector), row(r) and out(c)
/// pointers to L contiguous elements.
template <class T, class Row, class OutRow>
__attribute__((always_inline)) inline void transpose_rows_to(Row row, OutRow out) {
  using V = typename GemmBlocking<T>::V;
  constexpr int64_t L = GemmBlocking<T>::kLanes;
  V r[L];
#pragma GCC unroll 8
  for (int64_t i = 0; i < L; ++i) std::memcpy(&r[i], row(i), sizeof(V));
  auto stage = [&](auto s) {
#pragma GCC unroll 8
    for (int64_t i = 0; i < L; ++i)
      if (!(i & s.value)) transpose_stage<V, L, s.value>(r[i], r[i + s.value], std::make_index_sequence<L>());
  };
  if constexpr (L >= 8) stage(std::integral_constant<int64_t, 4>());
  if constexpr (L >= 4) stage(std::integral_constant<int64_t, 2>());
  stage(std::integral_constant<int64_t, 1>());
#pragma GCC unroll 8
  for (int64_t i = 0; i < L; ++i) std::memcpy(out(i), &r[i], sizeof(V));
}

/// out[c·ldo + r] = row(r)[c] for an L × L block, row(r) a pointer to L contiguous elements.
template <class T, class Row>
__attribute__((always_inline)) inline void transpose_rows(Row row, T* out, int64_t ldo) {
  transpose_rows_to<T>(row, [&](int64_t i) { return out + i * ldo; });
}

/// out[c·ldo + r] = in[r·ld + c] for an L × L block.
template <class T>
__attribute__((always_inline)) inline void transpose_block(const T* in, int64_t ld, T* out, int64_t ldo) {
  transpose_rows<T>([&](int64_t i) { return in + i * ld; }, out, ldo);
}
#endif

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
  int64_t k_done = 0;
#ifdef INV_HAS_SHUFFLEVECTOR
  // Rows of Bᵀ are contiguous: transpose L × L blocks in registers.
  constexpr int64_t L = GemmBlocking<T>::kLanes;
  if (p.b_rs == 1 && n == NR && L <= 8)
    for (; k_done + L <= kc; k_done += L)
      for (int64_t h = 0; h < NR; h += L) transpose_block(b + h * p.b_cs + k_done, p.b_cs, out + k_done * NR + h, NR);
#endif
  for (int64_t j = 0; j < NR; ++j)
    if (j < n)
      for (int64_t k = k_done; k < kc; ++k) out[k * NR + j] = b[k * p.b_rs + j * p.b_cs];
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

/// One block of the loop nest: C[ic : ic + mc, jc : jc + nc] (+)= op(A)[ic.., pc : pc + kc]
/// · op(B)[pc.., jc..], with the packing buffers and the packing choices.
template <class T>
struct GemmBlock {
  int64_t ic, mc, jc, nc, pc, kc;
  T beta;  // p.beta for the first K block, 1 after
  T* ap;   // A's MR-row micro-panels, panel i/MR at ap + i·kc
  T* bp;   // B's NR-column micro-panels, panel j/NR at bp + j·kc
  bool pack_a, pack_b;
};

/// Computes a block: packs A's micro-panels (all, or only a partial last one when A
/// is read in place), then for each B micro-panel runs the micro-kernel down the
/// rows. With pack_b_now (the first row block of a task), B's micro-panels (all, or
/// the partial last one when B is read in place) are packed kPackGroup at a time
/// just before their first use, while they are still in cache.
template <class T>
void gemm_block(const GemmProblem<T>& p, const GemmBlock<T>& s, bool pack_b_now) {
  using G = GemmBlocking<T>;
  constexpr int64_t MR = G::MR, NR = G::NR;
  [[maybe_unused]] const bool pairs = pairs_tiles();
  for (int64_t i = s.pack_a ? 0 : s.mc / MR * MR; i < s.mc; i += MR)
    pack_a_panel(p, s.ic + i, std::min(MR, s.mc - i), s.pc, s.kc, s.ap + i * s.kc);
  for (int64_t jg = 0; jg < s.nc; jg += kPackGroup * NR) {
    const int64_t jg1 = std::min(s.nc, jg + kPackGroup * NR);
    if (pack_b_now && p.pack_b) p.pack_b(p.pack_b_ctx, s.jc + jg, jg1 - jg, s.pc, s.kc, s.bp + jg * s.kc);
    if (pack_b_now && s.pack_b && !p.pack_b) pack_b_panels(p, s.jc + jg, jg1 - jg, s.pc, s.kc, s.bp + jg * s.kc);
    if (pack_b_now && !s.pack_b && jg1 == s.nc && s.nc % NR)
      pack_b_panel(p, s.jc + s.nc / NR * NR, s.nc % NR, s.pc, s.kc, s.bp + s.nc / NR * NR * s.kc);
    for (int64_t j = jg; j < jg1; j += NR) {
      // With AVX-512 a panel is paired with the next one (full, or the partial last one).
      const bool pair = pairs && j + NR < jg1;
      const int64_t n = std::min(NR, s.nc - j), n1 = pair ? std::min(NR, s.nc - j - NR) : 0;
      // B micro-panel at column jj of width w: read in place when full and B is not packed.
      auto b_panel = [&](int64_t jj, int64_t w) -> std::pair<const T*, int64_t> {
        if (!s.pack_b && w == NR) return {p.b + s.pc * p.b_rs + (s.jc + jj), p.b_rs};
        return {s.bp + jj * s.kc, NR};
      };
      // Plain variables, not structured bindings: the lambdas below capture them (C++17).
      const std::pair<const T*, int64_t> p0 = b_panel(j, n);
      const std::pair<const T*, int64_t> p1 = pair ? b_panel(j + NR, n1) : std::pair<const T*, int64_t>{nullptr, 0};
      const T* b = p0.first;
      const int64_t b_k = p0.second;
      [[maybe_unused]] const T* b1 = p1.first;
      [[maybe_unused]] const int64_t b1_k = p1.second;
      for (int64_t i = 0; i < s.mc; i += MR) {
        const int64_t m = std::min(MR, s.mc - i);
        T* c = p.c + (s.ic + i) * p.c_rs + (s.jc + j) * p.c_cs;
        // A: its packed micro-panel, or read in place (full panels only).
        auto tile = [&](auto packed_a) {
          constexpr bool kPacked = decltype(packed_a)::value;
          const T* a = kPacked ? s.ap + i * s.kc : p.a + (s.ic + i) * p.a_rs + s.pc * p.a_cs;
          const int64_t a_r = kPacked ? 1 : p.a_rs, a_k = kPacked ? MR : p.a_cs;
#ifdef INV_GEMM_ZMM
          if (pair)
            return micro_tile_pair<T, kPacked>(s.kc, a, a_r, a_k, b, b_k, b1, b1_k, p.alpha, s.beta, c, p.c_rs,
                                               p.c_cs, m, n1);
#endif
          micro_tile<T, kPacked>(s.kc, a, a_r, a_k, b, b_k, p.alpha, s.beta, c, p.c_rs, p.c_cs, m, n);
        };
        if (s.pack_a || m < MR)
          tile(std::true_type());
        else
          tile(std::false_type());
      }
      if (pair) j += NR;
    }
  }
}

/// Pack an operand when each of its elements is reused often enough (B must be
/// packed when its rows are not contiguous).
template <class T>
bool packs_a(const GemmProblem<T>& p) {
  return p.N > 4 * GemmBlocking<T>::NR;
}
template <class T>
bool packs_b(const GemmProblem<T>& p) {
  return p.pack_b || p.b_cs != 1 || p.M > 4 * GemmBlocking<T>::MR;
}

/// Modelled cycles per packed element of A and of B (0 when read in place): a
/// gather costs more than a copy of contiguous elements.
template <class T>
double a_pack_cost(const GemmProblem<T>& p) {
  return packs_a(p) ? (p.a_rs == 1 ? 0.25 : 0.5) : 0.0;
}
template <class T>
double b_pack_cost(const GemmProblem<T>& p) {
#ifdef INV_HAS_SHUFFLEVECTOR
  constexpr double kTransposing = 0.6;
#else
  constexpr double kTransposing = 1.5;
#endif
  if (p.pack_b) return 0.5;  // gathers
  return packs_b(p) ? (p.b_cs == 1 ? 0.25 : kTransposing) : 0.0;
}

/// A rough model of gemm_blocked's time in cycles, to choose between computing C
/// and Cᵀ: the micro-tiles (padded to MR × NR) at 2 vector FMAs per cycle, packing,
/// and the scalar updates of C when its columns are not contiguous.
template <class T>
double gemm_cost(const GemmProblem<T>& p) {
  using G = GemmBlocking<T>;
  const double Mp = double(round_up(p.M, G::MR)), Np = double(round_up(p.N, G::NR)), K = double(p.K);
  double cost = Mp * Np * K / double(2 * G::kLanes) + Mp * K * a_pack_cost(p) + Np * K * b_pack_cost(p);
  if (p.c_cs != 1) cost += 2.0 * double(p.M) * double(p.N) * double(ceil_div(p.K, G::KC));
  return cost;
}

/// Task count: one below kGemmParallelWork multiply-adds, else W / kGemmTaskWork
/// clamped to [2, kGemmMaxTasks]. Each extra task repeats some packing, so mid-size
/// products use few tasks; large ones use more, for load balance.
constexpr double kGemmParallelWork = double(1 << 20);
constexpr double kGemmTaskWork = double(1 << 22);
constexpr int64_t kGemmMaxTasks = 8;

/// The task grid: blocks of mt rows × nt columns of C (multiples of MR and NR).
struct GemmGrid {
  int64_t mt, nt, tasks_m, tasks_n;
};

/// The task grid. The number of tasks grows with the work; their shape makes the
/// work repeated across tasks (A packed or read once per column group, B once per
/// row group) cheapest. Where the tasks would run serially there is one. (The grid
/// only decides who computes which block of C; every element's arithmetic is the
/// same for any grid, see the header comment.)
template <class T>
GemmGrid gemm_grid(const GemmProblem<T>& p) {
  using G = GemmBlocking<T>;
  const double work = double(p.M) * double(p.N) * double(p.K);
  // One task when they would run serially anyway (one thread, or inside a region).
  const bool serial = num_threads() == 1 || in_parallel_region();
  const int64_t tasks = serial || work < kGemmParallelWork
                            ? 1
                            : static_cast<int64_t>(std::clamp(work / kGemmTaskWork, 2.0, double(kGemmMaxTasks)));
  const double a_once = double(p.M) * double(p.K) * (a_pack_cost(p) + 0.05);
  const double b_once = double(p.N) * double(p.K) * (b_pack_cost(p) + 0.05);
  int64_t gm = 1, gn = 1;
  double best = -1;
  for (int64_t n = 1; n <= std::min(tasks, ceil_div(p.N, G::NR)); ++n) {
    const int64_t m = std::min(ceil_div(tasks, n), ceil_div(p.M, G::MR));
    const double repeated = double(n - 1) * a_once + double(m - 1) * b_once;
    if (best < 0 || repeated < best) best = repeated, gm = m, gn = n;
  }
  const int64_t mt = round_up(ceil_div(p.M, gm), G::MR), nt = round_up(ceil_div(p.N, gn), G::NR);
  return {mt, nt, ceil_div(p.M, mt), ceil_div(p.N, nt)};
}

/// One task: C[i0 : i1, j0 : j1] over all of K, packing into this thread's buffers.
template <class T>
void gemm_task(const GemmProblem<T>& p, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  using G = GemmBlocking<T>;
  constexpr int64_t MR = G::MR, NR = G::NR;
  const int64_t kcb = ceil_div(p.K, ceil_div(p.K, G::KC));
  const int64_t m_blocks = ceil_div(i1 - i0, G::MC), mc = round_up(ceil_div(i1 - i0, m_blocks), MR);
  T* const ap = gemm_buffer<T, 0>(mc * kcb);
  T* const bp = gemm_buffer<T, 1>(round_up(std::min(G::NC, j1 - j0), NR) * kcb);
  const bool pack_a = packs_a(p), pack_b = packs_b(p);
  for (int64_t jc = j0; jc < j1; jc += G::NC)
    for (int64_t pc = 0; pc < p.K; pc += kcb)
      for (int64_t ic = i0; ic < i1; ic += mc) {
        const GemmBlock<T> s{ic, std::min(mc, i1 - ic), jc, std::min(G::NC, j1 - jc), pc, std::min(kcb, p.K - pc),
                             pc == 0 ? p.beta : T(1), ap, bp, pack_a, pack_b};
        gemm_block(p, s, /*pack_b_now=*/ic == i0);
      }
}

/// The blocked product of p (see the header comment). Requires M, N, K > 0.
template <class T>
void gemm_blocked(const GemmProblem<T>& p) {
  const GemmGrid g = gemm_grid(p);
  parallel_for(g.tasks_m * g.tasks_n, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i0 = (t % g.tasks_m) * g.mt, j0 = (t / g.tasks_m) * g.nt;
      gemm_task(p, i0, std::min(p.M, i0 + g.mt), j0, std::min(p.N, j0 + g.nt));
    }
  });
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
  // E.g. linear layers, op(B) = Bᵀ with few rows of A: computing Cᵀ reads B's rows
  // in place and packs only A.
  const detail::GemmProblem<T> pt = detail::transposed(p);
  if (detail::gemm_cost(pt) < detail::gemm_cost(p))
    detail::gemm_blocked(pt);
  else
    detail::gemm_blocked(p);
}

/// C = alpha·op(A)·B + beta·C where B (K×N) is implicit: pack(j0, n, k0, kc, out)
/// writes its micro-panels (the contract of GemmProblem::pack_b, with NR =
/// gemm_panel_width<T>()). Used by the convolutions to read the column matrix
/// straight from the image instead of building it. Same blocking, threading and
/// determinism as gemm; C is never transposed. pack must be safe to call from
/// several threads at once.
template <class T, class PackB>
void gemm_implicit_b(bool trans_a, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                     const PackB& pack, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    return;
  }
  detail::GemmProblem<T> p{M, N, K, alpha, beta, A, trans_a ? 1 : lda, trans_a ? lda : 1, nullptr, 0, 0, C, ldc, 1};
  p.pack_b = [](const void* ctx, int64_t j0, int64_t n, int64_t k0, int64_t kc, T* out) {
    (*static_cast<const PackB*>(ctx))(j0, n, k0, kc, out);
  };
  p.pack_b_ctx = &pack;
  detail::gemm_blocked(p);
}

/// Columns per B micro-panel (NR) of gemm_implicit_b's packing contract.
template <class T>
constexpr int64_t gemm_panel_width() {
  return detail::GemmBlocking<T>::NR;
}

}  // namespace inv::kernels
