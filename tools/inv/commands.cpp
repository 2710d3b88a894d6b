// commands.cpp: helpers shared by the subcommands (see commands.hpp).
#include "commands.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <inv/io/npy.hpp>
#include <inv/ops/elementwise.hpp>
#include <inv/ops/shape_ops.hpp>
#include <inv/parallel.hpp>
#include <inv/train/progress.hpp>

#include "files.hpp"

namespace cli {

bool parse_or_help(FlagSet& f, const Args& args) {
  if (f.parse(args)) return true;
  std::fputs(f.help().c_str(), stdout);
  return false;
}

int apply_threads(const Settings& s) {
  if (s.threads > 0) inv::set_num_threads(s.threads);
  return inv::num_threads();
}

std::string dataset_slug(const std::string& id) {
  std::string name = std::filesystem::path(id).lexically_normal().filename().string();
  if (name.empty() || name == "." || name == "..") name = "data";
  return name;
}

std::string default_out_dir(const Settings& s) {
  std::string name = dataset_slug(s.dataset) + "-" + s.model;
  if (!s.weights.empty()) name += "-" + std::filesystem::path(s.weights).stem().string();
  return "out/" + name + "-" + s.preset;
}

std::string target_summary(const Target& t) {
  if (t.imported())
    return "imported from " + t.meta("source_file") + " (sha256 " + t.meta("sha256") +
           "), trained elsewhere: no training settings known";
  return count_of(t.meta_integer("epochs", 0), "epoch") + ", seed " + t.meta("seed") + ", trained on " +
         count_of(t.meta_integer("train_images", 0), "image");
}

void prepare_output_directory(const std::string& dir) {
  make_directories(dir);
  check_writable(dir);
  if (const int n = clean_stale_temporaries(dir); n > 0)
    std::fprintf(stderr, "removed %d temporary file%s left in %s by an interrupted run\n", n, n == 1 ? "" : "s",
                 dir.c_str());
  watch_directory(dir);
}

void prepare_output_files(const std::vector<std::string>& paths, const std::string& what) {
  std::set<std::string> dirs;
  for (const auto& p : paths) {
    check_file_path(p, what);
    dirs.insert(parent_directory(p));
  }
  for (const auto& d : dirs) prepare_output_directory(d);
}

DataSource locate_target_dataset(const Settings& s, bool given, const Target& t) {
  try {
    return locate_dataset(s.dataset, s.data_dir);
  } catch (const inv::Error& e) {
    if (given) throw;
    inv::detail::fail("the dataset '", s.dataset, "' recorded in ", t.path, " was not found (", e.what(),
                      "); pass --dataset NAME|PATH");
  }
}

inv::protocol::AttackerData attacker_data(const Settings& s, const Target& t, const inv::data::Dataset& train,
                                          int64_t holdout, const inv::data::Dataset& test,
                                          const std::vector<int64_t>& attacked, const std::string& dataset) {
  const inv::protocol::AttackerSet set = inv::protocol::parse_attacker_set(s.attacker.set);
  if (holdout < 0 && set != inv::protocol::AttackerSet::Noise) {
    // The target's training images are unknown: a split of the dataset as a whole, said so.
    const bool disjoint = set == inv::protocol::AttackerSet::Disjoint;
    inv::data::Dataset pool = train;
    if (disjoint) {
      std::vector<int64_t> keep;
      for (int64_t i = 0; i < test.size(); ++i)
        if (std::find(attacked.begin(), attacked.end(), i) == attacked.end()) keep.push_back(i);
      INV_CHECK(!keep.empty(), "--attacker-set disjoint: the test split of ", dataset,
                " has no image besides the attacked ones");
      pool = test.subset(keep);
    }
    inv::protocol::AttackerData d;
    try {
      d = inv::protocol::make_attacker_data(pool, 0, inv::protocol::AttackerSet::Train, s.attacker.images,
                                            t.spec.mean, t.spec.std, t.spec.input_shape, s.seed);
    } catch (const inv::Error& e) {
      inv::detail::fail("--attacker-set ", s.attacker.set, ": ", e.what());
    }
    const int64_t n = d.images.size(0);
    d.description = disjoint ? count_of(n, "image") + " of the test split of " + dataset +
                                   " other than the attacked ones (never seen by a target trained on the training split)"
                             : count_of(n, "image") + " of the training split of " + dataset +
                                   " (the imported target's own training images are unknown)";
    if (s.attacker.images > pool.size()) d.description += " (all of the split; " + std::to_string(s.attacker.images) + " asked)";
    std::printf("imported target: the black-box and query-free attackers use %s; --attacker-set train takes the "
                "training split, disjoint the test split without the attacked images\n",
                d.description.c_str());
    std::fflush(stdout);
    return d;
  }
  try {
    return inv::protocol::make_attacker_data(train, holdout, set, s.attacker.images, t.spec.mean, t.spec.std,
                                             t.spec.input_shape, s.seed);
  } catch (const inv::Error& e) {
    const bool disjoint = set == inv::protocol::AttackerSet::Disjoint;
    const char* hint = disjoint && holdout == 0 ? " (inv train --holdout N)"
                       : holdout > train.size() || (!disjoint && holdout == train.size())
                           ? " (pass --dataset with the dataset the target was trained on)"
                           : "";
    inv::detail::fail("--attacker-set ", s.attacker.set, ": ", e.what(), hint);
  }
}

std::vector<std::string> chosen_splits(const FlagSet& f, const std::string& model, const std::string& fallback) {
  inv::Generator init(0);
  const auto net = inv::protocol::model_protocol(model).build(init);
  const std::string text = f.get_text("splits", fallback);
  if (text == "all") return net->split_points();
  std::vector<std::string> out;
  for (const auto& s : split_list(text)) {
    check_split(*net, model, s);
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  if (out.empty()) throw f.error("--splits: no layer given");
  return out;
}

void check_weights_flags(const FlagSet& f) {
  const bool weights = f.declares("weights") && f.given("weights");
  const bool target = f.declares("target") && f.given("target");
  if (weights && target) throw f.error("--weights and --target both give the target: pass one");
  if (weights && f.declares("model") && !f.given("model"))
    throw f.error("--weights needs --model, the architecture of the weights (" +
                  join(inv::protocol::protocol_model_names()) + ")");
  if (weights)
    for (const char* name : {"epochs", "batch-size", "lr", "halve-every", "augment", "holdout"})
      if (f.declares(name) && f.given(name))
        throw f.error(std::string("--") + name + " sets the target's training, but --weights imports a target " +
                      "trained elsewhere");
  if (target)
    for (const char* name : {"input-size", "mean", "std"})
      if (f.declares(name) && f.given(name))
        throw f.error(std::string("--") + name + ": --target gives a checkpoint with its own input and normalisation");
}

void adopt_given_target(const FlagSet& f, Settings& s, Target& t) {
  if (!f.given("target")) return;
  t = load_target(f.get_text("target", ""));
  if (f.given("model") && f.get_text("model", "") != t.spec.name)
    throw f.error("--model " + f.get_text("model", "") + " but --target holds a " + t.spec.name);
  s.model = t.spec.name;
  s.dataset = t.meta("dataset", s.dataset);
}

Workspace open_workspace(const FlagSet& f, Settings& s, Target& t, bool need_train, const std::string& target_path,
                         inv::train::Progress& progress) {
  Workspace w;
  const bool given = f.given("target"), weights = !s.weights.empty();
  w.src = given ? locate_target_dataset(s, f.given("dataset"), t) : locate_dataset(s.dataset, s.data_dir);
  const inv::Shape input = given ? t.spec.input_shape : input_spec(s).input_shape;
  const bool resizable = inv::protocol::model_protocol(s.model).any_input_size;
  const int channels = int(input[0]);
  w.test = load_split(w.src, false, channels);
  fit_input_size(w.test, input, resizable, s.model, w.src.display + " (test set)");
  if ((!given && !weights) || need_train) {
    w.train = load_split(w.src, true, channels);
    fit_input_size(w.train, input, resizable, s.model, w.src.display + " (training set)");
  }
  if (weights) {
    prepare_output_directory(parent_directory(target_path));
    t = obtain_imported_target(s, w.src, w.test, target_path, w.target_reused);
    s.imported = true;
    progress.message(w.target_reused ? "reusing the imported target in " + t.path
                                     : "imported the target from " + s.weights + " into " + t.path);
    w.holdout = -1;
    return w;
  }
  if (given && t.imported()) {
    w.target_reused = true;
    s.imported = true;
    w.holdout = -1;
    return w;
  }
  if (!given) {
    s.target.holdout = inv::protocol::holdout_size(s.target.holdout, w.train.size());
    prepare_output_directory(parent_directory(target_path));
    t = obtain_target(s, w.src, w.train, w.test, s.target.holdout, target_path, w.target_reused);
    progress.message(w.target_reused ? "reusing the target in " + t.path : "saved the target to " + t.path);
  } else {  // the given target's own training settings
    w.target_reused = true;
    s.target.holdout = t.meta_integer("holdout", -1, 0);
    s.target.epochs = t.meta_integer("epochs", s.target.epochs);
    s.target.batch_size = t.meta_integer("batch_size", s.target.batch_size);
    s.target.lr = t.meta_number("lr", s.target.lr);
    s.target.halve_every = t.meta_integer("halve_every", s.target.halve_every);
    s.target.augment = t.meta("augment", s.target.augment ? "true" : "false") == "true";
  }
  // A given checkpoint without a holdout says nothing about its training images: unknown,
  // as an imported target's (attacker_data then says which split the attackers use).
  w.holdout = s.target.holdout >= 0 ? s.target.holdout
              : given               ? -1
              : w.train.size() > 0  ? inv::protocol::holdout_size(-1, w.train.size())
                                    : 0;
  return w;
}

Originals first_of_each_class(const inv::data::Dataset& test) {
  Originals o;
  o.indices = inv::data::first_index_of_each_class(test);
  o.images = test.subset(o.indices).images;
  for (int64_t i : o.indices) o.classes.push_back(test.classes[size_t(test.labels[size_t(i)])]);
  return o;
}

inv::Tensor load_images_npy(const std::string& path, const inv::Shape& input_shape) {
  inv::Tensor t = inv::io::load_npy(path);
  if (t.dtype() != inv::kFloat32) t = inv::from_vector(t.to_vector<double>(), t.shape());
  if (t.dim() == 3 && input_shape[0] == 1) t = inv::reshape(t, {t.size(0), 1, t.size(1), t.size(2)});
  INV_CHECK(t.dim() == 4 && inv::Shape(t.shape().begin() + 1, t.shape().end()) == input_shape && t.size(0) >= 1, "'",
            path, "': expected images (N, ", input_shape[0], ", ", input_shape[1], ", ", input_shape[2],
            ") with values in [0, 1], found shape ", inv::to_string(t.shape()));
  const auto v = t.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i)
    INV_CHECK(v[i] >= 0.0f && v[i] <= 1.0f, "'", path, "': value ", v[i], " at flat index ", i,
              " is outside [0, 1] (--images takes pixel values in [0, 1], not normalised images)");
  return inv::copy_data(t);
}

inv::Tensor load_features_npy(const std::string& path, const inv::Shape& feature_shape, const std::string& split) {
  inv::Tensor t = inv::io::load_npy(path);
  if (t.dtype() != inv::kFloat32) t = inv::from_vector(t.to_vector<double>(), t.shape());
  INV_CHECK(t.dim() == int64_t(feature_shape.size()) + 1 && t.size(0) >= 1 &&
                inv::Shape(t.shape().begin() + 1, t.shape().end()) == feature_shape,
            "'", path, "': expected features (N, ", inv::to_string(feature_shape).substr(1), " (the output of ", split,
            "), found shape ", inv::to_string(t.shape()));
  const auto v = t.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i)
    INV_CHECK(std::isfinite(v[i]), "'", path, "': feature ", i, " is not finite (", v[i], ")");
  return inv::copy_data(t);
}

}  // namespace cli
