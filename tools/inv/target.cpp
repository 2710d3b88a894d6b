// target.cpp: training, caching and loading the target network (see target.hpp).
#include "target.hpp"

#include "files.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <typeinfo>

#include <filesystem>

#include <inv/data/transforms.hpp>
#include <inv/io/checkpoint.hpp>
#include <inv/io/safetensors.hpp>
#include <inv/io/sha256.hpp>
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

/// "0.4914,0.4822,0.4465": values that read back exactly.
std::string values_text(const std::vector<double>& v) {
  std::string out;
  for (double x : v) out += (out.empty() ? "" : ",") + fmt(x);
  return out;
}

/// The metadata of an input spec: input_size, mean and std.
std::map<std::string, std::string> spec_metadata(const inv::models::ModelSpec& spec) {
  return {{"input_size", std::to_string(spec.input_shape[1])}, {"mean", values_text(spec.mean)},
          {"std", values_text(spec.std)}};
}

/// ";input=32;mean=...;std=..." for a spec that is not the model's own, else "" (so that the
/// fingerprints of targets of the default input are those of earlier versions).
std::string spec_fingerprint(const inv::models::ModelSpec& spec) {
  const inv::models::ModelSpec& own = inv::protocol::model_protocol(spec.name).spec;
  if (spec.input_shape == own.input_shape && spec.mean == own.mean && spec.std == own.std) return "";
  std::string out;
  for (const auto& [k, v] : spec_metadata(spec)) out += ";" + k + "=" + v;
  return out;
}

/// Everything that determines the trained weights; a cached target is reused only when equal.
std::string fingerprint(const Settings& s, const DataSource& src, int64_t holdout, int64_t train_images) {
  const auto& t = s.target;
  std::ostringstream os;
  os << "model=" << s.model << ";dataset=" << src.id << ";dir=" << src.dir << ";epochs=" << t.epochs
     << ";batch=" << t.batch_size << ";lr=" << str(t.lr) << ";halve=" << t.halve_every << ";augment=" << t.augment
     << ";holdout=" << holdout << ";train_images=" << train_images << ";seed=" << s.seed;
  if (src.format == DataSource::Format::Folder) os << ";order=class-interleaved";  // see load_split
  os << spec_fingerprint(input_spec(s));
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
  std::map<std::string, std::string> m = {{"format", "inv-target-1"},
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
  if (!spec_fingerprint(input_spec(s)).empty())  // another input than the model's: recorded for load_target
    for (const auto& [k, v] : spec_metadata(input_spec(s))) m[k] = v;
  return m;
}

/// The class names of a dataset, one a line (the checkpoint's "classes").
std::string class_lines(const Dataset& ds) {
  std::string classes;
  for (const auto& c : ds.classes) classes += c + "\n";
  return classes;
}

/// The list of numbers `key` of a checkpoint's metadata ("0.5,0.5,0.5").
std::vector<double> metadata_values(const std::string& key, const std::string& value, const std::string& file) {
  std::vector<double> out;
  for (const std::string& item : split_list(value)) out.push_back(metadata_number(key, item, file));
  INV_CHECK(!out.empty(), file, ": expected the metadata '", key, "' to be a list of numbers, found '", value, "'");
  return out;
}

}  // namespace

Target train_target(const Settings& s, const DataSource& src, const Dataset& train, const Dataset& test,
                    int64_t holdout, const std::string& model_path) {
  Target t;
  const inv::protocol::ModelProtocol& model = inv::protocol::model_protocol(s.model);
  t.protocol = inv::protocol::adapted_protocol(model, input_spec(s), model.classes);
  t.spec = t.protocol.spec;
  check_input_shape(train, t.spec.input_shape, s.model, src.display + " (training set)");
  check_input_shape(test, t.spec.input_shape, s.model, src.display + " (test set)");
  inv::Generator init(s.seed);
  t.net = t.protocol.build(init);
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
  // Its input and classes: the model's, unless the checkpoint records others.
  inv::models::ModelSpec spec = model->spec;
  const auto value = [&](const char* key) { return ck.metadata.count(key) ? ck.metadata.at(key) : std::string(); };
  if (!value("input_size").empty())
    spec.input_shape[1] = spec.input_shape[2] = metadata_integer("input_size", value("input_size"), path, 1);
  if (!value("mean").empty()) spec.mean = metadata_values("mean", value("mean"), path);
  if (!value("std").empty()) spec.std = metadata_values("std", value("std"), path);
  const int64_t classes =
      value("num_classes").empty() ? model->classes : metadata_integer("num_classes", value("num_classes"), path, 1);
  try {
    t.protocol = inv::protocol::adapted_protocol(*model, spec, classes);
  } catch (const inv::Error& e) {
    inv::detail::fail("'", path, "': its input or classes do not fit its model: ", e.what());
  }
  t.spec = t.protocol.spec;
  inv::Generator init(0);
  t.net = t.protocol.build(init);
  inv::io::load_into(t.net->state_dict(), ck);
  t.metadata = ck.metadata;
  t.path = path;
  t.net->eval();
  return t;
}

namespace {

/// An absolute, lexically normal path (what the metadata records).
std::string absolute(const std::string& p) {
  std::error_code ec;
  const std::string a = std::filesystem::absolute(p, ec).lexically_normal().string();
  return ec ? p : a;
}

/// Whether the file starts with the inv checkpoint's magic.
bool is_inv_checkpoint(const std::string& path) {
  const std::string magic("INVCKPT\0", 8);
  std::ifstream in(path, std::ios::binary);
  std::string head(8, '\0');
  in.read(head.data(), 8);
  return in.gcount() == 8 && head == magic;
}

/// The fingerprint of an import: the file's contents, the model, its input and classes.
std::string import_fingerprint(const Target& t) {
  std::string fp = "imported;sha256=" + t.meta("sha256") + ";model=" + t.spec.name +
                   ";classes=" + t.meta("num_classes");
  for (const auto& [k, v] : spec_metadata(t.spec)) fp += ";" + k + "=" + v;
  return fp;
}

}  // namespace

Target import_target(const std::string& model_name, const inv::models::ModelSpec& spec, const std::string& weights_path) {
  const inv::protocol::ModelProtocol& model = inv::protocol::model_protocol(model_name);
  check_file_path(weights_path, "--weights");
  const bool ckpt = is_inv_checkpoint(weights_path);
  inv::io::SafeTensors st;
  inv::io::Checkpoint ck;
  if (ckpt)
    ck = inv::io::load_checkpoint(weights_path);
  else
    try {
      st = inv::io::load_safetensors(weights_path);
    } catch (const inv::Error& e) {
      inv::detail::fail(e.what(), " (--weights takes a .safetensors file or an inv checkpoint)");
    }
  const auto& tensors = ckpt ? ck.tensors : st.tensors;
  // The number of classes: the rows of the classifier's weight, where the architecture has a parameter for it.
  int64_t classes = model.classes;
  if (model.build_classes)
    for (const auto& [name, tensor] : tensors)
      if (name == model.classifier_weight && tensor.dim() == 2 && tensor.size(0) > 0) classes = tensor.size(0);
  Target t;
  t.protocol = inv::protocol::adapted_protocol(model, spec, classes);
  t.spec = t.protocol.spec;
  inv::Generator init(0);
  t.net = t.protocol.build(init);
  try {
    if (ckpt)
      inv::io::load_into(t.net->state_dict(), ck);
    else
      inv::io::load_state_dict(*t.net, st);
  } catch (const inv::Error& e) {
    inv::detail::fail("'", weights_path, "' does not hold the weights of ", model_name,
                      classes != model.classes ? " with " + std::to_string(classes) + " classes" : std::string(),
                      ": ", e.what());
  }
  t.net->eval();
  t.path = absolute(weights_path);
  t.metadata = spec_metadata(t.spec);
  t.metadata["format"] = "inv-target-1";
  t.metadata["model"] = model_name;
  t.metadata["imported"] = "true";
  t.metadata["source_file"] = t.path;
  t.metadata["sha256"] = inv::io::sha256_file(weights_path);
  t.metadata["num_classes"] = std::to_string(classes);
  t.metadata["fingerprint"] = import_fingerprint(t);
  return t;
}

Target obtain_imported_target(const Settings& s, const DataSource& src, const Dataset& test,
                              const std::string& model_path, bool& reused) {
  reused = false;
  Target t = import_target(s.model, input_spec(s), s.weights);
  t.metadata["fingerprint"] += ";dataset=" + src.id + ";dir=" + src.dir;
  if (inv::io::file_exists(model_path)) {
    Target cached = load_target(model_path);
    if (cached.meta("fingerprint") == t.meta("fingerprint")) {
      reused = true;
      return cached;
    }
    inv::train::Progress(s.quiet).message(model_path + " holds another target; saving the imported one there");
  }
  check_input_shape(test, t.spec.input_shape, s.model, src.display + " (test set)");
  int64_t top = -1;
  for (int64_t label : test.labels) top = std::max(top, label);
  INV_CHECK(top < t.protocol.classes, src.display, " has labels up to ", top, " but the weights in ", t.path,
            " give ", t.protocol.classes, " classes (their ", t.protocol.classifier_weight, ")");
  inv::train::Progress(s.quiet).message("evaluating the imported " + s.model + " on " +
                                        count_of(test.size(), src.display + " test image"));
  const auto eval = inv::train::evaluate(*t.net, test, t.spec.mean, t.spec.std);
  t.metadata["dataset"] = src.id;
  t.metadata["dataset_display"] = src.display;
  t.metadata["accuracy_label"] = src.accuracy_label;
  t.metadata["classes"] = class_lines(test);
  t.metadata["test_accuracy"] = str(eval.accuracy);
  t.metadata["test_images"] = std::to_string(eval.count);
  t.metadata["created"] = utc_now();
  inv::train::save_model(model_path, *t.net, t.metadata);
  t.path = model_path;
  return t;
}

void check_split(const inv::nn::Sequential& net, const std::string& model, const std::string& split) {
  const std::vector<std::string> layers = net.split_points();
  if (std::find(layers.begin(), layers.end(), split) == layers.end())
    throw UsageError("unknown split layer '" + split + "' for " + model + "; valid layers: " + join(layers));
}

void check_split(const Target& t, const std::string& split) { check_split(*t.net, t.spec.name, split); }

namespace {

/// The depth of split point `layer` (see LayerShape), or -1.
int64_t depth_of(const inv::nn::Sequential& net, const std::string& layer) {
  int64_t depth = 0;
  for (const auto& [name, child] : net.children()) {
    if (layer.compare(0, name.size() + 1, name + ".") == 0 && typeid(*child) == typeid(inv::nn::Sequential)) {
      const auto inner = static_cast<const inv::nn::Sequential&>(*child).split_points();
      for (size_t i = 0; i + 1 < inner.size(); ++i, ++depth)
        if (name + "." + inner[i] == layer) return depth;
    } else if (typeid(*child) == typeid(inv::nn::Sequential)) {
      depth += int64_t(static_cast<const inv::nn::Sequential&>(*child).split_points().size()) - 1;
    }
    if (name == layer) return depth;
    ++depth;
  }
  return -1;
}

/// The module called by the dotted name `layer` in `net`, or nullptr.
const inv::nn::Module* module_at(const inv::nn::Sequential& net, const std::string& layer) {
  const inv::nn::Module* found = nullptr;
  net.visit("", [&](const std::string& prefix, const inv::nn::Module& m) {
    if (prefix == layer + ".") found = &m;
  });
  return found;
}

}  // namespace

LayerShape layer_shape(Target& t, const std::string& layer) {
  inv::Shape in{1};
  in.insert(in.end(), t.spec.input_shape.begin(), t.spec.input_shape.end());
  if (layer.find('.') == std::string::npos) {
    const auto rows = t.net->layer_info(in);
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].name == layer)
        return {depth_of(*t.net, layer), rows[i].op,
                inv::Shape(rows[i].output_shape.begin() + 1, rows[i].output_shape.end())};
    t.net->index_of(layer);  // throws naming the valid layers
  }
  check_split(t, layer);
  auto edge = t.net->split(layer).first;
  inv::nn::ModeGuard mode(*edge, false);
  inv::NoGradGuard no_grad;
  const inv::Tensor v = edge->forward(inv::zeros(in));
  const inv::nn::Module* m = module_at(*t.net, layer);
  return {depth_of(*t.net, layer), m ? m->repr() : "", inv::Shape(v.shape().begin() + 1, v.shape().end())};
}

std::string describe_target(Target& t) {
  std::ostringstream os;
  os << "checkpoint: " << t.path << "\n";
  if (t.imported())
    os << "imported: the weights of " << t.meta("source_file") << " (sha256 " << t.meta("sha256")
       << "), trained elsewhere: inv knows no training settings or held-out images for them\n";
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
     << t.net->summary(in);
  const std::vector<std::string> points = t.net->split_points();
  if (std::any_of(points.begin(), points.end(), [](const std::string& p) { return p.find('.') != std::string::npos; })) {
    std::vector<std::array<std::string, 3>> rows;
    std::array<size_t, 2> width{5, 2};
    for (const auto& p : points) {
      if (p.find('.') == std::string::npos) continue;
      const LayerShape l = layer_shape(t, p);
      inv::Shape one{1};
      one.insert(one.end(), l.shape.begin(), l.shape.end());
      rows.push_back({p, l.op, inv::to_string(one)});
      width = {std::max(width[0], p.size()), std::max(width[1], l.op.size())};
    }
    os << "\nsplit points inside the stages (the edge ends after that block):\n";
    for (const auto& [name, op, shape] : rows)
      os << name << std::string(width[0] + 2 - name.size(), ' ') << op << std::string(width[1] + 2 - op.size(), ' ')
         << shape << "\n";
  }
  os << "\nsplit points (--split): " << join(points) << "\n";
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
