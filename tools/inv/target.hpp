// target.hpp: the target network — training it, caching it, loading it, describing it.
//
// A target checkpoint (.invckpt) holds the model's state_dict and string metadata:
//   format=inv-target-1, model, dataset, dataset_display, accuracy_label, test_accuracy
//   (a fraction), test_images, epochs, seed, holdout, train_images, batch_size, lr,
//   halve_every, augment, classes (one a line), created (UTC), fingerprint; and, where
//   they differ from the model's defaults, input_size, mean and std (comma lists).
// An imported target (--weights: weights trained elsewhere) has, instead of the training
// settings, imported=true, source_file (absolute path), sha256 (of the file, hex) and
// num_classes, with input_size, mean and std always; it has no holdout, epochs, seed, lr.
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
  inv::models::ModelSpec spec;          // its input (shape, normalisation): protocol.spec
  inv::protocol::ModelProtocol protocol;  // the model's entry for this input and number of classes
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
  /// Whether the weights were trained elsewhere (metadata imported=true): the target then
  /// has no training settings, and which training images it saw is unknown.
  bool imported() const { return meta("imported") == "true"; }
  /// The training images the target never saw (the last `holdout` of the training split),
  /// or -1 when unknown (an imported target).
  int64_t holdout() const { return meta_integer("holdout", -1, 0); }
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

/// A target of the model `model` with input `spec` (shape and normalisation) whose weights
/// are read from `weights_path`: a safetensors file of a PyTorch state_dict (tensor names as
/// PyTorch's; BatchNorm's num_batches_tracked skipped, io::load_state_dict) or an inv
/// checkpoint (told apart by its magic; its metadata is ignored). The network has as many
/// classes as the rows of the weights' classifier (the protocol's classifier_weight) where
/// the architecture allows it. Loaded strictly: one inv::Error names every missing,
/// unexpected and mis-shaped tensor and the file. Metadata: format, model, imported=true,
/// source_file, sha256, num_classes, input_size, mean, std, fingerprint; no test accuracy.
/// Throws inv::Error when the file cannot be read or is neither format.
Target import_target(const std::string& model, const inv::models::ModelSpec& spec, const std::string& weights_path);

/// import_target for the settings `s` (s.model, input_spec(s), s.weights), evaluated on
/// `test` (the dataset's metadata and test accuracy added) and saved to `model_path`; or
/// the target already at `model_path` when it is the same import (the same file contents,
/// model, input and dataset), then `reused`. Throws inv::Error when the dataset has labels
/// the network has no output for.
Target obtain_imported_target(const Settings& s, const DataSource& src, const inv::data::Dataset& test,
                              const std::string& model_path, bool& reused);

/// Loads a target checkpoint written by train_target or obtain_imported_target. Throws inv::Error naming the path
/// when the file is missing, invalid, or not a target checkpoint (for the training
/// checkpoint X.train.invckpt: naming the model checkpoint X.invckpt to pass instead).
Target load_target(const std::string& path);

/// Throws UsageError naming the valid layers unless `split` is one of the split points of
/// `net` (the network of the model named `model`), or of the target's network.
void check_split(const inv::nn::Sequential& net, const std::string& model, const std::string& split);
void check_split(const Target& t, const std::string& split);

/// Metadata (for an imported target first its file and sha256), then the layer table (name,
/// op, output shape, parameters), the split points inside nested stages with their output
/// shapes (layer1.0, ...), and the split points.
std::string describe_target(Target& t);

/// One split point of the target: its depth and its output shape for one image. The depth
/// counts the top-level layers (flatten included) and, before a nested stage, its own split
/// points: the index of Sequential::layer_info for a network without nested stages.
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
