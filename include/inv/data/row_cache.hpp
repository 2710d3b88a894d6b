// inv/data/row_cache.hpp: float32 rows of one shape, appended once and gathered by index,
// held in memory or in a temporary file.
//
// The black-box attacker queries the edge once on each of its images and trains a decoder
// on the answers for many epochs (attack/inverse_network.hpp), so it keeps the features of
// its whole set. They can outgrow memory: LeNet's conv1 features of the 50 000 MNIST
// training images take 922 MB, CIFAR conv11 features of 40 000 images 11 GB. A RowCache
// holds them either in a tensor (RowStorage::Memory) or in a temporary file read back
// with pread (RowStorage::File): the file has no name from the start (O_TMPFILE, else it
// is unlinked as soon as it is created), so it disappears with the process however that
// ends, and the kernel's page cache keeps as much of it in memory as the machine can
// spare. Both return the stored bits exactly; only where they live differs.
//
// The file is read with pread rather than mapped: the pages of a mapping count in the
// process's resident set once touched (a decoder touches every row each epoch), whereas
// the page cache behind pread is memory the kernel reclaims under pressure.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "inv/data/dataset.hpp"
#include "inv/error.hpp"
#include "inv/tensor.hpp"

namespace inv::data {

/// Where a RowCache keeps its rows.
enum class RowStorage {
  Auto,    // Memory up to kRowCacheMemoryLimit bytes, File above
  Memory,  // a float32 tensor
  File,    // an unnamed temporary file, read with pread
};

/// "auto", "memory", "file".
inline const char* row_storage_name(RowStorage s) {
  switch (s) {
    case RowStorage::Auto: return "auto";
    case RowStorage::Memory: return "memory";
    case RowStorage::File: return "file";
  }
  return "?";
}

/// The largest cache (in bytes) that RowStorage::Auto keeps in memory: 256 MiB.
constexpr int64_t kRowCacheMemoryLimit = int64_t(256) << 20;

/// Where RowStorage `s` keeps a cache of `bytes` bytes: s itself unless it is Auto, else
/// Memory when bytes <= kRowCacheMemoryLimit and File above.
inline RowStorage resolve_row_storage(RowStorage s, int64_t bytes) {
  if (s != RowStorage::Auto) return s;
  return bytes <= kRowCacheMemoryLimit ? RowStorage::Memory : RowStorage::File;
}

/// The directory of RowStorage::File's temporary files when none is given: $TMPDIR when
/// set and not empty, else /tmp.
inline std::string default_temp_directory() {
  const char* t = std::getenv("TMPDIR");
  return t != nullptr && *t != '\0' ? std::string(t) : std::string("/tmp");
}

/// `rows` float32 rows of shape `row_shape`, appended in order and gathered by index.
class RowCache {
 public:
  /// Room for `rows` rows of shape `row_shape` (e.g. the features of one image, (C, H, W)),
  /// kept as `storage` says (Auto resolves here: resolve_row_storage); File's temporary file
  /// goes to `directory` (default_temp_directory() when empty) and its space is reserved
  /// now. Throws inv::Error when rows < 0, a dimension of row_shape is negative, the size
  /// overflows, the memory cannot be allocated, or the file cannot be created or sized
  /// (naming the directory and the system's reason, e.g. no space left on the device).
  RowCache(int64_t rows, Shape row_shape, RowStorage storage = RowStorage::Auto, std::string directory = "")
      : rows_(rows), row_shape_(std::move(row_shape)) {
    INV_CHECK(rows >= 0, "RowCache: rows must be >= 0, got ", rows);
    for (int64_t d : row_shape_)
      INV_CHECK(d >= 0, "RowCache: the row shape ", to_string(row_shape_), " has a negative dimension");
    Shape all{rows};
    all.insert(all.end(), row_shape_.begin(), row_shape_.end());
    check_shape("RowCache", all, int64_t(sizeof(float)));  // throws when the size in bytes overflows
    row_bytes_ = size_t(inv::numel(row_shape_)) * sizeof(float);
    const int64_t bytes = rows * int64_t(row_bytes_);
    storage_ = resolve_row_storage(storage, bytes);
    if (storage_ == RowStorage::Memory) {
      memory_ = empty(all);
      return;
    }
    directory_ = directory.empty() ? default_temp_directory() : std::move(directory);
    fd_ = open_temporary(directory_);
    if (bytes > 0) {
      const int err = ::posix_fallocate(fd_, 0, off_t(bytes));
      // A file system that cannot reserve space (EOPNOTSUPP, EINVAL) still takes the writes.
      if (err != 0 && err != EOPNOTSUPP && err != EINVAL) {
        ::close(fd_);
        fd_ = -1;
        inv::detail::fail("RowCache: cannot reserve ", bytes, " bytes for a temporary file in '", directory_,
                          "': ", std::strerror(err));
      }
    }
  }
  ~RowCache() {
    if (fd_ >= 0) ::close(fd_);
  }
  RowCache(const RowCache&) = delete;
  RowCache& operator=(const RowCache&) = delete;

  /// Appends the rows of x (k, row_shape...), float32, after those already appended.
  /// Throws inv::Error, appending nothing, when x is not float32 of that shape, when more
  /// rows would be appended than the cache has room for, or when the file cannot be written.
  void append(const Tensor& x) {
    INV_CHECK(x.defined(), "RowCache::append: expected rows (k, ", join_shape(), "), got an undefined tensor");
    INV_CHECK(x.dtype() == kFloat32, "RowCache::append: expected float32 rows, got ", dtype_name(x.dtype()));
    INV_CHECK(x.dim() == int64_t(row_shape_.size()) + 1 && Shape(x.shape().begin() + 1, x.shape().end()) == row_shape_,
              "RowCache::append: expected rows (k, ", join_shape(), "), got ", to_string(x.shape()));
    const int64_t k = x.size(0);
    INV_CHECK(k <= rows_ - written_, "RowCache::append: ", k, " rows do not fit: ", written_, " of ", rows_,
              " rows are already written");
    const auto* src = reinterpret_cast<const uint8_t*>(x.data<float>());
    const size_t bytes = size_t(k) * row_bytes_;
    if (storage_ == RowStorage::Memory) {
      if (bytes > 0) std::memcpy(reinterpret_cast<uint8_t*>(memory_.data<float>()) + size_t(written_) * row_bytes_, src, bytes);
    } else {
      write_at(src, bytes, off_t(written_) * off_t(row_bytes_));
    }
    written_ += k;
  }

  /// The rows at `indices` (in that order, repeats allowed) as a new float32 tensor
  /// (indices.size(), row_shape...), bitwise as appended. Throws inv::Error naming the
  /// first index outside [0, written()), or when the file cannot be read.
  Tensor gather(const std::vector<int64_t>& indices) const {
    for (int64_t i : indices)
      INV_CHECK(i >= 0 && i < written_, "RowCache::gather: index ", i, " out of range [0, ", written_, ")",
                written_ < rows_ ? " (the rows appended so far)" : "");
    Shape shape{int64_t(indices.size())};
    shape.insert(shape.end(), row_shape_.begin(), row_shape_.end());
    Tensor out = empty(shape);
    if (indices.empty() || row_bytes_ == 0) return out;
    if (storage_ == RowStorage::Memory) {
      data_detail::gather_rows(reinterpret_cast<const uint8_t*>(memory_.data<float>()),
                               reinterpret_cast<uint8_t*>(out.data<float>()), indices, row_bytes_);
      return out;
    }
    auto* dst = reinterpret_cast<uint8_t*>(out.data<float>());
    for (size_t i = 0; i < indices.size();) {  // one read per run of consecutive indices
      size_t j = i + 1;
      while (j < indices.size() && indices[j] == indices[j - 1] + 1) ++j;
      read_at(dst + i * row_bytes_, (j - i) * row_bytes_, off_t(indices[i]) * off_t(row_bytes_));
      i = j;
    }
    return out;
  }

  int64_t capacity() const { return rows_; }
  int64_t written() const { return written_; }
  const Shape& row_shape() const { return row_shape_; }
  /// Memory or File (never Auto: resolved by the constructor).
  RowStorage storage() const { return storage_; }
  /// The size of all rows in bytes (in memory or on disk).
  int64_t bytes() const { return rows_ * int64_t(row_bytes_); }
  /// The directory of the temporary file (File), else empty.
  const std::string& directory() const { return directory_; }

 private:
  std::string join_shape() const {
    std::string s;
    for (size_t i = 0; i < row_shape_.size(); ++i) s += (i ? ", " : "") + std::to_string(row_shape_[i]);
    return s;
  }

  /// A file open for reading and writing that no name refers to. Throws inv::Error naming
  /// the directory.
  static int open_temporary(const std::string& dir) {
    struct stat st {};
    INV_CHECK(::stat(dir.c_str(), &st) == 0, "RowCache: cannot use '", dir, "' for a temporary file: ",
              std::strerror(errno));
    INV_CHECK(S_ISDIR(st.st_mode), "RowCache: cannot use '", dir, "' for a temporary file: it is not a directory");
#ifdef O_TMPFILE
    const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    // File systems without O_TMPFILE: a named file, unlinked at once.
#endif
    std::string name = dir + (dir.back() == '/' ? "" : "/") + "inv-rows-XXXXXX";
    const int named = ::mkstemp(name.data());
    INV_CHECK(named >= 0, "RowCache: cannot create a temporary file in '", dir, "': ", std::strerror(errno));
    ::unlink(name.c_str());
    ::fcntl(named, F_SETFD, FD_CLOEXEC);
    return named;
  }

  void write_at(const uint8_t* p, size_t n, off_t at) const {
    size_t done = 0;
    while (done < n) {
      const ssize_t w = ::pwrite(fd_, p + done, n - done, at + off_t(done));
      if (w < 0 && errno == EINTR) continue;
      INV_CHECK(w > 0, "RowCache: cannot write ", n, " bytes at offset ", int64_t(at),
                " of the temporary file in '", directory_, "': ", w < 0 ? std::strerror(errno) : "nothing written");
      done += size_t(w);
    }
  }

  void read_at(uint8_t* p, size_t n, off_t at) const {
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, p + done, n - done, at + off_t(done));
      if (r < 0 && errno == EINTR) continue;
      INV_CHECK(r > 0, "RowCache: cannot read ", n, " bytes at offset ", int64_t(at), " of the temporary file in '",
                directory_, "': ", r < 0 ? std::strerror(errno) : "the file ends early");
      done += size_t(r);
    }
  }

  int64_t rows_ = 0, written_ = 0;
  size_t row_bytes_ = 0;
  Shape row_shape_;
  RowStorage storage_ = RowStorage::Memory;
  Tensor memory_;          // Memory: (rows, row_shape...)
  std::string directory_;  // File
  int fd_ = -1;            // File
};

}  // namespace inv::data
