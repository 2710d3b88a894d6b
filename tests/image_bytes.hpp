// tests/image_bytes.hpp: image files built byte by byte, for the readers' error tests.
#pragma once

#include <cstdint>
#include <vector>

namespace inv::testing {

/// A 54-byte BMP: the file and info headers of a w × h, 24-bit image, and no pixels.
inline std::vector<uint8_t> bmp_header_only(uint32_t w, uint32_t h) {
  std::vector<uint8_t> bmp(54, 0);
  auto le32 = [&](size_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) bmp[at + size_t(k)] = uint8_t(v >> (8 * k));
  };
  bmp[0] = 'B', bmp[1] = 'M';
  le32(2, 54), le32(10, 54), le32(14, 40), le32(18, w), le32(22, h), le32(26, 1 | (24 << 16));
  return bmp;
}

}  // namespace inv::testing
