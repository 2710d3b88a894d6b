// inv/ops/reduce.hpp: sum, mean, max along dimensions; broadcast_to and its adjoint sum_to.
//
// Sums accumulate in double (also for float32 tensors) in a fixed order, so they
// are accurate and do not depend on the thread count.
#pragma once

#include <limits>

#include "inv/kernels/sum.hpp"
#include "inv/ops/shape_ops.hpp"

namespace inv {

namespace detail {

/// Sorted, unique, non-negative reduction dims; empty `dims` means all of them.
inline std::vector<int64_t> reduction_dims(const std::vector<int64_t>& dims, int64_t rank, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < rank; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, rank, op));
  std::sort(out.begin(), out.end());
  INV_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": repeated dimension in reduction");
  return out;
}

/// x's shape with the reduced dims set to 1.
inline Shape keepdim_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape k = s;
  for (int64_t d : dims) k[static_cast<size_t>(d)] = 1;
  return k;
}

/// x's shape with the reduced dims removed.
inline Shape squeezed_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape out;
  for (size_t i = 0; i < s.size(); ++i)
    if (!std::binary_search(dims.begin(), dims.end(), static_cast<int64_t>(i))) out.push_back(s[i]);
  return out;
}

/// Sum of all elements in double: fixed chunks, partial sums added in chunk order.
template <class T>
double sum_all(const T* x, int64_t n) {
  const int64_t grain = kElementwiseGrain;
  std::vector<double> part(static_cast<size_t>(chunk_count(n, grain)), 0.0);
  parallel_for(n, grain, [&](int64_t b, int64_t e) { part[static_cast<size_t>(b / grain)] = kernels::lane_sum(x + b, e - b); });
  double total = 0;
  for (double p : part) total += p;
  return total;
}

/// out (keepdim shape k) = sum of x over the dims where k is 1 and x is not.
template <class T>
void sum_to_kernel(const T* x, const Shape& xs, T* out, const Shape& k) {
  std::vector<double> acc(static_cast<size_t>(numel(k)), 0.0);
  const kernels::RowWalker<2> w(xs, {contiguous_strides(xs), broadcast_strides(k, xs)});
  const int64_t len = w.row_len(), io = w.inner(1);
  for (int64_t r = 0; r < w.rows(); ++r) {
    const auto off = w.offsets(r);
    for (int64_t j = 0; j < len; ++j) acc[static_cast<size_t>(off[1] + j * io)] += x[off[0] + j];
  }
  for (size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<T>(acc[i]);
}

}  // namespace detail

// ---------------------------------------------------------------------------
// broadcast_to: x read as `shape` under NumPy broadcasting. Copies.
// Backward: sum_to(g, x.shape).
// ---------------------------------------------------------------------------
inline Tensor sum_to(const Tensor& x, const Shape& shape);

inline Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  const Shape b = broadcast_shapes(x.shape(), shape, "broadcast_to");
  INV_CHECK(b == shape, "broadcast_to: cannot broadcast ", to_string(x.shape()), " to ", to_string(shape));
  if (x.shape() == shape) return x;
  Tensor y = empty(shape, x.dtype());
  const kernels::RowWalker<2> w(shape, {contiguous_strides(shape), broadcast_strides(x.shape(), shape)});
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::strided_copy<T>(w, y.data<T>(), x.data<T>());
  });
  if (detail::should_record({&x})) {
    const Shape in_shape = x.shape();
    detail::record(y, "broadcast_to", {x}, [in_shape](const Tensor& g, GradSink& s) { s.add(0, sum_to(g, in_shape)); });
  }
  return y;
}

// ---------------------------------------------------------------------------
// sum_to: sums x down to `shape`, which x's shape must broadcast from (the adjoint
// of broadcast_to; gradients of broadcasting ops go through it).
// ---------------------------------------------------------------------------
inline Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  INV_CHECK(broadcast_shapes(shape, x.shape(), "sum_to") == x.shape(), "sum_to: cannot sum ", to_string(x.shape()),
            " down to ", to_string(shape));
  Shape k(x.shape().size() - shape.size(), 1);  // shape, left-padded with ones
  k.insert(k.end(), shape.begin(), shape.end());
  Tensor y = empty(shape, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::sum_to_kernel<T>(x.data<T>(), x.shape(), y.data<T>(), k);
  });
  if (detail::should_record({&x})) {
    const Shape in_shape = x.shape();
    detail::record(y, "sum_to", {x}, [in_shape](const Tensor& g, GradSink& s) { s.add(0, broadcast_to(g, in_shape)); });
  }
  return y;
}

// ---------------------------------------------------------------------------
// sum over `dims` (all when empty), keeping them as size 1 when keepdim.
// Backward: the gradient broadcast back over the reduced dims.
// ---------------------------------------------------------------------------
inline Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  const std::vector<int64_t> rd = detail::reduction_dims(dims, x.dim(), "sum");
  const Shape k = detail::keepdim_shape(x.shape(), rd);
  Tensor y = empty(k, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (y.numel() == 1)
      *y.data<T>() = static_cast<T>(detail::sum_all(x.data<T>(), x.numel()));
    else
      detail::sum_to_kernel<T>(x.data<T>(), x.shape(), y.data<T>(), k);
  });
  if (!keepdim) y = reshape(y.detach(), detail::squeezed_shape(x.shape(), rd));
  if (detail::should_record({&x})) {
    const Shape in_shape = x.shape();
    detail::record(y, "sum", {x}, [in_shape, k](const Tensor& g, GradSink& s) {
      s.add(0, broadcast_to(reshape(g, k), in_shape));
    });
  }
  return y;
}

/// Sum of all elements, a 0-dim tensor.
inline Tensor sum(const Tensor& x) { return sum(x, {}, false); }

namespace detail {
/// A new tensor holding t·s (no autograd).
inline Tensor scaled(const Tensor& t, double s) {
  Tensor out = empty_like(t);
  dispatch(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    T* q = out.data<T>();
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) q[i] = static_cast<T>(p[i] * s);
  });
  return out;
}
}  // namespace detail

/// Mean over `dims` (all when empty). Backward: g / count broadcast back.
inline Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false) {
  const std::vector<int64_t> rd = detail::reduction_dims(dims, x.dim(), "mean");
  int64_t count = 1;
  for (int64_t d : rd) count *= x.shape()[static_cast<size_t>(d)];
  INV_CHECK(count > 0, "mean: reduction over an empty dimension of ", to_string(x.shape()));
  Tensor y = detail::scaled(sum(x.detach(), rd, keepdim), 1.0 / static_cast<double>(count));
  if (detail::should_record({&x})) {
    const Shape in_shape = x.shape(), k = detail::keepdim_shape(x.shape(), rd);
    detail::record(y, "mean", {x}, [in_shape, k, count](const Tensor& g, GradSink& s) {
      s.add(0, detail::scaled(broadcast_to(reshape(g, k), in_shape), 1.0 / static_cast<double>(count)));
    });
  }
  return y;
}

/// Mean of all elements, a 0-dim tensor.
inline Tensor mean(const Tensor& x) { return mean(x, {}, false); }

// ---------------------------------------------------------------------------
// max along `dim`: the largest value; the gradient flows to the first index
// holding it (argmax). Throws for an empty dimension.
// ---------------------------------------------------------------------------
namespace detail {
template <class T>
void argmax_kernel(const T* x, int64_t outer, int64_t n, int64_t inner, T* val, int64_t* idx) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = x + o * n * inner + i;
      int64_t best = 0;
      for (int64_t j = 1; j < n; ++j)
        if (p[j * inner] > p[best * inner] || (std::isnan(p[j * inner]) && !std::isnan(p[best * inner]))) best = j;
      idx[o * inner + i] = best;
      if (val) val[o * inner + i] = p[best * inner];
    }
}
}  // namespace detail

/// Index of the largest element along `dim` (the first one on ties), one per
/// remaining position, row-major over x's shape without `dim`.
inline std::vector<int64_t> argmax(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "argmax");
  const auto [outer, n, inner] = detail::outer_dim_inner(x.shape(), dim);
  INV_CHECK(n > 0, "argmax: dimension ", dim, " is empty in ", to_string(x.shape()));
  std::vector<int64_t> idx(static_cast<size_t>(outer * inner));
  dispatch(x.dtype(), [&, outer = outer, n = n, inner = inner](auto tag) {
    using T = decltype(tag);
    detail::argmax_kernel<T>(x.data<T>(), outer, n, inner, nullptr, idx.data());
  });
  return idx;
}

inline Tensor max(const Tensor& x, int64_t dim, bool keepdim = false) {
  dim = wrap_dim(dim, x.dim(), "max");
  const auto [outer, n, inner] = detail::outer_dim_inner(x.shape(), dim);
  INV_CHECK(n > 0, "max: dimension ", dim, " is empty in ", to_string(x.shape()));
  Shape k = x.shape();
  k[static_cast<size_t>(dim)] = 1;
  Tensor y = empty(k, x.dtype());
  auto idx = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(outer * inner));
  dispatch(x.dtype(), [&, outer = outer, n = n, inner = inner](auto tag) {
    using T = decltype(tag);
    detail::argmax_kernel<T>(x.data<T>(), outer, n, inner, y.data<T>(), idx->data());
  });
  if (!keepdim) y = reshape(y, detail::squeezed_shape(x.shape(), {dim}));
  if (detail::should_record({&x})) {
    const Shape in_shape = x.shape();
    detail::record(y, "max", {x}, [in_shape, idx, outer = outer, n = n, inner = inner](const Tensor& g, GradSink& s) {
      Tensor gx = zeros(in_shape, g.dtype());
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i)
            gx.data<T>()[(o * n + (*idx)[static_cast<size_t>(o * inner + i)]) * inner + i] =
                g.data<T>()[o * inner + i];
      });
      s.add(0, gx);
    });
  }
  return y;
}

}  // namespace inv
