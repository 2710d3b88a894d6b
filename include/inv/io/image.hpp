// inv/io/image.hpp: writing PNG images (through stb_image_write), image grids and base64.
//
// Images are float tensors (C, H, W) with values in [0, 1]; C = 1 (grey) or 3 (RGB).
// On disk they are 8-bit PNGs: a value v is stored as floor(clip(v, 0, 1) * 255 + 0.5),
// as torchvision.utils.save_image does, and read back as byte / 255.
// stb_image_write's implementation comes from Debian's compiled libstb (see
// cmake/FindStb.cmake); it only ever encodes our own tensors. Images from elsewhere are
// read by inv/io/image_decode.hpp (libpng and libjpeg-turbo).
#pragma once

#include <stb_image_write.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inv/error.hpp"
#include "inv/io/file.hpp"
#include "inv/shape.hpp"
#include "inv/tensor.hpp"

namespace inv::io {

/// Standard base64 (RFC 4648 section 4: alphabet A-Z a-z 0-9 + /, '=' padding, no line breaks).
inline std::string base64_encode(const uint8_t* data, size_t n) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t b0 = data[i], b1 = i + 1 < n ? data[i + 1] : 0, b2 = i + 2 < n ? data[i + 2] : 0;
    const uint32_t v = b0 << 16 | b1 << 8 | b2;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += i + 1 < n ? alphabet[v >> 6 & 63] : '=';
    out += i + 2 < n ? alphabet[v & 63] : '=';
  }
  return out;
}
inline std::string base64_encode(const std::vector<uint8_t>& bytes) {
  return base64_encode(bytes.data(), bytes.size());
}

namespace image_detail {

/// Checks that `image` is (C,H,W) or (1,C,H,W) with C = 1 or 3 and returns its (C, H, W).
inline Shape chw_shape(const Tensor& image, const char* op) {
  INV_CHECK(image.defined(), op, ": undefined image tensor");
  Shape s = image.shape();
  if (s.size() == 4 && s[0] == 1) s.erase(s.begin());
  INV_CHECK(s.size() == 3 && (s[0] == 1 || s[0] == 3), op,
            ": expected an image (C,H,W) or (1,C,H,W) with C = 1 or 3, got ", to_string(image.shape()));
  INV_CHECK(s[1] > 0 && s[2] > 0, op, ": image must not be empty, got ", to_string(image.shape()));
  INV_CHECK(s[1] <= INT_MAX / 4 && s[2] <= INT_MAX / 4 / s[1], op, ": image too large for PNG, got ",
            to_string(image.shape()));
  return s;
}

/// The image as interleaved 8-bit pixels (H, W, C), floor(clip(v, 0, 1) * 255 + 0.5).
/// Throws inv::Error at the first NaN (it has no pixel value).
inline std::vector<uint8_t> to_hwc_bytes(const Tensor& image, const Shape& chw, const char* op) {
  const int64_t C = chw[0], HW = chw[1] * chw[2];
  std::vector<uint8_t> out(static_cast<size_t>(C * HW));
  const std::vector<double> v = image.to_vector<double>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < HW; ++i) {
      const double x = v[static_cast<size_t>(c * HW + i)];
      INV_CHECK(!std::isnan(x), op, ": image contains NaN at channel ", c, ", pixel (", i / chw[2], ",",
                i % chw[2], ")");
      out[static_cast<size_t>(i * C + c)] = static_cast<uint8_t>(std::floor(std::clamp(x, 0.0, 1.0) * 255.0 + 0.5));
    }
  return out;
}

inline void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

}  // namespace image_detail

/// PNG bytes (8-bit grey or RGB) of an image (C,H,W) or (1,C,H,W), C = 1 or 3, float32 or
/// float64 with values in [0, 1] (clipped; v -> floor(v * 255 + 0.5), as torchvision's
/// save_image). Throws inv::Error for another shape, an empty image or a NaN value.
inline std::vector<uint8_t> encode_png(const Tensor& image) {
  const Shape chw = image_detail::chw_shape(image, "encode_png");
  const std::vector<uint8_t> pixels = image_detail::to_hwc_bytes(image, chw, "encode_png");
  const int C = static_cast<int>(chw[0]), H = static_cast<int>(chw[1]), W = static_cast<int>(chw[2]);
  std::vector<uint8_t> png;
  // stbi_write_png_to_func encodes with stbi_write_png_to_mem and hands over the whole buffer at once.
  const int ok = stbi_write_png_to_func(image_detail::append_bytes, &png, W, H, C, pixels.data(), W * C);
  INV_CHECK(ok != 0 && !png.empty(), "encode_png: stb failed to encode a ", to_string(chw), " image");
  return png;
}

/// Writes an image (C,H,W) or (1,C,H,W), C = 1 or 3, values in [0, 1], as an 8-bit PNG
/// (see encode_png for the conversion). Atomic. Throws inv::Error for a bad image or an I/O
/// failure (naming the path).
inline void save_png(const std::string& path, const Tensor& image) { write_file_atomic(path, encode_png(image)); }

/// The PNG of `image` (see encode_png), base64-encoded, for embedding in a self-contained
/// HTML report as "data:image/png;base64," + png_base64(image).
inline std::string png_base64(const Tensor& image) { return base64_encode(encode_png(image)); }

/// Tiles images (each (C,H,W), all the same shape and dtype) into one image, row by row,
/// `ncol` images per row, like torchvision.utils.make_grid(images, nrow=ncol, padding, pad_value):
/// the result is (C, rows * (H + padding) + padding, ncol' * (W + padding) + padding) with
/// ncol' = min(ncol, N) and rows = ceil(N / ncol'), filled with pad_value, image k at
/// row k / ncol', column k % ncol', top-left corner (padding + row * (H + padding),
/// padding + col * (W + padding)). Unlike torchvision, grey images stay 1-channel and a single
/// image is padded too. Throws inv::Error for an empty list, mismatched shapes, ncol < 1 or padding < 0.
inline Tensor make_grid(const std::vector<Tensor>& images, int64_t ncol, int64_t padding = 2,
                        double pad_value = 1.0) {
  INV_CHECK(!images.empty(), "make_grid: expected at least one image, got none");
  INV_CHECK(ncol >= 1, "make_grid: ncol must be >= 1, got ", ncol);
  INV_CHECK(padding >= 0, "make_grid: padding must be >= 0, got ", padding);
  const Tensor& first = images[0];
  INV_CHECK(first.defined() && first.dim() == 3, "make_grid: expected images (C,H,W), got ",
            first.defined() ? to_string(first.shape()) : "an undefined tensor", " for image 0");
  for (size_t k = 1; k < images.size(); ++k)
    INV_CHECK(images[k].defined() && images[k].shape() == first.shape() && images[k].dtype() == first.dtype(),
              "make_grid: every image must be ", to_string(first.shape()), " ", dtype_name(first.dtype()),
              " like image 0, got ", images[k].defined() ? to_string(images[k].shape()) : "undefined", " ",
              images[k].defined() ? dtype_name(images[k].dtype()) : "", " for image ", k);
  const int64_t n = static_cast<int64_t>(images.size());
  const int64_t C = first.size(0), H = first.size(1), W = first.size(2);
  const int64_t cols = std::min(ncol, n), rows = (n + cols - 1) / cols;
  const int64_t GH = rows * (H + padding) + padding, GW = cols * (W + padding) + padding;
  Tensor grid = full({C, GH, GW}, pad_value, first.dtype());
  dispatch(first.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* g = grid.data<T>();
    for (int64_t k = 0; k < n; ++k) {
      const T* src = images[static_cast<size_t>(k)].data<T>();
      const int64_t top = padding + (k / cols) * (H + padding), left = padding + (k % cols) * (W + padding);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y)
          std::copy_n(src + (c * H + y) * W, W, g + (c * GH + top + y) * GW + left);
    }
  });
  return grid;
}

}  // namespace inv::io
