// inv/tensor.hpp: the n-dimensional tensor.
//
// A Tensor is a cheap handle (a shared pointer) to a TensorImpl: a shape, an element
// type (float32 or float64), and a contiguous row-major block inside a shared Storage.
// Images use the NCHW convention: (N, C, H, W). Views made by reshape/view/flatten
// share the storage with the original and do not copy; every other op returns a
// new contiguous tensor. Autograd state (requires_grad, grad, grad_fn) lives on the
// impl; the engine is in inv/autograd.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <initializer_list>
#include <memory>
#include <new>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "inv/allocator.hpp"
#include "inv/error.hpp"
#include "inv/random.hpp"
#include "inv/shape.hpp"

namespace inv {

struct Node;
class Tensor;

namespace detail {

/// Live-object counters, used by tests to prove that graphs are freed.
inline std::atomic<int64_t>& live_impls() {
  static std::atomic<int64_t> n{0};
  return n;
}
inline std::atomic<int64_t>& live_nodes() {
  static std::atomic<int64_t> n{0};
  return n;
}

/// A 64-byte aligned, uninitialised block of memory (from inv/allocator.hpp).
class Storage {
 public:
  explicit Storage(size_t bytes)
      : bytes_(bytes), ptr_(BlockCache::instance().allocate(rounded())) {}
  ~Storage() { BlockCache::instance().release(ptr_, rounded()); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  size_t rounded() const { return (std::max<size_t>(bytes_, 1) + 63) / 64 * 64; }
  size_t bytes_;
  void* ptr_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Dtype dtype = Dtype::Float32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient (leaves keep it)
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor; null for leaves

  TensorImpl(std::shared_ptr<Storage> s, int64_t off, Shape sh, Dtype dt)
      : storage(std::move(s)), offset(off), shape(std::move(sh)), dtype(dt) {
    ++live_impls();
  }
  ~TensorImpl() { --live_impls(); }
  TensorImpl(const TensorImpl&) = delete;
  TensorImpl& operator=(const TensorImpl&) = delete;
};

}  // namespace detail

class Tensor {
 public:
  /// An undefined tensor (no storage); defined() is false.
  Tensor() = default;
  explicit Tensor(std::shared_ptr<detail::TensorImpl> impl) : impl_(std::move(impl)) {}

  /// A new contiguous tensor with uninitialised elements. Throws inv::Error for a negative
  /// dimension, a shape whose size in bytes overflows int64, or when the memory cannot be
  /// allocated.
  static Tensor empty(const Shape& shape, Dtype dtype = kFloat32) {
    check_shape("empty", shape, static_cast<int64_t>(element_size(dtype)));
    const size_t bytes = static_cast<size_t>(inv::numel(shape)) * element_size(dtype);
    std::shared_ptr<detail::Storage> st;
    try {
      st = std::make_shared<detail::Storage>(bytes);
    } catch (const std::bad_alloc&) {
      throw Error("empty: cannot allocate " + std::to_string(bytes) + " bytes for a tensor of shape " +
                  to_string(shape));
    }
    return Tensor(std::make_shared<detail::TensorImpl>(std::move(st), 0, shape, dtype));
  }

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  /// Size of dimension d (negative d counts from the end).
  int64_t size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
  int64_t numel() const { return inv::numel(shape()); }
  Dtype dtype() const { return impl().dtype; }

  /// Pointer to the first element. Throws when T does not match dtype().
  template <class T>
  T* data() const {
    INV_CHECK(dtype_of<T>() == dtype(), "data<", dtype_name(dtype_of<T>()), ">: tensor has dtype ",
              dtype_name(dtype()));
    return static_cast<T*>(impl().storage->data()) + impl().offset;
  }

  /// Element at a multi-index, bounds-checked: x.at<float>({n, c, h, w}).
  template <class T>
  T& at(std::initializer_list<int64_t> index) const {
    INV_CHECK(static_cast<int64_t>(index.size()) == dim(), "at: expected ", dim(), " indices, got ",
              index.size());
    int64_t flat = 0, d = 0;
    for (int64_t i : index) {
      INV_CHECK(i >= 0 && i < shape()[d], "at: index ", i, " out of range for dimension ", d, " of size ",
                shape()[d]);
      flat = flat * shape()[d++] + i;
    }
    return data<T>()[flat];
  }

  /// The value of a one-element tensor, as double.
  double item() const {
    INV_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", to_string(shape()));
    return dtype() == kFloat32 ? double(*data<float>()) : *data<double>();
  }

  /// A copy of the elements, converted to T.
  template <class T>
  std::vector<T> to_vector() const {
    std::vector<T> out(static_cast<size_t>(numel()));
    dispatch(dtype(), [&](auto tag) {
      using S = decltype(tag);
      const S* p = data<S>();
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
    });
    return out;
  }

  // ---- autograd state ----
  bool requires_grad() const { return impl().requires_grad; }
  /// Marks a leaf tensor as requiring gradients. Throws for non-leaf tensors.
  Tensor& requires_grad_(bool on = true) {
    INV_CHECK(is_leaf(), "requires_grad_: only leaf tensors can change requires_grad; use detach() first");
    impl().requires_grad = on;
    return *this;
  }
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  /// The accumulated gradient; undefined until a backward pass reaches this tensor.
  Tensor grad() const { return Tensor(impl().grad); }
  /// Replaces the accumulated gradient (undefined clears it). Shapes must match.
  void set_grad(const Tensor& g) {
    if (g.defined())
      INV_CHECK(g.shape() == shape() && g.dtype() == dtype(), "set_grad: expected ", to_string(shape()), " ",
                dtype_name(dtype()), ", got ", to_string(g.shape()), " ", dtype_name(g.dtype()));
    impl().grad = g.impl_;
  }
  /// Clears the accumulated gradient (the next backward starts from zero).
  void zero_grad() { impl().grad.reset(); }

  /// Backward pass from this tensor (defined in inv/autograd.hpp).
  /// Without an argument the tensor must hold one element; the upstream gradient is 1.
  void backward() const;
  void backward(const Tensor& grad_output) const;

  /// A tensor sharing this one's storage, cut from the graph (requires_grad false).
  Tensor detach() const {
    return Tensor(std::make_shared<detail::TensorImpl>(impl().storage, impl().offset, shape(), dtype()));
  }

  // ---- in-place data operations (they bypass autograd) ----
  /// Sets every element to v.
  Tensor& fill_(double v) {
    dispatch(dtype(), [&](auto tag) {
      using T = decltype(tag);
      std::fill_n(data<T>(), numel(), static_cast<T>(v));
    });
    return *this;
  }
  /// Copies src's elements into this tensor (same shape; converts the element type).
  Tensor& copy_(const Tensor& src) {
    INV_CHECK(src.shape() == shape(), "copy_: expected shape ", to_string(shape()), ", got ",
              to_string(src.shape()));
    dispatch(dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* dst = data<T>();
      dispatch(src.dtype(), [&](auto stag) {
        using S = decltype(stag);
        const S* s = src.data<S>();
        if constexpr (std::is_same_v<S, T>)
          std::memmove(dst, s, static_cast<size_t>(numel()) * sizeof(T));
        else
          for (int64_t i = 0; i < numel(); ++i) dst[i] = static_cast<T>(s[i]);
      });
    });
    return *this;
  }

  /// True when both handles refer to the same impl.
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  /// True when both tensors read the same memory (a view and its base do).
  bool shares_storage(const Tensor& o) const { return impl().storage == o.impl().storage; }

  detail::TensorImpl& impl() const {
    INV_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<detail::TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<detail::TensorImpl> impl_;
};

// ---------------------------------------------------------------------------
// Factories
// ---------------------------------------------------------------------------

inline Tensor empty(const Shape& shape, Dtype dtype = kFloat32) { return Tensor::empty(shape, dtype); }

inline Tensor full(const Shape& shape, double value, Dtype dtype = kFloat32) {
  Tensor t = Tensor::empty(shape, dtype);
  t.fill_(value);
  return t;
}
inline Tensor zeros(const Shape& shape, Dtype dtype = kFloat32) { return full(shape, 0.0, dtype); }
inline Tensor ones(const Shape& shape, Dtype dtype = kFloat32) { return full(shape, 1.0, dtype); }
inline Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
inline Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
inline Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }

/// 1-D tensor start, start + step, ... (< end), like torch.arange.
inline Tensor arange(double start, double end, double step = 1.0, Dtype dtype = kFloat32) {
  INV_CHECK(step != 0, "arange: step must be non-zero");
  const double count = std::ceil((end - start) / step);
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = Tensor::empty({n}, dtype);
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) t.data<T>()[i] = static_cast<T>(start + step * static_cast<double>(i));
  });
  return t;
}
inline Tensor arange(int64_t n, Dtype dtype = kFloat32) { return arange(0.0, static_cast<double>(n), 1.0, dtype); }

/// A tensor holding `values` (row-major) with the given shape.
/// Throws when the number of values is not numel(shape).
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Dtype dtype = kFloat32) {
  INV_CHECK(static_cast<int64_t>(values.size()) == inv::numel(shape), "from_vector: shape ", to_string(shape),
            " needs ", inv::numel(shape), " values, got ", values.size());
  Tensor t = Tensor::empty(shape, dtype);
  dispatch(dtype, [&](auto tag) {
    using D = decltype(tag);
    for (size_t i = 0; i < values.size(); ++i) t.data<D>()[i] = static_cast<D>(values[i]);
  });
  return t;
}

/// tensor({1, 2, 3, 4}, {2, 2}): a small literal tensor (shape defaults to 1-D).
inline Tensor tensor(std::initializer_list<double> values, Shape shape = {}, Dtype dtype = kFloat32) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  return from_vector(std::vector<double>(values), shape, dtype);
}

/// A 0-dim tensor holding v.
inline Tensor scalar_tensor(double v, Dtype dtype = kFloat32) { return full({}, v, dtype); }

/// Uniform in [lo, hi), from the given generator.
inline Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen = default_generator(),
                      Dtype dtype = kFloat32) {
  Tensor t = Tensor::empty(shape, dtype);
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen.uniform(lo, hi));
  });
  return t;
}
/// Uniform in [0, 1).
inline Tensor rand(const Shape& shape, Generator& gen = default_generator(), Dtype dtype = kFloat32) {
  return uniform(shape, 0.0, 1.0, gen, dtype);
}
/// Standard normal N(0, 1).
inline Tensor randn(const Shape& shape, Generator& gen = default_generator(), Dtype dtype = kFloat32) {
  Tensor t = Tensor::empty(shape, dtype);
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen.normal());
  });
  return t;
}

/// A deep copy of the data (no autograd history).
inline Tensor copy_data(const Tensor& t) {
  Tensor out = empty_like(t);
  out.copy_(t);
  return out;
}

// ---------------------------------------------------------------------------
// Comparison and printing
// ---------------------------------------------------------------------------

/// Largest |a - b| over all elements. Throws when the shapes differ.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  INV_CHECK(a.shape() == b.shape(), "max_abs_diff: shapes differ, got ", to_string(a.shape()), " and ",
            to_string(b.shape()));
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = std::fabs(x[i] - y[i]);
    if (std::isnan(d)) return d;
    m = std::max(m, d);
  }
  return m;
}

/// |a - b| <= atol + rtol * |b| elementwise, as torch.allclose (NaN never equal).
/// Throws when the shapes differ.
inline bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8) {
  INV_CHECK(a.shape() == b.shape(), "allclose: shapes differ, got ", to_string(a.shape()), " and ",
            to_string(b.shape()));
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i)
    if (!(std::fabs(x[i] - y[i]) <= atol + rtol * std::fabs(y[i]))) return false;
  return true;
}

/// True when both tensors have the same shape, dtype and bit-identical elements.
inline bool equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const size_t bytes = static_cast<size_t>(a.numel()) * element_size(a.dtype());
  const auto* pa = static_cast<const char*>(a.impl().storage->data()) + a.impl().offset * element_size(a.dtype());
  const auto* pb = static_cast<const char*>(b.impl().storage->data()) + b.impl().offset * element_size(b.dtype());
  return std::memcmp(pa, pb, bytes) == 0;
}

namespace detail {
inline void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& s, size_t d, int64_t& pos,
                      int indent) {
  if (d == s.size()) {
    os << std::fixed << std::setprecision(4) << v[static_cast<size_t>(pos++)];
    return;
  }
  os << "[";
  const int64_t n = s[d];
  const bool elide = n > 8;
  for (int64_t i = 0; i < n; ++i) {
    if (elide && i == 3) {
      os << (d + 1 == s.size() ? "..., " : "...,\n" + std::string(static_cast<size_t>(indent + 1), ' '));
      int64_t skip = 1;
      for (size_t k = d + 1; k < s.size(); ++k) skip *= s[k];
      pos += skip * (n - 6);
      i = n - 3;
    }
    print_rec(os, v, s, d + 1, pos, indent + 1);
    if (i + 1 < n) os << (d + 1 == s.size() ? ", " : ",\n" + std::string(static_cast<size_t>(indent + 1), ' '));
  }
  os << "]";
}
}  // namespace detail

/// Prints like PyTorch: tensor([[1.0000, 2.0000], ...]) with the shape, long dims elided.
inline std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const std::vector<double> v = t.to_vector<double>();
  std::ostringstream body;
  int64_t pos = 0;
  detail::print_rec(body, v, t.shape(), 0, pos, 7);
  os << "tensor(" << body.str() << ", shape=" << to_string(t.shape());
  if (t.dtype() != kFloat32) os << ", dtype=" << dtype_name(t.dtype());
  if (t.requires_grad()) os << ", requires_grad=true";
  return os << ")";
}

}  // namespace inv

#include "inv/autograd.hpp"
