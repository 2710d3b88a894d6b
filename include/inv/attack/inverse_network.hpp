// inv/attack/inverse_network.hpp: the black-box attack, an inverse network (P1 §5).
//
// The attacker can only query the edge f1 (an EdgeOracle). It queries f1 once on every
// image of its own set X, then trains a decoder g to minimise mean ||g(f1(x)) - x||²
// (MSE in normalised space), and reconstructs observed features v as g(v). X can be the
// target's training set, a disjoint set from the same distribution, or N(0, 1) noise
// images. The reference code trains with Adam(1e-3, eps 1e-3, AMSGrad), batch 32, 50
// epochs, the learning rate halved every 10 epochs, no augmentation.
//
// The features of X are kept for the whole training in a data::RowCache: in memory, or,
// when they are larger than data::kRowCacheMemoryLimit (RowStorage::Auto), in a temporary
// file that the page cache serves. Either returns the features bitwise, so the decoder
// trains identically.
#pragma once

#include <functional>
#include <memory>

#include "inv/attack/access.hpp"
#include "inv/attack/reconstruction.hpp"
#include "inv/data/loader.hpp"
#include "inv/data/row_cache.hpp"
#include "inv/denormal.hpp"
#include "inv/ops/loss.hpp"
#include "inv/optim/adam.hpp"
#include "inv/optim/lr_scheduler.hpp"
#include "inv/train/loop.hpp"

namespace inv::attack {

/// Training settings of a decoder or a shadow model (the reference code's by default).
struct TrainConfig {
  int64_t epochs = 50;
  int64_t batch_size = 32;
  double lr = 1e-3, eps = 1e-3;
  bool amsgrad = true;
  int64_t halve_every = 10;  // epochs between halvings of the learning rate (0 = never)
  uint64_t seed = 0;         // shuffling
  bool quiet = true;         // no progress output
  bool flush_denormal = true;  // subnormals as zero while training (inv/denormal.hpp)

  void validate(const char* who) const {
    INV_CHECK(epochs >= 1, who, ": epochs must be >= 1, got ", epochs);
    INV_CHECK(batch_size >= 1, who, ": batch_size must be >= 1, got ", batch_size);
    INV_CHECK(lr > 0, who, ": lr must be positive, got ", lr);
    INV_CHECK(eps >= 0, who, ": eps must be >= 0, got ", eps);
    INV_CHECK(halve_every >= 0, who, ": halve_every must be >= 0, got ", halve_every);
  }
};

namespace detail {

/// Trains `model` with the paper's Adam and StepLR on `n` items through the one training
/// loop (train::train_epochs); loss(indices) is a batch's loss. Returns the mean loss per epoch.
inline std::vector<double> train_attacker_model(nn::Module& model, const TrainConfig& c, int64_t n, const char* what,
                                                const std::function<Tensor(const std::vector<int64_t>&)>& loss) {
  optim::Adam adam(model.parameters(), optim::AdamOptions::paper(c.lr).with_eps(c.eps).with_amsgrad(c.amsgrad));
  optim::StepLR sched(adam, c.halve_every > 0 ? c.halve_every : 1, c.halve_every > 0 ? 0.5 : 1.0);
  train::LoopOptions o;
  o.epochs = c.epochs;
  o.batch_size = c.batch_size;
  o.seed = c.seed;
  o.what = what;
  o.quiet = c.quiet;
  o.flush_denormal = c.flush_denormal;
  return train::losses(train::train_epochs(model, adam, &sched, n, o, [&](const train::BatchIndices& b) {
    return train::BatchLoss{loss(b.indices)};
  }));
}

}  // namespace detail

/// The black-box attacker: a decoder trained through an EdgeOracle.
class InverseNetwork {
 public:
  /// `features` says where fit() keeps the features of the attacker's set (see
  /// data::RowStorage; `directory` is the temporary file's, default_temp_directory() when
  /// empty).
  explicit InverseNetwork(std::shared_ptr<nn::Module> decoder, TrainConfig config = {},
                          data::RowStorage features = data::RowStorage::Auto, std::string directory = "")
      : decoder_(std::move(decoder)), config_(config), storage_(features), directory_(std::move(directory)) {
    INV_CHECK(decoder_ != nullptr, "InverseNetwork: the decoder is null");
    config_.validate("InverseNetwork");
  }

  /// Queries the oracle once on each of the attacker's images x (N, C, H, W), normalised,
  /// in slices of `query_batch` images, keeps the features (a RowCache, see the
  /// constructor), then trains the decoder on the pairs (f1(x), x). Returns the mean loss
  /// per epoch. Throws inv::Error when query_batch < 1, when the oracle's answer to a
  /// slice does not have one float32 row per image, each of one shape, or when the
  /// decoder's output does not have the images' shape.
  std::vector<double> fit(EdgeOracle& oracle, const Tensor& attacker_images, int64_t query_batch = 500) {
    INV_CHECK(attacker_images.dim() == 4 && attacker_images.size(0) >= 1,
              "InverseNetwork: expected attacker images (N, C, H, W), got ", to_string(attacker_images.shape()));
    INV_CHECK(query_batch >= 1, "InverseNetwork: query_batch must be >= 1, got ", query_batch);
    const int64_t n = attacker_images.size(0);
    std::unique_ptr<data::RowCache> features;
    for (int64_t b = 0; b < n; b += query_batch) {
      const int64_t e = std::min(n, b + query_batch);
      const Tensor f = oracle.query(slice(attacker_images, 0, b, e));
      INV_CHECK(f.dim() >= 1 && f.size(0) == e - b, "InverseNetwork: the oracle answered ", e - b, " images with ",
                to_string(f.shape()));
      if (!features)
        features = std::make_unique<data::RowCache>(n, Shape(f.shape().begin() + 1, f.shape().end()), storage_,
                                                    directory_);
      features->append(f);
    }
    feature_shape_ = features->row_shape();
    used_storage_ = features->storage();
    {
      NoGradGuard no_grad;
      nn::ModeGuard mode(*decoder_, false);
      const Shape out = decoder_->forward(features->gather({0})).shape();
      Shape want = attacker_images.shape();
      want[0] = 1;
      Shape all{n};
      all.insert(all.end(), feature_shape_.begin(), feature_shape_.end());
      INV_CHECK(out == want, "InverseNetwork: the decoder maps features ", to_string(all), " to ", to_string(out),
                " per sample, expected ", to_string(want));
    }
    return detail::train_attacker_model(*decoder_, config_, n, "inverse network", [&](const std::vector<int64_t>& idx) {
      return mse_loss(decoder_->forward(features->gather(idx)), data::gather_rows(attacker_images, idx));
    });
  }

  /// g(v): the reconstruction (Reconstruction::images, normalised) of features v (N, ...),
  /// computed in evaluation mode without gradients. The objective is empty: g(v) minimises
  /// nothing per image.
  /// Throws inv::Error when fit() saw features of another shape per sample.
  Reconstruction invert(const Tensor& features) {
    INV_CHECK(features.defined() && features.dim() >= 1, "InverseNetwork: expected features (N, ...)");
    INV_CHECK(feature_shape_.empty() || Shape(features.shape().begin() + 1, features.shape().end()) == feature_shape_,
              "InverseNetwork: the decoder was trained on features ", to_string(feature_shape_),
              " per sample, but is asked to invert ", to_string(features.shape()));
    nn::ModeGuard mode(*decoder_, false);
    NoGradGuard no_grad;
    Reconstruction r;
    r.images = decoder_->forward(features);
    return r;
  }

  nn::Module& decoder() { return *decoder_; }
  /// Where the last fit() kept the features: Memory or File (Auto before any fit).
  data::RowStorage feature_storage() const { return used_storage_; }

 private:
  std::shared_ptr<nn::Module> decoder_;
  TrainConfig config_;
  data::RowStorage storage_;
  std::string directory_;
  data::RowStorage used_storage_ = data::RowStorage::Auto;
  Shape feature_shape_;  // of one sample, as fit() saw them (empty before fit)
};

}  // namespace inv::attack
