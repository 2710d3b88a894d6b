// inv/io/file.hpp: reading whole files and writing files atomically.
//
// Every file the library writes (checkpoints, reports, images, features) goes
// through write_file_atomic: the bytes go to a temporary file in the same
// directory, are flushed to disk, and the temporary is renamed over the target.
// An interrupted run leaves either the old file or the new one, never a torn one.
// Only a regular file (or nothing) is ever replaced: a destination that is a directory,
// a device such as /dev/null, a FIFO or a socket is refused before anything is written,
// because renaming over it would replace the device or FIFO with a regular file.
//
// Every reader that opens a file by path (checkpoints, .npy, images, IDX, CIFAR-10)
// goes through read_file, which names the path in its errors, e.g.
//   'data/train' is a directory, expected a file
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "inv/error.hpp"

namespace inv::io {

/// Bytes shown as a C-like string literal, printable ASCII as is and the rest as \xNN (the
/// error messages of the file parsers show with it what a file holds instead of a magic).
inline std::string quote_bytes(const uint8_t* p, size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
      out += static_cast<char>(p[i]);
    } else {
      out += "\\x";
      out += hex[p[i] >> 4];
      out += hex[p[i] & 15];
    }
  }
  return out + "\"";
}

/// "a directory", "a character device", ... for the type bits of a stat mode.
inline const char* file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISREG(mode)) return "a regular file";
  return "not a regular file";
}

/// Bytes read_file takes from a file that is not a regular file (a FIFO, /dev/stdin),
/// whose size is not known beforehand: /dev/zero would otherwise fill the memory.
constexpr size_t kMaxStreamBytes = size_t(1) << 30;

/// The whole file as bytes. Throws inv::Error naming the path when it cannot be opened or
/// read, or is a directory ("'X' is a directory, expected a file"). Other non-regular files
/// (a FIFO, /dev/stdin) are read to their end, and refused beyond max_stream_bytes.
inline std::vector<uint8_t> read_file(const std::string& path, size_t max_stream_bytes = kMaxStreamBytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  INV_CHECK(fd >= 0, "cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    const int err = errno;
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    INV_CHECK(!dir, "'", path, "' is a directory, expected a file");
    inv::detail::fail("cannot read '", path, "': ", std::strerror(err));
  }
  std::vector<uint8_t> bytes;
  if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<size_t>(st.st_size));
  uint8_t chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      inv::detail::fail("error reading '", path, "': ", std::strerror(err));
    }
    if (n == 0) break;
    if (!S_ISREG(st.st_mode) && bytes.size() + size_t(n) > max_stream_bytes) {
      ::close(fd);
      inv::detail::fail("'", path, "' is not a regular file and gave more than ", max_stream_bytes,
                        " bytes: expected a file");
    }
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  ::close(fd);
  return bytes;
}

/// True when `path` names an existing regular file.
inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// Writes `size` bytes to `path` atomically (temporary file, fsync, rename). Throws
/// inv::Error naming the path on any failure, the target then untouched, and before
/// writing anything when `path` exists and is not a regular file (a directory, a device,
/// a FIFO, ...; symbolic links are followed).
inline void write_file_atomic(const std::string& path, const void* data, size_t size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0)
    INV_CHECK(S_ISREG(st.st_mode), "cannot write '", path, "': it is ", file_type_name(st.st_mode),
              ", expected a regular file or a new name (only regular files are replaced)");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  INV_CHECK(fd >= 0, "cannot create '", tmp, "': ", std::strerror(errno));
  const auto* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, p + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      inv::detail::fail("cannot write '", tmp, "': ", std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    inv::detail::fail("cannot flush '", tmp, "': ", std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    inv::detail::fail("cannot rename '", tmp, "' to '", path, "': ", std::strerror(err));
  }
}

inline void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}
inline void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

/// Little-endian fixed-width encoding into a byte buffer (for the file formats).
class ByteWriter {
 public:
  template <class T>
  void put(T v) {
    static_assert(std::is_arithmetic_v<T>);
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // the library targets little-endian hosts (x86-64, AArch64)
    bytes_.insert(bytes_.end(), b, b + sizeof(T));
  }
  void put_bytes(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), c, c + n);
  }
  void put_string(const std::string& s) {
    put<uint32_t>(static_cast<uint32_t>(s.size()));
    put_bytes(s.data(), s.size());
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

/// Bounds-checked little-endian reader; every read past the end throws inv::Error
/// naming `what` (e.g. the file) and the offset.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, std::string what) : p_(data), n_(size), what_(std::move(what)) {}
  template <class T>
  T get(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  const uint8_t* get_bytes(size_t n, const char* field) {
    need(n, field);
    const uint8_t* q = p_ + pos_;
    pos_ += n;
    return q;
  }
  std::string get_string(const char* field, size_t max_len = 1 << 20) {
    const uint32_t len = get<uint32_t>(field);
    INV_CHECK(len <= max_len, what_, ": ", field, " length ", len, " at offset ", pos_ - 4, " exceeds the limit ",
              max_len, " (corrupt file?)");
    const uint8_t* q = get_bytes(len, field);
    return std::string(reinterpret_cast<const char*>(q), len);
  }
  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }

 private:
  void need(size_t k, const char* field) const {
    INV_CHECK(k <= n_ - pos_, what_, ": truncated, expected ", k, " more bytes for ", field, " at offset ", pos_,
              ", found ", n_ - pos_);
  }
  const uint8_t* p_;
  size_t n_, pos_ = 0;
  std::string what_;
};

}  // namespace inv::io
