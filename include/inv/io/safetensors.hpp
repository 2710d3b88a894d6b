// inv/io/safetensors.hpp: the safetensors format (reading and writing), and loading a
// PyTorch state_dict saved in it into a module.
//
// Needs nlohmann/json (Debian's nlohmann-json3-dev): link the CMake target
// inv::safetensors. inv/inv.hpp does not include this header.
//
// ---------------------------------------------------------------------------
// The format (https://github.com/huggingface/safetensors, README "Format"):
//
//   N        u64, little-endian: the byte length of the header
//   header   N bytes of UTF-8 JSON, possibly padded at the end with spaces: an object
//              {"<name>": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}, ...,
//               "__metadata__": {"<key>": "<value>", ...}}        (__metadata__ optional)
//   data     the rest of the file. A tensor's elements are the bytes [begin, end) of it
//            (data_offsets, relative to the start of the data), row-major, little-endian;
//            end - begin = element count x dtype size; the tensors, sorted by their
//            offsets, cover the data exactly, without gaps or overlaps.
//
// dtypes read and what they become (inv tensors are float32 or float64):
//   F32 -> float32;  F64 -> float64;  F16, BF16 -> float32 (exactly: every value of those
//   formats is a float32, subnormals, infinities and NaN payloads included);
//   I64 -> float64 when every value is within +-2^53 (exactly representable), else
//   refused. PyTorch stores its integer buffers as I64 (BatchNorm's num_batches_tracked).
// Every other dtype (BOOL, U8, I8, I16, U16, I32, U32, U64, F8_*, ...) is refused by name.
//
// Reading treats the file as hostile, as the reference reader does (its limits: a header
// of at most 100,000,000 bytes, offsets validated against the data). Every malformed file
// throws inv::Error naming the file, the tensor and what was expected and found: a
// truncation anywhere, a header length over the limit or beyond the file, a header that
// is not JSON (nlohmann's parser: also invalid UTF-8, comments, trailing garbage; and a
// NUL byte, which that parser would take for the end of the text) or not an object, an
// entry that is not {dtype: string, shape: [non-negative integers], data_offsets: [begin,
// end]} (a missing, duplicate or unknown key, a wrong JSON type, a negative or fractional
// number), a shape whose byte size overflows, a byte size that is not element count x
// dtype size, offsets out of range, overlapping, not contiguous from 0 or not covering the
// data exactly, a duplicate tensor name or metadata key (JSON parsers usually keep one of
// two equal keys silently: this one refuses them), metadata that is not an object of
// strings. Beyond the format: JSON nested deeper than the format's three levels and
// arrays of more than 64 elements (shapes of more than 64 dimensions) are refused while
// parsing, so that no header can make the parser build large structures.
// The header is parsed with nlohmann's SAX interface straight into the entries.
//
// Writing (save_safetensors) gives F32 and F64 (inv has no integer tensors), the header
// padded with spaces to a multiple of 8 bytes and the 8-byte dtypes' data first, as the
// reference writer does, so that every tensor starts at a multiple of its element size.
// ---------------------------------------------------------------------------
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "inv/error.hpp"
#include "inv/io/checkpoint.hpp"  // load_into
#include "inv/io/file.hpp"
#include "inv/nn/module.hpp"
#include "inv/shape.hpp"
#include "inv/tensor.hpp"

namespace inv::io {

/// What a safetensors file holds: named tensors and string metadata (__metadata__).
/// Tensors are in the order of their data in the file (by data_offsets; empty tensors at
/// the same offset by name); for a file written by save_safetensors that is the order
/// given to it within each element size (float64 first, then float32).
struct SafeTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;

  /// The tensor called `name`; throws inv::Error listing the available names otherwise.
  const Tensor& tensor(const std::string& name) const {
    return named_tensor(tensors, name, "safetensors: no tensor", "there are");
  }
};

namespace st_detail {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference reader's MAX_HEADER_SIZE
constexpr size_t kMaxArray = 64;                   // longest JSON array read: shapes up to 64-D
constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kReadable = "F32, F64, F16, BF16, I64";

enum class Stored { F32, F64, F16, BF16, I64 };

/// The dtype called `s`, or false for any other name.
inline bool stored_dtype(const std::string& s, Stored& out) {
  static const std::pair<const char*, Stored> known[] = {
      {"F32", Stored::F32}, {"F64", Stored::F64}, {"F16", Stored::F16}, {"BF16", Stored::BF16}, {"I64", Stored::I64}};
  for (const auto& [name, d] : known)
    if (s == name) {
      out = d;
      return true;
    }
  return false;
}

inline uint64_t stored_size(Stored d) { return d == Stored::F16 || d == Stored::BF16 ? 2 : d == Stored::F32 ? 4 : 8; }

/// IEEE 754 binary16 -> binary32, exactly (every binary16 value is a binary32 value).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity, or NaN with its payload
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else {
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;  // zero or subnormal: exact
    std::memcpy(&bits, &magnitude, 4);
    bits |= sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// bfloat16 -> binary32: the upper half of a binary32.
inline float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// A name or value as shown in messages: at most 80 bytes.
inline std::string shorten(const std::string& s) { return s.size() <= 80 ? s : s.substr(0, 80) + "..."; }

/// Bytes outside printable ASCII as \xNN (nlohmann's parse errors quote the offending input).
inline std::string printable(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

/// One tensor entry of the header, as read.
struct Entry {
  std::string name, dtype_name;
  Stored dtype = Stored::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;
  bool has_dtype = false, has_shape = false, has_offsets = false;
};

/// nlohmann SAX handler that reads the header into entries and metadata and throws
/// inv::Error at the first thing the format does not allow. Depth: 0 outside everything,
/// 1 in the header object, 2 in an entry or __metadata__, 3 in shape or data_offsets.
class HeaderReader {
 public:
  using json = nlohmann::json;

  explicit HeaderReader(const std::string& what) : what_(what) {}

  std::vector<Entry> entries;
  std::map<std::string, std::string> metadata;

  bool null() { return found("null"); }
  bool boolean(bool v) { return found(v ? "true" : "false"); }
  bool number_integer(json::number_integer_t v) {
    if (depth_ == 3 && v >= 0) return element(static_cast<uint64_t>(v));
    return found("the number " + std::to_string(v));
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (depth_ == 3) return element(v);
    return found("the number " + std::to_string(v));
  }
  bool number_float(json::number_float_t, const std::string& text) { return found("the number " + shorten(text)); }
  bool string(std::string& s) {
    if (depth_ == 2 && in_entry_ && field_ == "dtype") {
      INV_CHECK(stored_dtype(s, entry_.dtype), what_, ": unsupported dtype '", shorten(s), "' for tensor '",
                entry_.name, "' (inv reads ", kReadable, ")");
      entry_.dtype_name = s;
      return true;
    }
    if (depth_ == 2 && !in_entry_) {
      metadata.emplace(field_, s);
      return true;
    }
    return found("the string \"" + shorten(s) + "\"");
  }
  bool binary(json::binary_t&) { return found("binary data"); }  // not produced by JSON text

  bool start_object(std::size_t) {
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    if (depth_ != 1) return found("an object");
    in_entry_ = key_ != kMetadataKey;
    if (in_entry_) {
      entry_ = Entry();
      entry_.name = key_;
    }
    depth_ = 2;
    return true;
  }
  bool key(std::string& k) {
    if (depth_ == 1) {
      INV_CHECK(names_.insert(k).second, what_, ": duplicate name '", shorten(k),
                "' in the header (each tensor name, and __metadata__, may appear once)");
      key_ = k;
    } else if (in_entry_) {
      bool* seen = k == "dtype" ? &entry_.has_dtype
                   : k == "shape" ? &entry_.has_shape
                   : k == "data_offsets" ? &entry_.has_offsets
                                         : nullptr;
      INV_CHECK(seen != nullptr, what_, ": tensor '", entry_.name, "': unexpected key '", shorten(k),
                "' (expected dtype, shape and data_offsets)");
      INV_CHECK(!*seen, what_, ": tensor '", entry_.name, "': duplicate key '", k, "'");
      *seen = true;
      field_ = k;
    } else {
      INV_CHECK(metadata.count(k) == 0, what_, ": duplicate __metadata__ key '", shorten(k), "'");
      field_ = k;
    }
    return true;
  }
  bool end_object() {
    if (depth_ == 2 && in_entry_) {
      const char* missing = !entry_.has_dtype ? "dtype" : !entry_.has_shape ? "shape" : !entry_.has_offsets
                                                                                           ? "data_offsets"
                                                                                           : nullptr;
      INV_CHECK(missing == nullptr, what_, ": tensor '", entry_.name, "': missing '", missing,
                "' (an entry is {\"dtype\": ..., \"shape\": [...], \"data_offsets\": [begin, end]})");
      entries.push_back(std::move(entry_));
    }
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ == 2 && in_entry_ && field_ != "dtype") {
      values_.clear();
      depth_ = 3;
      return true;
    }
    return found(depth_ == 3 ? "a nested array" : "an array");
  }
  bool end_array() {
    if (field_ == "shape") {
      entry_.shape.clear();
      for (const uint64_t d : values_) {
        INV_CHECK(d <= uint64_t(std::numeric_limits<int64_t>::max()), what_, ": tensor '", entry_.name,
                  "': dimension ", d, " in 'shape' is too large (at most 2^63 - 1)");
        entry_.shape.push_back(static_cast<int64_t>(d));
      }
    } else {
      INV_CHECK(values_.size() == 2, what_, ": tensor '", entry_.name,
                "': 'data_offsets' must be [begin, end], found ", values_.size(), " numbers");
      entry_.begin = values_[0];
      entry_.end = values_[1];
    }
    depth_ = 2;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    detail::fail(what_, ": the header is not valid JSON: ", printable(ex.what()));
  }

 private:
  /// One number of a shape or data_offsets.
  bool element(uint64_t v) {
    INV_CHECK(values_.size() < kMaxArray, what_, ": tensor '", entry_.name, "': '", field_, "' has more than ",
              kMaxArray, " elements (inv reads shapes of at most ", kMaxArray, " dimensions)");
    values_.push_back(v);
    return true;
  }
  /// Throws: `what` (a JSON value) is not what the format has at this point.
  bool found(const std::string& what) {
    std::string where, expected;
    if (depth_ == 0) {
      expected = "the header to be a JSON object";
    } else if (depth_ == 1 && key_ == kMetadataKey) {
      expected = "'__metadata__' to be an object of strings";
    } else if (depth_ == 1) {
      where = "tensor '" + key_ + "': ";
      expected = "an object {\"dtype\": ..., \"shape\": [...], \"data_offsets\": [begin, end]}";
    } else if (!in_entry_) {
      where = "__metadata__: ";
      expected = "the value of '" + shorten(field_) + "' to be a string";
    } else {
      where = "tensor '" + entry_.name + "': ";
      expected = field_ == "dtype"   ? "'dtype' to be a string"
                 : field_ == "shape" ? "'shape' to be an array of non-negative integers"
                                     : "'data_offsets' to be [begin, end], two non-negative integers";
    }
    detail::fail(what_, ": ", where, "expected ", expected, ", found ", what, depth_ == 3 ? " in it" : "");
  }

  const std::string& what_;
  int depth_ = 0;
  bool in_entry_ = false;
  std::string key_, field_;  // the current top-level key, and key inside an entry or __metadata__
  std::set<std::string> names_;
  Entry entry_;
  std::vector<uint64_t> values_;
};

/// The byte size of `shape` at `elem` bytes per element; throws when it does not fit in
/// int64 (taken over the nonzero dimensions, as inv's check_shape: strides must fit too).
inline uint64_t byte_size(const Entry& e, uint64_t elem, const std::string& what) {
  uint64_t bytes = elem;
  for (const int64_t d : e.shape) {
    if (d == 0) continue;
    INV_CHECK(bytes <= uint64_t(std::numeric_limits<int64_t>::max()) / uint64_t(d), what, ": tensor '", e.name,
              "': shape ", to_string(e.shape), " of ", e.dtype_name,
              " is too large (its byte size overflows 2^63: corrupt header?)");
    bytes *= uint64_t(d);
  }
  for (const int64_t d : e.shape)
    if (d == 0) return 0;
  return bytes;
}

/// The tensor of entry `e` from its bytes `p` (size checked), converted as the header says.
inline Tensor decode(const Entry& e, const uint8_t* p, const std::string& what) {
  const bool wide = e.dtype == Stored::F64 || e.dtype == Stored::I64;
  Tensor t = Tensor::empty(e.shape, wide ? kFloat64 : kFloat32);
  const size_t n = static_cast<size_t>(t.numel());
  if (n == 0) return t;
  switch (e.dtype) {
    case Stored::F32:
      std::memcpy(t.data<float>(), p, n * 4);
      break;
    case Stored::F64:
      std::memcpy(t.data<double>(), p, n * 8);
      break;
    case Stored::F16:
    case Stored::BF16: {
      float* out = t.data<float>();
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        out[i] = e.dtype == Stored::F16 ? half_to_float(v) : bfloat16_to_float(v);
      }
      break;
    }
    case Stored::I64: {
      constexpr int64_t kExact = int64_t(1) << 53;
      double* out = t.data<double>();
      for (size_t i = 0; i < n; ++i) {
        int64_t v;
        std::memcpy(&v, p + 8 * i, 8);
        INV_CHECK(v >= -kExact && v <= kExact, what, ": tensor '", e.name, "': I64 value ", v, " at element ", i,
                  " is not exactly representable as float64 (inv reads I64 values within +-2^53)");
        out[i] = static_cast<double>(v);
      }
      break;
    }
  }
  return t;
}

/// Throws unless `s` is valid UTF-8 (what JSON text must be).
inline void check_utf8(const std::string& s, const char* role) {
  try {
    (void)nlohmann::json(s).dump();
  } catch (const nlohmann::json::exception&) {
    detail::fail("safetensors: ", role, " ", quote_bytes(reinterpret_cast<const uint8_t*>(s.data()),
                                                          std::min<size_t>(s.size(), 80)),
                 " is not valid UTF-8 (the header is JSON text)");
  }
}

}  // namespace st_detail

/// Parses the bytes of a safetensors file (format and checks above); `what` names the
/// source in error messages. Tensors come out float32 (F32, F16, BF16) or float64 (F64,
/// I64), in the order of their data; nothing is allocated for a tensor before its bytes
/// are known to be present. Throws inv::Error for every malformed input.
inline SafeTensors parse_safetensors(const uint8_t* data, size_t size, const std::string& what) {
  using st_detail::Entry;
  ByteReader r(data, size, what);
  const uint64_t n = r.get<uint64_t>("the header length (u64)");
  INV_CHECK(n <= st_detail::kMaxHeaderBytes, what, ": header length ", n, " exceeds the format's limit of ",
            st_detail::kMaxHeaderBytes, " bytes (corrupt file?)");
  INV_CHECK(n <= r.remaining(), what, ": header length ", n, " exceeds the ", r.remaining(),
            " bytes after it (truncated file?)");
  const auto* header = reinterpret_cast<const char*>(r.get_bytes(static_cast<size_t>(n), "the header"));

  // nlohmann's lexer takes a NUL byte for the end of the input; JSON text never has one.
  if (const void* nul = std::memchr(header, 0, static_cast<size_t>(n)))
    detail::fail(what, ": the header is not valid JSON: a NUL byte at header offset ",
                 static_cast<const char*>(nul) - header);
  st_detail::HeaderReader reader(what);
  bool complete = false;
  try {
    complete = nlohmann::json::sax_parse(header, header + n, &reader, nlohmann::json::input_format_t::json,
                                         /*strict=*/true, /*ignore_comments=*/false);
  } catch (const nlohmann::json::exception& ex) {
    detail::fail(what, ": the header is not valid JSON: ", st_detail::printable(ex.what()));
  }
  INV_CHECK(complete, what, ": the header is not valid JSON");

  // Offsets: sorted, contiguous from 0 and covering the data exactly (the reference's validate()).
  std::vector<Entry>& entries = reader.entries;
  const uint64_t data_size = r.remaining();
  for (const Entry& e : entries) {
    INV_CHECK(e.begin <= e.end, what, ": tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end,
              "] end before they begin");
    INV_CHECK(e.end <= data_size, what, ": tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end,
              "] go past the end of the ", data_size, "-byte data section (truncated file?)");
    const uint64_t nbytes = st_detail::byte_size(e, st_detail::stored_size(e.dtype), what);
    INV_CHECK(e.end - e.begin == nbytes, what, ": tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end,
              "] hold ", e.end - e.begin, " bytes, but shape ", to_string(e.shape), " of ", e.dtype_name, " needs ",
              nbytes);
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end != b.end ? a.end < b.end : a.name < b.name;
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    INV_CHECK(e.begin >= covered, what, ": tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end,
              "] overlap tensor '", previous ? previous->name : "", "' (which ends at ", covered, ")");
    INV_CHECK(e.begin == covered, what, ": tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end,
              "] leave the bytes [", covered, ", ", e.begin,
              ") to no tensor (the tensors' data must be contiguous from 0)");
    covered = e.end;
    previous = &e;
  }
  INV_CHECK(covered == data_size, what, ": the tensors' data ends at byte ", covered, " of the ", data_size,
            "-byte data section (", data_size - covered, " bytes belong to no tensor)");

  SafeTensors st;
  st.metadata = std::move(reader.metadata);
  st.tensors.reserve(entries.size());
  const uint8_t* base = r.get_bytes(static_cast<size_t>(data_size), "the data");
  for (const Entry& e : entries) st.tensors.emplace_back(e.name, st_detail::decode(e, base + e.begin, what));
  return st;
}

inline SafeTensors parse_safetensors(const std::vector<uint8_t>& bytes, const std::string& what) {
  return parse_safetensors(bytes.data(), bytes.size(), what);
}

/// Reads a safetensors file (see parse_safetensors). Throws inv::Error naming the path when
/// the file cannot be read or is malformed.
inline SafeTensors load_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path), "'" + path + "'");
}

/// The bytes of a safetensors file holding `tensors` (float32 as F32, float64 as F64, any
/// shape) and `metadata` (as __metadata__, omitted when empty). The header is compact
/// JSON (metadata first, then the tensors in data order) padded with spaces to a multiple
/// of 8 bytes; the float64 tensors' data comes first, then the float32, each group in the
/// given order. Throws inv::Error for an undefined tensor, a duplicate name, the name
/// "__metadata__", or a name, key or value that is not valid UTF-8.
inline std::vector<uint8_t> encode_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                               const std::map<std::string, std::string>& metadata = {}) {
  using ojson = nlohmann::ordered_json;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    INV_CHECK(names.insert(name).second, "safetensors: duplicate tensor name '", name, "' (names must be unique)");
    INV_CHECK(name != st_detail::kMetadataKey, "safetensors: a tensor cannot be called __metadata__");
    INV_CHECK(t.defined(), "safetensors: tensor '", name, "' is undefined");
    st_detail::check_utf8(name, "tensor name");
  }
  ojson header = ojson::object();
  if (!metadata.empty()) {
    ojson meta = ojson::object();
    for (const auto& [key, value] : metadata) {
      st_detail::check_utf8(key, "metadata key");
      st_detail::check_utf8(value, "metadata value");
      meta[key] = value;
    }
    header[st_detail::kMetadataKey] = std::move(meta);
  }
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return element_size(tensors[a].second.dtype()) > element_size(tensors[b].second.dtype());
  });
  uint64_t offset = 0;
  for (const size_t i : order) {
    const Tensor& t = tensors[i].second;
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * element_size(t.dtype());
    ojson entry = ojson::object();
    entry["dtype"] = t.dtype() == kFloat32 ? "F32" : "F64";
    entry["shape"] = t.shape();
    entry["data_offsets"] = ojson::array({offset, offset + nbytes});
    header[tensors[i].first] = std::move(entry);
    offset += nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  ByteWriter w;
  w.bytes().reserve(8 + text.size() + static_cast<size_t>(offset));
  w.put<uint64_t>(text.size());
  w.put_bytes(text.data(), text.size());
  for (const size_t i : order) {
    const Tensor& t = tensors[i].second;
    w.put_bytes(ckpt_detail::tensor_bytes(t), static_cast<size_t>(t.numel()) * element_size(t.dtype()));
  }
  return std::move(w.bytes());
}

/// Writes `tensors` and `metadata` to `path` as a safetensors file (see encode_safetensors),
/// atomically (io::write_file_atomic: an interrupted save leaves the previous file). Throws
/// inv::Error as encode_safetensors does, or naming the path on an I/O failure.
inline void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  write_file_atomic(path, encode_safetensors(tensors, metadata));
}

/// Loads a PyTorch state_dict read from a safetensors file into `module`: io::load_into
/// of module.state_dict() (names as PyTorch's, e.g. "0.weight", "features.3.running_var"),
/// so with `strict` every missing, unexpected or mis-shaped tensor is listed in one
/// inv::Error and nothing is loaded; float32/float64 are converted to the module's dtype.
/// One exception to strictness: an entry "<prefix>num_batches_tracked" is skipped when the
/// module has no such tensor but has "<prefix>running_mean". inv's BatchNorm2d keeps no
/// batch counter (PyTorch uses it only with momentum=None, which inv does not offer), and
/// every PyTorch BatchNorm state_dict has one. (PyTorch's BatchNorm in turn accepts a
/// state_dict without the counter, such as one written by save_safetensors.)
inline void load_state_dict(nn::Module& module, const SafeTensors& st, bool strict = true) {
  const nn::NamedTensors destination = module.state_dict();
  std::set<std::string> names;
  for (const auto& [name, t] : destination) names.insert(name);
  static const std::string kCounter = "num_batches_tracked";
  Checkpoint ck;
  ck.metadata = st.metadata;
  for (const auto& [name, t] : st.tensors) {
    const bool counter = name.size() >= kCounter.size() &&
                         name.compare(name.size() - kCounter.size(), kCounter.size(), kCounter) == 0 &&
                         (name.size() == kCounter.size() || name[name.size() - kCounter.size() - 1] == '.');
    if (counter && names.count(name) == 0 &&
        names.count(name.substr(0, name.size() - kCounter.size()) + "running_mean") != 0)
      continue;
    ck.tensors.emplace_back(name, t);
  }
  load_into(destination, ck, strict);
}

}  // namespace inv::io
