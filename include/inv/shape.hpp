// inv/shape.hpp: shapes, element types and NumPy broadcasting rules.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "inv/error.hpp"

namespace inv {

/// A tensor shape, outermost dimension first; images are (N, C, H, W).
using Shape = std::vector<int64_t>;

/// "(8,1,5,5)"; the 0-dim shape prints as "()".
inline std::string to_string(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + ")";
}

/// Number of elements (1 for the 0-dim shape).
inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

/// Throws inv::Error unless every dimension is ≥ 0 and the shape's size in bytes, at
/// element_bytes per element, fits in int64. The product is taken over the nonzero
/// dimensions, so that a zero cannot hide an overflow of the others: (2^62, 2^62, 0)
/// has no elements, but its strides would overflow.
inline void check_shape(const char* op, const Shape& s, int64_t element_bytes) {
  int64_t bytes = element_bytes;
  for (int64_t d : s) {
    INV_CHECK(d >= 0, op, ": negative dimension in shape ", to_string(s));
    if (d == 0) continue;
    INV_CHECK(bytes <= INT64_MAX / d, op, ": shape ", to_string(s), " of ", element_bytes,
              "-byte elements is too large (more than 2^63 bytes)");
    bytes *= d;
  }
}

/// Row-major (C order) strides of a contiguous tensor, in elements.
inline std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

/// Maps a possibly negative dimension index into [0, rank); throws when out of range.
inline int64_t wrap_dim(int64_t dim, int64_t rank, const char* op) {
  INV_CHECK(dim >= -rank && dim < rank, op, ": dim ", dim, " out of range for a ", rank,
            "-D tensor (valid: ", -rank, "..", rank - 1, ")");
  return dim < 0 ? dim + rank : dim;
}

/// The broadcast shape of a and b under NumPy rules (align right; sizes equal or one is 1).
/// Throws inv::Error naming both shapes when they are not broadcastable.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast") {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    INV_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", to_string(a), " and ", to_string(b),
              " are not broadcastable");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// Strides that read a tensor of shape `s` as if it had the (broadcast) shape `out`:
/// 0 on every broadcast dimension, the contiguous stride otherwise.
inline std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  const std::vector<int64_t> own = contiguous_strides(s);
  const size_t lead = out.size() - s.size();
  for (size_t i = 0; i < s.size(); ++i) st[lead + i] = s[i] == 1 ? 0 : own[i];
  return st;
}

/// Element types. float32 is the default; float64 is used for gradient checks.
enum class Dtype { Float32, Float64 };
constexpr Dtype kFloat32 = Dtype::Float32;
constexpr Dtype kFloat64 = Dtype::Float64;

inline const char* dtype_name(Dtype d) { return d == Dtype::Float32 ? "float32" : "float64"; }
inline size_t element_size(Dtype d) { return d == Dtype::Float32 ? 4 : 8; }

template <class T>
constexpr Dtype dtype_of();
template <>
constexpr Dtype dtype_of<float>() { return Dtype::Float32; }
template <>
constexpr Dtype dtype_of<double>() { return Dtype::Float64; }

/// Calls f(T{}) with T = float or double according to d; returns what f returns.
template <class F>
decltype(auto) dispatch(Dtype d, F&& f) {
  if (d == Dtype::Float32) return f(float{});
  return f(double{});
}

}  // namespace inv
