// inv/io/file.hpp: reading whole files and writing files atomically.
//
// Every file the library writes (checkpoints, reports, images, features) goes
// through write_file_atomic: the bytes go to a temporary file in the same
// directory, are flushed to disk, and the temporary is renamed over the target.
// An interrupted run leaves either the old file or the new one, never a torn one.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "inv/error.hpp"

namespace inv::io {

/// The whole file as bytes. Throws inv::Error naming the path when it cannot be read.
inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  INV_CHECK(f.good(), "cannot open '", path, "': ", std::strerror(errno));
  const std::streamoff size = f.tellg();
  INV_CHECK(size >= 0, "cannot read '", path, "'");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  f.seekg(0);
  if (size > 0) f.read(reinterpret_cast<char*>(bytes.data()), size);
  INV_CHECK(f.good() || f.eof(), "error reading '", path, "'");
  return bytes;
}

/// True when `path` names an existing regular file.
inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// Writes `size` bytes to `path` atomically (temporary file, fsync, rename).
/// Throws inv::Error naming the path on any failure; the target is then untouched.
inline void write_file_atomic(const std::string& path, const void* data, size_t size) {
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
