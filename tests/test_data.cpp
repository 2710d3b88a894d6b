// The data layer: CRC-32, gzip, IDX (MNIST), CIFAR-10 binary, Dataset and DataLoader
// (image folders: test_image_folder.cpp). Every reader gets exact read-back values and its corrupt inputs
// (written here into a temporary directory); the shared datasets are checked when
// present.
#include <unistd.h>

#include <algorithm>
#include "temp_dir.hpp"
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <zlib.h>

#include <inv/data/cifar.hpp>
#include <inv/data/dataset.hpp>
#include <inv/data/idx.hpp>
#include <inv/data/loader.hpp>
#include <inv/data/row_cache.hpp>
#include <inv/inv.hpp>
#include <inv/io/crc32.hpp>
#include <inv/io/gzip.hpp>
#include <set>
#include <string>
#include <vector>

using namespace inv;
using namespace inv::data;
using Bytes = std::vector<uint8_t>;
using I = std::vector<int64_t>;
namespace fs = std::filesystem;

namespace {

using TempDir = inv::testing::TempDir;

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

void put_le32(Bytes& b, uint32_t v) {
  for (int k = 0; k < 4; ++k) b.push_back(uint8_t(v >> (8 * k)));
}

/// `gzip -9` (Python gzip.compress, mtime 0) of kFoxText: one dynamic-Huffman block.
const Bytes kFoxGzip = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x95, 0xd4, 0xc9, 0x15, 0xc2, 0x40, 0x0c, 0x04, 0xd1,
    0xbb, 0xa3, 0x50, 0x08, 0xa8, 0x9b, 0xcd, 0xe1, 0x00, 0x36, 0x3b, 0x0c, 0x98, 0x31, 0x5b, 0xf4, 0x90, 0x42, 0x9d,
    0x55, 0xb7, 0xff, 0x5a, 0x75, 0xdf, 0xc7, 0x7d, 0x3c, 0x6c, 0x4e, 0xb1, 0x1e, 0xca, 0xeb, 0x1a, 0xdb, 0xf2, 0x8e,
    0xe3, 0x78, 0xb9, 0x3d, 0xa2, 0x3c, 0xfb, 0x21, 0xea, 0xff, 0x7c, 0x5e, 0x7d, 0x3f, 0xd1, 0x95, 0x5d, 0x4c, 0x9a,
    0x0a, 0xea, 0x44, 0xb5, 0x50, 0x6d, 0x54, 0x4f, 0x51, 0x3d, 0x43, 0xf5, 0x1c, 0xd5, 0x0b, 0x54, 0x2f, 0x51, 0xdd,
    0x32, 0x1d, 0x88, 0xc9, 0x34, 0x93, 0x71, 0x26, 0xf3, 0x4c, 0x06, 0x9a, 0x4c, 0x34, 0x19, 0x69, 0x32, 0xd3, 0x64,
    0xa8, 0xc9, 0x54, 0xc5, 0x54, 0x05, 0x37, 0xca, 0x54, 0xc5, 0x54, 0xc5, 0x54, 0xc5, 0x54, 0xc5, 0x54, 0xc5, 0x54,
    0xc5, 0x54, 0xc5, 0x54, 0xcd, 0x54, 0xcd, 0x54, 0x0d, 0x5f, 0x2f, 0x53, 0x35, 0x53, 0x35, 0x53, 0x35, 0x53, 0x35,
    0x53, 0x35, 0x53, 0x75, 0xdb, 0xfc, 0x00, 0x35, 0xaf, 0xdf, 0x84, 0x4e, 0x07, 0x00, 0x00};

Bytes fox_text() {
  std::string s;
  for (int i = 0; i < 40; ++i) s += "the quick brown fox jumps over the lazy dog " + std::to_string(i) + "\n";
  return bytes_of(s);
}

/// kFoxGzip's deflate stream wrapped in a handmade header with the given flags and fields.
Bytes fox_with_header(uint8_t flags, const Bytes& extra, const std::string& name, const std::string& comment,
                      bool good_hcrc = true) {
  Bytes out = {0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3};
  if (flags & 4) {
    out.push_back(uint8_t(extra.size()));
    out.push_back(uint8_t(extra.size() >> 8));
    out.insert(out.end(), extra.begin(), extra.end());
  }
  if (flags & 8) out.insert(out.end(), name.c_str(), name.c_str() + name.size() + 1);
  if (flags & 16) out.insert(out.end(), comment.c_str(), comment.c_str() + comment.size() + 1);
  if (flags & 2) {
    const uint32_t crc = io::crc32(out.data(), out.size()) ^ (good_hcrc ? 0 : 1);
    out.push_back(uint8_t(crc));
    out.push_back(uint8_t(crc >> 8));
  }
  out.insert(out.end(), kFoxGzip.begin() + 10, kFoxGzip.end());
  return out;
}

/// A gzip file holding `data` in stored (uncompressed) deflate blocks of at most 65535 bytes.
Bytes gzip_stored(const Bytes& data) {
  Bytes out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, data.size() - pos);
    out.push_back(pos + n == data.size() ? 1 : 0);  // BFINAL, BTYPE 00
    for (uint16_t v : {uint16_t(n), uint16_t(~n)}) {
      out.push_back(uint8_t(v));
      out.push_back(uint8_t(v >> 8));
    }
    out.insert(out.end(), data.begin() + long(pos), data.begin() + long(pos + n));
    pos += n;
  } while (pos < data.size());
  put_le32(out, io::crc32(data.data(), data.size()));
  put_le32(out, uint32_t(data.size()));
  return out;
}

Bytes cut(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + long(n)); }

/// Images (N,1,H,W) whose pixel (n, i, j) is ((n·H + i)·W + j)·7 mod 256, over 255.
Tensor pattern_images(int64_t n, int64_t h, int64_t w, int64_t c = 1) {
  Tensor t = empty({n, c, h, w});
  for (int64_t k = 0; k < t.numel(); ++k) t.data<float>()[k] = float((k * 7) % 256) / 255.0f;
  return t;
}

Dataset toy_dataset(int64_t n, int64_t classes = 3) {
  Dataset ds;
  ds.images = pattern_images(n, 2, 3);
  for (int64_t i = 0; i < n; ++i) ds.labels.push_back(i % classes);
  for (int64_t k = 0; k < classes; ++k) ds.classes.push_back("c" + std::to_string(k));
  return ds;
}

}  // namespace

// ---------------------------------------------------------------------------
// CRC-32
// ---------------------------------------------------------------------------

TEST_CASE("crc32 check values and continuation", "[data][crc32]") {
  const Bytes digits = bytes_of("123456789");
  CHECK(io::crc32(digits.data(), 0) == 0u);
  CHECK(io::crc32(digits.data(), 9) == 0xCBF43926u);  // the standard check value
  const Bytes a = bytes_of("a");
  CHECK(io::crc32(a.data(), 1) == 0xE8B7BE43u);
  CHECK(io::crc32(digits.data() + 4, 5, io::crc32(digits.data(), 4)) == 0xCBF43926u);
  // The slicing-by-8 path against the bitwise definition, over lengths crossing 8-byte steps.
  Bytes big(1003);
  for (size_t i = 0; i < big.size(); ++i) big[i] = uint8_t(i * 31 + (i >> 3));
  for (size_t len : {size_t(7), size_t(8), size_t(9), size_t(64), size_t(1003)}) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; ++i) {
      c ^= big[i];
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    CHECK(io::crc32(big.data(), len) == ~c);
  }
}

// ---------------------------------------------------------------------------
// gzip
// ---------------------------------------------------------------------------

TEST_CASE("gunzip decodes a real gzip stream and every optional header field", "[data][gzip]") {
  CHECK(io::is_gzip(kFoxGzip));
  CHECK_FALSE(io::is_gzip(bytes_of("hello")));
  CHECK(io::gunzip(kFoxGzip, "fox.gz") == fox_text());
  CHECK(io::gunzip(fox_with_header(8, {}, "fox.txt", ""), "fox.gz") == fox_text());
  CHECK(io::gunzip(fox_with_header(4 | 8 | 16 | 2, {1, 2, 3}, "fox.txt", "a comment"), "fox.gz") == fox_text());
  CHECK(io::gunzip(fox_with_header(1 | 2, {}, "", ""), "fox.gz") == fox_text());  // FTEXT is only a hint

  const Bytes big = [] {
    Bytes b(150000);
    for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(i % 251);
    return b;
  }();
  CHECK(io::gunzip(gzip_stored(big), "big.gz") == big);  // three stored blocks
  CHECK(io::gunzip(gzip_stored({}), "empty.gz").empty());
}

TEST_CASE("gunzip concatenates multi-member files", "[data][gzip]") {
  Bytes two = kFoxGzip;
  const Bytes second = gzip_stored(bytes_of("second member"));
  two.insert(two.end(), second.begin(), second.end());
  Bytes expected = fox_text();
  const Bytes tail = bytes_of("second member");
  expected.insert(expected.end(), tail.begin(), tail.end());
  CHECK(io::gunzip(two, "two.gz") == expected);
}

TEST_CASE("gunzip rejects malformed input, naming the source", "[data][gzip]") {
  using Catch::Contains;
  CHECK_THROWS_WITH(io::gunzip(bytes_of("hello world"), "x.gz"),
                    Contains("x.gz") && Contains("not a gzip file") && Contains("found 0x68 0x65"));
  CHECK_THROWS_WITH(io::gunzip({}, "x.gz"), Contains("x.gz") && Contains("not a gzip file"));
  Bytes method = kFoxGzip;
  method[2] = 7;
  CHECK_THROWS_WITH(io::gunzip(method, "x.gz"), Contains("compression method 7"));
  Bytes reserved = kFoxGzip;
  reserved[3] = 0x20;
  CHECK_THROWS_WITH(io::gunzip(reserved, "x.gz"), Contains("reserved flag"));
  CHECK_THROWS_WITH(io::gunzip(fox_with_header(2, {}, "", "", false), "x.gz"), Contains("header CRC16 mismatch"));

  SECTION("truncated at several points") {
    CHECK_THROWS_WITH(io::gunzip(cut(kFoxGzip, 1), "x.gz"), Contains("x.gz") && Contains("not a gzip file"));
    CHECK_THROWS_WITH(io::gunzip(cut(kFoxGzip, 6), "x.gz"), Contains("x.gz") && Contains("truncated"));
    const Bytes named = fox_with_header(8, {}, "a-long-file-name", "");
    CHECK_THROWS_WITH(io::gunzip(cut(named, 15), "x.gz"), Contains("truncated") && Contains("file name"));
    CHECK_THROWS_WITH(io::gunzip(cut(fox_with_header(4, {1, 2, 3, 4, 5}, "", ""), 13), "x.gz"),
                      Contains("truncated") && Contains("extra field"));
    CHECK_THROWS_WITH(io::gunzip(cut(kFoxGzip, 14), "x.gz"), Contains("x.gz") && Contains("truncated"));
    for (size_t n : {size_t(40), size_t(100), kFoxGzip.size() - 9, kFoxGzip.size() - 3, kFoxGzip.size() - 1})
      CHECK_THROWS_WITH(io::gunzip(cut(kFoxGzip, n), "x.gz"), Contains("x.gz") && Contains("truncated or corrupt"));
  }
  SECTION("trailer mismatch") {
    Bytes crc = kFoxGzip;
    crc[crc.size() - 8] ^= 0x01;
    CHECK_THROWS_WITH(io::gunzip(crc, "x.gz"),
                      Contains("x.gz") && Contains("CRC32 0x84dfaf35") && Contains("CRC32 0x84dfaf34"));
    Bytes size = kFoxGzip;
    size[size.size() - 4] ^= 0x01;
    CHECK_THROWS_WITH(io::gunzip(size, "x.gz"), Contains("truncated or corrupt") && Contains("size 1871"));
  }
  SECTION("corrupt deflate data") {
    Bytes bad = kFoxGzip;
    for (size_t i = 30; i < 60; ++i) bad[i] ^= 0x5A;
    CHECK_THROWS_WITH(io::gunzip(bad, "x.gz"), Contains("x.gz") && Contains("corrupt"));
    Bytes type3 = gzip_stored(bytes_of("abc"));
    type3[10] = 0x07;  // BFINAL, BTYPE 11 (reserved)
    CHECK_THROWS_WITH(io::gunzip(type3, "x.gz"), Contains("inflate failed"));
  }
  SECTION("trailing bytes that are not a member") {
    Bytes junk = kFoxGzip;
    for (uint8_t b : {0x00, 0x01, 0x02}) junk.push_back(b);
    CHECK_THROWS_WITH(io::gunzip(junk, "x.gz"), Contains("3 trailing bytes after gzip member 1"));
  }
}

TEST_CASE("gunzip: the trailer follows the deflate stream directly", "[data][gzip]") {
  // Bytes between the end of the deflate stream and a copy of the trailer are damage,
  // even though the copy matches.
  const size_t trailer = kFoxGzip.size() - 8;
  Bytes gap(kFoxGzip.begin(), kFoxGzip.begin() + long(trailer));
  for (uint8_t b : {0xAA, 0xBB, 0xCC}) gap.push_back(b);
  gap.insert(gap.end(), kFoxGzip.begin() + long(trailer), kFoxGzip.end());
  CHECK_THROWS_WITH(io::gunzip(gap, "gap.gz"), Catch::Contains("gap.gz: gzip member 1 is truncated or corrupt") &&
                                                   Catch::Contains("trailer at offset " + std::to_string(trailer)));
  // A second member must be whole: a member cut short after a good first one is an error.
  Bytes two = kFoxGzip;
  two.insert(two.end(), kFoxGzip.begin(), kFoxGzip.begin() + 30);
  CHECK_THROWS_WITH(io::gunzip(two, "two.gz"), Catch::Contains("gzip member 2 is truncated or corrupt"));
}

namespace {

/// A gzip member holding n zero bytes, compressed by zlib (about 1 KB per MB).
Bytes gzip_zeros(size_t n) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  const Bytes zeros(size_t(1) << 20, 0);
  Bytes out(size_t(1) << 16);
  Bytes gz;
  for (size_t left = n;;) {
    const size_t step = std::min(left, zeros.size());
    left -= step;
    z.next_in = const_cast<Bytef*>(zeros.data());
    z.avail_in = uInt(step);
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    int status = Z_OK;
    do {
      z.next_out = out.data();
      z.avail_out = uInt(out.size());
      status = deflate(&z, flush);
      gz.insert(gz.end(), out.data(), out.data() + (out.size() - z.avail_out));
    } while (z.avail_out == 0);
    if (status == Z_STREAM_END) break;
  }
  deflateEnd(&z);
  return gz;
}

}  // namespace

TEST_CASE("gunzip refuses a decompression bomb as soon as it passes the cap", "[data][gzip]") {
  const Bytes member = gzip_zeros(size_t(64) << 20);  // 64 MiB of zeros in about 64 KB
  CHECK(member.size() < (size_t(100) << 10));
  CHECK(io::gunzip(member, "ok.gz", size_t(64) << 20).size() == size_t(64) << 20);  // exactly the cap passes
  CHECK_THROWS_WITH(io::gunzip(member, "bomb.gz", size_t(1) << 20),
                    Catch::Contains("bomb.gz: gzip data inflates to more than 1048576 bytes, the limit"));
  // 24 members: 1.5 GiB in about 1.5 MB, against the default cap of 1 GiB.
  Bytes bomb;
  for (int k = 0; k < 24; ++k) bomb.insert(bomb.end(), member.begin(), member.end());
  CHECK_THROWS_WITH(io::gunzip(bomb, "bomb.gz"),
                    Catch::Contains("inflates to more than " + std::to_string(io::kMaxGunzipBytes) + " bytes"));
}

TEST_CASE("read_maybe_gzip passes raw files through", "[data][gzip]") {
  TempDir dir;
  io::write_file_atomic(dir.file("raw.bin"), bytes_of("plain"));
  io::write_file_atomic(dir.file("packed.gz"), kFoxGzip);
  CHECK(io::read_maybe_gzip(dir.file("raw.bin")) == bytes_of("plain"));
  CHECK(io::read_maybe_gzip(dir.file("packed.gz")) == fox_text());
  CHECK_THROWS_WITH(io::read_maybe_gzip(dir.file("missing.gz")), Catch::Contains("missing.gz"));
}

// ---------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------

TEST_CASE("Dataset subset, head and first index of each class", "[data][dataset]") {
  const Dataset ds = toy_dataset(7);  // labels 0 1 2 0 1 2 0
  CHECK(ds.size() == 7);
  CHECK(ds.num_classes() == 3);
  const Dataset s = ds.subset({5, 0, 5});
  CHECK(s.labels == I{2, 0, 2});
  CHECK(s.images.shape() == Shape{3, 1, 2, 3});
  CHECK(s.classes == ds.classes);
  for (int64_t k = 0; k < 6; ++k) {
    CHECK(s.images.data<float>()[k] == ds.images.data<float>()[5 * 6 + k]);
    CHECK(s.images.data<float>()[6 + k] == ds.images.data<float>()[k]);
  }
  CHECK(ds.head(2).labels == I{0, 1});
  CHECK(ds.head(100).size() == 7);
  CHECK(ds.head(0).images.shape() == Shape{0, 1, 2, 3});
  CHECK(first_index_of_each_class(ds) == I{0, 1, 2});
  Dataset shuffled = ds.subset({4, 6, 1, 2, 0});  // labels 1 0 1 2 0
  CHECK(first_index_of_each_class(shuffled) == I{1, 0, 3});

  CHECK_THROWS_WITH(ds.subset({0, 7}), Catch::Contains("index 7") && Catch::Contains("[0, 7)"));
  CHECK_THROWS_WITH(ds.subset({-1}), Catch::Contains("index -1"));
  CHECK_THROWS_WITH(ds.head(-1), Catch::Contains("n >= 0"));
  CHECK_THROWS_WITH(first_index_of_each_class(ds.subset({0, 1, 3})), Catch::Contains("class 2 ('c2') has no image"));
  Dataset bad = ds;
  bad.labels[3] = 3;
  CHECK_THROWS_WITH(bad.check(), Catch::Contains("label 3 of image 3"));
  bad = ds;
  bad.labels.pop_back();
  CHECK_THROWS_WITH(bad.check(), Catch::Contains("7 images but 6 labels"));
}

TEST_CASE("gather_rows copies the rows asked for and refuses an index out of range", "[data][dataset]") {
  const Tensor x = tensor({0, 1, 2, 3, 4, 5}, {3, 2});
  CHECK(equal(gather_rows(x, {2, 0, 2}), tensor({4, 5, 0, 1, 4, 5}, {3, 2})));
  CHECK(gather_rows(x, {}).shape() == Shape{0, 2});
  CHECK_THROWS_WITH(gather_rows(x, {3}), Catch::Contains("index 3 out of range [0, 3)"));
  CHECK_THROWS_WITH(gather_rows(x, {-1}), Catch::Contains("index -1 out of range"));
}

TEST_CASE("map_batches applies a function to slices of rows and joins the results in order", "[data][dataset]") {
  const Tensor x = tensor({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {5, 2});
  std::vector<int64_t> sizes;
  const Tensor y = map_batches(x, 2, [&](const Tensor& b) {
    sizes.push_back(b.size(0));
    return mul(b, 10.0);
  });
  CHECK(sizes == std::vector<int64_t>{2, 2, 1});  // the last slice holds the rest
  CHECK(equal(y, tensor({0, 10, 20, 30, 40, 50, 60, 70, 80, 90}, {5, 2})));
  CHECK(equal(map_batches(x, 100, [](const Tensor& b) { return mul(b, 1.0); }), x));
  CHECK_THROWS_WITH(map_batches(x, 0, [](const Tensor& b) { return b; }), Catch::Contains("batch must be >= 1, got 0"));
  CHECK_THROWS_WITH(map_batches(tensor({}, {0, 2}), 2, [](const Tensor& b) { return b; }),
                    Catch::Contains("N >= 1"));
}

TEST_CASE("map_batches refuses results it cannot join", "[data][dataset]") {
  const Tensor x = tensor({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {5, 2});
  // Not one row per row of the slice.
  CHECK_THROWS_WITH(map_batches(x, 2, [](const Tensor& b) { return slice(b, 0, 0, 1); }),
                    Catch::Contains("f mapped rows [0, 2) to (1,2), expected 2 rows"));
  // Another shape per row, then another dtype, after the first slice.
  int calls = 0;
  CHECK_THROWS_WITH(map_batches(x, 2, [&](const Tensor& b) { return ++calls == 1 ? b : reshape(b, {b.size(0), 2, 1}); }),
                    Catch::Contains("f mapped rows [2, 4) to (2,2,1) float32, but earlier rows to (5,2) float32"));
  calls = 0;
  CHECK_THROWS_WITH(map_batches(x, 2, [&](const Tensor& b) { return ++calls == 1 ? b : zeros({b.size(0), 2}, kFloat64); }),
                    Catch::Contains("(2,2) float64, but earlier rows to (5,2) float32"));
  // A graph it would drop.
  Tensor w = ones({5, 2});
  w.requires_grad_(true);
  CHECK_THROWS_WITH(map_batches(w, 2, [](const Tensor& b) { return mul(b, 2.0); }),
                    Catch::Contains("requires gradients"));
  {
    NoGradGuard no_grad;
    CHECK(equal(map_batches(w, 2, [](const Tensor& b) { return mul(b, 2.0); }), full({5, 2}, 2.0)));
  }
}

TEST_CASE("a RowCache returns the rows it was given, in memory and in a temporary file", "[data][row_cache]") {
  TempDir dir;
  Generator g(5);
  const Tensor x = randn({7, 2, 3}, g);
  for (RowStorage storage : {RowStorage::Memory, RowStorage::File}) {
    CAPTURE(row_storage_name(storage));
    RowCache cache(7, {2, 3}, storage, dir.path.string());
    CHECK(cache.storage() == storage);
    CHECK(cache.bytes() == 7 * 6 * 4);
    cache.append(slice(x, 0, 0, 3));
    cache.append(slice(x, 0, 3, 3));  // nothing
    CHECK(cache.written() == 3);
    CHECK_THROWS_WITH(cache.gather({3}), Catch::Contains("index 3 out of range [0, 3) (the rows appended so far)"));
    cache.append(slice(x, 0, 3, 7));
    CHECK(equal(cache.gather({0, 1, 2, 3, 4, 5, 6}), x));  // bitwise
    CHECK(equal(cache.gather({6, 2, 3, 4, 2}), gather_rows(x, {6, 2, 3, 4, 2})));
    CHECK(cache.gather({}).shape() == Shape{0, 2, 3});
    CHECK_THROWS_WITH(cache.gather({-1}), Catch::Contains("index -1 out of range [0, 7)"));
    CHECK_THROWS_WITH(cache.append(slice(x, 0, 0, 1)), Catch::Contains("1 rows do not fit: 7 of 7 rows"));
  }
  CHECK(dir.listing().empty());  // the file never had a name there (or lost it at once)
}

TEST_CASE("a RowCache keeps small caches in memory and large ones in a file", "[data][row_cache]") {
  CHECK(RowCache(2, {3}).storage() == RowStorage::Memory);
  CHECK(resolve_row_storage(RowStorage::Auto, kRowCacheMemoryLimit) == RowStorage::Memory);
  CHECK(resolve_row_storage(RowStorage::Auto, kRowCacheMemoryLimit + 1) == RowStorage::File);
  CHECK(resolve_row_storage(RowStorage::Memory, kRowCacheMemoryLimit + 1) == RowStorage::Memory);
  CHECK(resolve_row_storage(RowStorage::File, 0) == RowStorage::File);
  TempDir dir;
  CHECK(RowCache(0, {3}, RowStorage::File, dir.path.string()).gather({}).shape() == Shape{0, 3});
}

TEST_CASE("a RowCache refuses bad sizes, rows and directories", "[data][row_cache]") {
  CHECK_THROWS_WITH(RowCache(-1, {3}), Catch::Contains("rows must be >= 0, got -1"));
  CHECK_THROWS_WITH(RowCache(2, {3, -2}), Catch::Contains("the row shape (3,-2) has a negative dimension"));
  CHECK_THROWS_AS(RowCache(int64_t(1) << 40, {int64_t(1) << 40}), Error);  // the size overflows
  CHECK_THROWS_WITH(RowCache(2, {3}, RowStorage::File, "/nonexistent/inv"),
                    Catch::Contains("cannot use '/nonexistent/inv' for a temporary file"));
  TempDir dir;
  const std::string file = dir.file("plain");
  io::write_file_atomic(file, std::string("x"));
  CHECK_THROWS_WITH(RowCache(2, {3}, RowStorage::File, file), Catch::Contains("it is not a directory"));
  RowCache cache(2, {3});
  CHECK_THROWS_WITH(cache.append(zeros({1, 4})), Catch::Contains("expected rows (k, 3), got (1,4)"));
  CHECK_THROWS_WITH(cache.append(zeros({3})), Catch::Contains("expected rows (k, 3), got (3)"));
  CHECK_THROWS_WITH(cache.append(zeros({1, 3}, kFloat64)), Catch::Contains("expected float32 rows, got float64"));
  CHECK_THROWS_WITH(cache.append(Tensor()), Catch::Contains("got an undefined tensor"));
  CHECK(cache.written() == 0);
}

TEST_CASE("interleave_classes: round-robin by class, each class in its own order (worked example)",
          "[data][dataset]") {
  Dataset ds;
  ds.classes = {"a", "b", "c"};
  ds.labels = {0, 0, 0, 0, 1, 1, 1, 2, 2};
  std::vector<float> ids(9);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = float(i);
  ds.images = from_vector(ids, {9, 1, 1, 1});
  const Dataset mixed = interleave_classes(ds);
  CHECK(mixed.labels == I{0, 1, 2, 0, 1, 2, 0, 1, 0});
  CHECK(mixed.images.to_vector<float>() == std::vector<float>{0, 4, 7, 1, 5, 8, 2, 6, 3});
  CHECK(mixed.classes == ds.classes);
  CHECK(interleave_classes(Dataset{zeros({0, 1, 1, 1}), {}, {"a"}}).size() == 0);
}

// ---------------------------------------------------------------------------
// IDX
// ---------------------------------------------------------------------------

TEST_CASE("IDX images and labels read back exactly, raw and gzip", "[data][idx]") {
  TempDir dir;
  const Tensor images = pattern_images(2, 3, 4);
  write_idx_images(dir.file("img"), images);
  write_idx_labels(dir.file("lab"), {7, 0});
  const Bytes raw = io::read_file(dir.file("img"));
  REQUIRE(raw.size() == 16 + 24);
  CHECK(Bytes(raw.begin(), raw.begin() + 16) == Bytes{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4});
  CHECK(raw[16 + 5] == 35);  // pixel k = 5 is 5·7
  CHECK(io::read_file(dir.file("lab")) == Bytes{0, 0, 8, 1, 0, 0, 0, 2, 7, 0});

  const Tensor back = load_idx_images(dir.file("img"));
  CHECK(back.shape() == Shape{2, 1, 3, 4});
  CHECK(equal(back, images));
  CHECK(back.at<float>({1, 0, 2, 3}) == float((23 * 7) % 256) / 255.0f);
  CHECK(load_idx_labels(dir.file("lab")) == I{7, 0});

  io::write_file_atomic(dir.file("img.gz"), gzip_stored(raw));
  CHECK(equal(load_idx_images(dir.file("img.gz")), images));
  Bytes every = encode_idx({1, 16, 16}, Bytes(256));  // every byte value: byte / 255, as ToTensor
  for (int v = 0; v < 256; ++v) every[size_t(16 + v)] = uint8_t(v);
  io::write_file_atomic(dir.file("all"), every);
  const Tensor all = load_idx_images(dir.file("all"));
  for (int v = 0; v < 256; ++v) CHECK(all.data<float>()[v] == float(v) / 255.0f);
  CHECK(all.data<float>()[255] == 1.0f);
}

TEST_CASE("IDX readers reject corrupt files", "[data][idx]") {
  using Catch::Contains;
  TempDir dir;
  const Bytes good = encode_idx({2, 3, 4}, Bytes(24, 9));
  const Bytes labels = encode_idx({3}, {1, 2, 3});
  auto images_from = [&](const Bytes& b) {
    io::write_file_atomic(dir.file("f"), b);
    return load_idx_images(dir.file("f"));
  };
  auto labels_from = [&](const Bytes& b, int64_t classes = 10) {
    io::write_file_atomic(dir.file("f"), b);
    return load_idx_labels(dir.file("f"), classes);
  };
  CHECK(images_from(good).shape() == Shape{2, 1, 3, 4});

  Bytes magic = good;
  magic[0] = 0x1f;
  CHECK_THROWS_WITH(images_from(magic),
                    Contains(dir.file("f")) && Contains("not an IDX file") && Contains("expected magic 0x00000803"));
  Bytes type = good;
  type[2] = 0x0D;
  CHECK_THROWS_WITH(images_from(type), Contains("data type 0x0d"));
  CHECK_THROWS_WITH(images_from(labels), Contains("expected IDX images of rank 3") && Contains("found rank 1"));
  CHECK_THROWS_WITH(labels_from(good), Contains("expected IDX labels of rank 1") && Contains("found rank 3"));
  CHECK_THROWS_WITH(images_from(encode_idx({1, 2, 2, 1}, Bytes(4))), Contains("found rank 4"));

  // Truncated inside the magic, inside the dims, inside the data, and by one byte.
  CHECK_THROWS_WITH(images_from(cut(good, 0)), Contains("truncated IDX file of 0 bytes"));
  CHECK_THROWS_WITH(images_from(cut(good, 3)), Contains("truncated IDX file of 3 bytes"));
  CHECK_THROWS_WITH(images_from(cut(good, 10)), Contains("truncated IDX header") && Contains("needs 16 bytes"));
  CHECK_THROWS_WITH(images_from(cut(good, 16)),
                    Contains("truncated IDX images: dims (2,3,4) need 24") && Contains("found 0"));
  CHECK_THROWS_WITH(images_from(cut(good, 30)), Contains("need 24") && Contains("found 14"));
  CHECK_THROWS_WITH(images_from(cut(good, good.size() - 1)), Contains("need 24") && Contains("found 23"));
  CHECK_THROWS_WITH(labels_from(cut(labels, 10)), Contains("truncated IDX labels") && Contains("found 2"));
  Bytes longer = good;
  longer.push_back(0);
  longer.push_back(0);
  CHECK_THROWS_WITH(images_from(longer), Contains("2 unexpected trailing bytes"));
  // Huge dims are reported as truncation, and cannot overflow the size computation.
  Bytes huge = good;
  huge[5] = 0xFF;  // N = 0x00FF0002
  CHECK_THROWS_WITH(images_from(huge), Contains("truncated IDX images") && Contains("need 200540184 data bytes"));
  for (int k = 4; k < 16; ++k) huge[size_t(k)] = 0xFF;  // (2^32 - 1)^3 bytes
  CHECK_THROWS_WITH(images_from(huge), Contains("need more than 2^64 data bytes"));
  Bytes zero = good;
  zero[11] = 0;
  CHECK_THROWS_WITH(images_from(zero), Contains("dimension 1 is 0"));
  // Labels out of range.
  CHECK_THROWS_WITH(labels_from(encode_idx({3}, {0, 10, 1})),
                    Contains("label 10 at index 1") && Contains("outside [0, 10)"));
  CHECK(labels_from(encode_idx({2}, {4, 3}), 5) == I{4, 3});
  CHECK_THROWS_WITH(labels_from(encode_idx({2}, {4, 5}), 5), Contains("label 5 at index 1"));
  // gzip damage is reported with the path too.
  Bytes gz = gzip_stored(good);
  gz[gz.size() - 6] ^= 0xFF;
  CHECK_THROWS_WITH(images_from(gz), Contains(dir.file("f")) && Contains("CRC32"));
  CHECK_THROWS_WITH(images_from(cut(gzip_stored(good), 30)), Contains(dir.file("f")) && Contains("truncated"));
  CHECK_THROWS_WITH(load_idx_images(dir.file("nope")), Contains("cannot open") && Contains("nope"));
  // Writers validate too.
  CHECK_THROWS_WITH(write_idx_images(dir.file("w"), full({1, 1, 2, 2}, 1.5)), Contains("outside [0, 1]"));
  CHECK_THROWS_WITH(write_idx_images(dir.file("w"), zeros({1, 3, 2, 2})), Contains("(N,1,H,W)"));
  CHECK_THROWS_WITH(write_idx_labels(dir.file("w"), {1, 256}), Contains("label 256"));
}

TEST_CASE("load_mnist_like finds raw or gzip files and checks the counts", "[data][idx]") {
  using Catch::Contains;
  TempDir dir;
  const Tensor images = pattern_images(3, 2, 2);
  write_idx_images(dir.file("t10k-images-idx3-ubyte"), images);
  io::write_file_atomic(dir.file("t10k-labels-idx1-ubyte.gz"), gzip_stored(encode_idx({3}, {9, 0, 4})));
  const Dataset test = load_fashion_mnist(dir.path.string(), false);
  CHECK(equal(test.images, images));
  CHECK(test.labels == I{9, 0, 4});
  CHECK(test.classes[0] == "T-shirt/top");
  CHECK(test.classes[9] == "Ankle boot");
  CHECK(load_mnist(dir.path.string(), false).classes == mnist_classes());

  CHECK_THROWS_WITH(load_mnist(dir.path.string(), true),
                    Contains("no 'train-images-idx3-ubyte' or 'train-images-idx3-ubyte.gz'"));
  write_idx_images(dir.file("train-images-idx3-ubyte"), images);
  write_idx_labels(dir.file("train-labels-idx1-ubyte"), {1, 2});
  CHECK_THROWS_WITH(load_mnist(dir.path.string(), true), Contains("has 3 images") && Contains("has 2 labels"));
  write_idx_labels(dir.file("train-labels-idx1-ubyte"), {1, 2, 3});
  CHECK_THROWS_WITH(load_mnist_like(dir.path.string(), true, {"a", "b", "c"}), Contains("label 3 at index 2"));
}

TEST_CASE("the shared MNIST test set loads with its documented labels (skipped when absent)", "[data][real]") {
  // The full loaders on the real files; kept to the 10,000-image test sets so the suite stays
  // quick under the sanitizers. (Fashion-MNIST's labels only; its images use the same code.)
  // The data directory: $INV_DATA_DIR, else the one CMake found beside the source tree
  // (INV_TEST_DATA_DIR, tests/CMakeLists.txt).
  const char* env = std::getenv("INV_DATA_DIR");
  const std::string mnist = std::string(env && *env ? env : INV_TEST_DATA_DIR) + "/mnist";
  if (io::file_exists(mnist + "/t10k-images-idx3-ubyte.gz") && io::file_exists(mnist + "/t10k-labels-idx1-ubyte.gz")) {
    const Dataset ds = load_mnist(mnist, false);
    CHECK(ds.images.shape() == Shape{10000, 1, 28, 28});
    CHECK(ds.head(10).labels == I{7, 2, 1, 0, 4, 1, 4, 9, 5, 9});
    CHECK(first_index_of_each_class(ds) == I{3, 2, 1, 18, 4, 8, 11, 0, 61, 7});
    const float* p = ds.images.data<float>();
    double sum = 0;
    for (int64_t i = 0; i < ds.images.numel(); ++i) sum += p[i];
    CHECK(sum / double(ds.images.numel()) == Approx(0.13251).epsilon(1e-4));  // the known MNIST test mean
  } else {
    WARN("MNIST not found in " << mnist << "; skipped");
  }
  const std::string fashion = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (io::file_exists(fashion)) {
    const I labels = load_idx_labels(fashion);
    CHECK(labels.size() == 10000);
    CHECK(I(labels.begin(), labels.begin() + 10) == I{9, 2, 1, 1, 6, 1, 4, 6, 5, 7});
  } else {
    WARN("Fashion-MNIST not found at " << fashion << "; skipped");
  }
}

// ---------------------------------------------------------------------------
// CIFAR-10 binary
// ---------------------------------------------------------------------------

TEST_CASE("IDX, gzip and CIFAR-10 readers say so when given a directory", "[data][idx][cifar]") {
  TempDir dir;
  const std::string sub = dir.file("sub");
  std::filesystem::create_directory(sub);
  const auto is_dir = Catch::Contains("'" + sub + "' is a directory, expected a file");
  CHECK_THROWS_WITH(io::read_maybe_gzip(sub), is_dir);
  CHECK_THROWS_WITH(load_idx_images(sub), is_dir);
  CHECK_THROWS_WITH(load_idx_labels(sub), is_dir);
  CHECK_THROWS_WITH(load_cifar10_binary({sub}), is_dir);
}

TEST_CASE("CIFAR-10 binary records read back exactly, across files", "[data][cifar]") {
  TempDir dir;
  Dataset a;
  a.images = pattern_images(2, 32, 32, 3);
  a.labels = {3, 9};
  write_cifar10_binary(dir.file("a.bin"), a);
  const Bytes bytes = io::read_file(dir.file("a.bin"));
  REQUIRE(bytes.size() == 2 * 3073);
  CHECK(bytes[0] == 3);
  CHECK(bytes[3073] == 9);
  CHECK(bytes[1 + 1024] == uint8_t((1024 * 7) % 256));  // first green pixel of image 0
  Dataset b;
  b.images = full({1, 3, 32, 32}, 1.0);
  b.images.at<float>({0, 2, 31, 31}) = 0.0f;  // last blue pixel
  b.labels = {0};
  write_cifar10_binary(dir.file("b.bin"), b);

  const Dataset ds = load_cifar10_binary({dir.file("a.bin"), dir.file("b.bin")});
  CHECK(ds.images.shape() == Shape{3, 3, 32, 32});
  CHECK(ds.labels == I{3, 9, 0});
  CHECK(ds.classes == cifar10_classes());
  CHECK(equal(ds.head(2).images, a.images));
  CHECK(ds.images.at<float>({1, 1, 0, 1}) == float(((3072 + 1024 + 1) * 7) % 256) / 255.0f);
  CHECK(ds.images.at<float>({2, 2, 31, 31}) == 0.0f);
  CHECK(ds.images.at<float>({2, 2, 31, 30}) == 1.0f);

  io::write_file_atomic(dir.file("batches.meta.txt"), std::string("zero\none\r\n\n two\n3\n4\n5\n6\n7\n8\nnine\n\n"));
  const Dataset named = load_cifar10_binary({dir.file("a.bin")});
  CHECK(named.classes.size() == 10);
  CHECK(named.classes[1] == "one");
  CHECK(named.classes[2] == " two");
  CHECK(named.classes[9] == "nine");
  CHECK(load_cifar10_binary({dir.file("a.bin")}, {"x", "y", "z", "w", "v", "u", "t", "s", "r", "q"}).classes[0] == "x");
}

TEST_CASE("CIFAR-10 reader rejects bad files", "[data][cifar]") {
  using Catch::Contains;
  TempDir dir;
  Bytes rec(3073, 0);
  rec[0] = 2;
  Bytes two = rec;
  two.insert(two.end(), rec.begin(), rec.end());
  auto load = [&](const Bytes& b, std::vector<std::string> names = {}) {
    io::write_file_atomic(dir.file("c.bin"), b);
    return load_cifar10_binary({dir.file("c.bin")}, names);
  };
  CHECK(load(two).size() == 2);
  CHECK_THROWS_WITH(load(cut(two, 3073 + 100)), Contains(dir.file("c.bin")) && Contains("1 whole records and 100 "
                                                                                        "trailing bytes"));
  Bytes longer = two;
  longer.push_back(1);
  CHECK_THROWS_WITH(load(longer), Contains("2 whole records and 1 trailing bytes"));
  CHECK_THROWS_WITH(load({}), Contains("empty CIFAR-10 file"));
  Bytes label = two;
  label[3073] = 10;
  CHECK_THROWS_WITH(load(label), Contains("label 10 of record 1") && Contains("outside [0, 10)"));
  CHECK_THROWS_WITH(load(two, {"a", "b"}), Contains("label 2 of record 0") && Contains("outside [0, 2)"));
  CHECK_THROWS_WITH(load_cifar10_binary({}), Contains("no files"));
  CHECK_THROWS_WITH(load_cifar10_binary({dir.file("missing.bin")}), Contains("missing.bin"));
  Dataset wrong;
  wrong.images = zeros({1, 3, 28, 28});
  wrong.labels = {0};
  CHECK_THROWS_WITH(write_cifar10_binary(dir.file("w.bin"), wrong), Contains("(1,3,32,32)"));
}

// ---------------------------------------------------------------------------
// DataLoader
// ---------------------------------------------------------------------------

TEST_CASE("DataLoader batch counts, contents and every index once per epoch", "[data][loader]") {
  const Dataset ds = toy_dataset(10);
  CHECK(DataLoader(ds, 4, false, 0).num_batches() == 3);
  CHECK(DataLoader(ds, 4, false, 0, true).num_batches() == 2);
  CHECK(DataLoader(ds, 5, false, 0, true).num_batches() == 2);
  CHECK(DataLoader(ds, 11, false, 0, true).num_batches() == 0);
  CHECK(DataLoader(ds, 11, false, 0).num_batches() == 1);

  DataLoader plain(ds, 4, false, 0);
  std::vector<I> seen;
  for (const Batch& b : plain.epoch(0)) seen.push_back(b.indices);
  CHECK(seen == std::vector<I>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}});

  for (bool drop_last : {false, true}) {
    DataLoader loader(ds, 4, true, 42, drop_last);
    for (int64_t e = 0; e < 3; ++e) {
      std::multiset<int64_t> visited;
      int64_t batches = 0;
      for (const Batch& b : loader.epoch(e)) {
        ++batches;
        CHECK(b.images.shape() == Shape{b.size(), 1, 2, 3});
        for (int64_t k = 0; k < b.size(); ++k) {
          const int64_t i = b.indices[size_t(k)];
          visited.insert(i);
          CHECK(b.labels[size_t(k)] == ds.labels[size_t(i)]);
          for (int64_t p = 0; p < 6; ++p)
            CHECK(b.images.data<float>()[k * 6 + p] == ds.images.data<float>()[i * 6 + p]);
        }
      }
      CHECK(batches == loader.num_batches());
      CHECK(visited.size() == (drop_last ? 8u : 10u));
      CHECK(std::set<int64_t>(visited.begin(), visited.end()).size() == visited.size());  // no repeats
    }
  }
}

TEST_CASE("DataLoader shuffling depends only on (seed, epoch)", "[data][loader]") {
  const Dataset ds = toy_dataset(50);
  DataLoader a(ds, 8, true, 7), b(ds, 8, true, 7), c(ds, 8, true, 8);
  CHECK(a.order(0) == b.order(0));
  CHECK(a.order(0) != a.order(1));
  CHECK(a.order(0) != c.order(0));
  I sorted = a.order(3);
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == DataLoader(ds, 8, false, 7).order(3));
  // Resuming at epoch 3 gives the batches an uninterrupted run sees at epoch 3.
  for (int64_t e = 0; e < 3; ++e)
    for (const Batch& batch : a.epoch(e)) (void)batch;
  std::vector<I> first, resumed;
  for (const Batch& batch : a.epoch(3)) first.push_back(batch.indices);
  for (const Batch& batch : b.epoch(3)) resumed.push_back(batch.indices);
  CHECK(first == resumed);
  CHECK_THROWS_WITH(a.order(-1), Catch::Contains("epoch must be >= 0"));
}

TEST_CASE("DataLoader transform gets a per-batch generator and can replace the images", "[data][loader]") {
  const Dataset ds = toy_dataset(6);
  auto run = [&](uint64_t seed) {
    DataLoader loader(ds, 4, true, seed);
    loader.set_transform([](Batch& b, Generator& gen) {
      b.images = full(b.images.shape(), gen.uniform());
      b.labels[0] = -1;
    });
    std::vector<float> firsts;
    for (const Batch& b : loader.epoch(1)) {
      CHECK(b.labels[0] == -1);
      firsts.push_back(b.images.data<float>()[0]);
    }
    // Random access to batch 1 alone gives the same transform draw.
    CHECK(loader.batch(loader.order(1), 1, 1).images.data<float>()[0] == firsts[1]);
    return firsts;
  };
  CHECK(run(3) == run(3));
  CHECK(run(3) != run(4));
  CHECK(run(3)[0] != run(3)[1]);
}

TEST_CASE("DataLoader rejects bad arguments", "[data][loader]") {
  using Catch::Contains;
  const Dataset ds = toy_dataset(5);
  CHECK_THROWS_WITH(DataLoader(ds, 0, false, 0), Contains("batch_size must be >= 1"));
  Dataset bad = ds;
  bad.labels.push_back(0);
  CHECK_THROWS_WITH(DataLoader(bad, 2, false, 0), Contains("5 images but 6 labels"));
  DataLoader loader(ds, 2, false, 0);
  CHECK_THROWS_WITH(loader.batch(loader.order(0), 0, 3), Contains("batch 3 out of range [0, 3)"));
  CHECK_THROWS_WITH(loader.batch({0, 1}, 0, 0), Contains("order has 2 entries"));
}
