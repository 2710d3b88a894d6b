// commands.hpp: the subcommands of `inv`, and what they share.
//
//   inv train    train a target network and save its checkpoint        (cmd_train.cpp)
//   inv info     print a checkpoint's metadata, layers and split points (cmd_info.cpp)
//   inv attack   one attack at one split on given images or features   (cmd_attack.cpp)
//   inv sweep    every split × attack, and the leakage report           (cmd_sweep.cpp)
//   inv defend   defenses × levels × splits × attackers, a recommendation (cmd_defend.cpp)
// Each returns the process exit code; mistakes throw UsageError, failures inv::Error.
#pragma once

#include <string>
#include <vector>

#include <inv/data/dataset.hpp>
#include <inv/protocol/attacker_data.hpp>
#include <inv/tensor.hpp>
#include <inv/train/progress.hpp>

#include "datasets.hpp"
#include "settings.hpp"
#include "target.hpp"

namespace cli {

using Args = std::vector<std::string>;

int cmd_train(const Args& args);
int cmd_info(const Args& args);
int cmd_attack(const Args& args, const std::string& command_line);
int cmd_sweep(const Args& args, const std::string& command_line);
int cmd_defend(const Args& args, const std::string& command_line);

/// Parses the flags; on --help prints the help to stdout and returns false.
bool parse_or_help(FlagSet& f, const Args& args);

/// Applies --threads (0 keeps the default: OMP_NUM_THREADS, or all cores) and returns the number of threads in use.
int apply_threads(const Settings& s);

/// A file-name-friendly name of a dataset: the name, or the last part of a path.
std::string dataset_slug(const std::string& id);

/// The output directory of sweep and defend: out/<dataset>-<model>-<preset>, and for
/// --weights out/<dataset>-<model>-<the weights file's name without extension>-<preset>
/// (so that an imported target does not take the place of one trained there).
std::string default_out_dir(const Settings& s);

/// The target in one line for reports: "2 epochs, seed 0, trained on 24 images", or for an
/// imported target "imported from FILE (sha256 HEX), trained elsewhere: no training
/// settings known".
std::string target_summary(const Target& t);

/// Creates `dir` (with its parents), checks that it is writable, removes temporaries left
/// there by killed runs, and has the interrupt handler clean it. Throws inv::Error naming
/// `dir` when it cannot be created or written. Called before any work starts.
void prepare_output_directory(const std::string& dir);

/// For output files: checks every path (check_file_path: not ending in '/', not a
/// directory or device), then prepares their directories (prepare_output_directory).
void prepare_output_files(const std::vector<std::string>& paths, const std::string& what);

/// The dataset `s.dataset` (locate_dataset). When it is the one recorded in the target's
/// checkpoint (`given` false: no --dataset), a failure says so and suggests --dataset.
DataSource locate_target_dataset(const Settings& s, bool given, const Target& t);

/// The attacker's own images (--attacker-set, --attacker-images; protocol::make_attacker_data).
/// When the target's holdout is known (`holdout` >= 0: trained by inv), from the full
/// training set `train`, of which the target held out the last `holdout`. When it is not
/// (holdout < 0: an imported target, whose training images are unknown), `train` is the
/// whole training split and `disjoint` the test split `test` without the attacked images
/// (`attacked`, test indices): images that a target trained on the training split never saw;
/// then one line on stdout says which set the attackers use and how to choose the other.
/// Throws inv::Error naming the flags when the set cannot be made.
inv::protocol::AttackerData attacker_data(const Settings& s, const Target& t, const inv::data::Dataset& train,
                                          int64_t holdout, const inv::data::Dataset& test = {},
                                          const std::vector<int64_t>& attacked = {}, const std::string& dataset = "");

/// The checks of --weights against the other flags, before any work: --weights needs
/// --model, and excludes --target and the target training flags (--epochs, ...); --target
/// excludes --input-size, --mean and --std (the checkpoint has its own). Throws UsageError.
void check_weights_flags(const FlagSet& f);

/// The --splits (`fallback` when absent): "all" for every split point of `model`, or a list
/// of its layers, checked before any training. Throws UsageError naming the valid layers.
std::vector<std::string> chosen_splits(const FlagSet& f, const std::string& model, const std::string& fallback);

/// --target, when given: loads the checkpoint and takes the model and the dataset from it,
/// before read_settings so that the flags' defaults follow that model. Throws UsageError
/// when --model names another model, inv::Error when the checkpoint cannot be loaded.
void adopt_given_target(const FlagSet& f, Settings& s, Target& t);

/// What `inv sweep` and `inv defend` work on: the data and the target.
struct Workspace {
  DataSource src;
  inv::data::Dataset train;  // the full training set; empty unless loaded
  inv::data::Dataset test;
  bool target_reused = false;  // the target came from a cache or from --target
  int64_t holdout = 0;         // training images the target never saw (the last ones); -1: unknown (imported)
};

/// Locates the dataset and loads the test set, and the training set when `need_train` or
/// when the target must be trained, both brought to the target's input (fit_input_size).
/// With --weights it imports the target into `target_path` (obtain_imported_target: reused
/// when the same import) and sets s.imported; without --target it obtains the target at
/// `target_path` (obtain_target: reused when trained with these settings, else trained
/// there); with --target (adopt_given_target) it copies the target's own training settings
/// into s.target, or sets s.imported for an imported one. Throws inv::Error when the data
/// is missing or does not fit the model.
Workspace open_workspace(const FlagSet& f, Settings& s, Target& t, bool need_train, const std::string& target_path,
                         inv::train::Progress& progress);

/// The images attacked by default: the first test image of each class.
struct Originals {
  inv::Tensor images;                // (N, C, H, W) in [0, 1]
  std::vector<int64_t> indices;      // test-set indices
  std::vector<std::string> classes;  // class names
};
Originals first_of_each_class(const inv::data::Dataset& test);

/// Images (N, C, H, W) — or (N, H, W) for one channel — with values in [0, 1] from a .npy
/// file, checked against the model's input shape. Throws inv::Error naming the file.
inv::Tensor load_images_npy(const std::string& path, const inv::Shape& input_shape);

/// Features (N, ...) from a .npy file, checked against the edge's output shape at the split.
inv::Tensor load_features_npy(const std::string& path, const inv::Shape& feature_shape, const std::string& split);

}  // namespace cli
