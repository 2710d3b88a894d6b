// inv/attack/inverse_network.hpp: the black-box attack, an inverse network (P1 §5).
//
// The attacker can only query the edge f1 (an EdgeOracle). It queries f1 once on every
// image of its own set X, then trains a decoder g to minimise mean ||g(f1(x)) - x||²
// (MSE in normalised space), and reconstructs observed features v as g(v). X can be the
// target's training set, a disjoint set from the same distribution, or N(0, 1) noise
// images. The reference code trains with Adam(1e-3, eps 1e-3, AMSGrad), batch 32, 50
// epochs, the learning rate halved every 10 epochs, no augmentation.
#pragma once

#include <functional>

#include "inv/attack/access.hpp"
#include "inv/data/loader.hpp"
#include "inv/denormal.hpp"
#include "inv/ops/loss.hpp"
#include "inv/optim/adam.hpp"
#include "inv/optim/lr_scheduler.hpp"
#include "inv/train/progress.hpp"

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

/// Trains `model` on mini-batches: loss(batch) is the objective; returns the mean loss per epoch.
inline std::vector<double> train_epochs(nn::Module& model, const TrainConfig& c, int64_t n, const char* what,
                                        const std::function<Tensor(const std::vector<int64_t>&)>& loss) {
  optim::Adam adam(model.parameters(), optim::AdamOptions::paper(c.lr).with_eps(c.eps).with_amsgrad(c.amsgrad));
  optim::StepLR sched(adam, c.halve_every > 0 ? c.halve_every : 1, c.halve_every > 0 ? 0.5 : 1.0);
  train::Progress progress(c.quiet);
  nn::ModeGuard mode(model, true);
  FlushDenormalGuard flush(c.flush_denormal);
  // The loader only orders indices: a dataset of n labels, no pixels.
  data::Dataset index_set;
  index_set.images = zeros({n, 1, 1, 1});
  index_set.labels.assign(static_cast<size_t>(n), 0);
  index_set.classes = {"x"};
  const data::DataLoader loader(index_set, c.batch_size, true, c.seed);
  std::vector<double> history;
  for (int64_t e = 0; e < c.epochs; ++e) {
    progress.start(std::string(what) + " epoch " + std::to_string(e + 1) + "/" + std::to_string(c.epochs),
                   loader.num_batches());
    const auto order = loader.order(e);
    double sum = 0;
    int64_t seen = 0;
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      const int64_t begin = b * c.batch_size, end = std::min(n, begin + c.batch_size);
      const std::vector<int64_t> idx(order.begin() + begin, order.begin() + end);
      adam.zero_grad();
      Tensor l = loss(idx);
      const double v = l.item();
      INV_CHECK(std::isfinite(v), what, ": the loss became ", std::isnan(v) ? "nan" : "inf", " at epoch ", e + 1,
                " (lower the learning rate?)");
      l.backward();
      adam.step();
      sum += v * double(idx.size());
      seen += int64_t(idx.size());
      char stats[48];
      std::snprintf(stats, sizeof stats, "loss %.5f", sum / double(seen));
      progress.update(b + 1, stats, seen, "samples/s");
    }
    sched.step();
    history.push_back(sum / double(std::max<int64_t>(seen, 1)));
  }
  return history;
}

/// Rows `idx` of a tensor (N, ...), as a new tensor.
inline Tensor rows(const Tensor& t, const std::vector<int64_t>& idx) {
  Shape s = t.shape();
  s[0] = int64_t(idx.size());
  const int64_t row = t.numel() / std::max<int64_t>(t.size(0), 1);
  Tensor out = empty(s, t.dtype());
  const float* p = t.data<float>();
  float* q = out.data<float>();
  for (size_t i = 0; i < idx.size(); ++i) std::copy_n(p + idx[i] * row, row, q + int64_t(i) * row);
  return out;
}

}  // namespace detail

/// The black-box attacker: a decoder trained through an EdgeOracle.
class InverseNetwork {
 public:
  explicit InverseNetwork(std::shared_ptr<nn::Module> decoder, TrainConfig config = {})
      : decoder_(std::move(decoder)), config_(config) {
    INV_CHECK(decoder_ != nullptr, "InverseNetwork: the decoder is null");
    config_.validate("InverseNetwork");
  }

  /// Queries the oracle once on each of the attacker's images x (N, C, H, W), normalised,
  /// then trains the decoder on the pairs (f1(x), x). Returns the mean loss per epoch.
  /// Throws inv::Error when the decoder's output does not have the images' shape.
  std::vector<double> fit(EdgeOracle& oracle, const Tensor& attacker_images, int64_t query_batch = 500) {
    INV_CHECK(attacker_images.dim() == 4 && attacker_images.size(0) >= 1,
              "InverseNetwork: expected attacker images (N, C, H, W), got ", to_string(attacker_images.shape()));
    const int64_t n = attacker_images.size(0);
    std::vector<Tensor> parts;
    for (int64_t b = 0; b < n; b += query_batch)
      parts.push_back(oracle.query(slice(attacker_images, 0, b, std::min(n, b + query_batch))));
    const Tensor features = concat(parts, 0);
    {
      NoGradGuard no_grad;
      nn::ModeGuard mode(*decoder_, false);
      const Shape out = decoder_->forward(slice(features, 0, 0, 1)).shape();
      Shape want = attacker_images.shape();
      want[0] = 1;
      INV_CHECK(out == want, "InverseNetwork: the decoder maps features ", to_string(features.shape()), " to ",
                to_string(out), " per sample, expected ", to_string(want));
    }
    return detail::train_epochs(*decoder_, config_, n, "inverse network", [&](const std::vector<int64_t>& idx) {
      return mse_loss(decoder_->forward(detail::rows(features, idx)), detail::rows(attacker_images, idx));
    });
  }

  /// g(v): the reconstruction of features v, normalised, in evaluation mode.
  Tensor invert(const Tensor& features) {
    nn::ModeGuard mode(*decoder_, false);
    NoGradGuard no_grad;
    return decoder_->forward(features);
  }

  nn::Module& decoder() { return *decoder_; }

 private:
  std::shared_ptr<nn::Module> decoder_;
  TrainConfig config_;
};

}  // namespace inv::attack
