// inv/io/image_decode.hpp: reading PNG and JPEG images, which come from other people
// and are hostile until checked.
//
// Needs libpng and libjpeg-turbo (Debian's libpng-dev and libjpeg62-turbo-dev; the CMake
// target inv::image links them). PNG is decoded by libpng, JPEG by libjpeg-turbo: both are
// fuzzed continuously (OSS-Fuzz) and are what most software, Pillow and so PyTorch's
// data loaders among them, decodes with. Other formats (BMP, GIF, TIFF, WebP, PNM, TGA,
// ...) are refused with an inv::Error naming the format.
//
// The rules of decode_image:
// - The header is read first, and an image that claims more than kMaxImagePixels pixels
//   is refused before any pixel buffer is allocated.
// - Every byte of pixel data must be there: a truncated file is an error, never an image
//   with the missing part filled in. libpng's errors and libjpeg's corrupt-data warnings
//   ("premature end of JPEG file", "bad Huffman code", ...) are inv::Errors.
// - A progressive JPEG may have at most kMaxJpegScans scans (a few hundred bytes of scans
//   can otherwise keep the decoder busy for minutes), and libjpeg may use at most
//   kMaxJpegMemory bytes.
// - Values are byte / 255 in [0, 1]; 16-bit PNG samples keep their high byte (v >> 8).
// - Channels, as torchvision's ImageFolder loader (Pillow's convert("RGB"), then
//   convert("L") for grey) gives them: grey images are replicated to RGB; RGB pixels
//   are turned to grey by ITU-R 601-2 luma in Pillow's fixed point,
//   (19595·R + 38470·G + 7471·B + 32768) >> 16, for PNG and JPEG alike; alpha is
//   dropped, not composited.
// - JPEG is decoded with libjpeg's defaults (accurate integer IDCT, fancy upsampling),
//   as Pillow does, so the pixels equal what a PyTorch user's loader sees.
#pragma once

#include <png.h>
// jpeglib.h needs FILE and size_t declared before it.
#include <csetjmp>
#include <cstdio>
#include <jerror.h>
#include <jpeglib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "inv/error.hpp"
#include "inv/io/file.hpp"
#include "inv/tensor.hpp"

namespace inv::io {

/// Pixels (width × height) above which an image is refused before it is decoded: a few
/// bytes of header can claim 20000 × 20000 pixels.
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;  // 8192 × 8192

/// Scans a progressive JPEG may have (libjpeg-turbo's fuzzers and tools use a few hundred).
constexpr int kMaxJpegScans = 500;

/// Bytes libjpeg may allocate while decoding one image (an 8192 × 8192 progressive
/// colour JPEG needs about 400 MB of coefficients).
constexpr long kMaxJpegMemory = 640L << 20;

/// The format of an image file from its first bytes: "PNG", "JPEG", the name of a format
/// inv does not read ("BMP", "GIF", "TIFF", "WebP", "PNM", "PSD", "Radiance HDR", "QOI",
/// "JPEG 2000", "ICO"), or "" when none matches (TGA, for one, has no signature).
inline std::string image_format(const uint8_t* b, size_t n) {
  auto starts = [&](const char* magic, size_t len) { return n >= len && std::memcmp(b, magic, len) == 0; };
  if (starts("\x89PNG\r\n\x1a\n", 8)) return "PNG";
  if (starts("\xFF\xD8\xFF", 3)) return "JPEG";
  if (starts("BM", 2)) return "BMP";
  if (starts("GIF87a", 6) || starts("GIF89a", 6)) return "GIF";
  if (starts("II*\0", 4) || starts("MM\0*", 4)) return "TIFF";
  if (n >= 12 && starts("RIFF", 4) && std::memcmp(b + 8, "WEBP", 4) == 0) return "WebP";
  if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') return "PNM";
  if (starts("8BPS", 4)) return "PSD";
  if (starts("#?RADIANCE", 10) || starts("#?RGBE", 6)) return "Radiance HDR";
  if (starts("qoif", 4)) return "QOI";
  if (starts("\0\0\0\x0CjP  ", 8) || starts("\xFF\x4F\xFF\x51", 4)) return "JPEG 2000";
  if (starts("\0\0\1\0", 4)) return "ICO";
  return "";
}

namespace image_detail {

/// Decoded pixels before conversion: `channels` (1 = grey, 3 = RGB) interleaved samples
/// of `bit_depth` bits (8, or 16 stored big-endian), row after row.
struct RawImage {
  int64_t height = 0, width = 0;
  int channels = 0, bit_depth = 8;
  std::vector<uint8_t> samples;
};

/// Room for the error message of a C decoder, filled before it jumps back.
struct DecodeError {
  char message[JMSG_LENGTH_MAX > 256 ? JMSG_LENGTH_MAX : 256] = {0};
};

/// Resizes `v` to n bytes; returns false (with the message set) when that memory cannot
/// be had, so that the decoders below can clean up and report it.
inline bool allocate_samples(std::vector<uint8_t>& v, size_t n, DecodeError& err) {
  try {
    v.resize(n);
    return true;
  } catch (const std::bad_alloc&) {
    std::snprintf(err.message, sizeof err.message, "cannot allocate %zu bytes for the pixels", n);
    return false;
  }
}

inline bool too_many_pixels(uint64_t w, uint64_t h, DecodeError& err) {
  if (w == 0 || h == 0 || w * h > static_cast<uint64_t>(kMaxImagePixels)) {
    std::snprintf(err.message, sizeof err.message,
                  "the image header claims %llu x %llu pixels, more than the %lld (8192 x 8192) inv reads",
                  static_cast<unsigned long long>(w), static_cast<unsigned long long>(h),
                  static_cast<long long>(kMaxImagePixels));
    return true;
  }
  return false;
}

// ---- PNG (libpng) ----
// libpng reports errors by longjmp. decode_png's frame therefore holds only trivially
// destructible locals; the pixel buffer lives in the caller's RawImage.

struct PngSource {
  const uint8_t* data;
  size_t size, pos;
};

inline void png_read_from_memory(png_structp png, png_bytep out, size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) png_error(png, "unexpected end of file (the PNG is truncated)");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

inline void png_on_error(png_structp png, png_const_charp message) {
  auto* err = static_cast<DecodeError*>(png_get_error_ptr(png));
  std::snprintf(err->message, sizeof err->message, "%s", message);
  png_longjmp(png, 1);
}

// libpng warns of things that leave the pixels intact (a bad ancillary chunk, which it
// then ignores; an sRGB profile it does not like): not an error.
inline void png_on_warning(png_structp, png_const_charp) {}

/// Decodes a PNG into `out` as grey or RGB samples (alpha stripped, palettes expanded,
/// 1/2/4-bit grey scaled to 8 bits, 16-bit samples kept). Returns false with err set on
/// any libpng error, on truncation and on an image over kMaxImagePixels.
inline bool decode_png(const uint8_t* data, size_t size, RawImage& out, DecodeError& err) {
  // The IHDR chunk comes first (bytes 8-32): check the size it claims before libpng reads on.
  if (size >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0) {
    auto be32 = [&](size_t at) {
      return uint32_t(data[at]) << 24 | uint32_t(data[at + 1]) << 16 | uint32_t(data[at + 2]) << 8 | data[at + 3];
    };
    if (too_many_pixels(be32(16), be32(20), err)) return false;
  }
  PngSource src{data, size, 0};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_on_error, png_on_warning);
  if (!png) {
    std::snprintf(err.message, sizeof err.message, "libpng could not start");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(err.message, sizeof err.message, "libpng could not start");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, &src, png_read_from_memory);
  png_set_user_limits(png, 1u << 24, 1u << 24);  // the pixel cap below is the real limit
  png_set_chunk_malloc_max(png, 8u << 20);         // ancillary chunks (text, ICC) up to 8 MB
  png_read_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if (too_many_pixels(w, h, err)) {  // checked from the IHDR bytes already; kept for any other path
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  const int color_type = png_get_color_type(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_alpha(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out.width = w;
  out.height = h;
  out.channels = png_get_channels(png, info);
  out.bit_depth = png_get_bit_depth(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if ((out.channels != 1 && out.channels != 3) || (out.bit_depth != 8 && out.bit_depth != 16) ||
      row_bytes != static_cast<size_t>(w) * out.channels * (out.bit_depth / 8)) {
    std::snprintf(err.message, sizeof err.message, "unexpected PNG layout (%d channels of %d bits)", out.channels,
                  out.bit_depth);
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  if (!allocate_samples(out.samples, row_bytes * h, err)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  for (int pass = 0; pass < passes; ++pass)
    for (png_uint_32 y = 0; y < h; ++y) png_read_row(png, out.samples.data() + y * row_bytes, nullptr);
  png_read_end(png, nullptr);  // reads up to IEND: a file cut after its last IDAT is truncated too
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// ---- JPEG (libjpeg-turbo) ----

struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  DecodeError* err;
};

struct JpegProgress {
  jpeg_progress_mgr base;
  JpegErrorManager* errors;
};

[[noreturn]] inline void jpeg_on_error(j_common_ptr cinfo) {
  auto* m = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, m->err->message);
  std::longjmp(m->jump, 1);
}

/// libjpeg's warnings (level -1) are mostly corrupt data that it would decode around
/// ("premature end of JPEG file", "bad Huffman code"): those are errors here. Only the
/// warnings that leave the pixels intact pass: bytes before a marker, an unknown JFIF
/// revision, a bad ICC marker (the profile is not used).
inline void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  const int code = cinfo->err->msg_code;
  if (code == JWRN_EXTRANEOUS_DATA || code == JWRN_JFIF_MAJOR || code == JWRN_BOGUS_ICC) return;
  jpeg_on_error(cinfo);
}

inline void jpeg_on_progress(j_common_ptr cinfo) {
  auto* p = reinterpret_cast<JpegProgress*>(cinfo->progress);
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxJpegScans) {
    std::snprintf(p->errors->err->message, sizeof p->errors->err->message,
                  "the JPEG has more than %d scans (a progressive JPEG normally has about 10)", kMaxJpegScans);
    std::longjmp(p->errors->jump, 1);
  }
}

/// Decodes a JPEG into `out` as 8-bit grey (a one-component JPEG) or RGB samples. Returns
/// false with err set on any libjpeg error or corrupt-data warning, on a CMYK/YCCK image,
/// on more than kMaxJpegScans scans and on an image over kMaxImagePixels.
inline bool decode_jpeg(const uint8_t* data, size_t size, RawImage& out, DecodeError& err) {
  jpeg_decompress_struct cinfo{};
  JpegErrorManager errors{};
  JpegProgress progress{};
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = jpeg_on_error;
  errors.base.emit_message = jpeg_on_message;
  errors.err = &err;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.mem->max_memory_to_use = kMaxJpegMemory;
  progress.base.progress_monitor = jpeg_on_progress;
  progress.errors = &errors;
  cinfo.progress = &progress.base;
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (too_many_pixels(cinfo.image_width, cinfo.image_height, err)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    std::snprintf(err.message, sizeof err.message, "CMYK JPEG images are not read (convert the image to RGB)");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  out.width = cinfo.output_width;
  out.height = cinfo.output_height;
  out.channels = cinfo.output_components;
  out.bit_depth = 8;
  const size_t row_bytes = static_cast<size_t>(out.width) * out.channels;
  if (!allocate_samples(out.samples, row_bytes * out.height, err)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.samples.data() + cinfo.output_scanline * row_bytes;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);  // reads to EOI: a file cut after its last scan is truncated too
  jpeg_destroy_decompress(&cinfo);
  return true;
}

/// ITU-R 601-2 luma of 8-bit R, G, B, rounded as Pillow's convert("L"):
/// (19595·R + 38470·G + 7471·B + 32768) >> 16 (the weights 0.299, 0.587, 0.114 in 16-bit fixed point).
inline uint32_t luma(uint32_t r, uint32_t g, uint32_t b) { return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; }

/// The decoded samples as a float32 tensor (channels, H, W), values byte / 255.
inline Tensor to_tensor(const RawImage& raw, int channels) {
  const int64_t HW = raw.height * raw.width;
  Tensor out = Tensor::empty({channels, raw.height, raw.width});
  float* p = out.data<float>();
  // The 8-bit value of sample k of pixel i: 16-bit samples are big-endian, so their
  // first byte is the high one.
  const uint8_t* s = raw.samples.data();
  const int64_t stride = int64_t(raw.channels) * (raw.bit_depth / 8), step = raw.bit_depth / 8;
  float level[256];
  for (int v = 0; v < 256; ++v) level[v] = static_cast<float>(v) / 255.0f;
  if (raw.channels == channels) {
    for (int c = 0; c < channels; ++c) {
      const uint8_t* q = s + c * step;
      float* o = p + c * HW;
      for (int64_t i = 0; i < HW; ++i) o[i] = level[q[i * stride]];
    }
  } else if (channels == 1) {  // RGB -> grey
    for (int64_t i = 0; i < HW; ++i) {
      const uint8_t* q = s + i * stride;
      p[i] = level[luma(q[0], q[step], q[2 * step])];
    }
  } else {  // grey -> RGB
    for (int64_t i = 0; i < HW; ++i) p[i] = level[s[i * stride]];
    std::copy_n(p, HW, p + HW);
    std::copy_n(p, HW, p + 2 * HW);
  }
  return out;
}

}  // namespace image_detail

/// Decodes the bytes of a PNG or JPEG file into a float32 tensor (C, H, W) with
/// C = `channels` (1 = grey, 3 = RGB) and values byte / 255 in [0, 1] (see the rules at
/// the top of this header). `what` names the source in errors.
/// Throws inv::Error, naming `what`, when channels is not 1 or 3, the bytes are empty,
/// the format is not PNG or JPEG (naming the format when it is known), the header claims
/// more than kMaxImagePixels pixels, or the file is truncated or corrupt (with the
/// decoder's reason).
inline Tensor decode_image(const std::vector<uint8_t>& bytes, int channels, const std::string& what) {
  INV_CHECK(channels == 1 || channels == 3, what, ": channels must be 1 (grey) or 3 (RGB), got ", channels);
  INV_CHECK(!bytes.empty(), what, ": cannot decode image: the file is empty");
  const std::string format = image_format(bytes.data(), bytes.size());
  if (format != "PNG" && format != "JPEG") {
    std::string first;  // the first bytes in hex, "89 50 4e 47"
    for (size_t i = 0; i < bytes.size() && i < 4; ++i) {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%02x", bytes[i]);
      first += (i ? " " : "") + std::string(hex);
    }
    if (format.empty())
      inv::detail::fail(what, ": cannot decode image: not a PNG or JPEG file (it starts with ", first,
                        "); inv reads PNG and JPEG images");
    inv::detail::fail(what, ": cannot decode image: ", format,
                      " images are not read; inv reads PNG and JPEG images (convert the file, e.g. to PNG)");
  }
  image_detail::RawImage raw;
  image_detail::DecodeError err;
  const bool ok = format == "PNG" ? image_detail::decode_png(bytes.data(), bytes.size(), raw, err)
                                  : image_detail::decode_jpeg(bytes.data(), bytes.size(), raw, err);
  INV_CHECK(ok, what, ": cannot decode ", format, " image: ", err.message, " (", bytes.size(), " bytes)");
  return image_detail::to_tensor(raw, channels);
}

/// Reads a PNG or JPEG file as a float32 tensor (C, H, W), C = `channels` (1 or 3), values
/// in [0, 1] (see decode_image). Throws inv::Error naming the path when the file is missing,
/// is not PNG or JPEG, or cannot be decoded (with the decoder's reason).
inline Tensor load_image(const std::string& path, int channels) {
  return decode_image(read_file(path), channels, "'" + path + "'");
}

}  // namespace inv::io
