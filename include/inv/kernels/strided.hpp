// inv/kernels/strided.hpp: walking an n-d index space row by row for several operands.
//
// A RowWalker<K> describes K operands read or written with their own strides over
// one shape (a stride is 0 on a broadcast or reduced dimension). The space is cut
// into rows along the innermost dimension; offsets(r) gives each operand's offset
// at the start of row r, and inner(k) its step along the row. Broadcasting binary
// ops, reductions, permute and slice are all loops over these rows.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "inv/shape.hpp"

namespace inv::kernels {

template <size_t K>
class RowWalker {
 public:
  RowWalker(const Shape& shape, const std::array<std::vector<int64_t>, K>& strides,
            const std::array<int64_t, K>& base = {})
      : shape_(shape), strides_(strides), base_(base) {
    row_len_ = shape.empty() ? 1 : shape.back();
    rows_ = row_len_ == 0 ? 0 : numel(shape) / row_len_;
    for (size_t k = 0; k < K; ++k) inner_[k] = shape.empty() ? 0 : strides[k].back();
  }

  int64_t rows() const { return rows_; }
  int64_t row_len() const { return row_len_; }
  int64_t inner(size_t k) const { return inner_[k]; }

  /// Offsets of every operand at the first element of row r.
  std::array<int64_t, K> offsets(int64_t r) const {
    std::array<int64_t, K> off = base_;
    for (size_t d = shape_.size() >= 1 ? shape_.size() - 1 : 0; d-- > 0;) {
      const int64_t i = r % shape_[d];
      r /= shape_[d];
      for (size_t k = 0; k < K; ++k) off[k] += i * strides_[k][d];
    }
    return off;
  }

 private:
  Shape shape_;
  std::array<std::vector<int64_t>, K> strides_;
  std::array<int64_t, K> base_;
  std::array<int64_t, K> inner_{};
  int64_t row_len_ = 1, rows_ = 1;
};

}  // namespace inv::kernels
