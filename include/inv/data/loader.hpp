// inv/data/loader.hpp: mini-batches over an in-memory Dataset.
//
//   DataLoader loader(train, 32, /*shuffle=*/true, /*seed=*/7);
//   for (int64_t epoch = 0; epoch < 10; ++epoch)
//     for (const Batch& b : loader.epoch(epoch)) { ... b.images (B,C,H,W), b.labels ... }
//
// Each epoch visits every index exactly once (the last batch may be smaller unless
// drop_last). With shuffle, epoch e's order is a permutation drawn from a Generator
// seeded by (seed, e) only: a run resumed at epoch e sees the same batches as an
// uninterrupted one, whatever happened before. The optional per-batch transform
// (augmentation) gets its own Generator seeded by (seed, e, batch index), so it is
// reproducible too, and independent of the order in which batches are requested.
#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include "inv/data/dataset.hpp"
#include "inv/error.hpp"
#include "inv/random.hpp"
#include "inv/tensor.hpp"

namespace inv::data {

/// One mini-batch: B images (B, C, H, W), their labels and their dataset indices.
struct Batch {
  Tensor images;
  std::vector<int64_t> labels;
  std::vector<int64_t> indices;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

/// The order in which epoch `epoch` visits N items: 0..N-1 without shuffle, else a
/// Fisher–Yates permutation from Generator(mix_seed(seed, epoch)). DataLoader and every
/// training loop (train/fit.hpp) draw their batches from it. Throws when epoch < 0 or n < 0.
inline std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  INV_CHECK(epoch >= 0, "epoch_order: epoch must be >= 0, got ", epoch);
  INV_CHECK(n >= 0, "epoch_order: n must be >= 0, got ", n);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  if (shuffle) {
    Generator gen(mix_seed(seed, static_cast<uint64_t>(epoch)));
    for (size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[size_t(gen.randint(int64_t(i)))]);
  }
  return idx;
}

class DataLoader {
 public:
  /// Called on every batch after it is assembled; it may change the batch freely, e.g.
  /// augment it: b.images = random_affine(b.images, 10, 0.1, 0.9, 1.1, gen).
  using Transform = std::function<void(Batch& batch, Generator& gen)>;

  /// Batches of `batch_size` images from `dataset`. The loader keeps a copy of the labels;
  /// the images tensor is a handle, so the pixels are shared, not copied. shuffle = false
  /// keeps the dataset order. drop_last drops a final batch smaller than batch_size, as
  /// torch.utils.data.DataLoader. Throws inv::Error when batch_size < 1 or the dataset is
  /// inconsistent (Dataset::check).
  DataLoader(const Dataset& dataset, int64_t batch_size, bool shuffle, uint64_t seed, bool drop_last = false)
      : ds_(dataset), batch_size_(batch_size), shuffle_(shuffle), seed_(seed), drop_last_(drop_last) {
    INV_CHECK(batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", batch_size);
    ds_.check();
  }

  void set_transform(Transform t) { transform_ = std::move(t); }

  const Dataset& dataset() const { return ds_; }
  int64_t batch_size() const { return batch_size_; }

  /// Batches per epoch: ceil(N / batch_size), or floor with drop_last.
  int64_t num_batches() const {
    return drop_last_ ? ds_.size() / batch_size_ : (ds_.size() + batch_size_ - 1) / batch_size_;
  }

  /// The order in which epoch `epoch` visits the dataset: 0..N-1 without shuffle, else a
  /// Fisher–Yates permutation from Generator(mix(seed, epoch)). Throws when epoch < 0.
  std::vector<int64_t> order(int64_t epoch) const {
    INV_CHECK(epoch >= 0, "DataLoader: epoch must be >= 0, got ", epoch);
    return epoch_order(ds_.size(), shuffle_, seed_, epoch);
  }

  /// Batch b of an epoch whose order() is `order`: images copied into a new (B, C, H, W)
  /// tensor, then the transform applied. Throws when b is out of range. Epochs iterate
  /// through this; call it directly to start in the middle of an epoch.
  Batch batch(const std::vector<int64_t>& order, int64_t epoch, int64_t b) const {
    INV_CHECK(b >= 0 && b < num_batches(), "DataLoader: batch ", b, " out of range [0, ", num_batches(), ")");
    INV_CHECK(int64_t(order.size()) == ds_.size(), "DataLoader: order has ", order.size(), " entries, expected ",
              ds_.size());
    const int64_t begin = b * batch_size_, end = std::min(ds_.size(), begin + batch_size_);
    return assemble(std::vector<int64_t>(order.begin() + begin, order.begin() + end), epoch, b);
  }

  /// The batch of the dataset's items `indices`, as batch b of epoch `epoch`: images
  /// copied into a new (B, C, H, W) tensor, then the transform applied with the
  /// Generator of (seed, epoch, b). Throws when an index is out of range.
  Batch assemble(std::vector<int64_t> indices, int64_t epoch, int64_t b) const {
    Batch out;
    out.indices = std::move(indices);
    out.labels.reserve(out.indices.size());
    for (int64_t i : out.indices) {
      INV_CHECK(i >= 0 && i < ds_.size(), "DataLoader: index ", i, " out of range [0, ", ds_.size(), ")");
      out.labels.push_back(ds_.labels[size_t(i)]);
    }
    out.images = gather_rows(ds_.images, out.indices);
    if (transform_) {
      Generator gen(mix_seed(mix_seed(seed_ ^ 0x5851F42D4C957F2Dull, uint64_t(epoch)), uint64_t(b)));
      transform_(out, gen);
    }
    return out;
  }

  /// Input iterator over the batches of one epoch; holds the current batch.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = Batch*;
    using reference = Batch&;

    Iterator(const DataLoader* loader, int64_t epoch, std::shared_ptr<const std::vector<int64_t>> order, int64_t b)
        : loader_(loader), epoch_(epoch), order_(std::move(order)), b_(b) {
      load();
    }
    Batch& operator*() { return batch_; }
    Batch* operator->() { return &batch_; }
    Iterator& operator++() {
      ++b_;
      load();
      return *this;
    }
    bool operator==(const Iterator& o) const { return b_ == o.b_; }
    bool operator!=(const Iterator& o) const { return b_ != o.b_; }

   private:
    void load() {
      if (b_ < loader_->num_batches()) batch_ = loader_->batch(*order_, epoch_, b_);
    }
    const DataLoader* loader_;
    int64_t epoch_;
    std::shared_ptr<const std::vector<int64_t>> order_;
    int64_t b_;
    Batch batch_;
  };

  /// The batches of epoch `e`, for a range-for.
  class Epoch {
   public:
    Epoch(const DataLoader* loader, int64_t e)
        : loader_(loader), e_(e), order_(std::make_shared<const std::vector<int64_t>>(loader->order(e))) {}
    Iterator begin() const { return Iterator(loader_, e_, order_, 0); }
    Iterator end() const { return Iterator(loader_, e_, order_, loader_->num_batches()); }

   private:
    const DataLoader* loader_;
    int64_t e_;
    std::shared_ptr<const std::vector<int64_t>> order_;
  };

  /// The batches of epoch e (any e >= 0, in any order: epochs are independent).
  Epoch epoch(int64_t e) const { return Epoch(this, e); }

 private:
  Dataset ds_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
  Transform transform_;
};

}  // namespace inv::data
