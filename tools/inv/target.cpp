// target.cpp: training, caching and loading the target network (see target.hpp).
#include "target.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>

#include <inv/data/transforms.hpp>
#include <inv/io/checkpoint.hpp>
#include <inv/protocol/attacker_data.hpp>
#include <inv/protocol/target_training.hpp>

namespace cli {

using inv::data::Dataset;

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string training_checkpoint_path(const std::string& model_path) {
  const std::string ext = ".invckpt";
  const bool has_ext = model_path.size() > ext.size() && model_path.compare(model_path.size() - ext.size(), ext.size(), ext) == 0;
  return (has_ext ? model_path.substr(0, model_path.size() - ext.size()) : model_path) + ".train.invckpt";
}

std::string training_log_path(const std::string& model_path) {
  const std::string ext = ".invckpt";
  const bool has_ext = model_path.size() > ext.size() && model_path.compare(model_path.size() - ext.size(), ext.size(), ext) == 0;
  return (has_ext ? model_path.substr(0, model_path.size() - ext.size()) : model_path) + ".csv";
}

double Target::test_accuracy() const { return meta_number("test_accuracy", -1); }

std::string Target::meta(const std::string& key, const std::string& fallback) const {
  const auto it = metadata.find(key);
  return it == metadata.end() ? fallback : it->second;
}

double Target::meta_number(const std::string& key, double fallback) const {
  const auto it = metadata.find(key);
  return it == metadata.end() ? fallback : metadata_number(key, it->second, path);
}

int64_t Target::meta_integer(const std::string& key, int64_t fallback, int64_t min) const {
  const auto it = metadata.find(key);
  return it == metadata.end() ? fallback : metadata_integer(key, it->second, path, min);
}

double metadata_number(const std::string& key, const std::string& value, const std::string& file) {
  double v = 0;
  INV_CHECK(parse_float(value, v), file, ": expected the metadata '", key, "' to be a finite number, found '", value,
            "'");
  return v;
}

int64_t metadata_integer(const std::string& key, const std::string& value, const std::string& file, int64_t min) {
  int64_t v = 0;
  const bool bounded = min > std::numeric_limits<int64_t>::min();
  INV_CHECK(parse_int(value, v) && v >= min, file, ": expected the metadata '", key, "' to be ",
            bounded ? "an integer >= " + std::to_string(min) : std::string("a 64-bit integer"), ", found '", value,
            "'");
  return v;
}

namespace {

std::string str(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// Everything that determines the trained weights; a cached target is reused only when equal.
std::string fingerprint(const Settings& s, const DataSource& src, int64_t holdout, int64_t train_images) {
  const auto& t = s.target;
  std::ostringstream os;
  os << "model=" << s.model << ";dataset=" << src.id << ";dir=" << src.dir << ";epochs=" << t.epochs
     << ";batch=" << t.batch_size << ";lr=" << str(t.lr) << ";halve=" << t.halve_every << ";augment=" << t.augment
     << ";holdout=" << holdout << ";train_images=" << train_images << ";seed=" << s.seed;
  if (src.format == DataSource::Format::Folder) os << ";order=class-interleaved";  // see load_split
  return os.str();
}

/// A fingerprint without its epoch count. The learning-rate schedule (halve every N epochs)
/// does not depend on the total, so the first E epochs of a longer run are exactly an
/// E-epoch run: a training checkpoint with the same key can be resumed (or finished at once)
/// by a run of any number of epochs not below the checkpoint's.
std::string without_epochs(const std::string& fp) {
  const size_t at = fp.find(";epochs=");
  if (at == std::string::npos) return fp;
  return fp.substr(0, at) + fp.substr(std::min(fp.size(), fp.find(';', at + 1)));
}

std::map<std::string, std::string> training_metadata(const Settings& s, const DataSource& src, int64_t holdout,
                                                     const Dataset& train) {
  const auto& t = s.target;
  std::string classes;
  for (const auto& c : train.classes) classes += c + "\n";
  return {{"format", "inv-target-1"},
          {"model", s.model},
          {"dataset", src.id},
          {"dataset_display", src.display},
          {"accuracy_label", src.accuracy_label},
          {"epochs", std::to_string(t.epochs)},
          {"seed", std::to_string(s.seed)},
          {"holdout", std::to_string(holdout)},
          {"train_images", std::to_string(train.size() - holdout)},
          {"batch_size", std::to_string(t.batch_size)},
          {"lr", str(t.lr)},
          {"halve_every", std::to_string(t.halve_every)},
          {"augment", t.augment ? "true" : "false"},
          {"classes", classes},
          {"fingerprint", fingerprint(s, src, holdout, train.size() - holdout)}};
}

}  // namespace

Target train_target(const Settings& s, const DataSource& src, const Dataset& train, const Dataset& test,
                    int64_t holdout, const std::string& model_path) {
  Target t;
  const inv::protocol::ModelProtocol& model = inv::protocol::model_protocol(s.model);
  t.spec = model.spec;
  check_input_shape(train, t.spec.input_shape, s.model, src.display + " (training set)");
  check_input_shape(test, t.spec.input_shape, s.model, src.display + " (test set)");
  inv::Generator init(s.seed);
  t.net = model.build(init);
  const Dataset part = inv::protocol::target_part(train, holdout);

  // The recipe of the library's protocol (§2), with the command's values.
  const inv::protocol::TargetRecipe recipe{s.target.epochs, s.target.batch_size, s.target.lr, s.target.halve_every,
                                           s.target.augment};
  inv::train::FitOptions o;
  o.seed = s.seed;
  o.validation = &test;
  o.checkpoint = training_checkpoint_path(model_path);
  o.csv_log = training_log_path(model_path);
  o.quiet = s.quiet;
  o.metadata = training_metadata(s, src, holdout, train);
  // Resume only from a training checkpoint of the same run (any number of epochs up to ours).
  if (inv::io::file_exists(o.checkpoint)) {
    const auto ck = inv::io::load_checkpoint(o.checkpoint);
    const auto fp = ck.metadata.find("fingerprint"), done = ck.metadata.find("epochs_done");
    std::string why;
    if (fp == ck.metadata.end() || done == ck.metadata.end() ||
        without_epochs(fp->second) != without_epochs(o.metadata["fingerprint"]))
      why = "it was written with other settings";
    else if (const int64_t n = metadata_integer("epochs_done", done->second, o.checkpoint, 0); n > recipe.epochs)
      why = "it is already past epoch " + std::to_string(recipe.epochs) + " (" + count_of(n, "epoch") + " done)";
    if (!why.empty()) {  // kept, not deleted: it may hold hours of training
      const std::string kept = o.checkpoint + ".old";
      INV_CHECK(std::rename(o.checkpoint.c_str(), kept.c_str()) == 0, "cannot move ", o.checkpoint, " to ", kept,
                ": ", std::strerror(errno));
      inv::train::Progress(s.quiet).message("not resuming from " + o.checkpoint + ": " + why + "; moved it to " +
                                            kept + " and training from the start");
    }
  }
  inv::train::Progress(s.quiet).message("training " + s.model + " on " + count_of(part.size(), src.display + " image") +
                                        " (" + src.dir + ") for " + count_of(recipe.epochs, "epoch"));
  inv::protocol::train_target(*t.net, t.spec, recipe, part, o);

  const auto eval = inv::train::evaluate(*t.net, test, t.spec.mean, t.spec.std);
  t.metadata = o.metadata;
  t.metadata["test_accuracy"] = str(eval.accuracy);
  t.metadata["test_images"] = std::to_string(eval.count);
  t.metadata["created"] = utc_now();
  inv::train::save_model(model_path, *t.net, t.metadata);
  t.path = model_path;
  return t;
}

Target obtain_target(const Settings& s, const DataSource& src, const Dataset& train, const Dataset& test,
                     int64_t holdout, const std::string& model_path, bool& reused) {
  reused = false;
  if (inv::io::file_exists(model_path)) {
    Target cached = load_target(model_path);
    if (cached.meta("fingerprint") == fingerprint(s, src, holdout, train.size() - holdout)) {
      reused = true;
      return cached;
    }
    inv::train::Progress(s.quiet).message(model_path + " was trained with other settings; training a new target");
  }
  return train_target(s, src, train, test, holdout, model_path);
}

Target load_target(const std::string& path) {
  const auto ck = inv::io::load_checkpoint(path);
  if (ck.metadata.count("epochs_done")) {  // written by fit() for resuming, not a target
    const std::string tail = ".train.invckpt";
    const bool named = path.size() > tail.size() && path.compare(path.size() - tail.size(), tail.size(), tail) == 0;
    inv::detail::fail(path, " is the training-resume state of `inv train`; pass the model checkpoint ",
                      named ? path.substr(0, path.size() - tail.size()) + ".invckpt" : std::string("written next to it"));
  }
  const auto it = ck.metadata.find("model");
  INV_CHECK(it != ck.metadata.end() && ck.metadata.count("format"), "'", path,
            "' is not a target checkpoint of `inv train` (no 'format'/'model' metadata)");
  Target t;
  const inv::protocol::ModelProtocol* model = inv::protocol::find_model_protocol(it->second);
  INV_CHECK(model, "'", path, "' holds a model '", it->second, "', which this version does not know (models: ",
            join(inv::protocol::protocol_model_names()), ")");
  t.spec = model->spec;
  inv::Generator init(0);
  t.net = model->build(init);
  inv::io::load_into(t.net->state_dict(), ck);
  t.metadata = ck.metadata;
  t.path = path;
  t.net->eval();
  return t;
}

void check_split(const inv::nn::Sequential& net, const std::string& model, const std::string& split) {
  const std::vector<std::string> layers = net.split_points();
  if (std::find(layers.begin(), layers.end(), split) == layers.end())
    throw UsageError("unknown split layer '" + split + "' for " + model + "; valid layers: " + join(layers));
}

void check_split(const Target& t, const std::string& split) { check_split(*t.net, t.spec.name, split); }

LayerShape layer_shape(Target& t, const std::string& layer) {
  inv::Shape in{1};
  in.insert(in.end(), t.spec.input_shape.begin(), t.spec.input_shape.end());
  const auto rows = t.net->layer_info(in);
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].name == layer) return {int64_t(i), rows[i].op, inv::Shape(rows[i].output_shape.begin() + 1, rows[i].output_shape.end())};
  t.net->index_of(layer);  // throws naming the valid layers
  return {};
}

std::string describe_target(Target& t) {
  std::ostringstream os;
  os << "checkpoint: " << t.path << "\n";
  for (const auto& [k, v] : t.metadata) {
    if (k == "classes") {
      std::string line;
      std::istringstream in(v);
      for (std::string c; std::getline(in, c);) line += (line.empty() ? "" : ", ") + c;
      os << "  " << k << ": " << line << "\n";
    } else if (k == "test_accuracy") {
      char buf[64];
      const double accuracy = metadata_number(k, v, t.path);
      std::snprintf(buf, sizeof buf, "%.4f (%.2f%%)", accuracy, 100 * accuracy);
      os << "  " << k << ": " << buf << "\n";
    } else {
      os << "  " << k << ": " << v << "\n";
    }
  }
  inv::Shape in{1};
  in.insert(in.end(), t.spec.input_shape.begin(), t.spec.input_shape.end());
  os << "\nlayers (output shapes for one " << inv::to_string(t.spec.input_shape) << " image):\n"
     << t.net->summary(in) << "\nsplit points (--split): " << join(t.net->split_points()) << "\n";
  return os.str();
}

inv::Tensor normalise(const Target& t, const inv::Tensor& pixels) {
  return inv::data::normalize(pixels, t.spec.mean, t.spec.std);
}

inv::Tensor edge_features(Target& t, const std::string& split, const inv::Tensor& normalised) {
  auto parts = t.net->split(split);
  inv::nn::ModeGuard mode(*parts.first, false);
  inv::NoGradGuard no_grad;
  return inv::copy_data(parts.first->forward(normalised));
}

}  // namespace cli
