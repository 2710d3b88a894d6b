// inv/denormal.hpp: flushing subnormal numbers to zero, as torch.set_flush_denormal.
//
// A float below 1.18e-38 in magnitude (a double below 2.2e-308) is subnormal. On
// Intel CPUs an instruction that reads or produces one takes a microcode assist of
// about a hundred cycles, per instruction. Training produces them: Adam's first
// moment of a weight whose gradient is zero (a dead ReLU unit, an unused input
// pixel) decays by β1 = 0.9 per step and is subnormal after about 800 steps. In the
// paper's LeNet recipe that made Adam's step six times slower (0.26 against
// 0.044 ms per step of 32 images, 2 threads, Xeon Sapphire Rapids class); AMD Zen
// cores handle subnormals at full speed.
//
// Flushing sets the x86 MXCSR bits FTZ (a subnormal result becomes ±0) and DAZ (a
// subnormal operand is read as ±0). A subnormal float is below 1e-28 of one rounding
// step of a weight of 0.01, so flushing changes no weight in practice: the 20 epochs
// of `inv train --dataset mnist --preset paper --holdout 0` wrote bitwise the same
// weights and the same per-epoch losses with and without it. train::fit, the inverse-network and shadow-model training and
// rMLE flush by default (FitOptions::flush_denormal and the attack configs), as
// TensorFlow does in its CPU kernels. Elsewhere nothing is flushed unless asked.
//
// MXCSR is per thread. set_flush_denormal sets it on the calling thread; the workers
// of inv's thread pool take the calling thread's mode with each parallel loop
// (inv/parallel.hpp), so the whole loop computes alike. Without SSE (not x86-64) it
// does nothing and returns false.
#pragma once

#include "inv/parallel.hpp"  // includes <immintrin.h> and defines INV_HAS_MXCSR on x86

namespace inv {

/// Whether the calling thread flushes subnormal numbers to zero.
inline bool flush_denormal() { return parallel_detail::flush_bits() == parallel_detail::kFtzDaz; }

/// Flushes (on = true) or keeps (false) subnormal numbers on the calling thread, and so
/// in the parallel loops it starts. Returns whether this CPU supports it, as
/// torch.set_flush_denormal.
inline bool set_flush_denormal(bool on) {
  parallel_detail::set_flush_bits(on ? parallel_detail::kFtzDaz : 0u);
#ifdef INV_HAS_MXCSR
  return true;
#else
  return false;
#endif
}

/// Sets flushing for its lifetime and restores the calling thread's previous mode
/// afterwards, also when an exception passes through.
class FlushDenormalGuard {
 public:
  explicit FlushDenormalGuard(bool on = true) : previous_(flush_denormal()), changed_(on != previous_) {
    if (changed_) set_flush_denormal(on);
  }
  ~FlushDenormalGuard() {
    if (changed_) set_flush_denormal(previous_);
  }
  FlushDenormalGuard(const FlushDenormalGuard&) = delete;
  FlushDenormalGuard& operator=(const FlushDenormalGuard&) = delete;

 private:
  bool previous_, changed_;
};

}  // namespace inv
