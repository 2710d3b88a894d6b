// inv/data/dataset.hpp: an in-memory labelled image dataset.
//
// All the datasets the library uses (MNIST, Fashion-MNIST, CIFAR-10, image folders)
// fit in memory: a (N, C, H, W) float32 tensor of pixels in [0, 1], one integer label
// per image and the class names. The loaders in inv/data/ produce it; DataLoader
// (inv/data/loader.hpp) cuts it into batches.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "inv/error.hpp"
#include "inv/ops/shape_ops.hpp"
#include "inv/parallel.hpp"
#include "inv/tensor.hpp"

namespace inv::data {

struct Dataset {
  Tensor images;                     // (N, C, H, W), float32, pixels in [0, 1]
  std::vector<int64_t> labels;       // N labels in [0, classes.size())
  std::vector<std::string> classes;  // class names; label k is classes[k]

  /// Number of images N.
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t num_classes() const { return static_cast<int64_t>(classes.size()); }

  /// Throws inv::Error unless images is (N, C, H, W) with N = labels.size() and every
  /// label is in [0, num_classes()).
  void check() const;

  /// The images and labels at `indices` (in that order, repeats allowed), same classes.
  /// Throws inv::Error naming the first index outside [0, size()).
  Dataset subset(const std::vector<int64_t>& indices) const;

  /// The first min(n, size()) images. Throws when n < 0.
  Dataset head(int64_t n) const;
};

namespace data_detail {

/// dst[i] = src[indices[i]] for rows of `row_bytes` bytes. Indices must have been validated.
/// Copies run in parallel in chunks of about 1 MiB: a mini-batch (32 MNIST images are
/// 100 KB, 32 CIFAR images 390 KB) is copied by the calling thread in tens of
/// microseconds, less than waking a thread team costs on a busy machine.
inline void gather_rows(const uint8_t* src, uint8_t* dst, const std::vector<int64_t>& indices, size_t row_bytes) {
  const int64_t grain = std::max<int64_t>(1, int64_t(1 << 20) / std::max<int64_t>(1, int64_t(row_bytes)));
  parallel_for(static_cast<int64_t>(indices.size()), grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      std::memcpy(dst + size_t(i) * row_bytes, src + size_t(indices[size_t(i)]) * row_bytes, row_bytes);
  });
}

}  // namespace data_detail

/// The rows of x (N, ...) at `indices` (first dimension), as a new tensor. Throws
/// inv::Error when x has no dimension or an index is outside [0, N).
inline Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& indices) {
  INV_CHECK(x.dim() >= 1, "gather_rows: expected a tensor (N, ...), got shape ", to_string(x.shape()));
  for (int64_t i : indices)
    INV_CHECK(i >= 0 && i < x.size(0), "gather_rows: index ", i, " out of range [0, ", x.size(0), ")");
  Shape shape = x.shape();
  shape[0] = static_cast<int64_t>(indices.size());
  Tensor out = empty(shape, x.dtype());
  const size_t row_bytes = size_t(x.numel() / std::max<int64_t>(1, x.size(0))) * element_size(x.dtype());
  const auto* src = static_cast<const uint8_t*>(x.impl().storage->data()) + x.impl().offset * element_size(x.dtype());
  data_detail::gather_rows(src, static_cast<uint8_t*>(out.impl().storage->data()), indices, row_bytes);
  return out;
}

/// f applied to consecutive slices of at most `batch` rows of x (N, ...), the results
/// joined along the first dimension: f(x) for an f that treats rows independently (a
/// network in evaluation mode), in bounded memory. Each slice's result is copied into the
/// output as soon as it is computed, so the peak is the output plus one slice's result
/// (not twice the output, as concatenating the parts at the end would be). The output
/// records no graph: f must not return a tensor that requires gradients while gradients
/// are enabled (run it under NoGradGuard). Throws inv::Error when x has no rows, batch < 1,
/// f returns a tensor that requires gradients, or f's results do not have one row per row
/// of their slice, the same shape per row and the same dtype.
template <class F>
Tensor map_batches(const Tensor& x, int64_t batch, F&& f) {
  INV_CHECK(x.dim() >= 1 && x.size(0) >= 1, "map_batches: expected a tensor (N, ...) with N >= 1, got shape ",
            to_string(x.shape()));
  INV_CHECK(batch >= 1, "map_batches: batch must be >= 1, got ", batch);
  const int64_t n = x.size(0);
  Tensor out;
  size_t row_bytes = 0;
  for (int64_t b = 0; b < n; b += batch) {
    const int64_t e = std::min(n, b + batch);
    const Tensor part = f(slice(x, 0, b, e));
    INV_CHECK(part.defined() && part.dim() >= 1 && part.size(0) == e - b, "map_batches: f mapped rows [", b, ", ",
              e, ") to ", part.defined() ? to_string(part.shape()) : std::string("an undefined tensor"),
              ", expected ", e - b, " rows");
    INV_CHECK(!(part.requires_grad() && GradMode::is_enabled()),
              "map_batches: f returned a tensor that requires gradients (rows [", b, ", ", e,
              ")); the joined result records no graph: run f under NoGradGuard");
    if (e - b == n) return part;  // one slice: its result as it is
    Shape row(part.shape().begin() + 1, part.shape().end());
    if (!out.defined()) {
      Shape shape = part.shape();
      shape[0] = n;
      out = empty(shape, part.dtype());
      row_bytes = size_t(inv::numel(row)) * element_size(part.dtype());
    }
    INV_CHECK(part.dtype() == out.dtype() && row == Shape(out.shape().begin() + 1, out.shape().end()),
              "map_batches: f mapped rows [", b, ", ", e, ") to ", to_string(part.shape()), " ",
              dtype_name(part.dtype()), ", but earlier rows to ", to_string(out.shape()), " ",
              dtype_name(out.dtype()), " (rows of one shape and dtype expected)");
    const size_t elem = element_size(part.dtype());
    std::memcpy(static_cast<uint8_t*>(out.impl().storage->data()) + size_t(b) * row_bytes,
                static_cast<const uint8_t*>(part.impl().storage->data()) + size_t(part.impl().offset) * elem,
                size_t(e - b) * row_bytes);
  }
  return out;
}

inline void Dataset::check() const {
  INV_CHECK(images.defined(), "Dataset: images are undefined");
  INV_CHECK(images.dim() == 4, "Dataset: expected images of shape (N,C,H,W), got ", to_string(images.shape()));
  INV_CHECK(images.size(0) == size(), "Dataset: ", images.size(0), " images but ", size(), " labels");
  for (size_t i = 0; i < labels.size(); ++i)
    INV_CHECK(labels[i] >= 0 && labels[i] < num_classes(), "Dataset: label ", labels[i], " of image ", i,
              " is outside [0, ", num_classes(), ")");
}

inline Dataset Dataset::subset(const std::vector<int64_t>& indices) const {
  INV_CHECK(images.defined() && images.dim() == 4 && images.size(0) == size(),
            "Dataset::subset: inconsistent dataset (images ",
            images.defined() ? to_string(images.shape()) : std::string("undefined"), ", ", size(), " labels)");
  Dataset out;
  out.classes = classes;
  out.labels.reserve(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    INV_CHECK(indices[i] >= 0 && indices[i] < size(), "Dataset::subset: index ", indices[i], " (position ", i,
              ") is outside [0, ", size(), ")");
    out.labels.push_back(labels[size_t(indices[i])]);
  }
  out.images = gather_rows(images, indices);
  return out;
}

inline Dataset Dataset::head(int64_t n) const {
  INV_CHECK(n >= 0, "Dataset::head: expected n >= 0, got ", n);
  std::vector<int64_t> first(static_cast<size_t>(std::min(n, size())));
  for (size_t i = 0; i < first.size(); ++i) first[i] = static_cast<int64_t>(i);
  return subset(first);
}

/// For each class k = 0 .. num_classes()-1, the index of the first image with label k.
/// The attacks use "the first test image of each class" (for the MNIST test set:
/// 3, 2, 1, 18, 4, 8, 11, 0, 61, 7). Throws inv::Error naming a class with no image.
inline std::vector<int64_t> first_index_of_each_class(const Dataset& ds) {
  std::vector<int64_t> first(static_cast<size_t>(ds.num_classes()), -1);
  int64_t missing = ds.num_classes();
  for (int64_t i = 0; i < ds.size() && missing > 0; ++i) {
    const int64_t y = ds.labels[size_t(i)];
    INV_CHECK(y >= 0 && y < ds.num_classes(), "first_index_of_each_class: label ", y, " of image ", i,
              " is outside [0, ", ds.num_classes(), ")");
    if (first[size_t(y)] < 0) {
      first[size_t(y)] = i;
      --missing;
    }
  }
  for (size_t k = 0; k < first.size(); ++k)
    INV_CHECK(first[k] >= 0, "first_index_of_each_class: class ", k, " ('", ds.classes[k], "') has no image among ",
              ds.size());
  return first;
}

/// The images reordered round-robin by class: the first image of each class (in class
/// order), then the second of each, and so on; a class that has run out is skipped, and
/// each class keeps its own order. Labels 0 0 0 0 1 1 1 2 2 (indices 0..8) become
/// 0 1 2 0 1 2 0 1 0 (indices 0 4 7 1 5 8 2 6 3). For class-sorted data such as an image
/// folder: any first part of the result then holds every class as soon as it is as long
/// as the number of classes, and a last part holds the images of the larger classes
/// first, then one of every class per round.
inline Dataset interleave_classes(const Dataset& ds) {
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(ds.num_classes()));
  for (int64_t i = 0; i < ds.size(); ++i) {
    const int64_t y = ds.labels[size_t(i)];
    INV_CHECK(y >= 0 && y < ds.num_classes(), "interleave_classes: label ", y, " of image ", i, " is outside [0, ",
              ds.num_classes(), ")");
    by_class[size_t(y)].push_back(i);
  }
  std::vector<int64_t> order;
  order.reserve(ds.labels.size());
  for (size_t round = 0; order.size() < ds.labels.size(); ++round)
    for (const auto& members : by_class)
      if (round < members.size()) order.push_back(members[round]);
  return ds.subset(order);
}

}  // namespace inv::data
