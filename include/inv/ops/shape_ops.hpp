// inv/ops/shape_ops.hpp: reshape, flatten, squeeze/unsqueeze, permute, transpose, slice, concat.
//
// reshape/view/flatten/squeeze/unsqueeze return views that share storage (no copy).
// permute, transpose, slice and concat return new contiguous tensors.
// Each op's backward sits right after its forward.
#pragma once

#include <numeric>

#include "inv/autograd.hpp"
#include "inv/kernels/strided.hpp"
#include "inv/parallel.hpp"

namespace inv {

// ---------------------------------------------------------------------------
// reshape (view): same elements, new shape; one dimension may be -1 (inferred).
// Throws when the number of elements differs.
// ---------------------------------------------------------------------------
inline Tensor reshape(const Tensor& x, Shape shape) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      INV_CHECK(infer < 0, "reshape: only one dimension can be -1, got ", to_string(shape));
      infer = static_cast<int64_t>(i);
    } else {
      INV_CHECK(shape[i] >= 0, "reshape: invalid dimension ", shape[i], " in ", to_string(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    INV_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot reshape ", to_string(x.shape()), " into ",
              to_string(shape));
    shape[static_cast<size_t>(infer)] = x.numel() / known;
  }
  INV_CHECK(inv::numel(shape) == x.numel(), "reshape: cannot reshape ", to_string(x.shape()), " (", x.numel(),
            " elements) into ", to_string(shape), " (", inv::numel(shape), " elements)");
  Tensor y(std::make_shared<detail::TensorImpl>(x.impl().storage, x.impl().offset, shape, x.dtype()));
  if (detail::should_record({&x})) {
    const Shape in_shape = x.shape();
    detail::record(y, "reshape", {x}, [in_shape](const Tensor& g, GradSink& s) { s.add(0, reshape(g, in_shape)); });
  }
  return y;
}

/// Alias of reshape (tensors are always contiguous, so every reshape is a view).
inline Tensor view(const Tensor& x, Shape shape) { return reshape(x, std::move(shape)); }

/// Merges dimensions start..end (inclusive, negative counts from the end) into one.
/// flatten(x (N,C,H,W), 1) is (N, C·H·W).
inline Tensor flatten(const Tensor& x, int64_t start = 0, int64_t end = -1) {
  if (x.dim() == 0) return reshape(x, {1});
  start = wrap_dim(start, x.dim(), "flatten");
  end = wrap_dim(end, x.dim(), "flatten");
  INV_CHECK(start <= end, "flatten: start dim ", start, " is after end dim ", end);
  Shape s(x.shape().begin(), x.shape().begin() + start);
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d) merged *= x.shape()[static_cast<size_t>(d)];
  s.push_back(merged);
  s.insert(s.end(), x.shape().begin() + end + 1, x.shape().end());
  return reshape(x, s);
}

/// Inserts a dimension of size 1 at `dim` (0..rank).
inline Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + dim, 1);
  return reshape(x, s);
}

/// Removes dimension `dim`, which must have size 1.
inline Tensor squeeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim(), "squeeze");
  INV_CHECK(x.shape()[static_cast<size_t>(dim)] == 1, "squeeze: dimension ", dim, " of ", to_string(x.shape()),
            " has size ", x.shape()[static_cast<size_t>(dim)], ", expected 1");
  Shape s = x.shape();
  s.erase(s.begin() + dim);
  return reshape(x, s);
}

namespace detail {

/// dst[walker(dst strides)] = src[walker(src strides)] over `shape`, in parallel over rows.
template <class T>
void strided_copy(const kernels::RowWalker<2>& w, T* dst, const T* src) {
  const int64_t len = w.row_len(), id = w.inner(0), is = w.inner(1);
  parallel_for_each(w.rows(), len, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const auto off = w.offsets(r);
      for (int64_t j = 0; j < len; ++j) dst[off[0] + j * id] = src[off[1] + j * is];
    }
  });
}

}  // namespace detail

// ---------------------------------------------------------------------------
// permute: y has dims (x.shape[dims[0]], x.shape[dims[1]], ...). Copies.
// Backward: permute the gradient by the inverse permutation.
// ---------------------------------------------------------------------------
inline Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  const int64_t r = x.dim();
  INV_CHECK(static_cast<int64_t>(dims.size()) == r, "permute: expected ", r, " dims for shape ",
            to_string(x.shape()), ", got ", dims.size());
  std::vector<int64_t> perm(dims.size());
  std::vector<bool> used(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    perm[i] = wrap_dim(dims[i], r, "permute");
    INV_CHECK(!used[static_cast<size_t>(perm[i])], "permute: dimension ", perm[i], " repeated");
    used[static_cast<size_t>(perm[i])] = true;
  }
  Shape out_shape(perm.size());
  const auto xs = contiguous_strides(x.shape());
  std::vector<int64_t> src_strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    out_shape[i] = x.shape()[static_cast<size_t>(perm[i])];
    src_strides[i] = xs[static_cast<size_t>(perm[i])];
  }
  Tensor y = empty(out_shape, x.dtype());
  const kernels::RowWalker<2> w(out_shape, {contiguous_strides(out_shape), src_strides});
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::strided_copy<T>(w, y.data<T>(), x.data<T>());
  });
  if (detail::should_record({&x})) {
    std::vector<int64_t> inverse(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
    detail::record(y, "permute", {x}, [inverse](const Tensor& g, GradSink& s) { s.add(0, permute(g, inverse)); });
  }
  return y;
}

/// Swaps two dimensions. Copies.
inline Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  std::vector<int64_t> dims(static_cast<size_t>(x.dim()));
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[static_cast<size_t>(wrap_dim(d0, x.dim(), "transpose"))],
            dims[static_cast<size_t>(wrap_dim(d1, x.dim(), "transpose"))]);
  return permute(x, dims);
}

// ---------------------------------------------------------------------------
// slice: elements start, start+step, ... (< end) along `dim`, Python-style
// (negative start/end count from the end; both are clamped to the size). Copies.
// Backward: the gradient scattered into a zero tensor of x's shape.
// ---------------------------------------------------------------------------
inline Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1) {
  dim = wrap_dim(dim, x.dim(), "slice");
  INV_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = x.shape()[static_cast<size_t>(dim)];
  auto clampi = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  start = clampi(start);
  end = std::max(start, clampi(end));
  Shape out_shape = x.shape();
  out_shape[static_cast<size_t>(dim)] = (end - start + step - 1) / step;
  auto src_strides = contiguous_strides(x.shape());
  const int64_t base = start * src_strides[static_cast<size_t>(dim)];
  src_strides[static_cast<size_t>(dim)] *= step;
  const kernels::RowWalker<2> w(out_shape, {contiguous_strides(out_shape), src_strides}, {0, base});
  Tensor y = empty(out_shape, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::strided_copy<T>(w, y.data<T>(), x.data<T>());
  });
  if (detail::should_record({&x})) {
    const Shape in_shape = x.shape();
    detail::record(y, "slice", {x}, [w, in_shape](const Tensor& g, GradSink& s) {
      // The forward walk with the roles swapped: write into the strided positions.
      Tensor gx = zeros(in_shape, g.dtype());
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* dst = gx.data<T>();
        const T* src = g.data<T>();
        const int64_t len = w.row_len(), is = w.inner(1);
        for (int64_t r = 0; r < w.rows(); ++r) {
          const auto off = w.offsets(r);
          for (int64_t j = 0; j < len; ++j) dst[off[1] + j * is] = src[off[0] + j];
        }
      });
      s.add(0, gx);
    });
  }
  return y;
}

namespace detail {
/// (outer, n, inner) for a tensor viewed as outer × shape[dim] × inner.
inline std::array<int64_t, 3> outer_dim_inner(const Shape& s, int64_t dim) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= s[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(dim) + 1; d < s.size(); ++d) inner *= s[d];
  return {outer, s[static_cast<size_t>(dim)], inner};
}
}  // namespace detail

// ---------------------------------------------------------------------------
// concat: joins tensors along `dim`; all other dimensions must agree. Copies.
// Backward: each input gets its slice of the gradient.
// ---------------------------------------------------------------------------
inline Tensor concat(const std::vector<Tensor>& xs, int64_t dim = 0) {
  INV_CHECK(!xs.empty(), "concat: expected at least one tensor");
  const Tensor& first = xs[0];
  dim = wrap_dim(dim, first.dim(), "concat");
  Shape out_shape = first.shape();
  out_shape[static_cast<size_t>(dim)] = 0;
  for (const Tensor& t : xs) {
    Shape a = t.shape(), b = first.shape();
    INV_CHECK(a.size() == b.size() && t.dtype() == first.dtype(), "concat: expected ", first.dim(), "-D ",
              dtype_name(first.dtype()), " tensors, got ", to_string(t.shape()), " ", dtype_name(t.dtype()));
    a[static_cast<size_t>(dim)] = b[static_cast<size_t>(dim)] = 0;
    INV_CHECK(a == b, "concat: shapes ", to_string(first.shape()), " and ", to_string(t.shape()),
              " differ outside dim ", dim);
    out_shape[static_cast<size_t>(dim)] += t.shape()[static_cast<size_t>(dim)];
  }
  Tensor y = empty(out_shape, first.dtype());
  const auto [outer, total, inner] = detail::outer_dim_inner(out_shape, dim);
  dispatch(first.dtype(), [&, outer = outer, total = total, inner = inner](auto tag) {
    using T = decltype(tag);
    int64_t at = 0;
    for (const Tensor& t : xs) {
      const int64_t n = t.shape()[static_cast<size_t>(dim)];
      for (int64_t o = 0; o < outer; ++o)
        std::copy_n(t.data<T>() + o * n * inner, n * inner, y.data<T>() + (o * total + at) * inner);
      at += n;
    }
  });
  if (detail::should_record(xs)) {
    std::vector<int64_t> sizes;
    for (const Tensor& t : xs) sizes.push_back(t.shape()[static_cast<size_t>(dim)]);
    detail::record(y, "concat", xs, [sizes, dim](const Tensor& g, GradSink& s) {
      int64_t at = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (s.needs(i)) s.add(i, slice(g, dim, at, at + sizes[i]));
        at += sizes[i];
      }
    });
  }
  return y;
}

/// Alias of concat, as torch.cat.
inline Tensor cat(const std::vector<Tensor>& xs, int64_t dim = 0) { return concat(xs, dim); }

}  // namespace inv
