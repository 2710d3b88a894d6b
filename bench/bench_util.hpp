// bench/bench_util.hpp: a tiny timing harness (median of repeated runs).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

namespace inv::bench {

/// Median wall time of f in milliseconds: `warmup` untimed runs, then runs until both
/// `min_runs` runs and `min_seconds` have passed.
inline double median_ms(const std::function<void()>& f, int warmup = 3, int min_runs = 10, double min_seconds = 0.5) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  const auto start = std::chrono::steady_clock::now();
  while (static_cast<int>(t.size()) < min_runs ||
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < min_seconds) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    if (t.size() > 10000) break;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace inv::bench
