// inv/io/checkpoint.hpp: the native checkpoint format (.invckpt), and loading a
// checkpoint into existing tensors (a model's state_dict).
//
// A checkpoint is an ordered list of named tensors (e.g. a model's parameters and
// buffers) plus string metadata (e.g. the architecture, the epoch, the dataset).
//
// ---------------------------------------------------------------------------
// File format, version 1 (the specification; tests/fixtures/checkpoint_v1.invckpt
// is a golden file that every future build must keep reading).
//
// All integers are little-endian and fixed width. A "string" is a u32 byte length
// followed by that many bytes (UTF-8, no terminator).
//
//   magic       8 bytes      "INVCKPT\0" (49 4E 56 43 4B 50 54 00)
//   version     u32          1
//   flags       u32          0 (version 1 defines no flags; readers reject others)
//   n_metadata  u64          number of metadata entries
//   n_metadata times:
//     key       string       unique (writers emit the keys in sorted byte order)
//     value     string
//   n_tensors   u64          number of tensors
//   n_tensors times, in the checkpoint's order:
//     name      string       unique
//     dtype     u8           0 = float32 (IEEE 754 binary32), 1 = float64 (binary64)
//     rank      u8           0..8 (0 = a scalar with one element)
//     dims      rank x i64   each >= 0, outermost first
//     nbytes    u64          = prod(dims) * (4 for float32, 8 for float64)
//     data      nbytes       the elements in row-major (C) order, little-endian
//   crc         u32          CRC-32 (IEEE 802.3, as zlib's crc32) of every byte before it
//
// Nothing may follow the CRC. A reader rejects, with inv::Error naming the file and
// what was expected and found: a wrong magic, another version, non-zero flags, a
// truncation anywhere, counts or lengths that the remaining bytes cannot hold, an
// unknown dtype, rank > 8, a negative dim, nbytes inconsistent with dims and dtype,
// duplicate names or keys, a CRC mismatch and trailing bytes. Nothing is allocated
// before the bytes it describes are known to be present.
// ---------------------------------------------------------------------------
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "inv/error.hpp"
#include "inv/io/crc32.hpp"
#include "inv/io/file.hpp"
#include "inv/shape.hpp"
#include "inv/tensor.hpp"

namespace inv::io {

/// The tensor called `name` in `tensors`; throws inv::Error "<what> <no_such> '<name>' (<it has>:
/// ...)" listing the available names otherwise.
inline const Tensor& named_tensor(const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& name,
                                  const char* no_such, const char* it_has) {
  std::string names;
  for (const auto& [n, t] : tensors) {
    if (n == name) return t;
    names += (names.empty() ? "" : ", ") + n;
  }
  detail::fail(no_such, " '", name, "' (", it_has, ": ", names.empty() ? "none" : names, ")");
}

/// Named tensors (in order) and string metadata: what a checkpoint file holds.
struct Checkpoint {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;

  /// The tensor called `name`; throws inv::Error listing the available names otherwise.
  const Tensor& tensor(const std::string& name) const {
    return named_tensor(tensors, name, "checkpoint has no tensor", "it has");
  }
};

namespace ckpt_detail {

constexpr uint8_t kMagic[8] = {'I', 'N', 'V', 'C', 'K', 'P', 'T', '\0'};
constexpr uint32_t kVersion = 1;
constexpr uint8_t kMaxRank = 8;
// Smallest encodings, used to cap counts by the remaining bytes before allocating.
constexpr size_t kMinMetadataEntryBytes = 4 + 4;          // two empty strings
constexpr size_t kMinTensorBytes = 4 + 1 + 1 + 8;         // empty name, dtype, rank 0, nbytes
constexpr size_t kCrcBytes = 4;

inline std::string hex32(uint32_t v) {
  static const char* hex = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) out += hex[(v >> shift) & 15];
  return out;
}

/// a * b, or UINT64_MAX when that overflows.
inline uint64_t mul_saturate(uint64_t a, uint64_t b) {
  return b != 0 && a > std::numeric_limits<uint64_t>::max() / b ? std::numeric_limits<uint64_t>::max() : a * b;
}

/// Pointer to a tensor's first byte (any dtype).
inline uint8_t* tensor_bytes(const Tensor& t) {
  return static_cast<uint8_t*>(t.impl().storage->data()) +
         t.impl().offset * static_cast<int64_t>(element_size(t.dtype()));
}

/// Reads a u64 count and checks that the remaining bytes (less the CRC) can hold that many
/// entries of at least `min_bytes` each.
inline uint64_t read_count(ByteReader& r, const char* field, size_t min_bytes, const std::string& what) {
  const size_t at = r.pos();
  const uint64_t n = r.get<uint64_t>(field);
  const size_t room = r.remaining() >= kCrcBytes ? r.remaining() - kCrcBytes : 0;
  INV_CHECK(n <= room / min_bytes, what, ": ", field, " ", n, " at offset ", at, " is impossible: the remaining ",
            room, " bytes hold at most ", room / min_bytes, " (corrupt file?)");
  return n;
}

/// Reads one tensor record (see the format above).
inline std::pair<std::string, Tensor> read_tensor(ByteReader& r, uint64_t index, const std::string& what) {
  const std::string label = "tensor " + std::to_string(index);
  const std::string name = r.get_string((label + " name").c_str(), std::numeric_limits<size_t>::max());
  const std::string field = "tensor '" + name + "'";
  const size_t dtype_at = r.pos();
  const uint8_t code = r.get<uint8_t>((field + " dtype").c_str());
  INV_CHECK(code <= 1, what, ": ", field, ": unknown dtype code ", int(code), " at offset ", dtype_at,
            " (expected 0 = float32 or 1 = float64)");
  const Dtype dtype = code == 0 ? kFloat32 : kFloat64;
  const uint8_t rank = r.get<uint8_t>((field + " rank").c_str());
  INV_CHECK(rank <= kMaxRank, what, ": ", field, ": rank ", int(rank), " exceeds the maximum ", int(kMaxRank),
            " (corrupt file?)");
  Shape shape(rank);
  uint64_t nbytes_expected = element_size(dtype);
  for (auto& d : shape) {
    d = r.get<int64_t>((field + " dims").c_str());
    INV_CHECK(d >= 0, what, ": ", field, ": negative dimension ", d, " (corrupt file?)");
    nbytes_expected = mul_saturate(nbytes_expected, static_cast<uint64_t>(d));
  }
  const uint64_t nbytes = r.get<uint64_t>((field + " byte length").c_str());
  INV_CHECK(nbytes == nbytes_expected, what, ": ", field, ": byte length ", nbytes, " does not match shape ",
            to_string(shape), " ", dtype_name(dtype), " (expected ", nbytes_expected, ")");
  const uint8_t* data = r.get_bytes(static_cast<size_t>(nbytes), (field + " data").c_str());
  Tensor t = Tensor::empty(shape, dtype);
  if (nbytes > 0) std::memcpy(tensor_bytes(t), data, static_cast<size_t>(nbytes));
  return {name, t};
}

}  // namespace ckpt_detail

/// The bytes of a version-1 checkpoint file (layout above): metadata in key order, tensors
/// in the given order. Throws inv::Error for an undefined tensor, a rank above 8, a duplicate
/// tensor name, or a string longer than 4 GiB.
inline std::vector<uint8_t> encode_checkpoint(const Checkpoint& ck) {
  constexpr size_t kMaxString = std::numeric_limits<uint32_t>::max();
  ByteWriter w;
  w.put_bytes(ckpt_detail::kMagic, 8);
  w.put<uint32_t>(ckpt_detail::kVersion);
  w.put<uint32_t>(0);  // flags
  w.put<uint64_t>(ck.metadata.size());
  for (const auto& [key, value] : ck.metadata) {
    INV_CHECK(key.size() <= kMaxString && value.size() <= kMaxString, "checkpoint: metadata '", key.substr(0, 64),
              "' is longer than 4 GiB");
    w.put_string(key);
    w.put_string(value);
  }
  w.put<uint64_t>(ck.tensors.size());
  std::set<std::string> names;
  for (const auto& [name, t] : ck.tensors) {
    INV_CHECK(names.insert(name).second, "checkpoint: duplicate tensor name '", name, "' (names must be unique)");
    INV_CHECK(name.size() <= kMaxString, "checkpoint: tensor name longer than 4 GiB");
    INV_CHECK(t.defined(), "checkpoint: tensor '", name, "' is undefined");
    INV_CHECK(t.dim() <= ckpt_detail::kMaxRank, "checkpoint: tensor '", name, "' has rank ", t.dim(),
              ", the format allows at most ", int(ckpt_detail::kMaxRank), ": shape ", to_string(t.shape()));
    w.put_string(name);
    w.put<uint8_t>(t.dtype() == kFloat32 ? 0 : 1);
    w.put<uint8_t>(static_cast<uint8_t>(t.dim()));
    for (int64_t d : t.shape()) w.put<int64_t>(d);
    const size_t nbytes = static_cast<size_t>(t.numel()) * element_size(t.dtype());
    w.put<uint64_t>(nbytes);
    w.put_bytes(ckpt_detail::tensor_bytes(t), nbytes);
  }
  w.put<uint32_t>(crc32(w.bytes().data(), w.bytes().size()));
  return std::move(w.bytes());
}

/// Writes `ck` to `path` in the version-1 format, atomically (io::write_file_atomic: an
/// interrupted save leaves the previous file intact). Throws inv::Error as encode_checkpoint
/// does, or naming the path on an I/O failure.
inline void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  write_file_atomic(path, encode_checkpoint(ck));
}

/// Parses checkpoint bytes (layout above); `what` names the source in error messages.
/// Never reads out of bounds and never allocates more than the input can describe; every
/// malformed input throws inv::Error saying what was expected and what was found.
inline Checkpoint parse_checkpoint(const std::vector<uint8_t>& bytes, const std::string& what) {
  const size_t m = std::min<size_t>(bytes.size(), 8);
  INV_CHECK(m == 8 && std::memcmp(bytes.data(), ckpt_detail::kMagic, 8) == 0, what,
            ": not an inv checkpoint: expected magic INVCKPT, found ", quote_bytes(bytes.data(), m),
            m < 8 ? " (the file has only " + std::to_string(bytes.size()) + " bytes)" : "");
  ByteReader r(bytes.data(), bytes.size(), what);
  r.get_bytes(8, "magic");
  const uint32_t version = r.get<uint32_t>("version");
  INV_CHECK(version == ckpt_detail::kVersion, what, ": unsupported checkpoint version ", version,
            " (this build reads version ", ckpt_detail::kVersion, ")");
  const uint32_t flags = r.get<uint32_t>("flags");
  INV_CHECK(flags == 0, what, ": unsupported flags ", ckpt_detail::hex32(flags),
            " (version 1 defines none, expected 0x00000000)");

  Checkpoint ck;
  const uint64_t n_meta =
      ckpt_detail::read_count(r, "metadata count", ckpt_detail::kMinMetadataEntryBytes, what);
  for (uint64_t i = 0; i < n_meta; ++i) {
    std::string key = r.get_string("metadata key", std::numeric_limits<size_t>::max());
    std::string value = r.get_string("metadata value", std::numeric_limits<size_t>::max());
    INV_CHECK(ck.metadata.count(key) == 0, what, ": duplicate metadata key '", key, "'");
    ck.metadata.emplace(std::move(key), std::move(value));
  }
  const uint64_t n_tensors = ckpt_detail::read_count(r, "tensor count", ckpt_detail::kMinTensorBytes, what);
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    auto entry = ckpt_detail::read_tensor(r, i, what);
    INV_CHECK(names.insert(entry.first).second, what, ": duplicate tensor name '", entry.first, "' (tensor ", i,
              ")");
    ck.tensors.push_back(std::move(entry));
  }

  const size_t body = r.pos();
  const uint32_t stored = r.get<uint32_t>("checksum");
  const uint32_t computed = crc32(bytes.data(), body);
  INV_CHECK(stored == computed, what, ": checksum mismatch: stored CRC-32 ", ckpt_detail::hex32(stored),
            ", computed ", ckpt_detail::hex32(computed), " over the first ", body, " bytes (the file is corrupt)");
  INV_CHECK(r.remaining() == 0, what, ": trailing bytes: expected the file to end after the checksum at offset ",
            r.pos(), ", found ", r.remaining(), " more bytes");
  return ck;
}

/// Reads a checkpoint file written by save_checkpoint. Throws inv::Error naming the path
/// when the file cannot be read or is not a valid version-1 checkpoint (see parse_checkpoint).
inline Checkpoint load_checkpoint(const std::string& path) {
  return parse_checkpoint(read_file(path), "checkpoint '" + path + "'");
}

/// Copies the checkpoint's values, by name, into existing tensors (e.g. a model's
/// state_dict, whose parameters and buffers share storage with the model), converting
/// float32 <-> float64 where the dtypes differ. Like PyTorch's load_state_dict: with
/// `strict`, every destination name must be in the checkpoint and vice versa; without it,
/// names present on one side only are skipped. Shapes must always match.
/// Checks everything first and throws one inv::Error listing every difference, e.g.
///   conv1.weight: expected (8,1,5,5), found (6,1,5,5)
///   missing in checkpoint: fc3.bias
///   unexpected in checkpoint: fc4.weight
/// ("expected" is the destination's shape); nothing is copied then.
inline void load_into(const std::vector<std::pair<std::string, Tensor>>& destination, const Checkpoint& ck,
                      bool strict = true) {
  std::map<std::string, const Tensor*> source;
  std::vector<std::string> problems;
  for (const auto& [name, t] : ck.tensors)
    if (!source.emplace(name, &t).second) problems.push_back("duplicate in checkpoint: " + name);
  std::set<std::string> wanted;
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  for (const auto& [name, t] : destination) {
    INV_CHECK(t.defined(), "load_into: destination tensor '", name, "' is undefined");
    if (!wanted.insert(name).second) problems.push_back("duplicate in destination: " + name);
    const auto it = source.find(name);
    if (it == source.end()) {
      if (strict) problems.push_back("missing in checkpoint: " + name);
      continue;
    }
    const Tensor& src = *it->second;
    if (src.shape() != t.shape())
      problems.push_back(name + ": expected " + to_string(t.shape()) + ", found " + to_string(src.shape()));
    else
      copies.emplace_back(t, &src);
  }
  if (strict)
    for (const auto& [name, t] : ck.tensors)
      if (wanted.count(name) == 0) problems.push_back("unexpected in checkpoint: " + name);
  if (!problems.empty()) {
    std::string msg;
    for (const std::string& p : problems) msg += "\n  " + p;
    detail::fail("load_into: the checkpoint does not match the destination (", problems.size(),
                 problems.size() == 1 ? " difference" : " differences", "; nothing was loaded):", msg);
  }
  for (auto& [dst, src] : copies) dst.copy_(*src);
}

}  // namespace inv::io
