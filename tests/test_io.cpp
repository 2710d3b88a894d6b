// File formats: the native checkpoint (golden version-1 file, truncation and corruption
// everywhere, load_into), NumPy .npy (fixtures written by NumPy, byte-identical output)
// and PNG images (exact round trip, grids, base64).
#include "image_bytes.hpp"
#include "temp_dir.hpp"
#include <catch2/catch.hpp>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include <inv/inv.hpp>
#include <inv/io/checkpoint.hpp>
#include <inv/io/image.hpp>
#include <inv/io/image_decode.hpp>
#include <inv/io/npy.hpp>

using namespace inv;
using namespace inv::io;
using Bytes = std::vector<uint8_t>;
using V = std::vector<double>;
namespace fs = std::filesystem;

namespace {

using TempDir = inv::testing::TempDir;

std::string fixture(const std::string& name) { return std::string(INV_FIXTURES_DIR) + "/" + name; }

Bytes prefix(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }

/// The content of the golden file tests/fixtures/checkpoint_v1.invckpt.
Checkpoint golden_checkpoint() {
  Checkpoint ck;
  ck.metadata["description"] = "inv checkpoint format version 1 golden file";
  ck.tensors.emplace_back("conv.weight", tensor({0.5, -1.25, 2, 0, 3.75, -8}, {2, 3}, kFloat32));
  ck.tensors.emplace_back("bn.running_var", tensor({0.1, -2.5}, {2}, kFloat64));
  return ck;
}

/// A small checkpoint with every kind of entry, for the truncation and corruption sweeps.
Checkpoint small_checkpoint() {
  Checkpoint ck;
  ck.metadata["epoch"] = "3";
  ck.metadata["arch"] = "lenet";
  ck.tensors.emplace_back("w", tensor({1, 2, 3, 4}, {2, 2}, kFloat32));
  ck.tensors.emplace_back("b", tensor({-1, 0.5}, {2}, kFloat64));
  ck.tensors.emplace_back("step", scalar_tensor(7));
  ck.tensors.emplace_back("none", zeros({0, 3}));
  return ck;
}

/// magic, version 1, flags 0 and no metadata: the start of a hand-built checkpoint.
ByteWriter checkpoint_start(uint32_t version = 1, uint32_t flags = 0) {
  ByteWriter w;
  w.put_bytes("INVCKPT\0", 8);
  w.put<uint32_t>(version);
  w.put<uint32_t>(flags);
  w.put<uint64_t>(0);
  return w;
}

/// Appends the CRC-32 of everything so far, as save_checkpoint does.
Bytes with_crc(ByteWriter& w) {
  w.put<uint32_t>(crc32(w.bytes().data(), w.bytes().size()));
  return w.bytes();
}

/// A one-tensor checkpoint with the given record fields (valid CRC), for header-field errors.
Bytes one_tensor_checkpoint(uint8_t dtype, const std::vector<int64_t>& dims, uint64_t nbytes, size_t data_bytes,
                            uint8_t rank_override = 255) {
  ByteWriter w = checkpoint_start();
  w.put<uint64_t>(1);
  w.put_string("x");
  w.put<uint8_t>(dtype);
  w.put<uint8_t>(rank_override != 255 ? rank_override : static_cast<uint8_t>(dims.size()));
  for (int64_t d : dims) w.put<int64_t>(d);
  w.put<uint64_t>(nbytes);
  const Bytes zeros_(data_bytes, 0);
  w.put_bytes(zeros_.data(), zeros_.size());
  return with_crc(w);
}

}  // namespace

// ---------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------

TEST_CASE("checkpoint round trip keeps names, order, dtypes, shapes, values and metadata", "[io][checkpoint]") {
  TempDir dir;
  Checkpoint ck = small_checkpoint();
  ck.metadata["empty"] = "";
  ck.metadata["binary"] = std::string("a\0b\xff", 4);
  Generator gen(42);
  ck.tensors.emplace_back("big", randn({3, 4, 5}, gen, kFloat64));
  ck.tensors.emplace_back("big32", randn({2, 1, 3, 3}, gen, kFloat32));
  const std::string path = dir.file("model.invckpt");
  save_checkpoint(path, ck);
  const Checkpoint back = load_checkpoint(path);
  CHECK(back.metadata == ck.metadata);
  REQUIRE(back.tensors.size() == ck.tensors.size());
  for (size_t i = 0; i < ck.tensors.size(); ++i) {
    CAPTURE(ck.tensors[i].first);
    CHECK(back.tensors[i].first == ck.tensors[i].first);
    CHECK(equal(back.tensors[i].second, ck.tensors[i].second));  // same shape, dtype and bits
  }
  CHECK(back.tensor("step").dim() == 0);
  CHECK(back.tensor("step").item() == 7.0);
  CHECK(back.tensor("none").shape() == Shape{0, 3});
  CHECK(back.tensor("b").dtype() == kFloat64);
  CHECK_THROWS_WITH(back.tensor("nope"), Catch::Contains("no tensor 'nope'") && Catch::Contains("w, b, step"));
}

TEST_CASE("checkpoint layout: a hand-computed encoding of one tensor", "[io][checkpoint]") {
  Checkpoint ck;
  ck.metadata["k"] = "v";
  ck.tensors.emplace_back("t", tensor({1.0}, {1}, kFloat32));
  const Bytes b = encode_checkpoint(ck);
  ByteWriter w;
  w.put_bytes("INVCKPT\0", 8);
  w.put<uint32_t>(1);               // version
  w.put<uint32_t>(0);               // flags
  w.put<uint64_t>(1);               // metadata count
  w.put_string("k");
  w.put_string("v");
  w.put<uint64_t>(1);               // tensor count
  w.put_string("t");
  w.put<uint8_t>(0);                // float32
  w.put<uint8_t>(1);                // rank
  w.put<int64_t>(1);                // dims
  w.put<uint64_t>(4);               // byte length
  w.put<float>(1.0f);               // data
  CHECK(b.size() == 8 + 4 + 4 + 8 + 5 + 5 + 8 + 5 + 1 + 1 + 8 + 8 + 4 + 4);
  CHECK(with_crc(w) == b);
  // The CRC-32 is zlib's: 0xCBF43926 for "123456789".
  const std::string check = "123456789";
  CHECK(crc32(reinterpret_cast<const uint8_t*>(check.data()), check.size()) == 0xCBF43926u);
}

// Regenerates the golden file. Never run by default: the committed file must stay as it is.
TEST_CASE("write the golden version-1 checkpoint fixture", "[.generate]") {
  save_checkpoint(fixture("checkpoint_v1.invckpt"), golden_checkpoint());
}

TEST_CASE("the golden version-1 checkpoint reads value by value, and the writer reproduces it", "[io][checkpoint]") {
  const std::string path = fixture("checkpoint_v1.invckpt");
  const Checkpoint ck = load_checkpoint(path);
  REQUIRE(ck.metadata.size() == 1);
  CHECK(ck.metadata.at("description") == "inv checkpoint format version 1 golden file");
  REQUIRE(ck.tensors.size() == 2);
  CHECK(ck.tensors[0].first == "conv.weight");
  const Tensor& w = ck.tensors[0].second;
  CHECK(w.dtype() == kFloat32);
  CHECK(w.shape() == Shape{2, 3});
  CHECK(w.to_vector<double>() == V{0.5, -1.25, 2, 0, 3.75, -8});
  CHECK(ck.tensors[1].first == "bn.running_var");
  const Tensor& v = ck.tensors[1].second;
  CHECK(v.dtype() == kFloat64);
  CHECK(v.shape() == Shape{2});
  CHECK(v.at<double>({0}) == 0.1);
  CHECK(v.at<double>({1}) == -2.5);
  // The raw bytes start with the magic and version 1, and today's writer emits the same file.
  const Bytes raw = read_file(path);
  REQUIRE(raw.size() > 16);
  CHECK(std::string(raw.begin(), raw.begin() + 8) == std::string("INVCKPT\0", 8));
  CHECK(raw[8] == 1);
  CHECK(raw[9] == 0);
  CHECK(encode_checkpoint(golden_checkpoint()) == raw);
}

TEST_CASE("a checkpoint truncated at any byte throws inv::Error", "[io][checkpoint]") {
  const Bytes full = encode_checkpoint(small_checkpoint());
  REQUIRE(parse_checkpoint(full, "ok").tensors.size() == 4);
  for (size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    CHECK_THROWS_AS(parse_checkpoint(prefix(full, n), "cut.invckpt"), Error);
  }
  // The message says where and what was cut.
  CHECK_THROWS_WITH(parse_checkpoint(prefix(full, full.size() - 2), "cut.invckpt"),
                    Catch::Contains("cut.invckpt") && Catch::Contains("truncated") && Catch::Contains("checksum"));
  CHECK_THROWS_WITH(parse_checkpoint(prefix(full, 3), "cut.invckpt"),
                    Catch::Contains("expected magic INVCKPT") && Catch::Contains("only 3 bytes"));
}

TEST_CASE("any single corrupted byte in a checkpoint is detected", "[io][checkpoint]") {
  const Bytes full = encode_checkpoint(small_checkpoint());
  for (size_t i = 0; i < full.size(); ++i)
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      CAPTURE(i, int(flip));
      Bytes bad = full;
      bad[i] ^= flip;
      CHECK_THROWS_AS(parse_checkpoint(bad, "bad.invckpt"), Error);
    }
  // A flipped bit inside tensor data (here the last byte of the last tensor) only shows in the checksum.
  Bytes bad = encode_checkpoint(golden_checkpoint());
  bad[bad.size() - 5] ^= 0x10;
  CHECK_THROWS_WITH(parse_checkpoint(bad, "bad.invckpt"),
                    Catch::Contains("bad.invckpt: checksum mismatch") && Catch::Contains("stored CRC-32 0x"));
}

TEST_CASE("checkpoint loading errors say what was expected and what was found", "[io][checkpoint]") {
  TempDir dir;
  // Wrong magic (a PNG), with the path.
  const std::string png = dir.file("image.png");
  save_png(png, zeros({1, 2, 2}));
  CHECK_THROWS_WITH(load_checkpoint(png), Catch::Contains(png) &&
                                              Catch::Contains("not an inv checkpoint: expected magic INVCKPT, "
                                                              "found \"\\x89PNG\\x0d\\x0a\\x1a\\x0a\""));
  CHECK_THROWS_WITH(load_checkpoint(dir.file("missing.invckpt")),
                    Catch::Contains("missing.invckpt") && Catch::Contains("cannot open"));
  // Version and flags.
  ByteWriter v7 = checkpoint_start(7);
  v7.put<uint64_t>(0);
  CHECK_THROWS_WITH(parse_checkpoint(with_crc(v7), "f"),
                    Catch::Contains("unsupported checkpoint version 7 (this build reads version 1)"));
  ByteWriter flagged = checkpoint_start(1, 2);
  flagged.put<uint64_t>(0);
  CHECK_THROWS_WITH(parse_checkpoint(with_crc(flagged), "f"), Catch::Contains("unsupported flags 0x00000002"));
  // Absurd counts and lengths are rejected before anything is allocated.
  ByteWriter many = checkpoint_start();
  many.put<uint64_t>(uint64_t{1} << 60);
  CHECK_THROWS_WITH(parse_checkpoint(with_crc(many), "f"),
                    Catch::Contains("tensor count 1152921504606846976 at offset 24 is impossible"));
  ByteWriter meta;
  meta.put_bytes("INVCKPT\0", 8);
  meta.put<uint32_t>(1);
  meta.put<uint32_t>(0);
  meta.put<uint64_t>(1);
  meta.put<uint32_t>(0xfffffff0u);  // key length far beyond the file
  meta.put<uint64_t>(0);
  CHECK_THROWS_WITH(parse_checkpoint(with_crc(meta), "f"),
                    Catch::Contains("truncated, expected 4294967280 more bytes for metadata key"));
  // Tensor record fields.
  CHECK_THROWS_WITH(parse_checkpoint(one_tensor_checkpoint(0, std::vector<int64_t>(9, 1), 4, 4), "f"),
                    Catch::Contains("tensor 'x': rank 9 exceeds the maximum 8"));
  CHECK_THROWS_WITH(parse_checkpoint(one_tensor_checkpoint(0, {2, -3}, 0, 0), "f"),
                    Catch::Contains("tensor 'x': negative dimension -3"));
  CHECK_THROWS_WITH(parse_checkpoint(one_tensor_checkpoint(0, {2, 3}, 20, 20), "f"),
                    Catch::Contains("tensor 'x': byte length 20 does not match shape (2,3) float32 (expected 24)"));
  CHECK_THROWS_WITH(parse_checkpoint(one_tensor_checkpoint(1, {2, 3}, 24, 24), "f"),
                    Catch::Contains("byte length 24 does not match shape (2,3) float64 (expected 48)"));
  CHECK_THROWS_WITH(parse_checkpoint(one_tensor_checkpoint(5, {1}, 4, 4), "f"),
                    Catch::Contains("unknown dtype code 5") && Catch::Contains("0 = float32 or 1 = float64"));
  const int64_t huge = int64_t{1} << 40;
  CHECK_THROWS_WITH(parse_checkpoint(one_tensor_checkpoint(1, {huge, huge}, 16, 16), "f"),
                    Catch::Contains("does not match shape"));
  CHECK_THROWS_WITH(parse_checkpoint(one_tensor_checkpoint(0, {1 << 20}, 4 << 20, 8), "f"),
                    Catch::Contains("truncated, expected 4194304 more bytes for tensor 'x' data"));
  CHECK(parse_checkpoint(one_tensor_checkpoint(0, {2, 3}, 24, 24), "f").tensor("x").shape() == Shape{2, 3});
  // Duplicates.
  ByteWriter dup = checkpoint_start();
  dup.put<uint64_t>(2);
  for (int i = 0; i < 2; ++i) {
    dup.put_string("x");
    dup.put<uint8_t>(0);
    dup.put<uint8_t>(0);
    dup.put<uint64_t>(4);
    dup.put<float>(1.0f);
  }
  CHECK_THROWS_WITH(parse_checkpoint(with_crc(dup), "f"), Catch::Contains("duplicate tensor name 'x' (tensor 1)"));
  ByteWriter dupmeta;
  dupmeta.put_bytes("INVCKPT\0", 8);
  dupmeta.put<uint32_t>(1);
  dupmeta.put<uint32_t>(0);
  dupmeta.put<uint64_t>(2);
  for (int i = 0; i < 2; ++i) {
    dupmeta.put_string("k");
    dupmeta.put_string("v");
  }
  dupmeta.put<uint64_t>(0);
  CHECK_THROWS_WITH(parse_checkpoint(with_crc(dupmeta), "f"), Catch::Contains("duplicate metadata key 'k'"));
  // Trailing bytes after a valid checksum.
  Bytes trailing = encode_checkpoint(small_checkpoint());
  trailing.push_back(0);
  CHECK_THROWS_WITH(parse_checkpoint(trailing, "f"), Catch::Contains("trailing bytes") &&
                                                         Catch::Contains("found 1 more bytes"));
  // Empty file.
  CHECK_THROWS_WITH(parse_checkpoint({}, "f"), Catch::Contains("found \"\" (the file has only 0 bytes)"));
}

TEST_CASE("save_checkpoint rejects what the format cannot hold", "[io][checkpoint]") {
  Checkpoint dup;
  dup.tensors.emplace_back("a", zeros({1}));
  dup.tensors.emplace_back("a", zeros({2}));
  CHECK_THROWS_WITH(encode_checkpoint(dup), Catch::Contains("duplicate tensor name 'a'"));
  Checkpoint deep;
  deep.tensors.emplace_back("d", zeros(Shape(9, 1)));
  CHECK_THROWS_WITH(encode_checkpoint(deep), Catch::Contains("rank 9") && Catch::Contains("at most 8"));
  Checkpoint undef;
  undef.tensors.emplace_back("u", Tensor());
  CHECK_THROWS_WITH(encode_checkpoint(undef), Catch::Contains("'u' is undefined"));
}

TEST_CASE("save_checkpoint is atomic: no temporary files remain and an existing file is replaced",
          "[io][checkpoint]") {
  TempDir dir;
  const std::string path = dir.file("ck.invckpt");
  save_checkpoint(path, small_checkpoint());
  CHECK(dir.listing() == std::set<std::string>{"ck.invckpt"});
  Checkpoint other;
  other.metadata["run"] = "second";
  other.tensors.emplace_back("only", tensor({9}));
  save_checkpoint(path, other);
  CHECK(dir.listing() == std::set<std::string>{"ck.invckpt"});
  const Checkpoint back = load_checkpoint(path);
  CHECK(back.metadata == other.metadata);
  REQUIRE(back.tensors.size() == 1);
  CHECK(back.tensors[0].first == "only");
  CHECK(back.tensors[0].second.to_vector<double>() == V{9});
  CHECK_THROWS_WITH(save_checkpoint(dir.file("no/such/dir/ck.invckpt"), other), Catch::Contains("no/such/dir"));
}

TEST_CASE("write_file_atomic refuses to replace a directory or a FIFO", "[io][file]") {
  TempDir dir;
  const std::string sub = dir.file("sub"), fifo = dir.file("fifo");
  fs::create_directory(sub);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH(write_file_atomic(sub, std::string("x")),
                    Catch::Contains("cannot write '" + sub + "'") && Catch::Contains("it is a directory"));
  CHECK_THROWS_WITH(save_checkpoint(fifo, small_checkpoint()),
                    Catch::Contains("cannot write '" + fifo + "'") && Catch::Contains("it is a FIFO"));
  CHECK_THROWS_WITH(save_npy(fifo, zeros({2})), Catch::Contains("it is a FIFO"));
  // Both are still what they were, and no temporary was left.
  CHECK(fs::is_directory(sub));
  CHECK(fs::is_fifo(fifo));
  CHECK(dir.listing() == std::set<std::string>{"fifo", "sub"});
}

TEST_CASE("every reader says so when given a directory instead of a file", "[io][file]") {
  TempDir dir;
  const std::string sub = dir.file("sub");
  fs::create_directory(sub);
  const auto is_dir = Catch::Contains("'" + sub + "' is a directory, expected a file");
  CHECK_THROWS_WITH(read_file(sub), is_dir);
  CHECK_THROWS_WITH(load_checkpoint(sub), is_dir);
  CHECK_THROWS_WITH(load_npy(sub), is_dir);
  CHECK_THROWS_WITH(load_image(sub, 1), is_dir);
  CHECK_THROWS_WITH(read_file(dir.file("missing")), Catch::Contains("cannot open") && Catch::Contains("missing"));
}

TEST_CASE("read_file refuses an endless non-regular file beyond its limit", "[io][file]") {
  CHECK_THROWS_WITH(read_file("/dev/zero", 1 << 20),
                    Catch::Contains("'/dev/zero' is not a regular file and gave more than 1048576 bytes"));
  CHECK(read_file("/dev/null", 1 << 20).empty());
}

TEST_CASE("load_into copies by name into existing storage and converts dtypes", "[io][checkpoint]") {
  // A "model" whose state_dict entries are views of its parameters.
  Tensor weight = zeros({2, 2}, kFloat64), bias = zeros({2});
  const Tensor weight_view = weight.detach();
  const std::vector<std::pair<std::string, Tensor>> state = {{"fc.weight", weight_view}, {"fc.bias", bias}};
  Checkpoint ck;
  ck.tensors.emplace_back("fc.bias", tensor({0.5, -1}, {2}, kFloat64));          // float64 -> float32
  ck.tensors.emplace_back("fc.weight", tensor({1, 2, 3, 4}, {2, 2}, kFloat32));  // float32 -> float64
  load_into(state, ck);
  CHECK(weight.dtype() == kFloat64);
  CHECK(weight.to_vector<double>() == V{1, 2, 3, 4});  // written through the shared storage
  CHECK(bias.dtype() == kFloat32);
  CHECK(bias.to_vector<double>() == V{0.5, -1});
}

TEST_CASE("load_into lists every difference at once and loads nothing then", "[io][checkpoint]") {
  Tensor conv = zeros({8, 1, 5, 5}), fc3 = zeros({10}), fc1 = zeros({3});
  const std::vector<std::pair<std::string, Tensor>> state = {
      {"conv1.weight", conv}, {"fc1.bias", fc1}, {"fc3.bias", fc3}};
  Checkpoint ck;
  ck.tensors.emplace_back("conv1.weight", ones({6, 1, 5, 5}));
  ck.tensors.emplace_back("fc1.bias", ones({3}));
  ck.tensors.emplace_back("fc4.weight", ones({2, 2}));
  CHECK_THROWS_WITH(load_into(state, ck),
                    Catch::Contains("3 differences") && Catch::Contains("nothing was loaded") &&
                        Catch::Contains("\n  conv1.weight: expected (8,1,5,5), found (6,1,5,5)"
                                        "\n  missing in checkpoint: fc3.bias"
                                        "\n  unexpected in checkpoint: fc4.weight"));
  CHECK(fc1.to_vector<double>() == V{0, 0, 0});  // nothing copied
  // Not strict: names on one side only are skipped, but shapes must still match.
  CHECK_THROWS_WITH(load_into(state, ck, false),
                    Catch::Contains("1 difference;") && !Catch::Contains("fc3.bias") && !Catch::Contains("fc4"));
  ck.tensors[0].second = ones({8, 1, 5, 5});
  load_into(state, ck, false);
  CHECK(fc1.to_vector<double>() == V{1, 1, 1});
  CHECK(conv.to_vector<double>() == std::vector<double>(200, 1.0));
  CHECK(fc3.to_vector<double>() == std::vector<double>(10, 0.0));
  CHECK_THROWS_WITH(load_into({{"a", zeros({1})}, {"a", zeros({1})}}, ck, false),
                    Catch::Contains("duplicate in destination: a"));
}

// ---------------------------------------------------------------------------
// NumPy .npy
// ---------------------------------------------------------------------------

namespace {

/// A .npy file with the given header dict text, padded like NumPy, and data bytes.
Bytes make_npy(const std::string& dict, const Bytes& data, int major = 1) {
  const size_t len_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((8 + len_bytes + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  ByteWriter w;
  w.put_bytes("\x93NUMPY", 6);
  w.put<uint8_t>(static_cast<uint8_t>(major));
  w.put<uint8_t>(0);
  if (major == 1)
    w.put<uint16_t>(static_cast<uint16_t>(header.size()));
  else
    w.put<uint32_t>(static_cast<uint32_t>(header.size()));
  w.put_bytes(header.data(), header.size());
  w.put_bytes(data.data(), data.size());
  return w.bytes();
}

Bytes float_bytes(const std::vector<float>& v) {
  Bytes b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace

TEST_CASE("npy fixtures written by NumPy load with exact values", "[io][npy]") {
  const Tensor a = load_npy(fixture("npy_f4_2x3.npy"));
  CHECK(a.dtype() == kFloat32);
  CHECK(a.shape() == Shape{2, 3});
  CHECK(a.to_vector<double>() == V{0, 0.5, -1, 2.25, 3, -4.125});
  const Tensor s = load_npy(fixture("npy_f8_0d.npy"));
  CHECK(s.dtype() == kFloat64);
  CHECK(s.dim() == 0);
  CHECK(s.item() == -7.75);
  const Tensor f = load_npy(fixture("npy_f8_2x1x2x2.npy"));
  CHECK(f.dtype() == kFloat64);
  CHECK(f.shape() == Shape{2, 1, 2, 2});
  CHECK(f.to_vector<double>() == V{-1, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75});
  CHECK(load_npy(fixture("npy_f4_12x0.npy")).shape() == Shape{12, 0});
  for (const char* name : {"npy_f4_v2.npy", "npy_f4_v3.npy"}) {
    CAPTURE(name);
    CHECK(equal(load_npy(fixture(name)), a));
  }
}

TEST_CASE("save_npy writes the same bytes as numpy.save", "[io][npy]") {
  for (const char* name : {"npy_f4_2x3.npy", "npy_f8_0d.npy", "npy_f8_2x1x2x2.npy", "npy_f4_12x0.npy"}) {
    CAPTURE(name);
    const Bytes numpy_bytes = read_file(fixture(name));
    CHECK(encode_npy(load_npy(fixture(name))) == numpy_bytes);
  }
  // The header is padded so that the data starts at a multiple of 64.
  const Bytes b = encode_npy(zeros({5}));
  CHECK((b.size() - 20) % 64 == 0);
  CHECK(std::string(b.begin() + 10, b.begin() + 70).find("'shape': (5,), }") != std::string::npos);
}

TEST_CASE("npy round trip through files, atomically", "[io][npy]") {
  TempDir dir;
  Generator gen(7);
  for (const Tensor& t : {randn({3, 4}, gen), randn({2, 3, 2}, gen, kFloat64), zeros({0, 3}),
                          scalar_tensor(2.5, kFloat64), randn({70000}, gen)}) {
    CAPTURE(to_string(t.shape()));
    const std::string path = dir.file("x.npy");
    save_npy(path, t);
    CHECK(equal(load_npy(path), t));
    CHECK(dir.listing() == std::set<std::string>{"x.npy"});
  }
}

TEST_CASE("npy accepts native byte order and any key order", "[io][npy]") {
  const Tensor t = parse_npy(make_npy("{'shape': (2,), 'fortran_order': False, 'descr': '=f4'}",
                                      float_bytes({1.5f, -2})), "t");
  CHECK(t.dtype() == kFloat32);
  CHECK(t.to_vector<double>() == V{1.5, -2});
  const Tensor d = parse_npy(make_npy("{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(1 , 1 ,),}",
                                      Bytes(8, 0), 2), "d");
  CHECK(d.shape() == Shape{1, 1});
}

TEST_CASE("npy errors name the file, the dtype and what was expected", "[io][npy]") {
  const std::string fortran = fixture("npy_fortran.npy");
  CHECK_THROWS_WITH(load_npy(fortran), Catch::Contains(fortran) && Catch::Contains("fortran_order True"));
  CHECK_THROWS_WITH(load_npy(fixture("npy_big_endian.npy")),
                    Catch::Contains("big-endian dtype '>f4'") && Catch::Contains("expected '<f4' or '<f8'"));
  CHECK_THROWS_WITH(load_npy(fixture("npy_int64.npy")),
                    Catch::Contains("unsupported dtype '<i8' (expected '<f4' or '<f8')"));
  CHECK_THROWS_WITH(load_npy(fixture("no_such.npy")), Catch::Contains("no_such.npy") && Catch::Contains("cannot open"));

  const Bytes good = read_file(fixture("npy_f4_2x3.npy"));
  Bytes magic = good;
  magic[1] = 'X';
  CHECK_THROWS_WITH(parse_npy(magic, "m.npy"),
                    Catch::Contains("m.npy: not a .npy file: expected magic \"\\x93NUMPY\", found \"\\x93XUMPY\""));
  Bytes version = good;
  version[6] = 4;
  CHECK_THROWS_WITH(parse_npy(version, "v.npy"),
                    Catch::Contains("unsupported .npy format version 4.0 (expected 1.0, 2.0 or 3.0)"));
  Bytes extra = good;
  extra.push_back(0);
  CHECK_THROWS_WITH(parse_npy(extra, "e.npy"),
                    Catch::Contains("data length mismatch: shape (2,3) float32 needs 24 bytes after the 128-byte "
                                    "header, found 25 (extra bytes at the end)"));
  CHECK_THROWS_WITH(parse_npy(prefix(good, good.size() - 1), "t.npy"),
                    Catch::Contains("needs 24 bytes") && Catch::Contains("found 23 (truncated file?)"));
  for (size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    CHECK_THROWS_AS(parse_npy(prefix(good, n), "cut.npy"), Error);
  }

  // Malformed header dicts.
  const Bytes data = float_bytes({1, 2});
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': '<f4', 'shape': (2,), }", data), "h"),
                    Catch::Contains("malformed header: missing key 'fortran_order'"));
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", data), "h"),
                    Catch::Contains("expected True or False for 'fortran_order' at column 34, found '0'"));
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", data), "h"),
                    Catch::Contains("expected a non-negative integer in 'shape'"));
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data),
                              "h"),
                    Catch::Contains("unexpected key 'x'"));
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", data), "h"),
                    Catch::Contains("expected ',' or '}'"));
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", data),
                              "h"),
                    Catch::Contains("structured"));
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", data), "h"),
                    Catch::Contains("the end of the header"));
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
                                       data), "h"),
                    Catch::Contains("dimension too large"));
  // An absurd shape is a length mismatch, not an allocation.
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, "
                                       "4294967296, 4294967296)}", data), "h"),
                    Catch::Contains("needs more than 2^64 bytes"));
  // No elements, but the other dimensions' product (and the strides) overflow int64.
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, "
                                       "4611686018427387904, 4611686018427387904)}", {}), "h"),
                    Catch::Contains("is too large"));
  CHECK_THROWS_WITH(parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, "
                                       "4611686018427387904, 0)}", {}), "h"),
                    Catch::Contains("is too large"));
}

// ---------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------

TEST_CASE("base64 matches the RFC 4648 test vectors", "[io][image]") {
  const auto b64 = [](const std::string& s) {
    return base64_encode(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  CHECK(b64("") == "");
  CHECK(b64("f") == "Zg==");
  CHECK(b64("fo") == "Zm8=");
  CHECK(b64("foo") == "Zm9v");
  CHECK(b64("foob") == "Zm9vYg==");
  CHECK(b64("fooba") == "Zm9vYmE=");
  CHECK(b64("foobar") == "Zm9vYmFy");
  CHECK(base64_encode(Bytes{0xfb, 0xff, 0xbf}) == "+/+/");
}

TEST_CASE("PNG round trip is exact for multiples of 1/255", "[io][image]") {
  TempDir dir;
  Tensor rgb = empty({3, 2, 4});
  for (int64_t i = 0; i < rgb.numel(); ++i) rgb.data<float>()[i] = static_cast<float>(i * 11) / 255.0f;
  const std::string path = dir.file("rgb.png");
  save_png(path, rgb);
  CHECK(dir.listing() == std::set<std::string>{"rgb.png"});
  CHECK(equal(load_image(path, 3), rgb));
  // A batch of one grey image (1,1,H,W), in float64.
  Tensor grey = empty({1, 1, 3, 2}, kFloat64);
  for (int64_t i = 0; i < grey.numel(); ++i) grey.data<double>()[i] = static_cast<double>(i * 50) / 255.0;
  save_png(path, grey);
  const Tensor back = load_image(path, 1);
  CHECK(back.shape() == Shape{1, 3, 2});
  CHECK(back.to_vector<double>() == std::vector<double>{0, 50 / 255.0f, 100 / 255.0f, 150 / 255.0f, 200 / 255.0f,
                                                        250 / 255.0f});
  const Bytes png = encode_png(rgb);
  CHECK(std::string(png.begin(), png.begin() + 8) == "\x89PNG\r\n\x1a\n");
}

TEST_CASE("PNG values are clipped to [0,1] and rounded as floor(v * 255 + 0.5)", "[io][image]") {
  TempDir dir;
  const std::string path = dir.file("clip.png");
  save_png(path, tensor({-0.5, 0, 0.5, 1, 2, 0.25, 0.3, 1e9}, {1, 2, 4}));
  const std::vector<float> got = load_image(path, 1).to_vector<float>();
  std::vector<int> bytes;
  for (float v : got) bytes.push_back(static_cast<int>(std::lround(v * 255.0f)));
  // 0.5 * 255 + 0.5 = 128, 0.25 * 255 + 0.5 = 64.25, 0.3 * 255 + 0.5 = 77.0 (float 0.3 is just above)
  CHECK(bytes == std::vector<int>{0, 0, 128, 255, 255, 64, 77, 255});
}

TEST_CASE("PNG channels are interleaved as R, G, B", "[io][image]") {
  // RGB is read as grey by Pillow's luma, (19595 R + 38470 G + 7471 B + 32768) >> 16, so pure
  // red, green and blue pixels read back as 76, 150 and 29 only if the channels were written in order.
  TempDir dir;
  const std::string path = dir.file("rgb.png");
  save_png(path, tensor({1, 0, 0, /**/ 0, 1, 0, /**/ 0, 0, 1}, {3, 1, 3}));
  const Tensor grey = load_image(path, 1);
  CHECK(grey.shape() == Shape{1, 1, 3});
  CHECK(grey.to_vector<float>() == std::vector<float>{76 / 255.0f, 150 / 255.0f, 29 / 255.0f});
  CHECK(load_image(path, 3).to_vector<double>() == V{1, 0, 0, 0, 1, 0, 0, 0, 1});
}

TEST_CASE("image errors: bad shapes, NaN, missing and corrupt files", "[io][image]") {
  TempDir dir;
  CHECK_THROWS_WITH(encode_png(zeros({2, 4, 4})), Catch::Contains("C = 1 or 3, got (2,4,4)"));
  CHECK_THROWS_WITH(encode_png(zeros({4, 4})), Catch::Contains("(C,H,W) or (1,C,H,W)"));
  CHECK_THROWS_WITH(encode_png(zeros({2, 3, 4, 4})), Catch::Contains("got (2,3,4,4)"));
  CHECK_THROWS_WITH(encode_png(zeros({3, 0, 4})), Catch::Contains("must not be empty"));
  CHECK_THROWS_WITH(encode_png(tensor({0, std::nan("")}, {1, 1, 2})), Catch::Contains("NaN at channel 0, pixel (0,1)"));
  const std::string missing = dir.file("missing.png");
  CHECK_THROWS_WITH(load_image(missing, 3), Catch::Contains(missing) && Catch::Contains("cannot open"));
  const std::string junk = dir.file("junk.png");
  write_file_atomic(junk, std::string("this is not an image"));
  CHECK_THROWS_WITH(load_image(junk, 3), Catch::Contains(junk) && Catch::Contains("cannot decode image"));
  // A 54-byte BMP header claiming 20000 x 20000 pixels: BMP is not read at all.
  const Bytes bmp = inv::testing::bmp_header_only(20000, 20000);
  CHECK_THROWS_WITH(decode_image(bmp, 3, "huge.bmp"), Catch::Contains("huge.bmp: cannot decode image: BMP images are not read"));
  Bytes png = encode_png(ones({3, 4, 4}));
  CHECK_THROWS_WITH(decode_image(prefix(png, png.size() / 2), 3, "half.png"),
                    Catch::Contains("half.png: cannot decode PNG image") && Catch::Contains("truncated"));
  // Cut anywhere, the final IEND chunk included.
  for (size_t n = 0; n < png.size(); ++n) {
    CAPTURE(n);
    CHECK_THROWS_AS(decode_image(prefix(png, n), 3, "cut.png"), Error);
  }
  CHECK_THROWS_WITH(decode_image(png, 2, "p"), Catch::Contains("channels must be 1 (grey) or 3 (RGB), got 2"));
}

TEST_CASE("make_grid tiles images row by row with padding (worked example)", "[io][image]") {
  const Tensor a = tensor({1, 2, 3, 4}, {1, 2, 2}), b = tensor({5, 6, 7, 8}, {1, 2, 2}),
               c = tensor({9, 10, 11, 12}, {1, 2, 2});
  // Two per row, padding 1, pad value 0: (1, 2*(2+1)+1, 2*(2+1)+1) = (1, 7, 7).
  const Tensor g = make_grid({a, b, c}, 2, 1, 0.0);
  CHECK(g.shape() == Shape{1, 7, 7});
  CHECK(g.to_vector<double>() == V{0, 0,  0,  0, 0, 0, 0,  //
                                   0, 1,  2,  0, 5, 6, 0,  //
                                   0, 3,  4,  0, 7, 8, 0,  //
                                   0, 0,  0,  0, 0, 0, 0,  //
                                   0, 9,  10, 0, 0, 0, 0,  //
                                   0, 11, 12, 0, 0, 0, 0,  //
                                   0, 0,  0,  0, 0, 0, 0});
  // Fewer images than ncol: one row as wide as the images; no padding at all.
  const Tensor row = make_grid({a, b}, 8, 0);
  CHECK(row.shape() == Shape{1, 2, 4});
  CHECK(row.to_vector<double>() == V{1, 2, 5, 6, 3, 4, 7, 8});
  // Channels are tiled independently; the default pad value is 1 (white).
  const Tensor rgb = make_grid({zeros({3, 1, 1}, kFloat64)}, 1);
  CHECK(rgb.shape() == Shape{3, 5, 5});
  CHECK(rgb.dtype() == kFloat64);
  CHECK(rgb.at<double>({2, 2, 2}) == 0.0);
  CHECK(rgb.at<double>({2, 1, 2}) == 1.0);
  CHECK_THROWS_WITH(make_grid({}, 2), Catch::Contains("at least one image"));
  CHECK_THROWS_WITH(make_grid({a, zeros({1, 2, 3})}, 2), Catch::Contains("(1,2,2) float32 like image 0, got (1,2,3)"));
  CHECK_THROWS_WITH(make_grid({a}, 0), Catch::Contains("ncol must be >= 1, got 0"));
  CHECK_THROWS_WITH(make_grid({zeros({2, 2})}, 1), Catch::Contains("expected images (C,H,W), got (2,2)"));
}

TEST_CASE("png_base64 is the base64 of the PNG bytes", "[io][image]") {
  const Tensor img = full({3, 2, 2}, 0.5);
  const std::string s = png_base64(img);
  CHECK(s == base64_encode(encode_png(img)));
  CHECK(s.rfind("iVBORw0KGgo", 0) == 0);  // base64 of the PNG signature
}
