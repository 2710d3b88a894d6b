// inv/parallel.hpp: the one way the library runs work on several cores.
//
// Threading model
// ---------------
// * All parallel loops go through parallel_for, an OpenMP `parallel for` over
//   fixed-size chunks. Chunk boundaries depend only on the problem size and the
//   grain, never on the thread count, and each chunk writes its own outputs (or
//   its own partial sum, combined afterwards in chunk order). Results are therefore
//   bitwise identical for every OMP_NUM_THREADS.
// * Loops whose iterations are independent (elementwise ops, pooling planes, optimiser
//   updates) use parallel_for_each instead: one near-equal part per thread, which
//   balances better than fixed chunks and cannot change a result (over elements, the
//   parts start at multiples of kElementAlign, so an element is never moved between a
//   loop's vector body and its scalar tail).
// * OpenMP's runtime keeps its threads between regions: no pool is created per call.
// * Nested regions do not add threads: inside a parallel region, parallel_for runs
//   its chunks serially on the calling thread (same chunks, same results).
// * Eigen's own GEMM threading is never used. Eigen parallelises a product only when
//   it is called outside an active parallel region, and its blocking (and so its
//   rounding) then depends on the thread count. Our GEMM (inv/kernels/gemm.hpp)
//   therefore always calls Eigen from inside a parallel_for chunk, where Eigen sees
//   an active region and runs single-threaded; we split the work ourselves.
// * Kernels run inside parallel regions must not throw: inputs are validated first.
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace inv {

/// Threads a parallel region uses (OMP_NUM_THREADS, or set_num_threads).
inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Sets the number of threads of later parallel regions (like torch.set_num_threads).
inline void set_num_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(std::max(1, n));
#else
  (void)n;
#endif
}

inline bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return true;
#endif
}

/// Number of chunks parallel_for(n, grain, ...) uses.
inline int64_t chunk_count(int64_t n, int64_t grain) { return n <= 0 ? 0 : (n + grain - 1) / grain; }

/// Calls f(begin, end) for the chunks [0, grain), [grain, 2·grain), ... of [0, n),
/// in parallel when there is more than one chunk and more than one thread.
/// When `always_region` is set, an OpenMP region is opened even for a single chunk
/// (needed around Eigen products, see the threading model above).
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f, bool always_region = false) {
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = chunk_count(n, grain);
  const bool parallel = num_threads() > 1 && !in_parallel_region() && (chunks > 1 || always_region);
  if (!parallel) {
    for (int64_t c = 0; c < chunks; ++c) f(c * grain, std::min(n, (c + 1) * grain));
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c) f(c * grain, std::min(n, (c + 1) * grain));
#endif
}

/// Grain for elementwise loops: below this many elements a loop runs on one thread.
constexpr int64_t kElementwiseGrain = 1 << 15;

/// Work below which parallel_for_each runs on one thread, in units of about one
/// element loaded and stored (a parallel region costs about 1 µs, some 4000 such units).
constexpr int64_t kParallelMinWork = 1 << 13;

/// Part boundaries of parallel_for_each over elements: a multiple of 16 (64 bytes of
/// float), so that each element runs through the same code, a vector body or a scalar
/// tail, however many threads split the loop (the compiler may round a formula's
/// vector and scalar copies differently: fused multiply-adds in one and not the other).
constexpr int64_t kElementAlign = 16;

/// Calls f(begin, end) on one contiguous part of [0, n) per thread (near-equal parts,
/// boundaries at multiples of `align`), in parallel when n·cost ≥ kParallelMinWork,
/// where `cost` is the work of one index. Only for loops whose iterations are
/// independent (each writes its own outputs, no partial sums): the split depends on the
/// thread count, so nothing may depend on it; loops over elements pass kElementAlign.
/// Loops that combine partial results use parallel_for, whose chunks are fixed.
template <class F>
void parallel_for_each(int64_t n, int64_t cost, F&& f, int64_t align = 1) {
  if (n <= 0) return;
  align = std::max<int64_t>(align, 1);
  const int64_t threads = num_threads(), units = (n + align - 1) / align;
  const bool parallel = threads > 1 && units > 1 && n * std::max<int64_t>(cost, 1) >= kParallelMinWork &&
                        !in_parallel_region();
  if (!parallel) {
    f(int64_t(0), n);
    return;
  }
  const int64_t parts = std::min(units, threads);
  auto bound = [&](int64_t t) { return std::min(n, units * t / parts * align); };
#ifdef _OPENMP
#pragma omp parallel for schedule(static, 1) num_threads(static_cast<int>(parts))
  for (int64_t t = 0; t < parts; ++t) f(bound(t), bound(t + 1));
#endif
}

}  // namespace inv
