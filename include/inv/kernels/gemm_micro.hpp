// inv/kernels/gemm_micro.hpp: the GEMM's register-blocked micro-kernels and the
// tiles of C they compute (inv/kernels/gemm.hpp drives them over packed panels).
//
// Micro-kernel: MR = 6 rows × NR = 2 vectors, written with the GCC/Clang vector
// extension (32-byte vectors with AVX, 16-byte without), so 6×16 for float and 6×8
// for double under AVX2. 12 accumulators + 2 B vectors + 1 broadcast A value take
// 15 of the 16 vector registers; each k loads 2 B vectors and broadcasts 6 A values
// for 12 FMAs, enough independent chains to hide the FMA latency (2 units × 4
// cycles on Zen 3). Partial tiles at the edges run the same kernel on zero-padded
// panels and store only their valid part.
//
// AVX-512 (chosen at run time, so the build needs no -mavx512f): a row of a 6 × 16
// float tile is one 64-byte vector, so micro_kernel_zmm computes two tiles side by
// side (two B micro-panels, the same A panel): 12 accumulators again, 12 512-bit
// FMAs per k, twice the 256-bit kernel's rate on a core with two full-width FMA
// units (measured 165 against 87 GFLOP/s on one Xeon Sapphire Rapids class core).
// Panels, blocking and every element's sequence of FMAs are unchanged, so results
// are bitwise the same with or without AVX-512.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "inv/kernels/simd.hpp"

namespace inv::kernels::detail {

/// The micro-kernel's vector width: simd.hpp's (32 bytes with AVX, else 16).
inline constexpr int kGemmVectorBytes = kVecBytes;

/// Micro-kernel shape and cache blocking for element type T (see gemm.hpp's header comment).
template <class T>
struct GemmBlocking {
  typedef T V __attribute__((vector_size(kGemmVectorBytes)));
  static constexpr int64_t kLanes = kGemmVectorBytes / static_cast<int64_t>(sizeof(T));
  static constexpr int64_t MR = 6;
  static constexpr int64_t NR = 2 * kLanes;
  static constexpr int64_t KC = 256;
  static constexpr int64_t MC = sizeof(T) == 4 ? 144 : 72;
  static constexpr int64_t NC = sizeof(T) == 4 ? 4080 : 2040;
};

/// The micro-kernel: acc(r, j) = Σ_k a[r·a_r + k·a_k] · b[k·b_k + j] over k < kc in
/// increasing k, for r < kRows (≤ MR; fewer for the last rows of C), j < NR. A
/// packed micro-panel has a_r = 1, a_k = MR (kPackedA makes those constants). Out
/// of line, so that nothing else competes with its 15 vectors for the 16 registers.
template <class T, bool kPackedA, int64_t kRows>
__attribute__((noinline)) void micro_kernel(int64_t kc, const T* a, int64_t a_r, int64_t a_k, const T* b,
                                            int64_t b_k, typename GemmBlocking<T>::V (&out)[GemmBlocking<T>::MR][2]) {
  using G = GemmBlocking<T>;
  using V = typename G::V;
  constexpr int64_t MR = G::MR, L = G::kLanes;
  if constexpr (kPackedA) {
    a_r = 1;
    a_k = MR;
  }
  V acc[kRows][2] = {};
#pragma GCC unroll 1
  for (int64_t k = 0; k < kc; ++k) {
    V b0, b1;
    std::memcpy(&b0, b, sizeof(V));
    std::memcpy(&b1, b + L, sizeof(V));
#pragma GCC unroll 6
    for (int64_t r = 0; r < kRows; ++r) {
      const T ar = a[r * a_r];
      acc[r][0] += ar * b0;
      acc[r][1] += ar * b1;
    }
    a += a_k;
    b += b_k;
  }
#pragma GCC unroll 6
  for (int64_t r = 0; r < kRows; ++r) {
    out[r][0] = acc[r][0];
    out[r][1] = acc[r][1];
  }
}

#if defined(__x86_64__) && defined(__AVX__) && defined(__FMA__) && (defined(__GNUC__) || defined(__clang__))
#define INV_GEMM_ZMM 1

/// Whether this CPU (and OS) runs AVX-512F, asked once.
inline bool cpu_has_avx512f() {
#if defined(__AVX512F__)
  return true;
#else
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
#endif
}

/// The micro-kernel on two B micro-panels at once (b0, b1 with row strides b0_k, b1_k:
/// two MR × NR tiles side by side) with one 64-byte vector per tile row (NR lanes), for CPUs with AVX-512F
/// (chosen at run time). Each element gets the same fused multiply-adds in the same
/// order as in micro_kernel, so the results are bitwise micro_kernel's; a k step
/// issues 12 independent 512-bit FMAs, which keeps two full-width FMA units busy
/// (Intel Xeon since Skylake-SP, AMD Zen 5). out0, out1: the two tiles' accumulators.
template <class T, bool kPackedA, int64_t kRows>
__attribute__((noinline, target("avx512f"))) void micro_kernel_zmm(
    int64_t kc, const T* a, int64_t a_r, int64_t a_k, const T* b0, int64_t b0_k, const T* b1, int64_t b1_k,
    typename GemmBlocking<T>::V (&out0)[GemmBlocking<T>::MR][2], typename GemmBlocking<T>::V (&out1)[GemmBlocking<T>::MR][2]) {
  typedef T W __attribute__((vector_size(64)));
  static_assert(sizeof(W) == 2 * sizeof(typename GemmBlocking<T>::V), "a tile row is one 64-byte vector");
  constexpr int64_t MR = GemmBlocking<T>::MR;
  if constexpr (kPackedA) {
    a_r = 1;
    a_k = MR;
  }
  W acc0[kRows] = {}, acc1[kRows] = {};
#pragma GCC unroll 1
  for (int64_t k = 0; k < kc; ++k) {
    W x0, x1;
    std::memcpy(&x0, b0 + k * b0_k, sizeof(W));
    std::memcpy(&x1, b1 + k * b1_k, sizeof(W));
#pragma GCC unroll 6
    for (int64_t r = 0; r < kRows; ++r) {
      const T ar = a[r * a_r];
      acc0[r] += ar * x0;
      acc1[r] += ar * x1;
    }
    a += a_k;
  }
#pragma GCC unroll 6
  for (int64_t r = 0; r < kRows; ++r) {
    std::memcpy(&out0[r][0], &acc0[r], sizeof(W));
    std::memcpy(&out1[r][0], &acc1[r], sizeof(W));
  }
}
#endif

/// Whether gemm_block computes pairs of tiles side by side (micro_kernel_zmm).
inline bool pairs_tiles() {
#ifdef INV_GEMM_ZMM
  return cpu_has_avx512f();
#else
  return false;
#endif
}

/// Calls f(std::integral_constant<int64_t, m>) for the m ≤ MR rows of a tile: a partial
/// packed panel runs a kernel for its rows only; an unpacked A is always MR rows.
template <class T, bool kPackedA, class F>
inline void with_row_count(int64_t m, F&& f) {
  using std::integral_constant;
  static_assert(GemmBlocking<T>::MR == 6, "the dispatch below lists the row counts 1..MR");
  if constexpr (kPackedA) {
    switch (m) {
      case 1: return f(integral_constant<int64_t, 1>());
      case 2: return f(integral_constant<int64_t, 2>());
      case 3: return f(integral_constant<int64_t, 3>());
      case 4: return f(integral_constant<int64_t, 4>());
      case 5: return f(integral_constant<int64_t, 5>());
      default: return f(integral_constant<int64_t, 6>());
    }
  } else {
    f(integral_constant<int64_t, 6>());
  }
}

/// Starts fetching the first m rows of a C tile of n columns; it is needed after the k loop.
template <class T>
inline void prefetch_tile(const T* c, int64_t c_rs, int64_t c_cs, int64_t m, int64_t n) {
  for (int64_t r = 0; r < m; ++r) {
    __builtin_prefetch(c + r * c_rs, 1, 3);
    __builtin_prefetch(c + r * c_rs + (n - 1) * c_cs, 1, 3);
  }
}

/// Stores the first m rows and n columns of a tile: C(r, j) = alpha·acc(r, j) +
/// beta·C(r, j) (beta == 0: C is not read), as fmadd_lanes(alpha, acc, beta·C) in
/// both loops: a tile's results do not depend on where it is inlined (a tile paired
/// with its neighbour on one thread may be stored alone on two).
template <class T>
inline void store_tile(const typename GemmBlocking<T>::V (&acc)[GemmBlocking<T>::MR][2], T alpha, T beta, T* c,
                       int64_t c_rs, int64_t c_cs, int64_t m, int64_t n) {
  using G = GemmBlocking<T>;
  using V = typename G::V;
  constexpr int64_t NR = G::NR, L = G::kLanes;
  if (n == NR && c_cs == 1) {
    for (int64_t r = 0; r < m; ++r)
      for (int64_t h = 0; h < 2; ++h) {
        T* cp = c + r * c_rs + h * L;
        V v;
        if (beta == T(0)) {
          v = alpha * acc[r][h];
        } else {
          std::memcpy(&v, cp, sizeof(V));
          v = fmadd_lanes(V{} + alpha, acc[r][h], beta * v);
        }
        std::memcpy(cp, &v, sizeof(V));
      }
    return;
  }
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      T& cv = c[r * c_rs + j * c_cs];
      const T t = acc[r][j / L][j % L];
      cv = beta == T(0) ? alpha * t : fmadd_lanes(alpha, t, beta * cv);
    }
}

/// One MR × NR tile of C, of which the first m rows and n columns are stored, by
/// micro_kernel.
template <class T, bool kPackedA>
inline void micro_tile(int64_t kc, const T* a, int64_t a_r, int64_t a_k, const T* b, int64_t b_k, T alpha, T beta,
                       T* c, int64_t c_rs, int64_t c_cs, int64_t m, int64_t n) {
  prefetch_tile(c, c_rs, c_cs, m, n);
  typename GemmBlocking<T>::V acc[GemmBlocking<T>::MR][2];
  with_row_count<T, kPackedA>(m, [&](auto rows) { micro_kernel<T, kPackedA, rows.value>(kc, a, a_r, a_k, b, b_k, acc); });
  store_tile(acc, alpha, beta, c, c_rs, c_cs, m, n);
}

#ifdef INV_GEMM_ZMM
/// Two tiles side by side by micro_kernel_zmm: a full-width one (B micro-panel b0,
/// columns of C from c) and one of n1 ≤ NR columns (b1, from c + NR·c_cs).
template <class T, bool kPackedA>
inline void micro_tile_pair(int64_t kc, const T* a, int64_t a_r, int64_t a_k, const T* b0, int64_t b0_k, const T* b1,
                            int64_t b1_k, T alpha, T beta, T* c, int64_t c_rs, int64_t c_cs, int64_t m, int64_t n1) {
  constexpr int64_t NR = GemmBlocking<T>::NR;
  prefetch_tile(c, c_rs, c_cs, m, NR + n1);
  typename GemmBlocking<T>::V acc0[GemmBlocking<T>::MR][2], acc1[GemmBlocking<T>::MR][2];
  with_row_count<T, kPackedA>(m, [&](auto rows) {
    micro_kernel_zmm<T, kPackedA, rows.value>(kc, a, a_r, a_k, b0, b0_k, b1, b1_k, acc0, acc1);
  });
  store_tile(acc0, alpha, beta, c, c_rs, c_cs, m, NR);
  store_tile(acc1, alpha, beta, c + NR * c_cs, c_rs, c_cs, m, n1);
}
#endif

}  // namespace inv::kernels::detail
