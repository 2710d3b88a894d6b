// inv/io/crc32.hpp: the CRC-32 checksum of gzip, PNG and zlib (ISO 3309 / ITU-T V.42).
//
// Reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF, so
// crc32("123456789") = 0xCBF43926. Computed with slicing-by-8 tables (eight bytes
// per step, about 1-2 GB/s), which gives the same values as the byte-at-a-time
// textbook loop (RFC 1952, section 8).
#pragma once

#include <cstddef>
#include <cstdint>

namespace inv {
namespace detail {

/// t[k][b]: the CRC register after feeding byte b followed by k zero bytes.
/// (A plain array, so that unoptimised sanitizer builds index it without calls.)
struct Crc32Tables {
  uint32_t t[8][256];
  Crc32Tables() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; ++b)
      for (size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
};

inline const Crc32Tables& crc32_tables() {
  static const Crc32Tables tables;
  return tables;
}

}  // namespace detail

namespace io {

/// CRC-32 of `size` bytes at `data`. Pass the CRC of the preceding bytes as `seed`
/// to continue a running checksum: crc32(b, n, crc32(a, m)) is the CRC of a followed
/// by b (the zlib crc32() convention; seed 0 starts a new checksum).
inline uint32_t crc32(const uint8_t* data, size_t size, uint32_t seed = 0) {
  const auto& t = inv::detail::crc32_tables().t;
  uint32_t c = ~seed;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const uint32_t lo = c ^ (uint32_t(data[i]) | uint32_t(data[i + 1]) << 8 | uint32_t(data[i + 2]) << 16 |
                             uint32_t(data[i + 3]) << 24);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][data[i + 4]] ^
        t[2][data[i + 5]] ^ t[1][data[i + 6]] ^ t[0][data[i + 7]];
  }
  for (; i < size; ++i) c = t[0][(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return ~c;
}

}  // namespace io
}  // namespace inv
