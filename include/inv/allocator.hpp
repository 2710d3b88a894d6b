// inv/allocator.hpp: where tensor memory comes from.
//
// Every tensor's storage is a 64-byte aligned block. Blocks of at least
// kCachedMinBytes are not returned to the C library when freed but kept, by size, and
// handed out again (the idea of PyTorch's caching allocators): a training or attack
// step allocates the same sizes every iteration, and memory that malloc gives back to
// the operating system costs a page fault and a page clearing per 4 KiB at the next
// step (about 15% of a LeNet training step). Smaller blocks go straight to malloc,
// whose own bins serve them well.
//
// The cache holds at most cache_limit_bytes() (256 MiB by default, set_cache_limit_bytes
// changes it; 0 disables caching); a freed block that does not fit is released.
// empty_cache() releases every cached block (as torch.cuda.empty_cache()).
// Thread-safe. Built with AddressSanitizer, no block is cached, so that use after
// free is still detected.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace inv {

namespace detail {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kCacheBlocks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kCacheBlocks = false;
#else
inline constexpr bool kCacheBlocks = true;
#endif
#else
inline constexpr bool kCacheBlocks = true;
#endif

/// Blocks from this size on are cached.
inline constexpr size_t kCachedMinBytes = size_t(64) << 10;

class BlockCache {
 public:
  static BlockCache& instance() {
    static BlockCache* cache = new BlockCache;  // never destroyed: storages may outlive statics
    return *cache;
  }

  /// A block of `bytes` (a multiple of 64), 64-byte aligned. Throws std::bad_alloc.
  void* allocate(size_t bytes) {
    if (kCacheBlocks && bytes >= kCachedMinBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= bytes;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, bytes);
    if (!p) {
      empty();  // retry once without the cache
      p = std::aligned_alloc(64, bytes);
      if (!p) throw std::bad_alloc();
    }
    return p;
  }

  void release(void* p, size_t bytes) {
    if (kCacheBlocks && bytes >= kCachedMinBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + bytes <= limit_) {
        free_[bytes].push_back(p);
        cached_ += bytes;
        return;
      }
    }
    std::free(p);
  }

  void empty() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bytes, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_ = 0;
  }

  size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }
  size_t limit() {
    std::lock_guard<std::mutex> lock(mutex_);
    return limit_;
  }
  void set_limit(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limit_ = bytes;
    }
    empty();
  }

 private:
  BlockCache() = default;
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0, limit_ = size_t(256) << 20;
};

}  // namespace detail

/// Bytes of freed tensor memory kept for reuse.
inline size_t cached_bytes() { return detail::BlockCache::instance().cached_bytes(); }
/// The most freed memory kept for reuse (bytes).
inline size_t cache_limit_bytes() { return detail::BlockCache::instance().limit(); }
/// Sets the most freed memory kept for reuse (0: none) and releases the cache.
inline void set_cache_limit_bytes(size_t bytes) { detail::BlockCache::instance().set_limit(bytes); }
/// Returns every cached block to the C library.
inline void empty_cache() { detail::BlockCache::instance().empty(); }

}  // namespace inv
