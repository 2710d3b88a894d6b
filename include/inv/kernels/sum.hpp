// inv/kernels/sum.hpp: fast, deterministic sums in double.
//
// A floating-point sum is not vectorised by the compiler (that would reorder it).
// lane_sum keeps 8 interleaved partial sums, s_k = Σ_j f(8j + k), which the compiler
// vectorises because each lane is still summed in order, and adds the lanes in a fixed
// order at the end. The result depends only on n and the values, never on threads.
#pragma once

#include <cstdint>

namespace inv::kernels {

/// Σ_{i < n} f(i) in double, with 8 interleaved lanes (see the header).
template <class F>
double lane_sum(int64_t n, F&& f) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lane[k] += double(f(i + k));
  for (int k = 0; i < n; ++i, ++k) lane[k] += double(f(i));
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/// Σ p[i] for i < n, in double.
template <class T>
double lane_sum(const T* p, int64_t n) {
  return lane_sum(n, [p](int64_t i) { return p[i]; });
}

}  // namespace inv::kernels
