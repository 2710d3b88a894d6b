// Reading images (inv/io/image_decode.hpp): PNG through libpng and JPEG through
// libjpeg-turbo, on files the decoders did not write ourselves: every PNG colour type and
// bit depth with the conversions worked out by hand, JPEG agreement with what was
// encoded, and hostile input: truncation at every byte, headers that claim too many
// pixels, corrupt-data warnings, and formats that are refused by name.
#include "image_bytes.hpp"
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <inv/io/image.hpp>
#include <inv/io/image_decode.hpp>

using namespace inv;
using namespace inv::io;
using Catch::Contains;
using Bytes = std::vector<uint8_t>;
using Rows = std::vector<std::vector<uint8_t>>;

namespace {

Bytes prefix(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }

/// The decoded image as bytes v · 255 (exact for byte / 255 values).
std::vector<int> bytes_of(const Tensor& t) {
  std::vector<int> out;
  for (float v : t.to_vector<float>()) out.push_back(static_cast<int>(std::lround(v * 255.0f)));
  return out;
}

/// A w × h RGB pattern (interleaved), smooth enough for JPEG to keep it within a few levels.
Bytes rgb_pattern(int w, int h) {
  Bytes p;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) p.push_back(uint8_t(40 + 8 * x + 5 * y + 30 * c));
  return p;
}

}  // namespace

TEST_CASE("PNG: 8-bit grey and RGB read exactly, as (C, H, W) planes", "[io][image_decode]") {
  const Bytes grey = testing::png_bytes(3, 2, PNG_COLOR_TYPE_GRAY, Rows{{0, 1, 2}, {128, 254, 255}});
  const Tensor g = decode_image(grey, 1, "grey.png");
  CHECK(g.shape() == Shape{1, 2, 3});
  CHECK(bytes_of(g) == std::vector<int>{0, 1, 2, 128, 254, 255});
  // Grey read as RGB: the plane replicated.
  CHECK(bytes_of(decode_image(grey, 3, "grey.png")) ==
        std::vector<int>{0, 1, 2, 128, 254, 255, 0, 1, 2, 128, 254, 255, 0, 1, 2, 128, 254, 255});
  const Bytes rgb = testing::png_bytes(2, 1, PNG_COLOR_TYPE_RGB, Rows{{10, 20, 30, 40, 50, 60}});
  CHECK(bytes_of(decode_image(rgb, 3, "rgb.png")) == std::vector<int>{10, 40, 20, 50, 30, 60});
  // RGB read as grey, as Pillow's convert("L"): (19595 R + 38470 G + 7471 B + 32768) >> 16
  // = (195950 + 769400 + 224130 + 32768) >> 16 = 18 (18.65) and
  // (783800 + 1923500 + 448260 + 32768) >> 16 = 48 (48.65).
  CHECK(bytes_of(decode_image(rgb, 1, "rgb.png")) == std::vector<int>{18, 48});
  // Rounding, not truncation: pure red 76.7 -> 76, green 150.2 -> 150, blue 29.6 -> 29;
  // (100, 200, 0) 147.3 -> 147 and (0, 1, 255) 29.7 -> 30 (29.66 + the 0.5 of rounding = 30.16).
  const Bytes rgb4 = testing::png_bytes(5, 1, PNG_COLOR_TYPE_RGB,
                                        Rows{{255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 200, 0, 0, 1, 255}});
  CHECK(bytes_of(decode_image(rgb4, 1, "rgb4.png")) == std::vector<int>{76, 150, 29, 147, 30});
}

TEST_CASE("PNG: alpha dropped, palettes, low and high bit depths, interlacing", "[io][image_decode]") {
  SECTION("grey + alpha and RGBA: alpha dropped, not composited") {
    const Bytes ga = testing::png_bytes(2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, Rows{{100, 0, 200, 255}});
    CHECK(bytes_of(decode_image(ga, 1, "ga.png")) == std::vector<int>{100, 200});
    const Bytes rgba = testing::png_bytes(1, 1, PNG_COLOR_TYPE_RGBA, Rows{{10, 20, 30, 0}});
    CHECK(bytes_of(decode_image(rgba, 3, "rgba.png")) == std::vector<int>{10, 20, 30});
  }
  SECTION("palette, with and without transparency") {
    testing::PngOptions o;
    o.palette = {{255, 0, 0}, {0, 255, 0}, {1, 2, 3}};
    const Bytes pal = testing::png_bytes(3, 1, PNG_COLOR_TYPE_PALETTE, Rows{{2, 0, 1}}, o);
    CHECK(bytes_of(decode_image(pal, 3, "pal.png")) == std::vector<int>{1, 255, 0, 2, 0, 255, 3, 0, 0});
    o.trns = {0, 128};
    const Bytes trns = testing::png_bytes(3, 1, PNG_COLOR_TYPE_PALETTE, Rows{{2, 0, 1}}, o);
    CHECK(bytes_of(decode_image(trns, 3, "trns.png")) == std::vector<int>{1, 255, 0, 2, 0, 255, 3, 0, 0});
    // (1, 2, 3) as grey: 1.82 -> 2; red 76.7 -> 76; green 150.2 -> 150.
    CHECK(bytes_of(decode_image(trns, 1, "trns.png")) == std::vector<int>{2, 76, 150});
  }
  SECTION("1-, 2- and 4-bit grey scale to 8 bits by repeating the bits") {
    testing::PngOptions o;
    o.bit_depth = 1;  // 8 pixels 1 0 1 1 0 0 0 1 = 0xB1
    CHECK(bytes_of(decode_image(testing::png_bytes(8, 1, PNG_COLOR_TYPE_GRAY, Rows{{0xB1}}, o), 1, "1.png")) ==
          std::vector<int>{255, 0, 255, 255, 0, 0, 0, 255});
    o.bit_depth = 2;  // 3 2 1 0 = 0xE4 -> 255 170 85 0
    CHECK(bytes_of(decode_image(testing::png_bytes(4, 1, PNG_COLOR_TYPE_GRAY, Rows{{0xE4}}, o), 1, "2.png")) ==
          std::vector<int>{255, 170, 85, 0});
    o.bit_depth = 4;  // 0x1F -> 0x11, 0xFF
    CHECK(bytes_of(decode_image(testing::png_bytes(2, 1, PNG_COLOR_TYPE_GRAY, Rows{{0x1F}}, o), 1, "4.png")) ==
          std::vector<int>{17, 255});
  }
  SECTION("16-bit samples keep their high byte, before any conversion") {
    testing::PngOptions o;
    o.bit_depth = 16;
    const Bytes g16 = testing::png_bytes(2, 1, PNG_COLOR_TYPE_GRAY, Rows{{0x12, 0xFF, 0xAB, 0x01}}, o);
    CHECK(bytes_of(decode_image(g16, 1, "g16.png")) == std::vector<int>{0x12, 0xAB});
    // R = 0x10FF, G = 0x20FF, B = 0x30FF: high bytes (16, 32, 48), luma 4.78 + 18.79 + 5.47 = 29.04 -> 29.
    const Bytes rgb16 = testing::png_bytes(1, 1, PNG_COLOR_TYPE_RGB, Rows{{0x10, 0xFF, 0x20, 0xFF, 0x30, 0xFF}}, o);
    CHECK(bytes_of(decode_image(rgb16, 1, "rgb16.png")) == std::vector<int>{29});
    CHECK(bytes_of(decode_image(rgb16, 3, "rgb16.png")) == std::vector<int>{16, 32, 48});
  }
  SECTION("Adam7 interlacing gives the same image") {
    Rows rows;
    for (int y = 0; y < 9; ++y) {
      rows.emplace_back();
      for (int x = 0; x < 11 * 3; ++x) rows.back().push_back(uint8_t(7 * x + 31 * y));
    }
    testing::PngOptions o;
    const Tensor plain = decode_image(testing::png_bytes(11, 9, PNG_COLOR_TYPE_RGB, rows, o), 3, "plain.png");
    o.interlace = true;
    const Bytes adam7 = testing::png_bytes(11, 9, PNG_COLOR_TYPE_RGB, rows, o);
    CHECK(equal(decode_image(adam7, 3, "adam7.png"), plain));
    CHECK(bytes_of(plain)[0] == 0);
    CHECK(bytes_of(plain)[11 * 9 + 1] == 7 * 4);  // G of pixel (0, 1) is sample 4 of row 0
  }
}

TEST_CASE("PNG written by encode_png reads back bitwise", "[io][image_decode]") {
  Tensor rgb = empty({3, 5, 7});
  for (int64_t i = 0; i < rgb.numel(); ++i) rgb.data<float>()[i] = static_cast<float>((i * 37) % 256) / 255.0f;
  CHECK(equal(decode_image(encode_png(rgb), 3, "rgb.png"), rgb));
}

TEST_CASE("JPEG: what was encoded comes back, in grey too", "[io][image_decode]") {
  const int w = 16, h = 8;
  const Bytes pixels = rgb_pattern(w, h);
  SECTION("baseline and progressive RGB decode to the same pixels, close to the input") {
    const Bytes base = testing::jpeg_bytes(w, h, 3, pixels, 100);
    const Bytes prog = testing::jpeg_bytes(w, h, 3, pixels, 100, true);
    const Tensor a = decode_image(base, 3, "base.jpg"), b = decode_image(prog, 3, "prog.jpg");
    CHECK(a.shape() == Shape{3, h, w});
    CHECK(equal(a, b));
    const std::vector<int> got = bytes_of(a);
    int worst = 0;
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < w * h; ++i) worst = std::max(worst, std::abs(got[size_t(c * w * h + i)] - pixels[size_t(i * 3 + c)]));
    CHECK(worst <= 4);  // quality 100 with 4:2:0 chroma: a few levels
  }
  SECTION("a grey JPEG is exact at quality 100 on a flat image, and replicated to RGB") {
    const Bytes flat(size_t(w * h), 77);
    const Bytes jpg = testing::jpeg_bytes(w, h, 1, flat, 100);
    CHECK(bytes_of(decode_image(jpg, 1, "g.jpg")) == std::vector<int>(size_t(w * h), 77));
    CHECK(bytes_of(decode_image(jpg, 3, "g.jpg")) == std::vector<int>(size_t(3 * w * h), 77));
  }
  SECTION("a colour JPEG read as grey is the luma of its RGB pixels, as for PNG") {
    const Bytes flat = [] {
      Bytes p;
      for (int i = 0; i < 16 * 8; ++i) p.insert(p.end(), {200, 100, 50});
      return p;
    }();
    const Bytes jpg = testing::jpeg_bytes(w, h, 3, flat, 100);
    const std::vector<int> grey = bytes_of(decode_image(jpg, 1, "c.jpg")), rgb = bytes_of(decode_image(jpg, 3, "c.jpg"));
    for (size_t i = 0; i < grey.size(); ++i)
      CHECK(grey[i] == (19595 * rgb[i] + 38470 * rgb[grey.size() + i] + 7471 * rgb[2 * grey.size() + i] + 32768) >> 16);
    // 0.299·200 + 0.587·100 + 0.114·50 = 124.2, within a level or two after the JPEG round trip.
    for (int v : grey) CHECK(std::abs(v - 124) <= 2);
  }
}

TEST_CASE("hostile images: truncation at every byte is an inv::Error", "[io][image_decode]") {
  Rows rows(6, std::vector<uint8_t>(3 * 5));
  for (size_t y = 0; y < rows.size(); ++y)
    for (size_t x = 0; x < rows[y].size(); ++x) rows[y][x] = uint8_t(x * 13 + y * 7);
  testing::PngOptions o;
  for (bool interlace : {false, true}) {
    o.interlace = interlace;
    const Bytes png = testing::png_bytes(5, 6, PNG_COLOR_TYPE_RGB, rows, o);
    REQUIRE_NOTHROW(decode_image(png, 3, "whole.png"));
    for (size_t n = 0; n < png.size(); ++n) {  // every prefix, the one without IEND's last byte included
      CAPTURE(interlace, n);
      CHECK_THROWS_AS(decode_image(prefix(png, n), 3, "cut.png"), Error);
    }
  }
  for (bool progressive : {false, true}) {
    const Bytes jpg = testing::jpeg_bytes(16, 8, 3, rgb_pattern(16, 8), 90, progressive);
    REQUIRE_NOTHROW(decode_image(jpg, 3, "whole.jpg"));
    for (size_t n = 0; n < jpg.size(); ++n) {  // every prefix, down to a missing EOI
      CAPTURE(progressive, n);
      CHECK_THROWS_AS(decode_image(prefix(jpg, n), 3, "cut.jpg"), Error);
      CHECK_THROWS_AS(decode_image(prefix(jpg, n), 1, "cut.jpg"), Error);
    }
  }
  const Bytes jpg = testing::jpeg_bytes(16, 8, 3, rgb_pattern(16, 8));
  CHECK_THROWS_WITH(decode_image(prefix(jpg, jpg.size() - 2), 3, "noeoi.jpg"),
                    Contains("noeoi.jpg: cannot decode JPEG image") && Contains("Premature end of JPEG file"));
  const Bytes png = testing::png_bytes(5, 6, PNG_COLOR_TYPE_RGB, rows);
  CHECK_THROWS_WITH(decode_image(prefix(png, png.size() - 1), 3, "noiend.png"),
                    Contains("noiend.png: cannot decode PNG image") && Contains("truncated"));
}

TEST_CASE("hostile images: too many pixels are refused from the header", "[io][image_decode]") {
  CHECK_THROWS_WITH(decode_image(testing::png_header_only(20000, 20000), 3, "huge.png"),
                    Contains("huge.png: cannot decode PNG image: the image header claims 20000 x 20000 pixels"));
  CHECK_THROWS_WITH(decode_image(testing::jpeg_header_only(20000, 20000), 3, "huge.jpg"),
                    Contains("huge.jpg: cannot decode JPEG image: the image header claims 20000 x 20000 pixels"));
  // 8192 x 8192 is the cap itself: such a header passes the size check and fails on the missing data.
  CHECK_THROWS_WITH(decode_image(testing::png_header_only(8192, 8192), 3, "cap.png"),
                    Contains("cap.png") && !Contains("claims"));
  CHECK_THROWS_WITH(decode_image(testing::png_header_only(8192, 8193), 3, "over.png"),
                    Contains("claims 8192 x 8193 pixels"));
}

TEST_CASE("hostile images: corrupt JPEG data is an error, not a guess", "[io][image_decode]") {
  const Bytes jpg = testing::jpeg_bytes(16, 16, 3, rgb_pattern(16, 16), 90);
  // The entropy-coded data starts after the SOS segment; garble its middle.
  size_t sos = 0;
  for (size_t i = 0; i + 1 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xDA) sos = i;
  REQUIRE(sos > 0);
  const size_t data = sos + 2 + (size_t(jpg[sos + 2]) << 8 | jpg[sos + 3]);
  Bytes bad = jpg;
  for (size_t i = data + 4; i < data + 20 && i + 2 < bad.size(); ++i) bad[i] = 0xFF;  // fill bytes, then a marker
  bad[data + 20] = 0xD0;
  CHECK_THROWS_WITH(decode_image(bad, 3, "bad.jpg"), Contains("bad.jpg: cannot decode JPEG image") && Contains("Corrupt JPEG data"));
}

TEST_CASE("other formats are refused by name", "[io][image_decode]") {
  const auto refused = [](const Bytes& b, const std::string& name) {
    CHECK_THROWS_WITH(decode_image(b, 3, "f"),
                      Contains("f: cannot decode image: " + name + " images are not read; inv reads PNG and JPEG"));
  };
  refused(testing::bmp_header_only(4, 4), "BMP");
  refused({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0}, "GIF");
  refused({'P', '6', '\n', '2', ' ', '2', '\n'}, "PNM");
  refused({'I', 'I', '*', 0, 8, 0, 0, 0}, "TIFF");
  refused({'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'}, "WebP");
  // TGA has no signature: a 32-byte TGA header is "not a PNG or JPEG".
  Bytes tga(32, 0);
  tga[2] = 2;
  tga[12] = 0xFF, tga[13] = 0x3F, tga[14] = 0xFF, tga[15] = 0x3F, tga[16] = 24;
  CHECK_THROWS_WITH(decode_image(tga, 3, "x.tga"),
                    Contains("x.tga: cannot decode image: not a PNG or JPEG file (it starts with 00 00 02 00)"));
  CHECK_THROWS_WITH(decode_image({}, 3, "e.png"), Contains("e.png: cannot decode image: the file is empty"));
  CHECK_THROWS_WITH(decode_image({0x89}, 3, "one.png"), Contains("not a PNG or JPEG file (it starts with 89)"));
  CHECK_THROWS_WITH(decode_image(testing::png_header_only(1, 1), 2, "p"),
                    Contains("channels must be 1 (grey) or 3 (RGB), got 2"));
}
