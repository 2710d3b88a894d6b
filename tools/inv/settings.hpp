// settings.hpp: every hyperparameter of the `inv` command, the two presets, and the
// per-split rMLE settings of the protocol.
//
// Presets (--preset):
//   quick  minutes on 2 cores: target 2 epochs; attacker set 10,000 images; decoders and
//          shadows 1 epoch on it; rMLE 1,000 iterations with the protocol's per-block lr/λ_TV.
//          Enough to show the trend (shallow splits leak, deep ones less), not the papers' numbers.
//   paper  He, Zhang & Lee (ACSAC 2019) as their code ran it: target 20 epochs (LeNet) or
//          50 (CIFAR CNN) with the learning rate halved every 20; rMLE 5,000 iterations;
//          decoders and shadows 50 epochs (halving every 10) on the whole attacker pool.
// Every value can be overridden by its flag. Training data: the last `holdout` training
// images are held out of the target's training set in every preset; they are the pool of
// the `disjoint` attacker set (images the target never saw). The training images of an
// image folder are read class-interleaved (image 0 of each class, image 1 of each, ...),
// so that the held-out images are not whole classes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <inv/attack/registry.hpp>

#include "args.hpp"

namespace cli {

/// An attack of the library's catalogue (inv/attack/registry.hpp).
using AttackInfo = inv::attack::AttackInfo;
/// The attack named `name`; throws UsageError naming the catalogue's attacks.
const AttackInfo& parse_attack(const std::string& name);

/// How the target model is trained (train::fit with the reference recipe).
struct TargetSettings {
  int64_t epochs = 2;
  int64_t batch_size = 32;
  double lr = 1e-3;
  int64_t halve_every = 20;  // epochs between halvings of the learning rate
  bool augment = false;      // random flip + affine (the CIFAR recipe)
  int64_t holdout = -1;      // training images held out of the target's set; -1 = default
};

/// rMLE (white-box, and the inversion step of query-free). Unset (< 0) lr / λ_TV take
/// the per-block value of the protocol (see rmle_for).
struct RmleSettings {
  int64_t iterations = 1000;
  bool iterations_given = false;  // --rmle-iterations given: no per-split value replaces it
  double lr = -1, lambda_tv = -1, lambda_l2 = 0;
};

/// What the black-box and query-free attackers have and how they train.
struct AttackerSettings {
  std::string set = "train";      // train | disjoint | noise
  int64_t images = 10000;         // size of the attacker's set (0 = the whole pool)
  int64_t decoder_epochs = 1, shadow_epochs = 1;
  int64_t halve_every = 10;       // decoder and shadow learning-rate halving
  double lr = 1e-3;               // decoder and shadow learning rate
  int64_t batch_size = 32;
  std::string shadow = "same";    // same | paper (P1 Table 5 where defined, else same)
};

/// The target's input where it is not the model's default (--input-size, --mean, --std):
/// 0 and empty keep the model's (inv/protocol/model_protocol.hpp: its spec).
struct InputSettings {
  int64_t size = 0;               // H = W of the input
  std::vector<double> mean, std;  // one value per channel
};

struct Settings {
  std::string dataset = "fashion-mnist", model = "lenet", preset = "quick", data_dir;
  std::string weights;    // --weights: the target's weights come from this file, not from training
  bool imported = false;  // the target's weights come from elsewhere: it has no training settings
  InputSettings input;
  uint64_t seed = 0;
  int threads = 0;  // 0 = OpenMP's default (all cores, or OMP_NUM_THREADS)
  bool quiet = false;
  TargetSettings target;
  RmleSettings rmle;
  AttackerSettings attacker;
};

/// The resolved rMLE settings of one split, with where they come from.
struct RmleChoice {
  int64_t iterations;
  double lr, lambda_tv, lambda_l2;
  std::string source;  // "protocol §3", "per block (protocol §3)", "flags", ...
};

/// rMLE settings for `split` of `model` for `attack` (white-box, or the inversion of
/// query-free), from the library's protocol table (inv/protocol/rmle_settings.hpp): one
/// value per block of layers, the table's (§3) for the block's split in it, then the
/// flags' overrides (a flag given always wins):
///   lenet:      conv1 ReLU1 pool1 -> λ 0;  conv2 ReLU2 pool2 -> λ 1;  fc layers -> λ 1e3;  lr 1e-2
///   cifar-cnn:  block 1 -> λ 0;  block 2 -> λ 10;  block 3 -> λ 1e3  (lr 1e-2);
///               classifier (flatten, fc1, fc1act, fc2) -> λ 1e4, lr 1e-3
/// Query-free at cifar-cnn (protocol §5, the reference code's inversion): ReLU22 lr 0.1,
/// λ_TV 2; at conv11 and ReLU22 500 iterations under --preset paper (unless
/// --rmle-iterations is given).
RmleChoice rmle_for(const Settings& s, const std::string& split, const AttackInfo& attack);

/// One line that says what the preset does, for the output of sweep and attack:
/// "preset quick: rMLE 1000 iterations; inverse network and shadow 1 epoch each on 10000
/// attacker images (--preset paper: the protocol's budgets, hours)".
std::string budget_line(const Settings& s);

// Declaring the flags of each group on a subcommand's FlagSet, and reading them back.
/// --dataset (when `dataset`), --model (when `model`), --data-dir, --preset, --seed, --threads, --quiet.
void add_common_flags(FlagSet& f, bool dataset, bool model);
void add_target_flags(FlagSet& f);
void add_attack_flags(FlagSet& f);
/// --weights (when `weights`), --input-size, --mean, --std: the target's weights from a
/// file, and its input (both also apply to a target trained by inv).
void add_input_flags(FlagSet& f, bool weights);
/// Reads the flags declared above into `s`, applying the preset's defaults (which depend
/// on the model) to every value not given. Throws UsageError for --input-size where the
/// model fixes its input, or --mean / --std without one value per channel (std > 0).
void read_settings(const FlagSet& f, Settings& s);

/// The input of the target of `s`: its model's spec (inv/protocol/model_protocol.hpp) with
/// --input-size, --mean and --std applied.
inv::models::ModelSpec input_spec(const Settings& s);

/// One setting as reports show it: a machine key (JSON, CSV), a label (HTML) and the value.
struct SettingRow {
  std::string key, label, value;
};

/// Every setting, in a fixed order; for an imported target (s.imported) without the
/// target's training settings (epochs, batch size, learning rate, halving, augmentation,
/// holdout), which inv never ran.
std::vector<SettingRow> describe(const Settings& s);

/// A number in the fewest significant digits (at least 6, as %g) that read back as the
/// same double: 0.001, 1e-05, 0.99999999999.
std::string fmt(double v);

/// "1 epoch", "2 epochs": the count and the noun, plural unless the count is 1.
std::string count_of(int64_t n, const std::string& noun);

}  // namespace cli
