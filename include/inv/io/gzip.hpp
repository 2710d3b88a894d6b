// inv/io/gzip.hpp: reading gzip files (RFC 1952), as the MNIST downloads are.
//
// A gzip file is one or more members, each a header, a raw deflate stream
// (RFC 1951) and an 8-byte trailer: CRC-32 and size (mod 2^32) of the
// decompressed data, little-endian. The header is parsed here, the deflate
// stream is inflated by zlib (Debian's zlib1g-dev; link -lz, CMake ZLIB::ZLIB, which
// inv::inv carries), and every trailer is verified.
//
// The rules, for files that may be hostile:
// - The trailer must follow its deflate stream directly, and after it comes either
//   the end of the file or another whole, valid member (`cat a.gz b.gz`, decoded into
//   one byte string as gzip -d does). Any other trailing bytes are an error.
// - The output is capped (max_bytes, default kMaxGunzipBytes). Inflation streams, so a
//   gzip bomb is refused as soon as its output passes the cap, holding at most about
//   the cap in memory.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "inv/error.hpp"
#include "inv/io/crc32.hpp"
#include "inv/io/file.hpp"

namespace inv {
namespace detail {

/// v as "0x" and `digits` lower-case hex digits, zero-padded: to_hex(0x803, 8) = "0x00000803".
inline std::string to_hex(uint32_t v, int digits) {
  std::ostringstream os;
  os << "0x" << std::hex << std::setw(digits) << std::setfill('0') << v;
  return os.str();
}

}  // namespace detail

namespace io {

/// True when `bytes` starts with the gzip magic 1f 8b.
inline bool is_gzip(const uint8_t* bytes, size_t size) { return size >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B; }
inline bool is_gzip(const std::vector<uint8_t>& bytes) { return is_gzip(bytes.data(), bytes.size()); }

namespace gzip_detail {

inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

/// Parses the member header starting at `start`; returns the offset of its deflate data.
inline size_t parse_gzip_header(const std::vector<uint8_t>& gz, size_t start, const std::string& what) {
  enum : uint8_t { FTEXT = 1, FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16 };
  ByteReader r(gz.data(), gz.size(), what);
  r.get_bytes(start, "the previous member");
  const uint8_t* id = r.get_bytes(2, "gzip magic");
  INV_CHECK(id[0] == 0x1F && id[1] == 0x8B, what, ": not a gzip file, expected magic 1f 8b at offset ", start,
            ", found ", inv::detail::to_hex(id[0], 2), " ", inv::detail::to_hex(id[1], 2));
  const uint8_t method = r.get<uint8_t>("gzip compression method");
  INV_CHECK(method == 8, what, ": unsupported gzip compression method ", int(method), " at offset ", start + 2,
            " (expected 8, deflate)");
  const uint8_t flags = r.get<uint8_t>("gzip flags");
  INV_CHECK((flags & 0xE0) == 0, what, ": gzip header at offset ", start,
            " has reserved flag bits set (FLG = ", int(flags), ")");
  r.get_bytes(6, "gzip MTIME/XFL/OS");
  if (flags & FEXTRA) {
    const uint16_t xlen = r.get<uint16_t>("gzip XLEN");
    r.get_bytes(xlen, "gzip extra field");
  }
  for (uint8_t field : {FNAME, FCOMMENT}) {
    if (!(flags & field)) continue;
    const char* name = field == FNAME ? "gzip file name" : "gzip comment";
    while (r.get<uint8_t>(name) != 0) {
    }
  }
  if (flags & FHCRC) {
    const uint32_t expected = crc32(gz.data() + start, r.pos() - start) & 0xFFFF;
    const uint16_t found = r.get<uint16_t>("gzip header CRC16");
    INV_CHECK(found == expected, what, ": gzip header CRC16 mismatch at offset ", r.pos() - 2, ": stored ",
              inv::detail::to_hex(found, 4), ", computed ", inv::detail::to_hex(expected, 4), " (corrupt header)");
  }
  return r.pos();
}

/// Inflates the member starting at `start`, appends its output to `out` (which may grow
/// to at most max_bytes) and returns the offset just past its trailer.
inline size_t gunzip_member(const std::vector<uint8_t>& gz, size_t start, int member, const std::string& what,
                            size_t max_bytes, std::vector<uint8_t>& out) {
  const size_t data = parse_gzip_header(gz, start, what);
  const size_t first_out = out.size();
  z_stream z{};
  INV_CHECK(inflateInit2(&z, -MAX_WBITS) == Z_OK, what, ": zlib could not start inflating (out of memory)");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  std::vector<uint8_t> chunk(size_t(1) << 16);
  size_t in = data;  // the next input byte not yet given to zlib
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    if (z.avail_in == 0) {
      const size_t n = std::min<size_t>(gz.size() - in, size_t(1) << 30);
      z.next_in = const_cast<Bytef*>(gz.data() + in);  // zlib does not write through next_in
      z.avail_in = static_cast<uInt>(n);
      in += n;
    }
    z.next_out = chunk.data();
    z.avail_out = static_cast<uInt>(chunk.size());
    status = inflate(&z, Z_NO_FLUSH);
    const size_t produced = chunk.size() - z.avail_out;
    if (status == Z_BUF_ERROR && z.avail_in == 0 && in == gz.size())
      inv::detail::fail(what, ": gzip member ", member, " is truncated or corrupt: its deflate data at offset ", data,
                        " ends before the end of the stream (", out.size() - first_out + produced,
                        " bytes inflated)");
    INV_CHECK(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR, what, ": gzip member ", member,
              ": deflate data at offset ", data, " is truncated or corrupt (inflate failed: ",
              z.msg ? z.msg : zError(status), ")");
    INV_CHECK(produced <= max_bytes - out.size(), what, ": gzip data inflates to more than ", max_bytes,
              " bytes, the limit (a damaged file or a decompression bomb; pass a larger max_bytes to read it)");
    out.insert(out.end(), chunk.data(), chunk.data() + produced);
  }
  const size_t trailer = in - z.avail_in;  // the first byte after the deflate stream
  const uint32_t crc = crc32(out.data() + first_out, out.size() - first_out);
  const uint32_t size = static_cast<uint32_t>(out.size() - first_out);
  INV_CHECK(gz.size() - trailer >= 8, what, ": gzip member ", member, " is truncated or corrupt: its 8-byte trailer ",
            "at offset ", trailer, " is cut off after ", gz.size() - trailer, " bytes");
  const uint32_t stored_crc = load_le32(gz.data() + trailer), stored_size = load_le32(gz.data() + trailer + 4);
  INV_CHECK(stored_crc == crc && stored_size == size, what, ": gzip member ", member,
            " is truncated or corrupt: its data inflates to ", size, " bytes (mod 2^32) with CRC32 ",
            inv::detail::to_hex(crc, 8), ", but its trailer at offset ", trailer, " gives CRC32 ",
            inv::detail::to_hex(stored_crc, 8), " and size ", stored_size);
  const size_t next = trailer + 8;
  INV_CHECK(next == gz.size() || is_gzip(gz.data() + next, gz.size() - next), what, ": ", gz.size() - next,
            " trailing bytes after gzip member ", member, " (offset ", next, ") are not another gzip member");
  return next;
}

}  // namespace gzip_detail

/// The most bytes gunzip inflates by default: above the largest gzip file inv reads
/// (the MNIST-style training sets inflate to about 47 MB), far below a bomb's output.
constexpr size_t kMaxGunzipBytes = size_t(1) << 30;  // 1 GiB

/// Decompresses a gzip file held in memory (RFC 1952): parses each member's header
/// (magic 1f 8b, method 8, optional FEXTRA/FNAME/FCOMMENT fields, FHCRC checked when
/// present), inflates it with zlib and checks the trailer's CRC-32 and size. Concatenated
/// members are decoded one after the other into one output of at most max_bytes bytes.
/// Throws inv::Error naming `what` (usually the file path) and the problem: not gzip,
/// unsupported method, reserved flags, truncated header, corrupt or truncated deflate
/// data, CRC-32/size mismatch, trailing bytes that are not another member, or output
/// beyond max_bytes (thrown as soon as the output passes it).
inline std::vector<uint8_t> gunzip(const std::vector<uint8_t>& gz, const std::string& what,
                                   size_t max_bytes = kMaxGunzipBytes) {
  if (!is_gzip(gz)) {
    INV_CHECK(gz.size() >= 2, what, ": not a gzip file (", gz.size(), " bytes, expected magic 1f 8b)");
    gzip_detail::parse_gzip_header(gz, 0, what);  // throws the "expected magic" message
  }
  // The last 4 bytes give the output size of a single-member file mod 2^32: a first
  // reservation, never beyond the cap nor beyond what the input can inflate to
  // (deflate's largest ratio is 1032:1), so a lying size field costs nothing.
  std::vector<uint8_t> out;
  try {
    if (gz.size() >= 18) {
      const uint64_t can_inflate = uint64_t(gz.size()) * 1032;
      out.reserve(static_cast<size_t>(std::min<uint64_t>(
          {gzip_detail::load_le32(gz.data() + gz.size() - 4), uint64_t(max_bytes), can_inflate})));
    }
    size_t pos = 0;
    for (int member = 1; pos < gz.size(); ++member)
      pos = gzip_detail::gunzip_member(gz, pos, member, what, max_bytes, out);
  } catch (const std::bad_alloc&) {
    inv::detail::fail(what, ": out of memory after inflating ", out.size(), " bytes of gzip data");
  }
  return out;
}

/// The contents of the file at `path`, decompressed when it starts with the gzip magic
/// and returned as is otherwise (inflating at most max_bytes). Throws inv::Error naming
/// the path (see gunzip).
inline std::vector<uint8_t> read_maybe_gzip(const std::string& path, size_t max_bytes = kMaxGunzipBytes) {
  std::vector<uint8_t> bytes = read_file(path);
  return is_gzip(bytes) ? gunzip(bytes, path, max_bytes) : bytes;
}

}  // namespace io
}  // namespace inv
