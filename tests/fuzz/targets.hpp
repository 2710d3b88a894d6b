// tests/fuzz/targets.hpp: one fuzz target per reader of files that may come from anyone.
//
// fuzz_<name>(data, size) hands the bytes to the library's reader as the contents of a
// file. Malformed bytes must make the reader throw inv::Error, which propagates: the
// callers expect it. Anything else is a finding: another exception, a sanitizer report,
// or an oracle failure (oracle_failed prints what did not hold and aborts). The oracles
// say what a successful read must satisfy beyond not crashing: the values equal the
// bytes, writing what was read and reading it back gives the same bits.
//
// The callers: tests/fuzz/fuzz_main.cpp (libFuzzer, one program per target, built by
// scripts/fuzz.sh) and tests/test_fuzz_regressions.cpp (the committed seed corpus and
// every input that ever failed, in the normal test suite).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "inv/data/cifar.hpp"
#include "inv/data/idx.hpp"
#include "inv/error.hpp"
#include "inv/io/checkpoint.hpp"
#include "inv/io/gzip.hpp"
#include "inv/io/image.hpp"  // encode_png
#include "inv/io/image_decode.hpp"
#include "inv/io/npy.hpp"
#include "inv/io/safetensors.hpp"
#include "inv/tensor.hpp"

// The targets, one line each: X(name, max_len) for the function fuzz_<name> below, with the
// largest input (bytes) that scripts/fuzz.sh gives it. tests/fuzz/CMakeLists.txt and
// scripts/fuzz.sh read this list from this file, so adding a target is its function, its
// line here and its seed corpus, tests/fuzz/corpus/<name>/.
#define INV_FUZZ_TARGETS(X) \
  X(idx, 16384)             \
  X(gzip, 16384)            \
  X(cifar, 16384)           \
  X(npy, 4096)              \
  X(checkpoint, 8192)       \
  X(safetensors, 8192)      \
  X(image, 65536)

namespace inv::fuzz {

/// How the targets name their input in error messages.
inline const std::string kWhat = "fuzz input";

/// Prints "fuzz oracle failed: " and the parts to stderr and aborts: a crash for libFuzzer,
/// a fatal error for the regression test.
template <class... Args>
[[noreturn]] void oracle_failed(const Args&... args) {
  std::fprintf(stderr, "fuzz oracle failed: %s\n", inv::detail::cat(args...).c_str());
  std::fflush(stderr);
  std::abort();
}

/// INV_ORACLE(cond, parts...): aborts with the condition and the parts unless cond holds.
#define INV_ORACLE(cond, ...)                                                \
  do {                                                                       \
    if (!(cond)) ::inv::fuzz::oracle_failed(#cond, ": ", __VA_ARGS__);        \
  } while (0)

/// f() for a step that must succeed once the input has been read (writing what was read,
/// reading it back): an inv::Error there is an oracle failure, not a rejected input.
template <class F>
auto must_succeed(const char* step, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const inv::Error& e) {
    oracle_failed(step, " threw inv::Error: ", e.what());
  }
}

/// The bytes of a contiguous tensor.
inline const uint8_t* tensor_bytes(const Tensor& t) {
  return static_cast<const uint8_t*>(t.impl().storage->data()) +
         t.impl().offset * static_cast<int64_t>(element_size(t.dtype()));
}

/// True when a and b have the same dtype, shape and bits.
inline bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(tensor_bytes(a), tensor_bytes(b), static_cast<size_t>(a.numel()) * element_size(a.dtype())) == 0;
}

inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

/// IDX (data::parse_idx_images, data::parse_idx_labels), raw or gzip. A labels file (rank
/// byte 1 once inflated) goes to the labels reader with 10 classes, anything else to the
/// images reader. Oracle: the values are the data bytes (byte / 255 for images), and
/// encode_idx of the dims and values gives the (inflated) input back.
inline void fuzz_idx(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> file(data, data + size);
  // Inflated here too (the readers throw the same error for bad gzip), for the oracle.
  const std::vector<uint8_t> idx = io::is_gzip(file) ? io::gunzip(file, kWhat) : file;
  if (idx.size() >= 4 && idx[3] == 1) {
    const std::vector<int64_t> labels = data::parse_idx_labels(file, kWhat, 10);
    INV_ORACLE(idx.size() == 8 + labels.size(), "labels ", labels.size(), ", file ", idx.size(), " bytes");
    std::vector<uint8_t> values(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
      INV_ORACLE(labels[i] == idx[8 + i] && labels[i] < 10, "label ", i, " is ", labels[i], ", byte ",
                 int(idx[8 + i]));
      values[i] = static_cast<uint8_t>(labels[i]);
    }
    INV_ORACLE(must_succeed("encode_idx", [&] { return data::encode_idx({int64_t(labels.size())}, values); }) == idx,
               "re-encoded labels differ from the input");
    return;
  }
  const Tensor images = data::parse_idx_images(file, kWhat);
  const int64_t n = load_be32(&idx[4]), h = load_be32(&idx[8]), w = load_be32(&idx[12]);
  INV_ORACLE(images.shape() == Shape({n, 1, h, w}) && images.dtype() == kFloat32, "shape ",
             to_string(images.shape()), " for header dims (", n, ",", h, ",", w, ")");
  INV_ORACLE(idx.size() == 16 + size_t(images.numel()), "numel ", images.numel(), ", file ", idx.size(), " bytes");
  const float* v = images.data<float>();
  for (int64_t i = 0; i < images.numel(); ++i)
    INV_ORACLE(v[i] == static_cast<float>(idx[16 + size_t(i)]) / 255.0f, "pixel ", i, " is ", v[i], ", byte ",
               int(idx[16 + size_t(i)]));
  const std::vector<uint8_t> pixels(idx.begin() + 16, idx.end());
  INV_ORACLE(must_succeed("encode_idx", [&] { return data::encode_idx({n, h, w}, pixels); }) == idx,
             "re-encoded images differ from the input");
}

/// The output cap given to io::gunzip: 64 MiB.
constexpr size_t kFuzzGunzipCap = size_t(64) << 20;

/// gzip (io::gunzip with a 64 MiB cap). Oracle: the output is within the cap, and the input
/// twice over (two concatenated members, or more) inflates to the output twice over.
inline void fuzz_gzip(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> gz(data, data + size);
  const std::vector<uint8_t> out = io::gunzip(gz, kWhat, kFuzzGunzipCap);
  INV_ORACLE(out.size() <= kFuzzGunzipCap, out.size(), " bytes out, cap ", kFuzzGunzipCap);
  if (2 * out.size() > kFuzzGunzipCap) return;
  std::vector<uint8_t> twice = gz;
  twice.insert(twice.end(), gz.begin(), gz.end());
  const std::vector<uint8_t> out_twice = must_succeed("gunzip of the input twice over",
                                                      [&] { return io::gunzip(twice, kWhat, kFuzzGunzipCap); });
  INV_ORACLE(out_twice.size() == 2 * out.size() && std::equal(out.begin(), out.end(), out_twice.begin()) &&
                 std::equal(out.begin(), out.end(), out_twice.begin() + std::ptrdiff_t(out.size())),
             "the input twice over inflates to ", out_twice.size(), " bytes, not twice the ", out.size());
}

/// CIFAR-10 binary (data::parse_cifar10_binary, the 10 CIFAR-10 classes). Oracle: one
/// record per 3073 bytes, labels and pixels (byte / 255) equal to the bytes.
inline void fuzz_cifar(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> file(data, data + size);
  const data::Dataset ds = data::parse_cifar10_binary(file, kWhat);
  const int64_t n = static_cast<int64_t>(size) / data::kCifarRecordBytes;
  INV_ORACLE(size % data::kCifarRecordBytes == 0 && ds.size() == n && ds.images.shape() == Shape({n, 3, 32, 32}) &&
                 ds.num_classes() == 10,
             size, " bytes gave ", ds.size(), " labels and images ", to_string(ds.images.shape()));
  const float* v = ds.images.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* record = data + i * data::kCifarRecordBytes;
    INV_ORACLE(ds.labels[size_t(i)] == record[0] && record[0] < 10, "label of record ", i, " is ",
               ds.labels[size_t(i)], ", byte ", int(record[0]));
    for (int64_t p = 0; p < 3072; ++p)
      INV_ORACLE(v[i * 3072 + p] == static_cast<float>(record[1 + p]) / 255.0f, "record ", i, " pixel ", p, " is ",
                 v[i * 3072 + p], ", byte ", int(record[1 + p]));
  }
}

/// NumPy .npy (io::parse_npy). Oracle: element count × dtype size is the number of bytes
/// after the header and the elements are those bytes; encode_npy → parse_npy gives the
/// same bits.
inline void fuzz_npy(const uint8_t* data, size_t size) {
  const Tensor t = io::parse_npy(std::vector<uint8_t>(data, data + size), kWhat);
  // A parsed file has the magic, the version and the header length (u16 for 1.0, else u32).
  const size_t hlen = data[6] == 1 ? size_t(data[8]) | size_t(data[9]) << 8
                                   : size_t(data[8]) | size_t(data[9]) << 8 | size_t(data[10]) << 16 |
                                         size_t(data[11]) << 24;
  const size_t header = (data[6] == 1 ? 10 : 12) + hlen;
  const size_t nbytes = static_cast<size_t>(t.numel()) * element_size(t.dtype());
  INV_ORACLE(header <= size && nbytes == size - header, "shape ", to_string(t.shape()), " ", dtype_name(t.dtype()),
             " holds ", nbytes, " bytes, the file ", size, " bytes with a ", header, "-byte header");
  INV_ORACLE(std::memcmp(tensor_bytes(t), data + header, nbytes) == 0, "the elements differ from the data bytes");
  const Tensor back = must_succeed("encode_npy -> parse_npy", [&] { return io::parse_npy(io::encode_npy(t), kWhat); });
  INV_ORACLE(same_bits(t, back), "read back as ", to_string(back.shape()), " ", dtype_name(back.dtype()),
             " (or other bits), from ", to_string(t.shape()), " ", dtype_name(t.dtype()));
}

/// Checkpoint (io::parse_checkpoint). Oracle: parse → encode → parse gives the same metadata
/// and the same tensors (names, order, bits), the encoding has the input's size (only the
/// order of the metadata may differ), and encoding again gives the same bytes.
inline void fuzz_checkpoint(const uint8_t* data, size_t size) {
  const io::Checkpoint ck = io::parse_checkpoint(std::vector<uint8_t>(data, data + size), kWhat);
  const std::vector<uint8_t> encoded = must_succeed("encode_checkpoint", [&] { return io::encode_checkpoint(ck); });
  INV_ORACLE(encoded.size() == size, "re-encoded to ", encoded.size(), " bytes from ", size);
  const io::Checkpoint back = must_succeed("parse_checkpoint of the re-encoded bytes",
                                           [&] { return io::parse_checkpoint(encoded, kWhat); });
  INV_ORACLE(back.metadata == ck.metadata, "metadata differs after the round trip");
  INV_ORACLE(back.tensors.size() == ck.tensors.size(), back.tensors.size(), " tensors read back, ",
             ck.tensors.size(), " written");
  for (size_t i = 0; i < ck.tensors.size(); ++i)
    INV_ORACLE(back.tensors[i].first == ck.tensors[i].first && same_bits(back.tensors[i].second, ck.tensors[i].second),
               "tensor ", i, " '", ck.tensors[i].first, "' differs after the round trip");
  INV_ORACLE(must_succeed("encode_checkpoint", [&] { return io::encode_checkpoint(back); }) == encoded,
             "encoding the read-back checkpoint gives other bytes");
}

/// safetensors (io::parse_safetensors). Oracle: the tensors as read hold between one and two
/// times the bytes of the data section (F16 and BF16 widen to float32, the rest keep their
/// size); encode_safetensors -> parse_safetensors gives the same metadata and the same
/// tensors (names, bits), and encoding what was read back gives the same bytes again.
inline void fuzz_safetensors(const uint8_t* data, size_t size) {
  const io::SafeTensors st = io::parse_safetensors(data, size, kWhat);
  uint64_t header = 0;  // a parsed file has the 8-byte header length
  std::memcpy(&header, data, 8);
  const uint64_t data_bytes = size - 8 - header;
  uint64_t read_bytes = 0;
  for (const auto& [name, t] : st.tensors) read_bytes += static_cast<uint64_t>(t.numel()) * element_size(t.dtype());
  INV_ORACLE(read_bytes >= data_bytes && read_bytes <= 2 * data_bytes, st.tensors.size(), " tensors of ",
             read_bytes, " bytes from a data section of ", data_bytes);
  const std::vector<uint8_t> encoded =
      must_succeed("encode_safetensors", [&] { return io::encode_safetensors(st.tensors, st.metadata); });
  const io::SafeTensors back = must_succeed("parse_safetensors of the re-encoded bytes",
                                            [&] { return io::parse_safetensors(encoded, kWhat); });
  INV_ORACLE(back.metadata == st.metadata, "metadata differs after the round trip");
  INV_ORACLE(back.tensors.size() == st.tensors.size(), back.tensors.size(), " tensors read back, ",
             st.tensors.size(), " written");
  for (const auto& entry : st.tensors) {
    const auto it = std::find_if(back.tensors.begin(), back.tensors.end(),
                                 [&](const auto& e) { return e.first == entry.first; });
    INV_ORACLE(it != back.tensors.end() && same_bits(it->second, entry.second), "tensor '", entry.first,
               "' differs after the round trip");
  }
  INV_ORACLE(must_succeed("encode_safetensors", [&] { return io::encode_safetensors(back.tensors, back.metadata); }) ==
                 encoded,
             "encoding the read-back tensors gives other bytes");
}

/// Images up to this many pixels also get the encode_png round trip (larger ones are
/// valid too, but the round trip would cost seconds and most of the memory limit).
constexpr int64_t kFuzzRoundTripPixels = int64_t(1) << 20;

/// Image (io::decode_image), as RGB and as grey. Oracle: a (C, H, W) float32 tensor with
/// every value in [0, 1]; bytes that decode as RGB decode as grey too, with the same H and W;
/// encode_png of the decoded tensor → decode_image gives the same bits.
inline void fuzz_image(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> file(data, data + size);
  int64_t height = 0, width = 0;
  for (const int channels : {3, 1}) {
    const Tensor img = channels == 3 ? io::decode_image(file, channels, kWhat)
                                     : must_succeed("decode_image as grey of an image that decodes as RGB",
                                                    [&] { return io::decode_image(file, channels, kWhat); });
    INV_ORACLE(img.dtype() == kFloat32 && img.dim() == 3 && img.size(0) == channels && img.size(1) > 0 &&
                   img.size(2) > 0,
               "decoded with ", channels, " channels to ", to_string(img.shape()), " ", dtype_name(img.dtype()));
    if (channels == 3) {
      height = img.size(1);
      width = img.size(2);
    }
    INV_ORACLE(img.size(1) == height && img.size(2) == width, "grey ", to_string(img.shape()), ", RGB ", height,
               " x ", width);
    const float* v = img.data<float>();
    for (int64_t i = 0; i < img.numel(); ++i)
      INV_ORACLE(v[i] >= 0.0f && v[i] <= 1.0f, "value ", v[i], " at flat index ", i, " (", channels, " channels)");
    if (height * width > kFuzzRoundTripPixels) continue;
    const Tensor back = must_succeed("encode_png -> decode_image of the decoded image", [&] {
      return io::decode_image(io::encode_png(img), channels, kWhat);
    });
    INV_ORACLE(same_bits(img, back), "encode_png -> decode_image of a ", to_string(img.shape()),
               " image gives other values");
  }
}

/// A target: its name and function, and the largest input scripts/fuzz.sh gives it.
struct Target {
  const char* name;
  void (*run)(const uint8_t* data, size_t size);
  size_t max_len;
};

/// Every target of INV_FUZZ_TARGETS, in its order.
inline const std::vector<Target>& targets() {
#define INV_FUZZ_TARGET_ENTRY(name, max_len) Target{#name, fuzz_##name, max_len},
  static const std::vector<Target> all = {INV_FUZZ_TARGETS(INV_FUZZ_TARGET_ENTRY)};
#undef INV_FUZZ_TARGET_ENTRY
  return all;
}

}  // namespace inv::fuzz
