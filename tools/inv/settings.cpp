// settings.cpp: presets, flags and the per-split rMLE table (see settings.hpp).
#include "settings.hpp"

#include <inv/protocol/rmle_settings.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace cli {

const AttackInfo& parse_attack(const std::string& name) {
  if (const AttackInfo* a = inv::attack::find_attack(name)) return *a;
  throw UsageError("unknown attack '" + name + "'; valid choices: " + join(inv::attack::attack_names()));
}

std::string fmt(double v) {
  char buf[40];
  for (int digits = 6; digits <= 17; ++digits) {  // the shortest that reads back as v (at least %g's 6)
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (!std::isfinite(v) || std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string count_of(int64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// ---------------------------------------------------------------------------
// Per-split rMLE settings
// ---------------------------------------------------------------------------

RmleChoice rmle_for(const Settings& s, const std::string& split, const AttackInfo& attack) {
  // The library's table (protocol §3, §5); the preset gives the iteration count.
  const inv::protocol::RmleSetting p =
      inv::protocol::rmle_setting(s.model, split, attack.access == inv::attack::Access::QueryFree);
  RmleChoice c{s.rmle.iterations, p.lr, p.lambda_tv, s.rmle.lambda_l2, p.source};
  // The paper preset takes the table's iteration count where it has its own (the query-free
  // inversion at cifar-cnn conv11 and ReLU22: 500); otherwise the preset's.
  if (s.preset == "paper" && !s.rmle.iterations_given) c.iterations = p.iterations;
  if (s.rmle.lr > 0) c.lr = s.rmle.lr, c.source = "flags";
  if (s.rmle.lambda_tv >= 0) c.lambda_tv = s.rmle.lambda_tv, c.source = "flags";
  return c;
}

std::string budget_line(const Settings& s) {
  const auto& a = s.attacker;
  std::string line = "preset " + s.preset + ": rMLE " + std::to_string(s.rmle.iterations) +
                     " iterations (lr and λ_TV per split, protocol §3); inverse network " +
                     std::to_string(a.decoder_epochs) + (a.decoder_epochs == 1 ? " epoch" : " epochs") + ", shadow " +
                     std::to_string(a.shadow_epochs) + (a.shadow_epochs == 1 ? " epoch" : " epochs") + ", on " +
                     (a.images > 0 ? std::to_string(a.images) : std::string("all the")) + " attacker images";
  if (s.preset != "paper") line += " (--preset paper: the protocol's budgets, hours)";
  return line;
}

// ---------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------

void add_common_flags(FlagSet& f, bool dataset, bool model) {
  f.section("data and model");
  if (dataset)
    f.text("dataset", "NAME|PATH", "fashion-mnist",
           "mnist, fashion-mnist, cifar10, or a path: a directory of IDX files (train-/t10k-images-idx3-ubyte[.gz] "
           "and labels), of CIFAR-10 binary files (data_batch_*.bin and test_batch.bin, or "
           "cifar10_{train,test}_jpegq75.bin), or an image folder (train/<class>/*.png and test/<class>/*.png, the same "
           "class folders in both)");
  if (model)
    f.choice("model", inv::protocol::protocol_model_names(), "lenet",
             "the target network (the library's protocol table, inv/protocol/model_protocol.hpp): the papers' lenet "
             "(28x28 grey) and cifar-cnn (32x32 RGB); torchvision's resnet18 (224x224 RGB by default), the CIFAR "
             "resnet20 and vgg11-bn (32x32 RGB), whose settings are taken by analogy (protocol §10)");
  f.text("data-dir", "DIR", "",
         "where to look for a named dataset first (DIR/<name>); then $INV_DATA_DIR/<name>, "
         "/usr/share/datasets/<name>, ./data/<name>");
  f.section("run");
  f.choice("preset", {"quick", "paper"}, "quick",
           "quick: minutes on 2 cores; paper: the protocol of He, Zhang & Lee (ACSAC 2019), hours");
  f.integer("seed", "N", 0, "0", "seed of every random choice (initialisation, shuffling, noise)");
  f.integer("threads", "N", 0, "0", "threads (0 = OMP_NUM_THREADS, or all cores)", 1024);
  f.boolean("quiet", "false", "no progress output");
}

void add_target_flags(FlagSet& f) {
  f.section("target training (Adam lr, eps 1e-3, AMSGrad; cross-entropy)");
  f.integer("epochs", "N", 1, "quick 2; paper 20 (lenet) or 50 (cifar-cnn and the models of no paper, protocol §10)",
            "target training epochs");
  f.integer("batch-size", "N", 1, "32", "target mini-batch size");
  f.real("lr", "LR", 0, true, "1e-3", "target learning rate");
  f.integer("halve-every", "N", 0, "20", "halve the target's learning rate every N epochs (0 = never)");
  f.boolean("augment", "false for lenet, true for the others",
            "augment target training: random horizontal flip + affine (±10°, translate 0.1, scale 0.9-1.1)");
  f.integer("holdout", "N", 0, "10000, or a sixth of the training set if smaller",
            "the last N training images are never shown to the target (pool of --attacker-set disjoint); "
            "image-folder training images are read class-interleaved, so the last N are not whole classes");
}

void add_input_flags(FlagSet& f, bool weights) {
  f.section("the target's weights and input");
  if (weights)
    f.text("weights", "FILE", "",
           "use these weights as the target instead of training one: a .safetensors file of a PyTorch state_dict "
           "(torchvision's names, e.g. conv1.weight, layer1.0.bn1.running_mean) or an inv checkpoint, for the "
           "network of --model; the number of classes comes from its classifier. The target is marked imported, "
           "with the file and its sha256");
  f.integer("input-size", "N", 1, "the model's: lenet 28, resnet18 224, the CIFAR models 32",
            "input height and width; only the ResNets (global pooling) take another size. Dataset images of "
            "another size are resized to it (bilinear, without antialiasing) for them");
  f.text("mean", "M1,M2,...", "the model's: lenet 0.5; cifar-cnn and resnet18 ImageNet's; resnet20, vgg11-bn CIFAR-10's",
         "normalisation mean, one value per input channel, for pixels in [0, 1]");
  f.text("std", "S1,S2,...", "the model's (as --mean)", "normalisation standard deviation, one positive value per channel");
}

void add_attack_flags(FlagSet& f) {
  f.section("white-box rMLE (also the inversion step of query-free; Adam eps 1e-3, AMSGrad, start x = 0)");
  f.integer("rmle-iterations", "N", 1,
            "quick 1000; paper 5000, and 500 for query-free at cifar-cnn conv11 and ReLU22 (protocol §5)",
            "rMLE iterations; when given, used at every split");
  f.real("rmle-lr", "LR", 0, true,
         "per block (protocol §3): 1e-2, 1e-3 for the cifar-cnn classifier; query-free at cifar-cnn ReLU22 0.1 "
         "(protocol §5)",
         "rMLE learning rate");
  f.real("lambda-tv", "L", 0, false,
         "per block (protocol §3): lenet conv1..pool1 0, conv2..pool2 1, fc layers 1e3; cifar-cnn block 1 0, "
         "block 2 10, block 3 1e3, classifier 1e4; query-free at cifar-cnn ReLU22 2 (protocol §5); resnet20, "
         "resnet18, vgg11-bn by the resolution of the block, as cifar-cnn's (protocol §10)",
         "weight of the total-variation prior");
  f.real("lambda-l2", "L", 0, false, "0", "weight of the mean(x²) prior");
  f.section("black-box and query-free attackers");
  f.choice("attacker-set", {"train", "disjoint", "noise"}, "train",
           "the attacker's images: the target's training images, held-out training images it never saw, or "
           "N(0,1) noise in normalised space (black-box only)");
  f.integer("attacker-images", "N", 0, "quick 10000; paper 0",
            "size of the attacker's set (0 = the whole pool; for noise 0 = 10000, and at most 10000 or the size "
            "of the training set, whichever is larger)");
  f.integer("decoder-epochs", "N", 1, "quick 1; paper 50", "black-box inverse-network training epochs");
  f.integer("shadow-epochs", "N", 1, "quick 1; paper 50", "query-free shadow-model training epochs");
  f.real("attacker-lr", "LR", 0, true, "1e-3", "decoder and shadow learning rate (Adam, eps 1e-3, AMSGrad)");
  f.integer("attacker-halve-every", "N", 0, "10", "halve the decoder/shadow learning rate every N epochs");
  f.integer("attacker-batch-size", "N", 1, "32", "decoder and shadow mini-batch size");
  f.choice("shadow", {"same", "paper"}, "same",
           "query-free shadow architecture: a fresh copy of the target's edge, or P1 Table 5's different "
           "structure where it defines one (lenet conv1/ReLU2, cifar-cnn conv11/ReLU22; elsewhere same)");
}

namespace {

/// --mean or --std: `channels` finite numbers (positive for std), comma-separated.
std::vector<double> channel_values(const FlagSet& f, const std::string& name, const std::string& model,
                                   int64_t channels) {
  const std::string text = f.get_text(name, "");
  std::vector<double> out;
  for (const std::string& item : split_list(text)) {
    double v = 0;
    if (!parse_float(item, v) || (name == "std" && v <= 0))
      throw f.error("--" + name + ": '" + item + "' is not " + (name == "std" ? "a positive number" : "a number"));
    out.push_back(v);
  }
  if (int64_t(out.size()) != channels)
    throw f.error("--" + name + ": expected " + count_of(channels, "value") + " (one per channel of " + model +
                  "'s input), got " + std::to_string(out.size()) + " ('" + text + "')");
  return out;
}

}  // namespace

inv::models::ModelSpec input_spec(const Settings& s) {
  inv::models::ModelSpec spec = inv::protocol::model_protocol(s.model).spec;
  if (s.input.size > 0) spec.input_shape[1] = spec.input_shape[2] = s.input.size;
  if (!s.input.mean.empty()) spec.mean = s.input.mean;
  if (!s.input.std.empty()) spec.std = s.input.std;
  return spec;
}

void read_settings(const FlagSet& f, Settings& s) {
  auto when = [&](const char* name, auto apply) {
    if (f.declares(name)) apply();
  };
  when("dataset", [&] { s.dataset = f.get_text("dataset", s.dataset); });
  when("model", [&] { s.model = f.get_text("model", s.model); });
  when("weights", [&] { s.weights = f.get_text("weights", s.weights); });
  const inv::protocol::ModelProtocol& model = inv::protocol::model_protocol(s.model);
  const int64_t channels = model.spec.input_shape[0], size = model.spec.input_shape[1];
  when("input-size", [&] {
    s.input.size = f.get_int("input-size", 0);
    if (s.input.size > 0 && s.input.size != size && !model.any_input_size)
      throw f.error("--input-size " + std::to_string(s.input.size) + ": " + s.model +
                    "'s architecture fixes its input at " + std::to_string(size) + "x" + std::to_string(size) +
                    " (only the ResNets, which pool globally, take another size)");
  });
  when("mean", [&] {
    if (f.given("mean")) s.input.mean = channel_values(f, "mean", s.model, channels);
  });
  when("std", [&] {
    if (f.given("std")) s.input.std = channel_values(f, "std", s.model, channels);
  });
  when("data-dir", [&] { s.data_dir = f.get_text("data-dir", s.data_dir); });
  when("preset", [&] { s.preset = f.get_text("preset", s.preset); });
  when("seed", [&] { s.seed = uint64_t(f.get_int("seed", int64_t(s.seed))); });
  when("threads", [&] { s.threads = int(f.get_int("threads", s.threads)); });
  when("quiet", [&] { s.quiet = f.get_bool("quiet", s.quiet); });

  // The paper preset's values come from the library's protocol (docs/protocol.md §2-§5).
  const bool paper = s.preset == "paper";
  const inv::protocol::TargetRecipe recipe = inv::protocol::model_protocol(s.model).recipe;
  const inv::protocol::AttackerRecipe attacker_recipe;
  const int64_t paper_rmle_iterations = inv::protocol::RmleSetting().iterations;
  auto& t = s.target;
  when("epochs", [&] { t.epochs = f.get_int("epochs", paper ? recipe.epochs : 2); });
  when("batch-size", [&] { t.batch_size = f.get_int("batch-size", recipe.batch_size); });
  when("lr", [&] { t.lr = f.get_float("lr", recipe.lr); });
  when("halve-every", [&] { t.halve_every = f.get_int("halve-every", recipe.halve_every); });
  when("augment", [&] { t.augment = f.get_bool("augment", recipe.augment); });
  when("holdout", [&] { t.holdout = f.get_int("holdout", -1); });

  auto& r = s.rmle;
  when("rmle-iterations", [&] {
    r.iterations = f.get_int("rmle-iterations", paper ? paper_rmle_iterations : 1000);
    r.iterations_given = f.given("rmle-iterations");
  });
  when("rmle-lr", [&] { r.lr = f.get_float("rmle-lr", -1); });
  when("lambda-tv", [&] { r.lambda_tv = f.get_float("lambda-tv", -1); });
  when("lambda-l2", [&] { r.lambda_l2 = f.get_float("lambda-l2", 0); });

  auto& a = s.attacker;
  when("attacker-set", [&] { a.set = f.get_text("attacker-set", "train"); });
  when("attacker-images", [&] { a.images = f.get_int("attacker-images", paper ? 0 : 10000); });
  when("decoder-epochs", [&] { a.decoder_epochs = f.get_int("decoder-epochs", paper ? attacker_recipe.epochs : 1); });
  when("shadow-epochs", [&] { a.shadow_epochs = f.get_int("shadow-epochs", paper ? attacker_recipe.epochs : 1); });
  when("attacker-lr", [&] { a.lr = f.get_float("attacker-lr", attacker_recipe.lr); });
  when("attacker-halve-every", [&] { a.halve_every = f.get_int("attacker-halve-every", attacker_recipe.halve_every); });
  when("attacker-batch-size", [&] { a.batch_size = f.get_int("attacker-batch-size", attacker_recipe.batch_size); });
  when("shadow", [&] { a.shadow = f.get_text("shadow", "same"); });
}

std::vector<SettingRow> describe(const Settings& s) {
  const auto& t = s.target;
  const auto& r = s.rmle;
  const auto& a = s.attacker;
  const std::string per_block = "per block (protocol §3; query-free at cifar-cnn ReLU22: §5)";
  std::vector<SettingRow> rows = {
      {"preset", "preset", s.preset},
      {"seed", "seed", std::to_string(s.seed)},
  };
  if (!s.imported)
    rows.insert(rows.end(), {
                                {"target_epochs", "target epochs", std::to_string(t.epochs)},
                                {"target_batch_size", "target batch size", std::to_string(t.batch_size)},
                                {"target_lr", "target learning rate", fmt(t.lr)},
                                {"target_halve_every", "target lr halved every (epochs)", std::to_string(t.halve_every)},
                                {"target_augment", "target augmentation (flip + affine)", t.augment ? "true" : "false"},
                                {"holdout", "held-out training images", std::to_string(t.holdout)},
                            });
  rows.insert(rows.end(), {
      {"rmle_iterations", "rMLE iterations", std::to_string(r.iterations)},
      {"rmle_lr", "rMLE learning rate", r.lr > 0 ? fmt(r.lr) : per_block},
      {"lambda_tv", "rMLE λ_TV", r.lambda_tv >= 0 ? fmt(r.lambda_tv) : per_block},
      {"lambda_l2", "rMLE λ_l2", fmt(r.lambda_l2)},
      {"attacker_set", "attacker set", a.set},
      {"attacker_images", "attacker images", a.images > 0 ? std::to_string(a.images) : "all"},
      {"decoder_epochs", "decoder epochs (black-box)", std::to_string(a.decoder_epochs)},
      {"shadow_epochs", "shadow epochs (query-free)", std::to_string(a.shadow_epochs)},
      {"attacker_lr", "decoder/shadow learning rate", fmt(a.lr)},
      {"attacker_halve_every", "decoder/shadow lr halved every (epochs)", std::to_string(a.halve_every)},
      {"attacker_batch_size", "decoder/shadow batch size", std::to_string(a.batch_size)},
      {"shadow", "shadow architecture", a.shadow == "same" ? "same (a copy of the edge)" : "paper (P1 Table 5 where defined)"},
  });
  return rows;
}

}  // namespace cli
