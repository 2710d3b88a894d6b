// safetensors (inv/io/safetensors.hpp): a hand-built file decoded value by value, every
// float16 value, the save -> load round trip, load_state_dict into a module, a file written
// from PyTorch (tests/fixtures/safetensors_torch.*, scripts/fixtures/make_safetensors_fixtures.py)
// and hostile files: truncation at every byte, every header field missing, mistyped or
// wrong, offsets overlapping, out of range or with gaps, overflowing shapes, invalid UTF-8,
// duplicates, and a sweep of corrupted bytes. Every rejection must be an inv::Error.
#include "fixture.hpp"
#include "temp_dir.hpp"
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>

#include <inv/inv.hpp>
#include <inv/io/safetensors.hpp>

using namespace inv;
using namespace inv::io;
using Bytes = std::vector<uint8_t>;
using V = std::vector<double>;

namespace {

using TempDir = inv::testing::TempDir;
using Catch::Contains;

/// A safetensors file: the u64 header length, the header text as given, the data.
Bytes st_file(const std::string& header, const Bytes& data = {}) {
  ByteWriter w;
  w.put<uint64_t>(header.size());
  w.put_bytes(header.data(), header.size());
  w.put_bytes(data.data(), data.size());
  return std::move(w.bytes());
}

SafeTensors parse(const Bytes& b) { return parse_safetensors(b, "test.safetensors"); }

Bytes prefix(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }

Tensor as_float32(const Tensor& t) {
  Tensor out = empty(t.shape(), kFloat32);
  out.copy_(t);
  return out;
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// The worked example: a 2x2 F32 tensor, three F16 values and two BF16 values, the header
// written out literally, the data as the bytes of each value (little-endian).
const std::string kExampleHeader =
    R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
    R"("h":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},)"
    R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[22,26]},)"
    R"("__metadata__":{"format":"pt"}})";
const Bytes kExampleData = {
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0xbf, 0x00, 0x00, 0x50, 0x40,  // 1 2 -0.5 3.25
    0x00, 0x3c, 0x00, 0xc1, 0xff, 0x7b,  // F16 0x3c00 = 1, 0xc100 = -2.5, 0x7bff = 65504
    0x80, 0x3f, 0x40, 0xc0,              // BF16 0x3f80 = 1, 0xc040 = -3
};

}  // namespace

TEST_CASE("safetensors worked example: F32, F16 and BF16 decoded exactly", "[io][safetensors]") {
  REQUIRE(kExampleHeader.size() == 199);
  const Bytes file = st_file(kExampleHeader, kExampleData);
  REQUIRE(file.size() == 8 + 199 + 26);
  CHECK(Bytes(file.begin(), file.begin() + 8) == Bytes{199, 0, 0, 0, 0, 0, 0, 0});
  const SafeTensors st = parse(file);
  REQUIRE(st.tensors.size() == 3);
  // In the order of their data, not of their names.
  CHECK(st.tensors[0].first == "a");
  CHECK(st.tensors[1].first == "h");
  CHECK(st.tensors[2].first == "b");
  const Tensor& a = st.tensor("a");
  CHECK(a.dtype() == kFloat32);
  CHECK(a.shape() == Shape{2, 2});
  CHECK(a.to_vector<double>() == V{1, 2, -0.5, 3.25});
  const Tensor& h = st.tensor("h");
  CHECK(h.dtype() == kFloat32);
  CHECK(h.shape() == Shape{3});
  CHECK(h.to_vector<double>() == V{1, -2.5, 65504});
  const Tensor& b = st.tensor("b");
  CHECK(b.dtype() == kFloat32);
  CHECK(b.to_vector<double>() == V{1, -3});
  CHECK(st.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  CHECK_THROWS_WITH(st.tensor("c"), Contains("no tensor 'c' (there are: a, h, b)"));

  // Padding the header with trailing spaces (as writers do, to a multiple of 8) changes nothing.
  const SafeTensors padded = parse(st_file(kExampleHeader + "       ", kExampleData));
  REQUIRE(padded.tensors.size() == 3);
  CHECK(equal(padded.tensor("a"), a));
  // Nor does the order of the entries and their keys in the header.
  const SafeTensors reordered = parse(st_file(
      R"({"b":{"data_offsets":[22,26],"shape":[2],"dtype":"BF16"},"h":{"shape":[3],"dtype":"F16",)"
      R"("data_offsets":[16,22]},"a":{"dtype":"F32","data_offsets":[0,16],"shape":[2,2]}})",
      kExampleData));
  CHECK(reordered.tensors[0].first == "a");
  CHECK(equal(reordered.tensor("b"), b));
  CHECK(reordered.metadata.empty());
}

TEST_CASE("safetensors F64 and I64, scalars and empty tensors", "[io][safetensors]") {
  ByteWriter data;
  data.put<double>(-0.1);
  data.put<int64_t>(3);
  data.put<int64_t>(-(int64_t(1) << 53));
  data.put<int64_t>(int64_t(1) << 53);
  const SafeTensors st = parse(st_file(
      R"({"d":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"n":{"dtype":"I64","shape":[3],"data_offsets":[8,32]},)"
      R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[32,32]},"z":{"dtype":"F16","shape":[4,0],"data_offsets":[32,32]}})",
      data.bytes()));
  REQUIRE(st.tensors.size() == 4);
  CHECK(st.tensors[2].first == "e");  // empty tensors at the same offset: by name
  CHECK(st.tensors[3].first == "z");
  CHECK(st.tensor("d").dtype() == kFloat64);
  CHECK(st.tensor("d").shape().empty());
  CHECK(st.tensor("d").item() == -0.1);
  const Tensor& n = st.tensor("n");
  CHECK(n.dtype() == kFloat64);
  CHECK(n.to_vector<double>() == V{3, -9007199254740992.0, 9007199254740992.0});
  CHECK(st.tensor("e").shape() == Shape{0, 3});
  CHECK(st.tensor("z").shape() == Shape{4, 0});
  CHECK(st.tensor("z").dtype() == kFloat32);

  // 2^53 + 1 is not a float64: refused, naming the tensor and the element.
  ByteWriter big;
  big.put<int64_t>(0);
  big.put<int64_t>((int64_t(1) << 53) + 1);
  CHECK_THROWS_WITH(parse(st_file(R"({"n":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", big.bytes())),
                    Contains("tensor 'n': I64 value 9007199254740993 at element 1 is not exactly representable"));
}

TEST_CASE("every float16 value converts exactly; bfloat16 is the upper half of a float32", "[io][safetensors]") {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = st_detail::half_to_float(static_cast<uint16_t>(h));
    const int exponent = (h >> 10) & 31, mantissa = h & 1023;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    INFO("float16 0x" << std::hex << h);
    if (exponent == 31 && mantissa != 0) {
      CHECK(std::isnan(f));
      CHECK(((bits_of(f) >> 13) & 1023) == uint32_t(mantissa));  // the payload is kept
      CHECK(std::signbit(f) == bool(h & 0x8000));
    } else if (exponent == 31) {
      CHECK(f == sign * std::numeric_limits<double>::infinity());
    } else {
      const double expected = exponent == 0 ? sign * std::ldexp(mantissa, -24)
                                            : sign * std::ldexp(1024 + mantissa, exponent - 25);
      CHECK(double(f) == expected);
      CHECK(std::signbit(f) == bool(h & 0x8000));  // -0 stays -0
    }
  }
  for (const uint32_t b : {0x0000u, 0x8000u, 0x3f80u, 0xc040u, 0x7f80u, 0xff80u, 0x7fc1u, 0x0001u, 0x7f7fu})
    CHECK(bits_of(st_detail::bfloat16_to_float(static_cast<uint16_t>(b))) == b << 16);
}

TEST_CASE("safetensors save -> load round trip is bit-exact, with metadata, atomically", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"conv.weight", tensor({0.5, -1.25, 2, 0, 3.75, -8}, {2, 1, 3}, kFloat32)},
      {"special", from_vector(std::vector<float>{nan, inf, -inf, -0.0f, 1e-45f, 3.4e38f}, {6})},
      {"bn.running_var", tensor({0.1, -2.5}, {2}, kFloat64)},
      {"step", scalar_tensor(7, kFloat64)},
      {"none", zeros({0, 3})},
      {"odd", tensor({1, 2, 3}, {3})},
      {"\xc3\xa9t\xc3\xa9", ones({1, 1})},  // "été": UTF-8 names are fine
  };
  const std::map<std::string, std::string> metadata = {{"arch", "lenet"}, {"note", "caf\xc3\xa9 \"quoted\"\n"}};
  save_safetensors(path, tensors, metadata);
  CHECK(dir.listing() == std::set<std::string>{"model.safetensors"});  // no temporary left

  const Bytes file = read_file(path);
  CHECK(file == encode_safetensors(tensors, metadata));
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  CHECK(n % 8 == 0);  // header padded to a multiple of 8: the data section starts aligned
  CHECK(file[8] == '{');
  CHECK(file[8 + n - 1] != '\0');

  const SafeTensors st = load_safetensors(path);
  CHECK(st.metadata == metadata);
  // float64 first (8-byte elements aligned), then float32, each group in the given order.
  std::vector<std::string> names;
  for (const auto& [name, t] : st.tensors) names.push_back(name);
  CHECK(names == std::vector<std::string>{"bn.running_var", "step", "conv.weight", "special", "none", "odd",
                                          "\xc3\xa9t\xc3\xa9"});
  for (const auto& [name, t] : tensors) {
    INFO(name);
    CHECK(equal(st.tensor(name), t));  // shape, dtype and bits (NaN included)
  }
  // Saving again replaces the file, and what was read encodes to the same bytes.
  save_safetensors(path, st.tensors, st.metadata);
  CHECK(read_file(path) == encode_safetensors(st.tensors, st.metadata));
  CHECK(dir.listing() == std::set<std::string>{"model.safetensors"});

  // No metadata: no __metadata__ entry; no tensors at all is a valid file too.
  const Bytes empty = encode_safetensors({});
  CHECK(std::string(empty.begin() + 8, empty.end()) == "{}      ");
  CHECK(parse(empty).tensors.empty());
}

TEST_CASE("save_safetensors refuses what the format cannot hold", "[io][safetensors]") {
  CHECK_THROWS_WITH(encode_safetensors({{"a", ones({1})}, {"a", ones({2})}}), Contains("duplicate tensor name 'a'"));
  CHECK_THROWS_WITH(encode_safetensors({{"__metadata__", ones({1})}}), Contains("cannot be called __metadata__"));
  CHECK_THROWS_WITH(encode_safetensors({{"u", Tensor()}}), Contains("tensor 'u' is undefined"));
  CHECK_THROWS_WITH(encode_safetensors({{"bad\xff", ones({1})}}), Contains("tensor name \"bad\\xff\" is not valid UTF-8"));
  CHECK_THROWS_WITH(encode_safetensors({}, {{"k", "\xc3"}}), Contains("metadata value \"\\xc3\" is not valid UTF-8"));
  TempDir dir;
  CHECK_THROWS_WITH(save_safetensors(dir.path.string(), {}), Contains("it is a directory"));
}

namespace {

/// Conv2d(1, 2, 3) + BatchNorm2d(2) + Flatten + Linear(18, 4), the layers named as a
/// PyTorch nn.Sequential names them ("0", "1", ...), initialised from `seed`.
std::shared_ptr<nn::Sequential> small_model(uint64_t seed) {
  Generator gen(seed);
  auto m = std::make_shared<nn::Sequential>();
  m->emplace<nn::Conv2d>("0", 1, 2, 3, Conv2dOptions(), true, gen);
  m->emplace<nn::BatchNorm2d>("1", 2);
  m->emplace<nn::Flatten>("2");
  m->emplace<nn::Linear>("3", 18, 4, true, gen);
  return m;
}

}  // namespace

TEST_CASE("load_state_dict round-trips a module's state_dict and names every difference at once",
          "[io][safetensors]") {
  TempDir dir;
  auto a = small_model(1), b = small_model(2);
  for (auto& [name, t] : a->named_buffers()) t.fill_(0.25);  // running statistics differ from b's too
  save_safetensors(dir.file("a.safetensors"), a->state_dict());
  SafeTensors st = load_safetensors(dir.file("a.safetensors"));
  load_state_dict(*b, st);
  const auto sa = a->state_dict(), sb = b->state_dict();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].first);
    CHECK(sb[i].first == sa[i].first);
    CHECK(equal(sb[i].second, sa[i].second));
  }

  // PyTorch's BatchNorm counter: skipped, as inv's BatchNorm2d has none.
  SafeTensors with_counter = st;
  with_counter.tensors.emplace_back("1.num_batches_tracked", scalar_tensor(3, kFloat64));
  load_state_dict(*b, with_counter);
  // Not next to a BatchNorm's running_mean, it is an unexpected tensor like any other.
  with_counter.tensors.emplace_back("3.num_batches_tracked", scalar_tensor(3, kFloat64));
  CHECK_THROWS_WITH(load_state_dict(*b, with_counter), Contains("unexpected in checkpoint: 3.num_batches_tracked") &&
                                                           !Contains("1.num_batches_tracked"));

  // Missing, unexpected and mis-shaped tensors: all named in one error, nothing loaded.
  auto c = small_model(3);
  const Tensor before = copy_data(c->state_dict().front().second);
  SafeTensors bad = st;
  bad.tensors.erase(bad.tensors.begin() + 1);  // one missing
  bad.tensors.emplace_back("4.weight", ones({2}));  // one unexpected
  for (auto& [name, t] : bad.tensors)
    if (name == "3.weight") t = ones({4, 17});  // one mis-shaped
  const std::string missing = st.tensors[1].first;
  CHECK_THROWS_WITH(load_state_dict(*c, bad), Contains("3 differences") && Contains("nothing was loaded") &&
                                                  Contains("3.weight: expected (4,18), found (4,17)") &&
                                                  Contains("missing in checkpoint: " + missing) &&
                                                  Contains("unexpected in checkpoint: 4.weight"));
  CHECK(equal(c->state_dict().front().second, before));
  // Not strict: names on one side only are skipped, shapes must still match.
  CHECK_THROWS_WITH(load_state_dict(*c, bad, false), Contains("1 difference;"));
}

TEST_CASE("a safetensors file written from PyTorch reads exactly the values PyTorch holds", "[io][safetensors]") {
  const SafeTensors st = load_safetensors(inv::testing::fixture_path("safetensors_torch.safetensors"));
  const auto expected = inv::testing::load_fixture("safetensors_torch.txt");
  CHECK(st.metadata == std::map<std::string, std::string>{{"source", "make_safetensors_fixtures.py"}});
  // In PyTorch's state_dict order (the export script writes the data in that order).
  std::vector<std::string> names;
  for (const auto& [name, t] : st.tensors) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                          "1.running_var", "1.num_batches_tracked", "extra.half",
                                          "extra.bfloat16", "extra.double"});
  for (const auto& [name, t] : st.tensors) {
    INFO(name);
    const Tensor& want = inv::testing::get(expected, name);
    CHECK(t.shape() == want.shape());
    CHECK(t.to_vector<double>() == want.to_vector<double>());  // exactly
    const bool wide = name == "extra.double" || name == "1.num_batches_tracked";  // F64, I64
    CHECK(t.dtype() == (wide ? kFloat64 : kFloat32));
  }
  CHECK(st.tensor("1.num_batches_tracked").item() == 3);
  CHECK(st.tensor("extra.half").to_vector<double>()[2] == 65504);

  // Into inv's version of the model: strictly, only the extra tensors are unexpected
  // (num_batches_tracked is skipped); without them, the forward pass is PyTorch's.
  auto model = std::make_shared<nn::Sequential>();
  model->emplace<nn::Conv2d>("0", 1, 2, 3);
  model->emplace<nn::BatchNorm2d>("1", 2);
  CHECK_THROWS_WITH(load_state_dict(*model, st),
                    Contains("3 differences") && Contains("unexpected in checkpoint: extra.half") &&
                        Contains("unexpected in checkpoint: extra.bfloat16") &&
                        Contains("unexpected in checkpoint: extra.double"));
  SafeTensors weights = st;
  weights.tensors.resize(7);
  load_state_dict(*model, weights);
  model->eval();
  const Tensor x = as_float32(inv::testing::get(expected, "forward/x"));
  const Tensor y = model->forward(x);
  CHECK(allclose(y, as_float32(inv::testing::get(expected, "forward/y")), 1e-6, 1e-6));
}

// ---------------------------------------------------------------------------
// Hostile files
// ---------------------------------------------------------------------------

TEST_CASE("a safetensors file truncated at any byte throws inv::Error", "[io][safetensors]") {
  const Bytes file = st_file(kExampleHeader, kExampleData);
  REQUIRE_NOTHROW(parse(file));
  for (size_t n = 0; n < file.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    CHECK_THROWS_AS(parse(prefix(file, n)), inv::Error);
  }
  CHECK_THROWS_WITH(parse(prefix(file, 5)), Contains("truncated, expected 8 more bytes for the header length"));
  CHECK_THROWS_WITH(parse(prefix(file, 100)), Contains("header length 199 exceeds the 92 bytes after it"));
  CHECK_THROWS_WITH(parse(prefix(file, file.size() - 1)),
                    Contains("tensor 'b': data_offsets [22, 26] go past the end of the 25-byte data section"));
}

TEST_CASE("every corrupted header field throws an inv::Error saying what was expected", "[io][safetensors]") {
  const Bytes data16(16, 0);
  struct Case {
    std::string entry;     // the value of tensor "x" (16 bytes of data)
    std::string expected;  // part of the message
  };
  const std::vector<Case> cases = {
      // dtype: missing, of another JSON type, unknown or unsupported
      {R"({"shape":[4],"data_offsets":[0,16]})", "tensor 'x': missing 'dtype'"},
      {R"({"dtype":4,"shape":[4],"data_offsets":[0,16]})", "tensor 'x': expected 'dtype' to be a string, found the number 4"},
      {R"({"dtype":null,"shape":[4],"data_offsets":[0,16]})", "expected 'dtype' to be a string, found null"},
      {R"({"dtype":["F32"],"shape":[4],"data_offsets":[0,16]})", "expected 'dtype' to be a string, found an array"},
      {R"({"dtype":{},"shape":[4],"data_offsets":[0,16]})", "expected 'dtype' to be a string, found an object"},
      {R"({"dtype":"F33","shape":[4],"data_offsets":[0,16]})", "unsupported dtype 'F33' for tensor 'x'"},
      {R"({"dtype":"f32","shape":[4],"data_offsets":[0,16]})", "unsupported dtype 'f32' for tensor 'x'"},
      {R"({"dtype":"U8","shape":[16],"data_offsets":[0,16]})",
       "unsupported dtype 'U8' for tensor 'x' (inv reads F32, F64, F16, BF16, I64)"},
      {R"({"dtype":"I32","shape":[4],"data_offsets":[0,16]})", "unsupported dtype 'I32' for tensor 'x'"},
      {R"({"dtype":"BOOL","shape":[16],"data_offsets":[0,16]})", "unsupported dtype 'BOOL' for tensor 'x'"},
      {R"({"dtype":"F8_E4M3","shape":[16],"data_offsets":[0,16]})", "unsupported dtype 'F8_E4M3' for tensor 'x'"},
      // shape
      {R"({"dtype":"F32","data_offsets":[0,16]})", "tensor 'x': missing 'shape'"},
      {R"({"dtype":"F32","shape":4,"data_offsets":[0,16]})", "expected 'shape' to be an array of non-negative integers, found the number 4"},
      {R"({"dtype":"F32","shape":"4","data_offsets":[0,16]})", "expected 'shape' to be an array of non-negative integers, found the string \"4\""},
      {R"({"dtype":"F32","shape":{},"data_offsets":[0,16]})", "found an object"},
      {R"({"dtype":"F32","shape":[-4],"data_offsets":[0,16]})", "found the number -4 in it"},
      {R"({"dtype":"F32","shape":[4.0],"data_offsets":[0,16]})", "found the number 4.0 in it"},
      {R"({"dtype":"F32","shape":[4e0],"data_offsets":[0,16]})", "found the number 4e0 in it"},
      {R"({"dtype":"F32","shape":["4"],"data_offsets":[0,16]})", "found the string \"4\" in it"},
      {R"({"dtype":"F32","shape":[true],"data_offsets":[0,16]})", "found true in it"},
      {R"({"dtype":"F32","shape":[null],"data_offsets":[0,16]})", "found null in it"},
      {R"({"dtype":"F32","shape":[[4]],"data_offsets":[0,16]})", "found a nested array in it"},
      {R"({"dtype":"F32","shape":[{}],"data_offsets":[0,16]})", "found an object in it"},
      {R"({"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,16]})",
       "found the number 18446744073709551616 in it"},
      {R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,16]})",
       "dimension 9223372036854775808 in 'shape' is too large"},
      {R"({"dtype":"F32","shape":[2,2,2],"data_offsets":[0,16]})",
       "tensor 'x': data_offsets [0, 16] hold 16 bytes, but shape (2,2,2) of F32 needs 32"},
      {R"({"dtype":"F64","shape":[4],"data_offsets":[0,16]})", "shape (4) of F64 needs 32"},
      {R"({"dtype":"F16","shape":[4],"data_offsets":[0,16]})", "shape (4) of F16 needs 8"},
      {R"({"dtype":"F32","shape":[],"data_offsets":[0,16]})", "shape () of F32 needs 4"},
      {R"({"dtype":"F32","shape":[0],"data_offsets":[0,16]})", "shape (0) of F32 needs 0"},
      // 2^62 elements, and 2^31 x 2^31: the byte size overflows
      {R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,16]})", "is too large (its byte size overflows"},
      {R"({"dtype":"F32","shape":[2147483648,2147483648],"data_offsets":[0,16]})", "is too large"},
      {R"({"dtype":"BF16","shape":[4294967296,4294967296,4],"data_offsets":[0,16]})", "is too large"},
      {R"({"dtype":"F32","shape":[4611686018427387904,4,0],"data_offsets":[0,16]})", "is too large"},
      // data_offsets
      {R"({"dtype":"F32","shape":[4]})", "tensor 'x': missing 'data_offsets'"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":"0,16"})", "expected 'data_offsets' to be [begin, end], two non-negative integers, found the string"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":16})", "found the number 16"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":{"begin":0}})", "found an object"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[16]})", "'data_offsets' must be [begin, end], found 1 numbers"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[]})", "found 0 numbers"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[0,8,16]})", "found 3 numbers"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[0,16.0]})", "found the number 16.0 in it"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[-1,16]})", "found the number -1 in it"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[0,"16"]})", "found the string \"16\" in it"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[16,0]})", "data_offsets [16, 0] end before they begin"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[0,12]})", "hold 12 bytes, but shape (4) of F32 needs 16"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[4,20]})", "data_offsets [4, 20] go past the end of the 16-byte data section"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551615]})", "go past the end"},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[8,16]})", "leave the bytes [0, 8) to no tensor"},
      {R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})", "the tensors' data ends at byte 8 of the 16-byte data section"},
      // other keys, duplicates, wrong types
      {R"({"dtype":"F32","shape":[4],"data_offsets":[0,16],"extra":1})", "tensor 'x': unexpected key 'extra'"},
      {R"({"dtype":"F32","dtype":"F32","shape":[4],"data_offsets":[0,16]})", "tensor 'x': duplicate key 'dtype'"},
      {R"({"dtype":"F32","shape":[4],"shape":[4],"data_offsets":[0,16]})", "duplicate key 'shape'"},
      {R"({"dtype":"F32","shape":[4],"data_offsets":[0,16],"data_offsets":[0,16]})", "duplicate key 'data_offsets'"},
      {R"([])", "tensor 'x': expected an object {"},
      {R"("F32")", "tensor 'x': expected an object {"},
      {R"(null)", "tensor 'x': expected an object {"},
  };
  for (const Case& c : cases) {
    const Bytes file = st_file(R"({"x":)" + c.entry + "}", data16);
    INFO("entry " << c.entry);
    CHECK_THROWS_AS(parse(file), inv::Error);
    CHECK_THROWS_WITH(parse(file), Contains("test.safetensors: ") && Contains(c.expected));
  }
  // A valid entry of the same kind, for contrast.
  CHECK(parse(st_file(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data16)).tensors.size() == 1);
}

TEST_CASE("offsets that overlap, leave gaps or run out of the data throw inv::Error", "[io][safetensors]") {
  const auto two = [](const std::string& a, const std::string& b, size_t n) {
    return st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":)" + a +
                       R"(},"b":{"dtype":"F32","shape":[4],"data_offsets":)" + b + "}}",
                   Bytes(n, 0));
  };
  REQUIRE(parse(two("[0,16]", "[16,32]", 32)).tensors.size() == 2);
  REQUIRE(parse(two("[16,32]", "[0,16]", 32)).tensors[0].first == "b");
  CHECK_THROWS_WITH(parse(two("[0,16]", "[8,24]", 24)),
                    Contains("tensor 'b': data_offsets [8, 24] overlap tensor 'a' (which ends at 16)"));
  CHECK_THROWS_WITH(parse(two("[0,16]", "[0,16]", 32)), Contains("overlap tensor 'a'"));
  CHECK_THROWS_WITH(parse(two("[0,16]", "[20,36]", 36)), Contains("tensor 'b': data_offsets [20, 36] leave the bytes [16, 20) to no tensor"));
  CHECK_THROWS_WITH(parse(two("[0,16]", "[16,32]", 40)),
                    Contains("the tensors' data ends at byte 32 of the 40-byte data section (8 bytes belong to no tensor)"));
  CHECK_THROWS_WITH(parse(two("[0,16]", "[32,48]", 40)), Contains("go past the end of the 40-byte data section"));
  // An empty tensor inside another's bytes overlaps it.
  CHECK_THROWS_WITH(parse(st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                  R"("e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}})",
                                  Bytes(16, 0))),
                    Contains("tensor 'e': data_offsets [8, 8] overlap tensor 'a'"));
}

TEST_CASE("header lengths beyond the file or the format's limit throw inv::Error", "[io][safetensors]") {
  const auto with_length = [](uint64_t n, size_t rest) {
    ByteWriter w;
    w.put<uint64_t>(n);
    w.put_bytes(std::string(rest, ' ').data(), rest);
    return std::move(w.bytes());
  };
  CHECK_THROWS_WITH(parse(with_length(1000, 100)), Contains("header length 1000 exceeds the 100 bytes after it"));
  // Declared lengths over 100 MB are refused before anything is read or allocated.
  CHECK_THROWS_WITH(parse(with_length(100'000'001, 10)),
                    Contains("header length 100000001 exceeds the format's limit of 100000000 bytes"));
  CHECK_THROWS_WITH(parse(with_length(std::numeric_limits<uint64_t>::max(), 10)), Contains("exceeds the format's limit"));
  CHECK_THROWS_WITH(parse(with_length(100'000'000, 10)), Contains("header length 100000000 exceeds the 10 bytes after it"));
  CHECK_THROWS_WITH(parse(with_length(0, 0)), Contains("the header is not valid JSON"));
  CHECK_THROWS_WITH(parse({}), Contains("truncated"));
}

TEST_CASE("headers that are not JSON objects, invalid UTF-8 and duplicates throw inv::Error", "[io][safetensors]") {
  const std::string x = R"("x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const Bytes data4(4, 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      // not JSON
      {"{", "the header is not valid JSON"},
      {"{" + x, "the header is not valid JSON"},
      {R"({"x":})", "the header is not valid JSON"},
      {"{" + x + ",}", "the header is not valid JSON"},
      {"{" + x + "} x", "the header is not valid JSON"},
      {"{" + x + "}{}", "the header is not valid JSON"},
      {"/* c */{" + x + "}", "the header is not valid JSON"},
      {"{'x':1}", "the header is not valid JSON"},
      {R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,1e400]}})", "the header is not valid JSON"},
      // not an object
      {"[]", "expected the header to be a JSON object, found an array"},
      {"1", "expected the header to be a JSON object, found the number 1"},
      {"\"{}\"", "expected the header to be a JSON object, found the string"},
      {"null", "expected the header to be a JSON object, found null"},
      // invalid UTF-8 in a name: a stray continuation byte, a truncated sequence, an overlong
      // encoding, a surrogate (as bytes and as an escape), a byte that never occurs
      {"{\"\x80\":1}", "the header is not valid JSON"},
      {"{\"\xc3\x28\":1}", "the header is not valid JSON"},
      {"{\"\xc0\xaf\":1}", "the header is not valid JSON"},
      {"{\"\xed\xa0\x80\":1}", "the header is not valid JSON"},
      {R"({"\ud800":1})", "the header is not valid JSON"},
      {"{\"x\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "ill-formed UTF-8 byte"},
      {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{\"k\":\"\xfe\"}}",
       "the header is not valid JSON"},
      // duplicates: a tensor, __metadata__, a metadata key
      {"{" + x + "," + x + "}", "duplicate name 'x' in the header"},
      {R"({"__metadata__":{},"__metadata__":{},)" + x + "}", "duplicate name '__metadata__'"},
      {R"({"__metadata__":{"k":"1","k":"2"},)" + x + "}", "duplicate __metadata__ key 'k'"},
      // metadata that is not an object of strings
      {R"({"__metadata__":[],)" + x + "}", "expected '__metadata__' to be an object of strings, found an array"},
      {R"({"__metadata__":"v",)" + x + "}", "expected '__metadata__' to be an object of strings, found the string"},
      {R"({"__metadata__":{"k":1},)" + x + "}", "__metadata__: expected the value of 'k' to be a string, found the number 1"},
      {R"({"__metadata__":{"k":{}},)" + x + "}", "the value of 'k' to be a string, found an object"},
      {R"({"__metadata__":{"k":["v"]},)" + x + "}", "the value of 'k' to be a string, found an array"},
      // deeper than the format, or longer arrays than any shape inv reads
      {R"({"x":{"dtype":"F32","shape":[[[[[[[[[[1]]]]]]]]]],"data_offsets":[0,4]}})", "found a nested array in it"},
  };
  for (const auto& [header, expected] : cases) {
    INFO("header " << inv::io::quote_bytes(reinterpret_cast<const uint8_t*>(header.data()), header.size()));
    const Bytes file = st_file(header, data4);
    CHECK_THROWS_AS(parse(file), inv::Error);
    CHECK_THROWS_WITH(parse(file), Contains(expected));
  }
  // 65 dimensions: refused while parsing (inv reads at most 64); 64 are read.
  std::string ones64 = "1";
  for (int i = 1; i < 64; ++i) ones64 += ",1";
  CHECK(parse(st_file(R"({"x":{"dtype":"F32","shape":[)" + ones64 + R"(],"data_offsets":[0,4]}})", data4))
            .tensor("x")
            .dim() == 64);
  CHECK_THROWS_WITH(
      parse(st_file(R"({"x":{"dtype":"F32","shape":[)" + ones64 + R"(,1],"data_offsets":[0,4]}})", data4)),
      Contains("tensor 'x': 'shape' has more than 64 elements"));
  // A NUL inside the header text is not JSON either (the length is what counts).
  const std::string with_nul("{}\0 ", 4);
  CHECK_THROWS_WITH(parse(st_file(with_nul)), Contains("the header is not valid JSON: a NUL byte at header offset 2"));
  CHECK_THROWS_WITH(parse(st_file(std::string("{\"\0\":1}", 7))), Contains("a NUL byte at header offset 2"));
  // Valid UTF-8 names and metadata are read as they are.
  const SafeTensors st = parse(st_file(
      "{\"\xe6\x9d\x83\xe9\x87\x8d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"__metadata__\":{\"\\u00e9\":\"\\n\"}}",
      data4));
  CHECK(st.tensors.at(0).first == "\xe6\x9d\x83\xe9\x87\x8d");
  CHECK(st.metadata.at("\xc3\xa9") == "\n");
}

TEST_CASE("every corrupted byte of a safetensors file gives a file or an inv::Error, nothing else",
          "[io][safetensors]") {
  const Bytes file = st_file(kExampleHeader, kExampleData);
  int rejected = 0;
  for (size_t i = 0; i < file.size(); ++i)
    for (const uint8_t v : {uint8_t(0x00), uint8_t(0x20), uint8_t(0x31), uint8_t(0x7d), uint8_t(0xff)}) {
      if (file[i] == v) continue;
      Bytes bad = file;
      bad[i] = v;
      try {
        parse(bad);
      } catch (const inv::Error&) {
        ++rejected;
      }
      // Any other exception escapes and fails the test.
    }
  CHECK(rejected > 0);
}

TEST_CASE("load_safetensors names the file in its errors", "[io][safetensors]") {
  TempDir dir;
  CHECK_THROWS_WITH(load_safetensors(dir.file("missing.safetensors")), Contains("missing.safetensors"));
  write_file_atomic(dir.file("bad.safetensors"), st_file("[]"));
  CHECK_THROWS_WITH(load_safetensors(dir.file("bad.safetensors")),
                    Contains("bad.safetensors': expected the header to be a JSON object"));
  CHECK_THROWS_WITH(load_safetensors(dir.path.string()), Contains("is a directory"));
}
