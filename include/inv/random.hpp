// inv/random.hpp: a small, seedable, platform-independent random number generator.
//
// xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64. Uniform and
// normal variates are computed here rather than with <random>'s distributions,
// whose outputs differ between standard libraries: a seed gives the same numbers
// everywhere.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "inv/error.hpp"

namespace inv {

class Generator {
 public:
  /// The full state, for checkpoints: resuming from it continues the same stream.
  struct State {
    std::array<uint64_t, 4> s{};
    bool has_spare = false;
    double spare = 0.0;
  };

  explicit Generator(uint64_t seed = 0) { manual_seed(seed); }

  void manual_seed(uint64_t seed) {
    uint64_t z = seed;
    for (auto& w : state_.s) w = splitmix64(z);
    state_.has_spare = false;
  }

  /// 64 uniformly random bits.
  uint64_t next_u64() {
    auto& s = state_.s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  /// Standard normal N(0, 1) by the Box–Muller transform (pairs are cached).
  double normal() {
    if (state_.has_spare) {
      state_.has_spare = false;
      return state_.spare;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 6.283185307179586476925 * u2;
    state_.spare = r * std::sin(a);
    state_.has_spare = true;
    return r * std::cos(a);
  }

  /// Uniform integer in [0, n), without modulo bias. Throws when n <= 0.
  int64_t randint(int64_t n) {
    INV_CHECK(n > 0, "randint: expected n > 0, got ", n);
    const uint64_t un = static_cast<uint64_t>(n);
    const uint64_t limit = UINT64_MAX - UINT64_MAX % un;
    uint64_t x;
    do x = next_u64();
    while (x >= limit);
    return static_cast<int64_t>(x % un);
  }

  /// Bernoulli(p): true with probability p.
  bool bernoulli(double p) { return uniform() < p; }

  const State& state() const { return state_; }
  void set_state(const State& s) { state_ = s; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& z) {
    uint64_t x = (z += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  }
  State state_;
};

/// The process-wide generator used when no generator is passed (seed 0 at start).
inline Generator& default_generator() {
  static Generator g(0);
  return g;
}

/// Reseeds the default generator, like torch.manual_seed.
inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

/// A well-mixed 64-bit seed from a seed and a stream number (the splitmix64 finaliser).
/// Every random stream of the library derives its seed this way, e.g. the shuffling of
/// epoch e from (seed, e), so that streams are independent of each other and reproducible.
inline uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace inv
