// inv/io/gzip.hpp: reading gzip files (RFC 1952), as the MNIST downloads are.
//
// A gzip file is one or more members, each a header, a raw deflate stream
// (RFC 1951) and an 8-byte trailer: CRC-32 and size (mod 2^32) of the
// decompressed data, little-endian. The header is parsed here, the deflate
// stream is inflated by stb_image's zlib decoder (Debian's libstb; the library
// has no zlib dependency), and every trailer is verified.
//
// stb's inflate does not report where the deflate stream ended, so the trailer
// is located by its content: after inflating member k, the next 8 bytes equal to
// (CRC-32, size) of its output and followed by the end of the file or by the next
// member's magic are taken as its trailer. A false match needs a 64-bit collision
// inside the compressed data. Concatenated members (`cat a.gz b.gz`) are decoded
// into one byte string, as gzip -d does; any other trailing bytes are an error.
//
// Limit: stb's decoder takes int sizes, so inputs and outputs must stay below 2 GiB.
#pragma once

#include <stb_image.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <memory>
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

/// Position of the first 8 bytes (crc, size) at or after `from`, little-endian; with
/// `at_boundary`, only a match followed by the end of the data or by a gzip magic counts.
/// gz.size() when there is none.
inline size_t find_trailer(const std::vector<uint8_t>& gz, size_t from, uint32_t crc, uint32_t size, bool at_boundary) {
  uint8_t pattern[8];
  for (int k = 0; k < 4; ++k) {
    pattern[k] = uint8_t(crc >> (8 * k));
    pattern[4 + k] = uint8_t(size >> (8 * k));
  }
  const size_t n = gz.size();
  for (size_t t = from; t + 8 <= n; ++t) {
    const void* hit = std::memchr(gz.data() + t, pattern[0], n - 8 - t + 1);
    if (!hit) break;
    t = static_cast<size_t>(static_cast<const uint8_t*>(hit) - gz.data());
    if (std::memcmp(gz.data() + t, pattern, 8) != 0) continue;
    const size_t end = t + 8;
    if (!at_boundary || end == n || is_gzip(gz.data() + end, n - end)) return t;
  }
  return n;
}

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

/// Inflates the member starting at `start`, appends its output to `out` and returns
/// the offset just past its trailer.
inline size_t gunzip_member(const std::vector<uint8_t>& gz, size_t start, int member, const std::string& what,
                            std::vector<uint8_t>& out) {
  const size_t data = parse_gzip_header(gz, start, what);
  const size_t avail = gz.size() - data;
  INV_CHECK(avail >= 10, what, ": gzip member ", member, " is truncated: ", avail,
            " bytes after its header, at least 10 needed (compressed data and the 8-byte trailer)");
  // The file's last 4 bytes are the output size of a single-member file: a good first
  // buffer size. Capped by deflate's maximum ratio (1032:1) so a corrupt value cannot
  // ask for an absurd allocation.
  const uint64_t tail_size = load_le32(gz.data() + gz.size() - 4);
  const uint64_t cap = std::min<uint64_t>(uint64_t(avail) * 1032 + 1024, INT_MAX);
  const int guess = static_cast<int>(std::max<uint64_t>(1, std::min(tail_size, cap)));
  int out_len = 0;
  std::unique_ptr<char, FreeDeleter> inflated(stbi_zlib_decode_malloc_guesssize_headerflag(
      reinterpret_cast<const char*>(gz.data() + data), static_cast<int>(avail), guess, &out_len, 0));
  if (!inflated) {
    const char* reason = stbi_failure_reason();
    inv::detail::fail(what, ": gzip member ", member, ": deflate data at offset ", data,
                      " is truncated or corrupt (inflate failed: ", reason ? reason : "unknown error", ")");
  }
  INV_CHECK(out_len >= 0, what, ": gzip member ", member, " inflates to 2 GiB or more (too large)");
  const auto* bytes = reinterpret_cast<const uint8_t*>(inflated.get());
  const uint32_t crc = crc32(bytes, static_cast<size_t>(out_len));
  const uint32_t size = static_cast<uint32_t>(out_len);
  const size_t trailer = find_trailer(gz, data + 1, crc, size, true);
  if (trailer == gz.size()) {
    const size_t loose = find_trailer(gz, data + 1, crc, size, false);
    INV_CHECK(loose == gz.size(), what, ": ", gz.size() - loose - 8, " trailing bytes after gzip member ", member,
              " (offset ", loose + 8, ") are not another gzip member");
    const uint8_t* last = gz.data() + gz.size() - 8;
    inv::detail::fail(what, ": gzip member ", member, " is truncated or corrupt: its data inflates to ", out_len,
                      " bytes with CRC32 ", inv::detail::to_hex(crc, 8),
                      ", but no trailer with that CRC32 and size follows (the last 8 "
                      "bytes of the file give CRC32 ",
                      inv::detail::to_hex(load_le32(last), 8), " and size ", load_le32(last + 4), ")");
  }
  out.insert(out.end(), bytes, bytes + out_len);
  return trailer + 8;
}

}  // namespace gzip_detail

/// Decompresses a gzip file held in memory (RFC 1952): parses each member's header
/// (magic 1f 8b, method 8, optional FEXTRA/FNAME/FCOMMENT fields, FHCRC checked when
/// present), inflates it with stb's zlib decoder and checks the trailer's CRC-32 and
/// size. Concatenated members are decoded one after the other into one output.
/// Throws inv::Error naming `what` (usually the file path) and the problem: not gzip,
/// unsupported method, reserved flags, truncated header, corrupt or truncated deflate
/// data, CRC-32/size mismatch, trailing bytes that are not another member, or an
/// input of 2 GiB or more.
inline std::vector<uint8_t> gunzip(const std::vector<uint8_t>& gz, const std::string& what) {
  INV_CHECK(gz.size() < size_t(INT_MAX), what, ": gzip input of ", gz.size(),
            " bytes is too large (the inflater takes at most 2 GiB)");
  if (!is_gzip(gz)) {
    INV_CHECK(gz.size() >= 2, what, ": not a gzip file (", gz.size(), " bytes, expected magic 1f 8b)");
    gzip_detail::parse_gzip_header(gz, 0, what);  // throws the "expected magic" message
  }
  std::vector<uint8_t> out;
  size_t pos = 0;
  for (int member = 1; pos < gz.size(); ++member) {
    pos = gzip_detail::gunzip_member(gz, pos, member, what, out);
  }
  INV_CHECK(out.size() < size_t(INT_MAX), what, ": decompressed data of ", out.size(),
            " bytes is too large (at most 2 GiB)");
  return out;
}

/// The contents of the file at `path`, decompressed when it starts with the gzip magic
/// and returned as is otherwise. Throws inv::Error naming the path (see gunzip).
inline std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return is_gzip(bytes) ? gunzip(bytes, path) : bytes;
}

}  // namespace io
}  // namespace inv
