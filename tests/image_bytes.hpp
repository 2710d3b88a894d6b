// tests/image_bytes.hpp: image files built byte by byte, for the readers' error tests,
// and PNG and JPEG files written by libpng and libjpeg themselves (every PNG colour type,
// bit depth and interlacing; baseline, progressive and grey JPEG), so that the decoder
// is tested on files it did not write.
#pragma once

#include <png.h>
// jpeglib.h needs FILE and size_t declared before it.
#include <cstdio>
#include <jpeglib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <inv/io/crc32.hpp>

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

/// Appends a PNG chunk (length, type, data, CRC-32 over type and data).
inline void png_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  auto be32 = [&](uint32_t v) {
    for (int k = 3; k >= 0; --k) out.push_back(uint8_t(v >> (8 * k)));
  };
  be32(uint32_t(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  be32(inv::io::crc32(out.data() + start, out.size() - start));
}

/// A PNG signature and a valid IHDR chunk for a w × h 8-bit RGB image, and nothing else.
inline std::vector<uint8_t> png_header_only(uint32_t w, uint32_t h) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  for (uint32_t v : {w, h})
    for (int k = 3; k >= 0; --k) ihdr.push_back(uint8_t(v >> (8 * k)));
  for (uint8_t b : {8, 2, 0, 0, 0}) ihdr.push_back(b);  // depth 8, RGB, deflate, filter 0, no interlace
  png_chunk(png, "IHDR", ihdr);
  return png;
}

/// The headers of a JPEG of a w × h grey image, without tables or data: SOI, a baseline
/// frame header (SOF0) and a scan header (SOS), which is where a decoder's header reading ends.
inline std::vector<uint8_t> jpeg_header_only(uint16_t w, uint16_t h) {
  return {0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, uint8_t(h >> 8), uint8_t(h), uint8_t(w >> 8), uint8_t(w), 1, 1, 0x11, 0,
          0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0};
}

/// Optional parts of a PNG written by png_bytes.
struct PngOptions {
  int bit_depth = 8;
  bool interlace = false;
  std::vector<png_color> palette;  // for PNG_COLOR_TYPE_PALETTE
  std::vector<uint8_t> trns;       // palette alphas, for PNG_COLOR_TYPE_PALETTE
};

/// A PNG written by libpng: w × h pixels of `color_type` (PNG_COLOR_TYPE_*) from `rows`,
/// the packed bytes of each row as libpng takes them (16-bit samples big-endian, 1/2/4-bit
/// pixels packed from the high bits).
inline std::vector<uint8_t> png_bytes(uint32_t w, uint32_t h, int color_type, const std::vector<std::vector<uint8_t>>& rows,
                                      const PngOptions& o = {}) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) std::abort();  // the tests write only valid images
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, size_t n) {
        auto* v = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p));
        v->insert(v->end(), data, data + n);
      },
      nullptr);
  png_set_IHDR(png, info, w, h, o.bit_depth, color_type, o.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!o.palette.empty()) png_set_PLTE(png, info, o.palette.data(), int(o.palette.size()));
  if (!o.trns.empty()) png_set_tRNS(png, info, o.trns.data(), int(o.trns.size()), nullptr);
  std::vector<png_bytep> row_pointers;
  for (const auto& r : rows) row_pointers.push_back(const_cast<png_bytep>(r.data()));
  png_set_rows(png, info, row_pointers.data());
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

/// A JPEG written by libjpeg: w × h pixels of `components` (1 = grey, 3 = RGB) interleaved
/// 8-bit samples, at `quality`, baseline or progressive.
inline std::vector<uint8_t> jpeg_bytes(int w, int h, int components, const std::vector<uint8_t>& pixels, int quality = 90,
                                       bool progressive = false) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buffer, &size);
  c.image_width = JDIMENSION(w);
  c.image_height = JDIMENSION(h);
  c.input_components = components;
  c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.data() + size_t(c.next_scanline) * size_t(w * components));
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

}  // namespace inv::testing
