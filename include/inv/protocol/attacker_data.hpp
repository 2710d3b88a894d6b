// inv/protocol/attacker_data.hpp: the images the black-box and query-free attackers own
// (docs/protocol.md §4, §5).
//
// P1 gives the attacker one of three sets: the target's training images; images of the
// same distribution the target never saw; or N(0, 1) noise images (black-box only). inv
// holds out the last `holdout` training images from the target's training set; they are
// the pool of the disjoint set.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "inv/data/dataset.hpp"
#include "inv/data/transforms.hpp"
#include "inv/random.hpp"

namespace inv::protocol {

enum class AttackerSet {
  Train,     // the first N images the target trained on
  Disjoint,  // the first N held-out training images, never seen by the target
  Noise,     // N(0, 1) noise in normalised space, no labels
};

/// "train", "disjoint", "noise".
inline const char* attacker_set_name(AttackerSet s) {
  switch (s) {
    case AttackerSet::Train: return "train";
    case AttackerSet::Disjoint: return "disjoint";
    case AttackerSet::Noise: return "noise";
  }
  return "?";
}

/// The set named `name`. Throws inv::Error naming the valid names.
inline AttackerSet parse_attacker_set(const std::string& name) {
  for (AttackerSet s : {AttackerSet::Train, AttackerSet::Disjoint, AttackerSet::Noise})
    if (name == attacker_set_name(s)) return s;
  inv::detail::fail("unknown attacker set '", name, "' (train, disjoint, noise)");
}

/// The attacker's own data, as every attack takes it: normalised images.
struct AttackerData {
  Tensor images;                     // (N, C, H, W), normalised as the target expects
  std::vector<int64_t> labels;       // one per image, or empty (noise)
  std::vector<std::string> classes;  // the class names when labelled
  std::string description;           // e.g. "5000 of the target's training images"

  bool labelled() const { return !labels.empty(); }
  /// The images with their labels, as a Dataset (the query-free shadow trains on it).
  data::Dataset labelled_set() const {
    data::Dataset d;
    d.images = images;
    d.labels = labels;
    d.classes = classes;
    return d;
  }
};

/// The number of noise images when none is asked for, and the limit on them when the
/// training set is smaller.
constexpr int64_t kNoiseImages = 10000;

/// The number of held-out training images: `requested` when >= 0, else min(10000, N/6).
/// Throws inv::Error when it leaves the target no training image.
inline int64_t holdout_size(int64_t requested, int64_t train_size) {
  const int64_t h = requested >= 0 ? requested : std::min<int64_t>(10000, train_size / 6);
  INV_CHECK(h < train_size, "a holdout of ", h, " leaves no training image for the target (the training set has ",
            train_size, ")");
  return h;
}

/// The target's training images: all but the last `holdout`.
inline data::Dataset target_part(const data::Dataset& train, int64_t holdout) {
  INV_CHECK(holdout >= 0 && holdout <= train.size(), "target_part: holdout ", holdout, " outside [0, ", train.size(),
            "]");
  return train.head(train.size() - holdout);
}

/// The attacker's set `set` of `images` images (0 = the whole pool; for noise 0 means
/// kNoiseImages) from the full training set `train` (images in [0, 1]), of which the
/// target held out the last `holdout`; normalised with mean/std. Noise has shape
/// (N, input_shape) and comes from Generator(mix_seed(seed, "noise")). Train and disjoint
/// take the first images of their pool, capped at its size. Throws inv::Error when the
/// pool is empty, more noise images are asked than max(kNoiseImages, the training set's
/// size), or `holdout` is more than the training set has (another dataset than the target's).
inline AttackerData make_attacker_data(const data::Dataset& train, int64_t holdout, AttackerSet set, int64_t images,
                                       const std::vector<double>& mean, const std::vector<double>& std,
                                       const Shape& input_shape, uint64_t seed) {
  INV_CHECK(images >= 0, "make_attacker_data: images must be >= 0, got ", images);
  AttackerData d;
  if (set == AttackerSet::Noise) {
    const int64_t limit = std::max<int64_t>(kNoiseImages, train.size());
    INV_CHECK(images <= limit, images, " attacker images exceed the limit of ", limit, " noise images (",
              kNoiseImages, " or the size of the training set, whichever is larger)");
    const int64_t n = images > 0 ? images : kNoiseImages;
    Shape shape{n};
    shape.insert(shape.end(), input_shape.begin(), input_shape.end());
    Generator gen(mix_seed(seed, 0x6e6f697365));  // "noise"
    d.images = randn(shape, gen);
    d.description = std::to_string(n) + " images of N(0, 1) noise in normalised space";
    return d;
  }
  const bool disjoint = set == AttackerSet::Disjoint;
  INV_CHECK(holdout >= 0 && holdout <= train.size() && (disjoint || holdout < train.size()), "the training set has ",
            train.size(), train.size() == 1 ? " image" : " images", " but the target held out the last ", holdout,
            " of its training set; use the dataset the target was trained on");
  const int64_t begin = disjoint ? train.size() - holdout : 0;
  const int64_t pool = disjoint ? holdout : train.size() - holdout;
  INV_CHECK(pool > 0, "the disjoint attacker set needs training images the target never saw, but the target was "
                      "trained with holdout 0; train one that holds some out");
  const int64_t n = images > 0 ? std::min(images, pool) : pool;
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[size_t(i)] = begin + i;
  const data::Dataset part = train.subset(idx);
  d.images = data::normalize(part.images, mean, std);
  d.labels = part.labels;
  d.classes = part.classes;
  d.description = std::to_string(n) + (disjoint ? " held-out training images (never seen by the target)"
                                                : " of the target's training images");
  if (images > pool) d.description += " (all of the pool; " + std::to_string(images) + " asked)";
  return d;
}

}  // namespace inv::protocol
