// cmd_defend.cpp: `inv defend` — what to do about the leakage: defenses × levels ×
// positions × splits × attackers, the privacy–utility trade-off and a recommendation
// (He, Zhang & Lee, IEEE IoT-J 2021; docs/protocol.md §7, §9).
//
//   inv defend --dataset fashion-mnist --splits ReLU2 --defenses gaussian,dropout
//   inv defend --target out/mnist-lenet-paper/target.invckpt --defenses dropout --positions features,input
//
// For every split and defense setting, the deployed edge (defense::DefendedEdge) gives
// the cloud's accuracy on the whole test set (a fresh draw per batch) and the features
// of the attacked images (the first test image of each class); every chosen attacker
// then runs against it: the paper's naive white-box attacker, the defense-aware one, the
// black-box attacker (its oracle is the deployed edge) and the label-only baseline.
// The target and the output directory are those of `inv sweep` with the same dataset,
// model and preset (out/<dataset>-<model>-<preset>; the target trained there when
// missing), or --target and --out. In the output directory:
//   noise/<split>-<level>.npy            optimised noise tensors (protocol §9)
//   cache/defense/<cell>.invckpt         each finished cell, reused by a rerun
//   defense.csv, defense.json            the results and the recommendation
//   index.defenses.part, index.html      the report's Defenses section, next to the
//                                        sweep's Leakage section (report.hpp)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include <inv/defense/defended_edge.hpp>
#include <inv/defense/fisher.hpp>
#include <inv/defense/optimised_noise.hpp>
#include <inv/io/checkpoint.hpp>
#include <inv/io/file.hpp>
#include <inv/ops/reduce.hpp>
#include <inv/train/progress.hpp>

#include "attacks.hpp"
#include "commands.hpp"
#include "datasets.hpp"
#include "defense_report.hpp"
#include "files.hpp"
#include "report.hpp"

namespace cli {

namespace {

using inv::defense::DefenseKind;
using inv::defense::Position;

const char* kNoiseLevels = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,1.5,2,2.5,3,3.5,4,4.5,5";
// The largest edge output (features per image) for which --fisher-bound auto computes the
// bound: MNIST LeNet ReLU2 has 1024; the CIFAR CNN at ReLU22 has 32768, and its bound at the
// 10 attacked images takes 1280 backward passes of 256 images through the edge (about eight
// epochs of its training set).
constexpr int64_t kFisherAutoFeatures = 4096;
const char* kDropoutRates = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9";
const char* kOptimisedLevels = "0,100,1000";

FlagSet defend_flags() {
  FlagSet f("defend", "inv defend [--dataset NAME|PATH] [--splits L1,L2] [--defenses gaussian,dropout] [flags]",
            "What to do about the leakage: runs every chosen defense at every level and position, at every chosen "
            "split, measures the cloud's test accuracy under it and how well each attacker still reconstructs the "
            "input, and recommends the split, defense and level that meet the privacy bar with the least loss of "
            "accuracy (protocol §7). Writes defense.csv, defense.json and the Defenses section of the report "
            "(index.html, next to the leakage found by `inv sweep` in the same directory); a rerun reuses "
            "finished cells.");
  add_common_flags(f, true, true);
  f.section("defenses");
  f.text("splits", "all|L1,L2,...",
         "the paper splits of the model (lenet: conv1, ReLU2, fc3); for a model of no paper the last layer of each "
         "of its blocks (protocol §10; resnet20: layer1, layer2, layer3, fc)",
         "split layers (all = every layer except flatten)");
  f.list("defenses", "D1,D2,...", {"none", "gaussian", "laplace", "dropout", "optimised"}, "gaussian,dropout",
         "defenses: gaussian and laplace noise, dropout, the optimised noise of protocol §9. Every split also "
         "runs undefended, and `none` alone compares the splits (privacy-aware partitioning)");
  f.list("positions", "P1,P2", {"features", "input"}, "features",
         "where noise and dropout apply: to the edge's output or to its input (optimised: the features only)");
  f.text("noise-levels", "L1,L2,...", kNoiseLevels,
         "σ of gaussian and b of laplace noise, in normalised units (0 is the undefended row, run anyway)");
  f.text("dropout-rates", "R1,R2,...", kDropoutRates, "dropout rates, each in [0, 1) (0: the undefended row)");
  f.text("optimised-levels", "L1,L2,...", kOptimisedLevels,
         "scales of the optimised noise's random reference (0: the undefended row)");
  f.list("attacks", "A1,A2,...", inv::attack::attack_names(), "white-box,white-box-aware,black-box,label-only",
         "attackers: white-box is the paper's (it ignores the defense), white-box-aware models it, black-box "
         "queries the deployed edge, query-free trains a shadow edge, label-only is the baseline an attack must "
         "beat");
  f.real("bar", "SSIM", 0, false, "0.3",
         "the privacy bar, in [0, 1]: every attacker's SSIM (reference) at most this and no better than the "
         "label-only baseline");
  f.integer("observed", "N", 1, "1000", "features of other test images the cloud has seen (the aware attacker's "
                                        "estimate of optimised noise)");
  f.text("target", "FILE", "--out's target.invckpt: the sweep's, reused when trained with these settings, else "
                           "trained there",
         "the target checkpoint to defend");
  f.text("out", "DIR", "out/<dataset>-<model>-<preset> (with --weights out/<dataset>-<model>-<weights file>-<preset>), "
                        "the sweep's",
         "output directory");
  f.choice("fisher-bound", {"auto", "yes", "no"}, "auto",
           "the Fisher bound on any unbiased attacker's MSE against gaussian feature noise (defense/fisher.hpp), "
           "which takes one backward pass per feature of the edge's output, for each attacked image: auto computes "
           "it where the edge gives at most " + std::to_string(kFisherAutoFeatures) + " features per image");
  f.boolean("reuse", "true", "reuse cells finished by an earlier run with the same settings");
  add_input_flags(f, true);
  add_target_flags(f);
  add_attack_flags(f);
  return f;
}

std::vector<double> parse_levels(const FlagSet& f, const std::string& name, const char* def, bool rate) {
  std::vector<double> out;
  const std::string text = f.get_text(name, def);
  if (text.find(",,") != std::string::npos || text.front() == ',' || text.back() == ',')
    throw f.error("--" + name + ": empty item in '" + text + "'");
  for (const std::string& item : split_list(text)) {
    double v = 0;
    if (!parse_float(item, v) || v < 0 || (rate && v >= 1))
      throw f.error("--" + name + ": '" + item + "' is not " + (rate ? "a rate in [0, 1)" : "a level >= 0"));
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  if (out.empty()) throw f.error("--" + name + ": no level given");
  return out;
}

/// The cloud's accuracy on `test` with its features from the deployed edge (a fresh draw
/// per batch of 500).
double deployed_accuracy(inv::nn::Module& deployed, inv::nn::Module& cloud, const inv::data::Dataset& test,
                         const Target& t) {
  inv::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t b = 0; b < test.size(); b += 500) {
    const int64_t e = std::min(test.size(), b + 500);
    std::vector<int64_t> idx;
    for (int64_t i = b; i < e; ++i) idx.push_back(i);
    const inv::Tensor x = normalise(t, inv::data::gather_rows(test.images, idx));
    const auto pred = inv::argmax(cloud.forward(deployed.forward(x)), 1);
    for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == test.labels[size_t(b) + i];
  }
  return double(correct) / double(std::max<int64_t>(test.size(), 1));
}

/// The cloud's layers up to and including its first with parameters (the "next layer" of
/// the optimised noise, protocol §9: conv2 after pool1, pool2 after ReLU2, fc1 after pool2).
std::shared_ptr<inv::nn::Sequential> next_layer(const inv::nn::Sequential& cloud) {
  auto next = std::make_shared<inv::nn::Sequential>();
  for (const auto& [name, layer] : cloud.children()) {
    next->add(name, layer);
    if (!layer->named_parameters().empty()) break;
  }
  return next;
}

/// The grid's defenses from --defenses, --positions and the level flags, checked before any
/// work. The undefended setting is not among them: it runs once per split anyway.
std::vector<inv::defense::Defense> chosen_defenses(const FlagSet& f) {
  std::vector<Position> positions;
  for (const auto& p : f.get_list("positions", {"features"})) positions.push_back(inv::defense::parse_position(p));
  std::vector<inv::defense::Defense> out;
  for (const auto& name : f.get_list("defenses", {"gaussian", "dropout"})) {
    const DefenseKind kind = inv::defense::parse_kind(name);
    if (kind == DefenseKind::None) continue;
    const std::vector<double> levels =
        kind == DefenseKind::Dropout     ? parse_levels(f, "dropout-rates", kDropoutRates, true)
        : kind == DefenseKind::Optimised ? parse_levels(f, "optimised-levels", kOptimisedLevels, false)
                                         : parse_levels(f, "noise-levels", kNoiseLevels, false);
    if (kind == DefenseKind::Optimised && std::find(positions.begin(), positions.end(), Position::Features) ==
                                             positions.end())
      throw f.error("--defenses optimised applies to the features only: add features to --positions");
    for (Position p : positions) {
      if (kind == DefenseKind::Optimised && p == Position::Input) continue;
      for (double level : levels) {
        if (level == 0) continue;
        inv::defense::Defense d;
        d.kind = kind;
        d.position = p;
        d.level = level;
        out.push_back(d);
      }
    }
  }
  return out;
}

/// The Fisher bound on any unbiased attacker's pixel MSE against Gaussian noise σ on the
/// features of an edge, from the squared Frobenius norms of its Jacobian at the normalised
/// images (defense/fisher.hpp: jacobian_sq_norms, computed once per split), with `d` input
/// coordinates per image: std² / dFIL, the mean over the images, with std² the mean over
/// the channels of the normalisation's.
double fisher_bound(const std::vector<double>& jacobian_sq_norms, int64_t d, double sigma, const Target& t) {
  const std::vector<double> fil = inv::defense::dfil(jacobian_sq_norms, sigma, d);
  double var = 0;
  for (double sd : t.spec.std) var += sd * sd / double(t.spec.std.size());
  double bound = 0;
  for (double fi : fil) bound += var / fi / double(fil.size());
  return bound;
}

/// The optimised noise (protocol §9) at `split` and `level`, learned on the target's own
/// training images `train_inputs` against the next layer, and kept in out/noise/: as
/// <split>-<level>.npy for the user, and as .invckpt with what it was learned for (the
/// target, the level, the seed), so that a rerun reuses it only for the same target.
inv::Tensor optimised_noise(const std::string& out, const std::string& split, double level, inv::nn::Module& edge,
                            inv::nn::Module& next, const inv::Tensor& train_inputs, const std::string& target_key,
                            const Settings& s, bool reuse) {
  const std::string base = out + "/noise/" + split + "-" + fmt(level);
  const std::string key = target_key + "|" + split + "|" + fmt(level) + "|seed=" + std::to_string(s.seed);
  if (reuse && inv::io::file_exists(base + ".invckpt")) {
    try {
      const auto ck = inv::io::load_checkpoint(base + ".invckpt");
      if (ck.metadata.count("key") && ck.metadata.at("key") == key && ck.tensors.size() == 1)
        return ck.tensors[0].second;  // the shape was the split's when it was learned for this target
    } catch (const std::exception&) {
      // unreadable: learn it again
    }
  }
  prepare_output_directory(out + "/noise");
  inv::defense::OptimisedNoiseOptions o;
  o.level = level;
  o.seed = inv::mix_seed(s.seed, 0x6f7074);  // "opt"
  o.quiet = s.quiet;
  const inv::Tensor n = inv::defense::learn_optimised_noise(edge, next, train_inputs, o);
  inv::io::Checkpoint ck;
  ck.tensors = {{"noise", n}};
  ck.metadata = {{"key", key}};
  inv::io::save_checkpoint(base + ".invckpt", ck);
  inv::defense::save_optimised_noise(base + ".npy", n);
  return n;
}

/// A cell's seed: FNV-1a of its name (the same on every platform), mixed with the run's.
uint64_t cell_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (char ch : name) h = (h ^ uint8_t(ch)) * 1099511628211ull;
  return inv::mix_seed(seed, h);
}

/// A finished cell from its cache file, when it holds `key` and every attacker; else false.
bool load_cell(const std::string& path, const std::string& key, const std::vector<const AttackInfo*>& attacks,
               const inv::Tensor& originals, DefenseCell& cell) {
  if (!inv::io::file_exists(path)) return false;
  try {
    const auto ck = inv::io::load_checkpoint(path);
    if (!ck.metadata.count("key") || ck.metadata.at("key") != key || ck.tensors.size() != attacks.size()) return false;
    cell.accuracy = metadata_number("accuracy", ck.metadata.at("accuracy"), path);
    const std::string bound = ck.metadata.count("fisher_bound") ? ck.metadata.at("fisher_bound") : "";
    cell.fisher_bound = bound.empty() ? NAN : metadata_number("fisher_bound", bound, path);
    for (size_t i = 0; i < attacks.size(); ++i) {
      cell.attacks.push_back(attacks[i]->name);
      cell.reconstructions.push_back(ck.tensors[i].second);
      cell.quality.push_back(inv::metrics::evaluate(originals, ck.tensors[i].second));
      cell.architecture.push_back(ck.metadata.at("note" + std::to_string(i)));
    }
    return true;
  } catch (const std::exception&) {
    DefenseCell fresh;
    fresh.split = cell.split;
    fresh.defense = cell.defense;
    cell = std::move(fresh);
    return false;  // unreadable or from another version: recompute
  }
}

void save_cell(const std::string& path, const std::string& key, const DefenseCell& cell) {
  inv::io::Checkpoint ck;
  for (size_t i = 0; i < cell.attacks.size(); ++i) {
    ck.tensors.emplace_back(cell.attacks[i], cell.reconstructions[i]);
    ck.metadata["note" + std::to_string(i)] = cell.architecture[i];
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", cell.accuracy);
  ck.metadata["key"] = key;
  ck.metadata["accuracy"] = buf;
  std::snprintf(buf, sizeof buf, "%.17g", cell.fisher_bound);
  ck.metadata["fisher_bound"] = std::isnan(cell.fisher_bound) ? "" : buf;
  inv::io::save_checkpoint(path, ck);
}

}  // namespace

int cmd_defend(const Args& args, const std::string& command_line) {
  const auto t0 = std::chrono::steady_clock::now();
  FlagSet f = defend_flags();
  if (!parse_or_help(f, args)) return 0;
  if (!f.positional().empty()) throw f.error("unexpected argument '" + f.positional()[0] + "'");
  check_weights_flags(f);
  Settings s;
  Target t;
  adopt_given_target(f, s, t);
  read_settings(f, s);
  const inv::protocol::ModelProtocol& model = inv::protocol::model_protocol(s.model);
  if (!f.given("rmle-iterations")) s.rmle.iterations = model.defense_rmle_iterations;  // protocol §7
  apply_threads(s);

  // The grid, checked before any work.
  std::string paper_splits;
  for (const auto& b : model.rmle_blocks)  // a model of no paper: the output of each block
    paper_splits += (paper_splits.empty() ? "" : ",") + (b.paper_split.empty() ? b.layers.back() : b.paper_split);
  const std::vector<std::string> splits = chosen_splits(f, s.model, paper_splits);
  std::vector<const AttackInfo*> attacks;
  for (const auto& name : f.get_list("attacks", {"white-box", "white-box-aware", "black-box", "label-only"}))
    if (std::find(attacks.begin(), attacks.end(), &parse_attack(name)) == attacks.end())
      attacks.push_back(&parse_attack(name));
  const std::vector<inv::defense::Defense> defenses = chosen_defenses(f);
  const double bar = f.get_float("bar", 0.3);
  if (bar > 1) throw f.error("--bar: expected an SSIM in [0, 1], got " + fmt(bar));
  if (std::none_of(attacks.begin(), attacks.end(), [](const AttackInfo* a) { return a->name != "label-only"; }))
    throw f.error("--attacks: the label-only baseline alone attacks nothing; add an attacker (e.g. white-box)");
  const int64_t observed_count = f.get_int("observed", 1000);
  const bool any_labels = std::any_of(attacks.begin(), attacks.end(), [](const AttackInfo* a) { return a->needs_labels; });
  if (s.attacker.set == "noise" && any_labels)
    throw f.error("--attacker-set noise has no labels, but label-only and query-free need labelled images");
  const std::string out = f.get_text("out", default_out_dir(s));
  set_interrupt_note("; rerun the same command to resume (the target and the finished cells are reused)");
  inv::train::Progress progress(s.quiet);

  // Data, target (the sweep's in `out`, trained there when missing), the attacked images, the
  // attacker's own and the features the cloud has seen. `out` is created once they are there.
  const Workspace w = open_workspace(f, s, t, true, out + "/target.invckpt", progress);
  prepare_output_directory(out);
  prepare_output_directory(out + "/cache/defense");
  const Originals originals = first_of_each_class(w.test);
  const inv::protocol::AttackerData attacker =
      attacker_data(s, t, w.train, w.holdout, w.test, originals.indices, w.src.display);
  const inv::Tensor x = normalise(t, originals.images);
  std::vector<int64_t> seen;
  for (int64_t i = 0; i < w.test.size() && int64_t(seen.size()) < observed_count; ++i)
    if (std::find(originals.indices.begin(), originals.indices.end(), i) == originals.indices.end()) seen.push_back(i);
  const inv::Tensor observed_inputs = normalise(t, inv::data::gather_rows(w.test.images, seen));
  // The optimised noise learns on the target's training images: for an imported target (its
  // holdout unknown), the whole training split.
  const inv::Tensor train_inputs =
      normalise(t, inv::protocol::target_part(w.train, std::max<int64_t>(w.holdout, 0)).images);

  std::string images_key;
  for (int64_t i : originals.indices) images_key += std::to_string(i) + ",";
  const bool reuse = f.get_bool("reuse", true);
  const std::string fisher = f.get_text("fisher-bound", "auto");
  std::vector<DefenseCell> cells;
  double clean_accuracy = NAN;
  const size_t total = splits.size() * (defenses.size() + 1);
  std::vector<std::string> left_out;  // report sections about another target
  auto write_all = [&](bool complete) {
    const std::string rec = recommend(cells, bar, clean_accuracy);
    inv::io::write_file_atomic(out + "/defense.csv", defense_csv(cells));
    inv::io::write_file_atomic(out + "/defense.json", defense_json(cells, rec, bar, command_line, complete));
    left_out = write_section(out, "defenses", t.key(), report_title(s.model, w.src.display),
                             defense_section(cells, rec, bar, originals.images, command_line, complete));
    return rec;
  };
  write_all(false);  // the page says at once that this run's grid is under way
  for (const std::string& split : splits) {
    auto [edge, cloud] = t.net->split(split);
    std::vector<double> jacobian_norms;  // ||J||²_F per image at this split, once for every σ
    int64_t features = 0;                // the edge's outputs per image
    {
      inv::NoGradGuard no_grad;
      features = edge->forward(inv::slice(x, 0, 0, 1)).numel();
    }
    const bool want_fisher = fisher == "yes" || (fisher == "auto" && features <= kFisherAutoFeatures);
    if (fisher == "auto" && !want_fisher &&
        std::any_of(defenses.begin(), defenses.end(), [](const inv::defense::Defense& d) {
          return d.kind == DefenseKind::Gaussian && d.position == Position::Features;
        }))
      progress.message("the Fisher bound is left out at " + split + ": its " + std::to_string(features) +
                       " features per image take as many backward passes per image; --fisher-bound yes computes it");
    std::vector<inv::defense::Defense> grid{inv::defense::Defense()};
    grid.insert(grid.end(), defenses.begin(), defenses.end());
    for (inv::defense::Defense d : grid) {
      const auto c0 = std::chrono::steady_clock::now();
      const std::string name = split + "-" + inv::defense::kind_name(d.kind) + "-" +
                               inv::defense::position_name(d.position) + "-" + fmt(d.level);
      progress.message("[" + std::to_string(cells.size() + 1) + "/" + std::to_string(total) + "] " + split + ": " +
                       d.describe());
      if (d.kind == DefenseKind::Optimised)
        d.offset = optimised_noise(out, split, d.level, *edge, *next_layer(*cloud), train_inputs, t.key(), s, reuse);
      std::vector<AttackJob> jobs;
      std::string key = t.key() + "|" + name + "|" + images_key + "|" + attacker.description + "|" +
                        std::to_string(observed_count);
      for (const AttackInfo* a : attacks) {
        jobs.push_back(make_job(s, split, *a));
        key += "|" + jobs.back().fingerprint();
      }
      const std::string cache = out + "/cache/defense/" + name + ".invckpt";
      DefenseCell cell;
      cell.split = split;
      cell.defense = d;
      const bool cached = reuse && load_cell(cache, key, attacks, originals.images, cell);
      if (!cached) {
        auto deployed = std::make_shared<inv::defense::DefendedEdge>(edge, d, cell_seed(s.seed, name));
        cell.accuracy = deployed_accuracy(*deployed, *cloud, w.test, t);
        inv::attack::Deployment dep;
        dep.edge = deployed;
        dep.defense = d;
        inv::Tensor v;
        {
          inv::NoGradGuard no_grad;
          v = deployed->forward(x);
          if (d.kind == DefenseKind::Optimised) dep.observed = deployed->forward(observed_inputs);
        }
        for (size_t i = 0; i < attacks.size(); ++i) {
          const auto r = run_attack(t, jobs[i], v, attacks[i]->uses_attacker_data ? &attacker : nullptr, &dep);
          cell.attacks.push_back(attacks[i]->name);
          cell.reconstructions.push_back(to_pixels(t, r.images));
          cell.quality.push_back(inv::metrics::evaluate(originals.images, cell.reconstructions.back()));
          cell.architecture.push_back(r.architecture);
        }
        save_cell(cache, key, cell);
      }
      if (d.kind == DefenseKind::Gaussian && d.position == Position::Features && std::isnan(cell.fisher_bound) &&
          want_fisher) {
        if (jacobian_norms.empty()) {
          progress.message("    the Fisher bound: the edge's Jacobian at " + std::to_string(x.size(0)) + " images (" +
                           std::to_string(features) + " backward passes each, once for every σ at " + split + ")");
          jacobian_norms = inv::defense::jacobian_sq_norms(*edge, x);
        }
        cell.fisher_bound = fisher_bound(jacobian_norms, x.numel() / x.size(0), d.level, t);
        save_cell(cache, key, cell);  // a cached cell gains its bound
      }
      if (d.kind == DefenseKind::None && split == splits.front()) clean_accuracy = cell.accuracy;
      cell.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
      std::string line = "    accuracy " + fixed(100 * cell.accuracy, 2) + "%";
      for (size_t i = 0; i < cell.attacks.size(); ++i)
        line += "; " + cell.attacks[i] + " SSIM " + fixed(mean_of(cell.quality[i].ssim_reference), 3);
      progress.message(line + (cached ? " (cached)" : ""));
      cells.push_back(std::move(cell));
      write_all(false);  // after every cell, so that an interrupted run leaves a valid report
    }
  }
  const std::string rec = write_all(true);
  std::fputs(left_out_note(left_out).c_str(), stderr);
  std::printf("%s", defense_table(cells, bar).c_str());
  std::printf("recommendation: %s\n", rec.c_str());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("took %.0f s; report: %s/index.html\n", seconds, out.c_str());
  return 0;
}

}  // namespace cli
