// inv/parallel.hpp: the one way the library runs work on several cores.
//
// Threading model
// ---------------
// * All parallel loops go through parallel_for, an OpenMP `parallel for` over
//   fixed-size chunks. Chunk boundaries depend only on the problem size and the
//   grain, never on the thread count, and each chunk writes its own outputs (or
//   its own partial sum, combined afterwards in chunk order). Results are therefore
//   bitwise identical for every OMP_NUM_THREADS.
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

}  // namespace inv
