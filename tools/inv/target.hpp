// target.hpp: the target network — training it, caching it, loading it, describing it.
//
// A target checkpoint (.invckpt) holds the model's state_dict and string metadata:
//   format=inv-target-1, model, dataset, dataset_display, accuracy_label, test_accuracy
//   (a fraction), test_images, epochs, seed, holdout, train_images, batch_size, lr,
//   halve_every, augment, classes (one a line), created (UTC), fingerprint.
// Training writes, next to the model checkpoint X.invckpt, a training checkpoint
// X.train.invckpt (model + optimiser after every epoch, for resuming) and a CSV log X.csv.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <inv/data/dataset.hpp>
#include <inv/protocol/model_protocol.hpp>

#include "datasets.hpp"
#include "settings.hpp"

namespace cli {

struct Target {
  std::shared_ptr<inv::nn::Sequential> net;
  inv::models::ModelSpec spec;
  std::map<std::string, std::string> metadata;
  std::string path;

  double test_accuracy() const;
  /// What identifies the trained weights: the training fingerprint and the test accuracy
  /// (the cache keys of the attacks and the report's sections).
  std::string key() const { return meta("fingerprint", path) + "|" + meta("test_accuracy"); }
  /// A metadata value, or `fallback` when absent.
  std::string meta(const std::string& key, const std::string& fallback = "") const;
  /// A metadata number (metadata_number, metadata_integer), or `fallback` when absent.
  double meta_number(const std::string& key, double fallback) const;
  int64_t meta_integer(const std::string& key, int64_t fallback,
                       int64_t min = std::numeric_limits<int64_t>::min()) const;
};

/// The number `value` stored under `key` in the metadata of the checkpoint `file`, parsed
/// strictly: the whole value must be a finite number (metadata_integer: a base-10 integer
/// in [min, 2^63 - 1]). Throws inv::Error naming the key, the value found and the file.
double metadata_number(const std::string& key, const std::string& value, const std::string& file);
int64_t metadata_integer(const std::string& key, const std::string& value, const std::string& file,
                         int64_t min = std::numeric_limits<int64_t>::min());

/// Trains a target on `train` (all but the last `holdout` images), evaluates it on `test`
/// and saves it to `model_path`. Resumes from the training checkpoint next to it when that
/// was written with the same settings (else starts over). Throws inv::Error on failure.
Target train_target(const Settings& s, const DataSource& src, const inv::data::Dataset& train,
                    const inv::data::Dataset& test, int64_t holdout, const std::string& model_path);

/// The cached target at `model_path` when it was trained with these settings; otherwise
/// trains it (train_target). `reused` tells which happened.
Target obtain_target(const Settings& s, const DataSource& src, const inv::data::Dataset& train,
                     const inv::data::Dataset& test, int64_t holdout, const std::string& model_path, bool& reused);

/// Loads a target checkpoint written by train_target. Throws inv::Error naming the path
/// when the file is missing, invalid, or not a target checkpoint (for the training
/// checkpoint X.train.invckpt: naming the model checkpoint X.invckpt to pass instead).
Target load_target(const std::string& path);

/// Throws UsageError naming the valid layers unless `split` is one of the split points of
/// `net` (the network of the model named `model`), or of the target's network.
void check_split(const inv::nn::Sequential& net, const std::string& model, const std::string& split);
void check_split(const Target& t, const std::string& split);

/// Metadata, then the layer table (name, op, output shape, parameters) and the split points.
std::string describe_target(Target& t);

/// One layer of the target: its index in the network and its output shape for one image.
struct LayerShape {
  int64_t index;
  std::string op;
  inv::Shape shape;  // (C, H, W) or (D)
};
LayerShape layer_shape(Target& t, const std::string& layer);

/// Pixels in [0, 1] (N, C, H, W) normalised as the target expects (its mean and std).
inv::Tensor normalise(const Target& t, const inv::Tensor& pixels);

/// v = f1(x): the edge's output at `split` for normalised images (N, C, H, W).
inv::Tensor edge_features(Target& t, const std::string& split, const inv::Tensor& normalised);

/// The model / training / CSV paths for a model checkpoint path X.invckpt.
std::string training_checkpoint_path(const std::string& model_path);
std::string training_log_path(const std::string& model_path);

/// The current UTC time as "2024-05-01 12:34:56 UTC".
std::string utc_now();

}  // namespace cli
