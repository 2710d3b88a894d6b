// inv/parallel.hpp: the one way the library runs work on several cores.
//
// Threading model
// ---------------
// * All parallel loops go through parallel_for: fixed-size chunks, whose boundaries
//   depend only on the problem size and the grain, never on the thread count. Each
//   chunk writes its own outputs (or its own partial sum, combined afterwards in chunk
//   order). Results are therefore bitwise identical for every thread count.
// * Loops whose iterations are independent (elementwise ops, pooling planes, optimiser
//   updates) use parallel_for_each instead: one near-equal part per thread, which
//   balances better than fixed chunks and cannot change a result (over elements, the
//   parts start at multiples of kElementAlign, so an element is never moved between a
//   loop's vector body and its scalar tail).
// * The chunks run on a pool of threads kept for the life of the program (no pool per
//   call). The calling thread works too. Chunks are handed out one at a time to
//   whichever thread asks first, and the call returns as soon as every chunk is done:
//   a worker that the OS has descheduled does not hold the others up, because its
//   chunks are taken by the threads that are running, and it is not waited for unless
//   it is in the middle of a chunk. This is what a machine shared with other busy
//   processes needs (a laptop, a shared server), and what OpenMP's fork-join regions,
//   which wait at their end for every thread of the team, cannot give.
// * Idle workers spin for a few microseconds (the next loop usually follows at once),
//   then sleep on a condition variable: they do not take time slices from threads that
//   have work, yours or another program's.
// * The thread count is num_threads(): OMP_NUM_THREADS, or set_num_threads (as
//   torch.set_num_threads), else the number of cores.
// * Nested loops do not add threads: inside a chunk, parallel_for runs its chunks
//   serially on the calling thread (same chunks, same results). So does a parallel_for
//   called while another thread's loop holds the pool (several threads of the user's
//   own calling forward at once, for example).
// * Workers take the caller's subnormal mode (flush to zero or not, inv/denormal.hpp)
//   for each loop, so that every chunk computes as the caller would.
// * Kernels should not throw inside a chunk (inputs are validated first); if one does,
//   the first exception is rethrown by parallel_for once every chunk has run.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__SSE__) || defined(__x86_64__)
#include <immintrin.h>
#define INV_HAS_MXCSR 1
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

namespace inv {

namespace parallel_detail {

/// The thread count set by set_num_threads (0: not set).
inline std::atomic<int>& requested_threads() {
  static std::atomic<int> n{0};
  return n;
}

/// Threads from OMP_NUM_THREADS (its first number), else the number of cores.
inline int default_threads() {
  static const int n = [] {
    if (const char* env = std::getenv("OMP_NUM_THREADS")) {
      const int v = std::atoi(env);
      if (v > 0) return v;
    }
    const unsigned cores = std::thread::hardware_concurrency();
    return cores > 0 ? static_cast<int>(cores) : 1;
  }();
  return n;
}

/// True on a thread while it runs a chunk of a parallel loop.
inline bool& in_chunk() {
  thread_local bool inside = false;
  return inside;
}

inline void cpu_relax() {
#ifdef INV_HAS_MXCSR
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

/// The MXCSR bits that flush subnormal numbers: FTZ (bit 15) | DAZ (bit 6).
constexpr unsigned kFtzDaz = 0x8040u;

/// The subnormal-flush bits of the calling thread's MXCSR, or 0 (inv/denormal.hpp).
inline unsigned flush_bits() {
#ifdef INV_HAS_MXCSR
  return _mm_getcsr() & kFtzDaz;
#else
  return 0;
#endif
}
inline void set_flush_bits(unsigned bits) {
#ifdef INV_HAS_MXCSR
  const unsigned csr = _mm_getcsr();
  if ((csr & kFtzDaz) != bits) _mm_setcsr((csr & ~kFtzDaz) | bits);
#else
  (void)bits;
#endif
}

/// The pool. One loop (a job) at a time: chunks [0, chunks) of call(context, chunk).
///
/// The ticket holds the job's generation (high 32 bits) and its next unclaimed chunk
/// (low 32 bits). A thread claims chunk k of generation g by a compare-and-swap of
/// (g, k) to (g, k + 1), and only then reads the job's function: a claim succeeds only
/// while generation g is open, and the caller closes it (ticket (g, kClosed)) only
/// after every chunk is done, before it writes the next job. So a worker that wakes up
/// late can never run a chunk of a job that has ended, nor a chunk twice.
class ThreadPool {
 public:
  static ThreadPool& instance() {
    static ThreadPool* pool = new ThreadPool();  // never destroyed: workers may outlive static destructors
    return *pool;
  }

  /// Runs call(context, c) for c in [0, chunks) on up to `threads` threads (the caller
  /// included); returns when all are done. Runs serially when the pool is busy.
  void run(int64_t chunks, int threads, void (*call)(void*, int64_t), void* context) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || chunks >= int64_t(kClosed)) {
      serial(chunks, call, context);
      return;
    }
    ensure_workers(threads - 1);
    call_ = call;
    context_ = context;
    chunks_.store(static_cast<uint32_t>(chunks), std::memory_order_relaxed);
    workers_wanted_ = threads - 1;
    flush_ = flush_bits();
    done_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    const uint64_t gen = (ticket_.load(std::memory_order_relaxed) >> 32) + 1;
    ticket_.store(gen << 32, std::memory_order_seq_cst);  // opens the job
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      wake_.notify_all();
    }
    work(gen);
    // Wait for the chunks other threads are running: spin briefly, then give way.
    for (int spin = 0; done_.load(std::memory_order_acquire) < uint32_t(chunks); ++spin) {
      if (spin < 4000)
        cpu_relax();
      else
        std::this_thread::yield();
    }
    ticket_.store(gen << 32 | kClosed, std::memory_order_seq_cst);  // no claim can succeed now
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static constexpr uint32_t kClosed = 0xFFFFFFFFu;

  ThreadPool() = default;

  static void serial(int64_t chunks, void (*call)(void*, int64_t), void* context) {
    bool& inside = in_chunk();
    const bool was = inside;
    inside = true;
    try {
      for (int64_t c = 0; c < chunks; ++c) call(context, c);
    } catch (...) {
      inside = was;
      throw;
    }
    inside = was;
  }

  void ensure_workers(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      const int index = static_cast<int>(workers_.size());
      workers_.emplace_back([this, index] { worker_loop(index); });
      workers_.back().detach();
    }
  }

  /// Claims and runs chunks of generation `gen` until none is left.
  void work(uint64_t gen) {
    bool& inside = in_chunk();
    inside = true;
    uint64_t t = ticket_.load(std::memory_order_acquire);
    for (;;) {
      if ((t >> 32) != gen || uint32_t(t) >= chunks_.load(std::memory_order_relaxed)) break;
      if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      // Chunk uint32_t(t) of this job is ours; the job cannot end before we report it done.
      try {
        call_(context_, int64_t(uint32_t(t)));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      done_.fetch_add(1, std::memory_order_acq_rel);
      t = ticket_.load(std::memory_order_acquire);
    }
    inside = false;
  }

  void worker_loop(int index) {
    uint64_t seen = ticket_.load(std::memory_order_acquire) >> 32;
    for (;;) {
      // Wait for a new generation: spin a little, then sleep.
      uint64_t gen = ticket_.load(std::memory_order_acquire) >> 32;
      for (int spin = 0; gen == seen && spin < kSpins; ++spin) {
        cpu_relax();
        gen = ticket_.load(std::memory_order_acquire) >> 32;
      }
      if (gen == seen) {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] { return (ticket_.load(std::memory_order_seq_cst) >> 32) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        gen = ticket_.load(std::memory_order_acquire) >> 32;
      }
      seen = gen;
      // Workers beyond this job's thread count sit it out. workers_wanted_ and flush_
      // may already belong to a later job: then the claims below fail and nothing runs.
      if (index >= workers_wanted_) continue;
      set_flush_bits(flush_);
      work(gen);
    }
  }

  static constexpr int kSpins = 20000;  // about 10-50 microseconds of _mm_pause

  std::mutex busy_;  // held by the thread whose job is running
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> ticket_{0};
  std::atomic<uint32_t> done_{0};
  // The job, written by its caller before the ticket opens it, read after a claim.
  void (*call_)(void*, int64_t) = nullptr;
  void* context_ = nullptr;
  std::atomic<uint32_t> chunks_{0};
  std::atomic<int> workers_wanted_{0};
  std::atomic<unsigned> flush_{0};
  std::exception_ptr error_;
  std::mutex error_mutex_;
  // Sleeping workers.
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace parallel_detail

/// Threads a parallel loop uses: set_num_threads, else OMP_NUM_THREADS, else the number
/// of cores.
inline int num_threads() {
  const int n = parallel_detail::requested_threads().load(std::memory_order_relaxed);
  return n > 0 ? n : parallel_detail::default_threads();
}

/// Sets the number of threads of later parallel loops (like torch.set_num_threads).
inline void set_num_threads(int n) {
  parallel_detail::requested_threads().store(std::max(1, n), std::memory_order_relaxed);
#ifdef _OPENMP
  omp_set_num_threads(std::max(1, n));  // for code of the user's own that uses OpenMP
#endif
}

/// True inside a chunk of a parallel loop, where parallel_for runs serially.
inline bool in_parallel_region() { return parallel_detail::in_chunk(); }

/// Number of chunks parallel_for(n, grain, ...) uses.
inline int64_t chunk_count(int64_t n, int64_t grain) { return n <= 0 ? 0 : (n + grain - 1) / grain; }

/// Calls f(begin, end) for the chunks [0, grain), [grain, 2·grain), ... of [0, n),
/// in parallel when there is more than one chunk and more than one thread (see the
/// threading model above).
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = chunk_count(n, grain);
  const int threads = num_threads();
  const bool parallel = threads > 1 && !in_parallel_region() && chunks > 1;
  if (!parallel) {
    for (int64_t c = 0; c < chunks; ++c) f(c * grain, std::min(n, (c + 1) * grain));
    return;
  }
  struct Context {
    F* f;
    int64_t n, grain;
  } context{&f, n, grain};
  parallel_detail::ThreadPool::instance().run(
      chunks, static_cast<int>(std::min<int64_t>(threads, chunks)),
      [](void* p, int64_t c) {
        auto* ctx = static_cast<Context*>(p);
        (*ctx->f)(c * ctx->grain, std::min(ctx->n, (c + 1) * ctx->grain));
      },
      &context);
}

/// Grain for elementwise loops: below this many elements a loop runs on one thread.
constexpr int64_t kElementwiseGrain = 1 << 15;

/// Work below which parallel_for_each runs on one thread, in units of about one
/// element loaded and stored (handing a loop to the pool costs about 1 µs, some 4000
/// such units).
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
  struct Context {
    F* f;
    int64_t n, units, parts, align;
    int64_t bound(int64_t t) const { return std::min(n, units * t / parts * align); }
  } context{&f, n, units, std::min(units, threads), align};
  parallel_detail::ThreadPool::instance().run(
      context.parts, static_cast<int>(context.parts),
      [](void* p, int64_t t) {
        auto* ctx = static_cast<Context*>(p);
        (*ctx->f)(ctx->bound(t), ctx->bound(t + 1));
      },
      &context);
}

}  // namespace inv
