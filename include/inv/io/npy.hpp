// inv/io/npy.hpp: NumPy .npy files, so features and images captured with other
// tools can be attacked here and results inspected with NumPy.
//
// The format (numpy/lib/format.py, "NEP 1"):
//   magic "\x93NUMPY", u8 major, u8 minor,
//   header length: u16 (version 1.0) or u32 (versions 2.0 and 3.0), little-endian,
//   header: a Python dict literal such as
//     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//   padded with spaces and a final '\n' so that the data starts at a multiple of 64,
//   then the raw array data, exactly prod(shape) * itemsize bytes.
// Version 3.0 only differs in allowing UTF-8 in the header, which matters for
// structured dtypes we do not read anyway.
//
// Supported here: little-endian float32 ('<f4') and float64 ('<f8') in C order
// ('=' native order is read as little-endian, as on every host inv targets).
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "inv/error.hpp"
#include "inv/io/file.hpp"
#include "inv/shape.hpp"
#include "inv/tensor.hpp"

namespace inv::io {

namespace npy_detail {

constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kAlign = 64;              // numpy's ARRAY_ALIGN
constexpr size_t kGrowthAxisMaxDigits = 21;  // numpy's GROWTH_AXIS_MAX_DIGITS
constexpr size_t kMaxRank = 64;

/// The parsed header dict.
struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

/// A parser for the small subset of Python literals that .npy headers use:
/// a dict with string keys whose values are strings, True/False or tuples of ints.
class HeaderParser {
 public:
  HeaderParser(std::string text, std::string what) : s_(std::move(text)), what_(std::move(what)) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string("a quoted key");
      expect(':');
      if (key == "descr") {
        skip_space();
        if (peek() == '[')
          fail_header("unsupported dtype: structured (record) arrays are not supported (expected '<f4' or '<f8')");
        h.descr = parse_string("the dtype string");
        seen_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = parse_bool();
        seen_fortran = true;
      } else if (key == "shape") {
        h.shape = parse_shape();
        seen_shape = true;
      } else {
        fail_header("unexpected key '" + key + "' (expected 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') break;
      fail_at("',' or '}'");
    }
    expect('}');
    skip_space();
    if (pos_ != s_.size()) fail_at("the end of the header after '}'");
    if (!seen_descr || !seen_fortran || !seen_shape)
      fail_header(std::string("missing key '") + (!seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape") +
                  "'");
    return h;
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail_at(std::string("'") + c + "'");
    ++pos_;
  }
  std::string parse_string(const char* expected) {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail_at(expected);
    const size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) fail_header("unterminated string at column " + std::to_string(pos_));
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    if (out.find('\\') != std::string::npos) fail_header("escape sequences are not supported in '" + out + "'");
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    skip_space();
    for (const bool value : {true, false}) {
      const std::string word = value ? "True" : "False";
      if (s_.compare(pos_, word.size(), word) == 0) {
        pos_ += word.size();
        return value;
      }
    }
    fail_at("True or False for 'fortran_order'");
  }
  Shape parse_shape() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail_at("a non-negative integer in 'shape'");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (INT64_MAX - 9) / 10) fail_header("dimension too large in 'shape'");
        v = v * 10 + (s_[pos_++] - '0');
      }
      shape.push_back(v);
      if (shape.size() > kMaxRank) fail_header("'shape' has more than " + std::to_string(kMaxRank) + " dimensions");
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail_at("',' or ')' in 'shape'");
    }
    ++pos_;
    return shape;
  }
  [[noreturn]] void fail_header(const std::string& msg) const {
    detail::fail(what_, ": malformed header: ", msg, "; header: ", excerpt());
  }
  [[noreturn]] void fail_at(const std::string& expected) const {
    const std::string found = pos_ < s_.size() ? std::string("'") + s_[pos_] + "'" : std::string("the end");
    fail_header("expected " + expected + " at column " + std::to_string(pos_) + ", found " + found);
  }
  std::string excerpt() const {
    std::string h = s_.size() > 200 ? s_.substr(0, 200) + "..." : s_;
    while (!h.empty() && std::isspace(static_cast<unsigned char>(h.back()))) h.pop_back();
    return quote_bytes(reinterpret_cast<const uint8_t*>(h.data()), h.size());
  }

  std::string s_;
  std::string what_;
  size_t pos_ = 0;
};

/// Maps a descr string to our dtype; throws naming the dtype otherwise.
inline Dtype dtype_from_descr(const std::string& d, const std::string& what) {
  if (d == "<f4" || d == "=f4") return kFloat32;
  if (d == "<f8" || d == "=f8") return kFloat64;
  if (!d.empty() && d[0] == '>')
    detail::fail(what, ": unsupported big-endian dtype '", d,
                 "' (expected '<f4' or '<f8'; convert with arr.astype(arr.dtype.newbyteorder('<')))");
  detail::fail(what, ": unsupported dtype '", d, "' (expected '<f4' or '<f8')");
}

/// Python's repr of a tuple of ints: "()", "(5,)", "(2, 3)".
inline std::string python_tuple(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

/// a * b, or SIZE_MAX when that overflows.
inline size_t mul_saturate(size_t a, size_t b) { return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b; }

/// Pointer to a tensor's first byte (any dtype).
inline uint8_t* tensor_bytes(const Tensor& t) {
  return static_cast<uint8_t*>(t.impl().storage->data()) +
         t.impl().offset * static_cast<int64_t>(element_size(t.dtype()));
}

}  // namespace npy_detail

/// The bytes of a .npy file holding `t`, identical to what numpy.save writes for the
/// same array: format version 1.0 (2.0 only if the header exceeds 65535 bytes, as
/// NumPy does), dtype '<f4' or '<f8', fortran_order False, the header padded with
/// spaces (including NumPy's 21-character growth-axis reserve) to a multiple of 64.
inline std::vector<uint8_t> encode_npy(const Tensor& t) {
  INV_CHECK(t.defined(), "encode_npy: undefined tensor");
  std::string header = std::string("{'descr': '") + (t.dtype() == kFloat32 ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': " + npy_detail::python_tuple(t.shape()) + ", }";
  if (!t.shape().empty()) {
    const size_t digits = std::to_string(t.shape()[0]).size();
    header.append(npy_detail::kGrowthAxisMaxDigits - std::min(digits, npy_detail::kGrowthAxisMaxDigits), ' ');
  }
  const size_t hlen = header.size() + 1;  // + '\n'
  size_t len_bytes = 2;
  size_t pad = npy_detail::kAlign - (8 + len_bytes + hlen) % npy_detail::kAlign;  // 64, not 0, when aligned (as NumPy)
  if (hlen + pad > 0xffff) {
    len_bytes = 4;
    pad = npy_detail::kAlign - (8 + len_bytes + hlen) % npy_detail::kAlign;
  }
  ByteWriter w;
  w.put_bytes(npy_detail::kMagic, 6);
  w.put<uint8_t>(len_bytes == 2 ? 1 : 2);
  w.put<uint8_t>(0);
  if (len_bytes == 2)
    w.put<uint16_t>(static_cast<uint16_t>(hlen + pad));
  else
    w.put<uint32_t>(static_cast<uint32_t>(hlen + pad));
  header.append(pad, ' ');
  header += '\n';
  w.put_bytes(header.data(), header.size());
  w.put_bytes(npy_detail::tensor_bytes(t), static_cast<size_t>(t.numel()) * element_size(t.dtype()));
  return std::move(w.bytes());
}

/// Writes `t` (any shape, float32 or float64) to `path` as a .npy file that
/// numpy.load reads back exactly (see encode_npy for the layout). Atomic: an
/// interrupted write leaves the old file. Throws inv::Error naming the path on I/O failure.
inline void save_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, encode_npy(t)); }

/// Parses .npy bytes; `what` names the source in error messages.
/// Reads format versions 1.0, 2.0 and 3.0 with dtype '<f4' / '<f8' ('=f4' / '=f8' too) in
/// C order, into a float32 / float64 tensor of the stored shape. Throws inv::Error for a bad
/// magic, another version, big-endian or other dtypes (naming the dtype), fortran_order True,
/// a malformed header dict, or a data length that does not match the shape (truncated or extra bytes).
inline Tensor parse_npy(const std::vector<uint8_t>& bytes, const std::string& what) {
  ByteReader r(bytes.data(), bytes.size(), what);
  const size_t m = std::min<size_t>(bytes.size(), 6);
  INV_CHECK(m == 6 && std::memcmp(bytes.data(), npy_detail::kMagic, 6) == 0, what,
            ": not a .npy file: expected magic \"\\x93NUMPY\", found ", quote_bytes(bytes.data(), m),
            m < 6 ? " (file is only " + std::to_string(bytes.size()) + " bytes)" : "");
  r.get_bytes(6, "magic");
  const int major = r.get<uint8_t>("format version");
  const int minor = r.get<uint8_t>("format version");
  INV_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, what, ": unsupported .npy format version ",
            major, ".", minor, " (expected 1.0, 2.0 or 3.0)");
  const size_t hlen = major == 1 ? r.get<uint16_t>("header length") : r.get<uint32_t>("header length");
  const uint8_t* h = r.get_bytes(hlen, "header");
  const npy_detail::Header header =
      npy_detail::HeaderParser(std::string(reinterpret_cast<const char*>(h), hlen), what).parse();
  const Dtype dtype = npy_detail::dtype_from_descr(header.descr, what);
  INV_CHECK(!header.fortran_order, what,
            ": fortran_order True is not supported (expected C order; save np.ascontiguousarray(arr))");
  // The expected data size (saturating, so absurd shapes cannot overflow) must equal the rest of the file.
  const size_t avail = r.remaining();
  size_t need = element_size(dtype);
  for (int64_t d : header.shape) need = npy_detail::mul_saturate(need, static_cast<size_t>(d));
  for (int64_t d : header.shape) need = d == 0 ? 0 : need;
  INV_CHECK(need == avail, what, ": data length mismatch: shape ", to_string(header.shape), " ", dtype_name(dtype),
            " needs ", need == SIZE_MAX ? "more than 2^64" : std::to_string(need), " bytes after the ", r.pos(),
            "-byte header, found ", avail, need > avail ? " (truncated file?)" : " (extra bytes at the end)");
  Tensor t = Tensor::empty(header.shape, dtype);
  if (avail > 0) std::memcpy(npy_detail::tensor_bytes(t), r.get_bytes(avail, "data"), avail);
  return t;
}

/// Reads a .npy file written by numpy.save (or save_npy); see parse_npy for what is
/// supported. Throws inv::Error naming the path when the file cannot be read or is not supported.
inline Tensor load_npy(const std::string& path) { return parse_npy(read_file(path), "'" + path + "'"); }

}  // namespace inv::io
