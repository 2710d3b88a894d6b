// cmd_sweep.cpp: `inv sweep` — the main job: every split layer × every attack, and the report.
//
//   inv sweep --dataset fashion-mnist --model lenet            (quick preset, all splits)
//   inv sweep --splits conv1,ReLU2 --attacks white-box --preset paper
//
// In the output directory (default out/<dataset>-<model>-<preset>):
//   target.invckpt (+ .train.invckpt, .csv)   the target, trained once and reused by reruns
//   <split>-features.npy                      the features each split sends to the cloud
//   <split>-<attack>.png                      originals over reconstructions
//   cache/<split>-<attack>.invckpt            each finished attack, reused by a rerun with the same settings
//   results.csv, settings.csv, results.json   the results, rewritten after every split
//   index.leakage.part, index.html            the report's Leakage section and the page (report.hpp;
//                                             marked incomplete until the last split is done)
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <inv/io/checkpoint.hpp>
#include <inv/io/image.hpp>
#include <inv/io/npy.hpp>
#include <inv/train/progress.hpp>

#include <inv/protocol/attacker_data.hpp>

#include "attacks.hpp"
#include "commands.hpp"
#include "datasets.hpp"
#include "files.hpp"
#include "report.hpp"

namespace cli {

namespace {

FlagSet sweep_flags() {
  FlagSet f("sweep", "inv sweep [--dataset NAME|PATH] [--model NAME [--weights FILE]] [--splits all|L1,L2] [flags]",
            "The leakage report: trains the target (or reuses the one cached in --out, or --target, or imports "
            "--weights), then runs "
            "every chosen attack at every chosen split layer on the first test image of each class, and writes "
            "index.html (a self-contained page), results.csv, settings.csv, results.json and the image grids. "
            "A rerun with the same settings reuses the finished target and attacks.");
  add_common_flags(f, true, true);
  f.section("sweep");
  f.text("splits", "all|L1,L2,...", "all", "split layers (all = every layer except flatten)");
  f.list("attacks", "A1,A2,...", inv::attack::attack_names(), join(inv::attack::undefended_attack_names()),
         "attacks to run (label-only is the baseline an attack must beat)");
  f.text("target", "FILE", "", "attack this target checkpoint instead of training one");
  f.text("out", "DIR", "out/<dataset>-<model>-<preset> (with --weights: out/<dataset>-<model>-<weights file>-<preset>)",
         "output directory");
  f.boolean("reuse", "true", "reuse attacks finished by an earlier run with the same settings");
  add_input_flags(f, true);
  add_target_flags(f);
  add_attack_flags(f);
  return f;
}

/// A finished attack, cached so that a rerun (e.g. after Ctrl-C) does not repeat it.
struct CachedAttack {
  inv::Tensor reconstruction;
  double seconds = 0;
  int64_t queries = 0;
  std::string architecture;
};

bool load_cached(const std::string& path, const std::string& key, CachedAttack& out) {
  if (!inv::io::file_exists(path)) return false;
  try {
    const auto ck = inv::io::load_checkpoint(path);
    if (ck.metadata.count("key") == 0 || ck.metadata.at("key") != key || ck.tensors.size() != 1) return false;
    out.reconstruction = ck.tensors[0].second;
    out.seconds = metadata_number("seconds", ck.metadata.at("seconds"), path);
    out.queries = metadata_integer("queries", ck.metadata.at("queries"), path, 0);
    out.architecture = ck.metadata.at("architecture");
    return true;
  } catch (const std::exception&) {
    return false;  // unreadable or from another version: recompute
  }
}

void save_cached(const std::string& path, const std::string& key, const inv::attack::Reconstruction& r) {
  inv::io::Checkpoint ck;
  ck.tensors = {{"reconstruction", r.images}};
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", r.cost.seconds);
  ck.metadata = {{"key", key}, {"seconds", secs}, {"queries", std::to_string(r.cost.queries)},
                 {"architecture", r.architecture}};
  inv::io::save_checkpoint(path, ck);
}

std::vector<const AttackInfo*> chosen_attacks(const FlagSet& f) {
  std::vector<const AttackInfo*> out;
  for (const auto& name : f.get_list("attacks", inv::attack::undefended_attack_names())) {
    const AttackInfo* a = &parse_attack(name);
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  return out;
}

}  // namespace

int cmd_sweep(const Args& args, const std::string& command_line) {
  const auto t0 = std::chrono::steady_clock::now();
  FlagSet f = sweep_flags();
  if (!parse_or_help(f, args)) return 0;
  if (!f.positional().empty()) throw f.error("unexpected argument '" + f.positional()[0] + "'");
  check_weights_flags(f);
  Settings s;
  Target t;
  adopt_given_target(f, s, t);  // the model (and the default dataset) come from --target
  read_settings(f, s);
  const int threads = apply_threads(s);
  const std::vector<const AttackInfo*> attacks = chosen_attacks(f);
  const std::vector<std::string> splits = chosen_splits(f, s.model, "all");  // before any training (a target is an s.model)
  const bool any_attacker =
      std::any_of(attacks.begin(), attacks.end(), [](const AttackInfo* a) { return a->uses_attacker_data; });
  if (s.attacker.set == "noise")
    for (const AttackInfo* a : attacks)
      if (a->needs_labels) {
        std::vector<std::string> unlabelled;
        for (const AttackInfo* b : attacks)
          if (!b->needs_labels) unlabelled.push_back(b->name);
        throw f.error("--attacker-set noise has no labels, but the " + a->name + " attack needs labelled images: use " +
                      (unlabelled.empty() ? std::string("other --attacks") : "--attacks " + join(unlabelled)) +
                      " or --attacker-set train|disjoint");
      }
  const std::string out = f.get_text("out", default_out_dir(s));
  set_interrupt_note("; rerun the same command to resume (the target and the finished attacks are reused)");
  inv::train::Progress progress(s.quiet);

  // Data and target (trained into `out`, which is created then: not for a run that fails before).
  const Workspace w = open_workspace(f, s, t, any_attacker, out + "/target.invckpt", progress);
  prepare_output_directory(out);
  prepare_output_directory(out + "/cache");
  const DataSource& src = w.src;
  const Originals originals = first_of_each_class(w.test);
  const inv::Tensor x = normalise(t, originals.images);
  inv::protocol::AttackerData attacker;
  if (any_attacker) attacker = attacker_data(s, t, w.train, w.holdout, w.test, originals.indices, src.display);

  Report r;
  r.dataset_id = s.dataset;
  r.dataset_display = src.display;
  r.accuracy_label = t.meta("accuracy_label", src.accuracy_label);
  r.model = t.spec.name;
  r.test_accuracy = t.test_accuracy();
  r.test_images = t.meta_integer("test_images", 0);
  r.target_checkpoint = t.path;
  r.target_key = t.key();
  r.target_reused = w.target_reused;
  r.target_imported = t.imported();
  r.target_source = t.meta("source_file");
  r.target_sha256 = t.meta("sha256");
  r.settings = describe(s);
  r.settings.push_back({"target", "target", target_summary(t)});
  if (any_attacker) r.settings.push_back({"attacker_data", "attacker's data", attacker.description});
  for (const AttackInfo* a : attacks) r.attacks.push_back(a->name);
  r.originals = originals.images;
  r.image_indices = originals.indices;
  r.image_classes = originals.classes;
  r.started = utc_now();
  r.threads = threads;
  r.command = command_line;
  r.budget = budget_line(s);
  r.splits_planned = splits.size();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

  const bool reuse = f.get_bool("reuse", true);
  std::string images_key;
  for (int64_t i : originals.indices) images_key += std::to_string(i) + ",";
  progress.message(budget_line(s));  // once the data and the target are there: what the attacks will cost
  for (size_t k = 0; k < splits.size(); ++k) {
    const std::string& split = splits[k];
    const LayerShape layer = layer_shape(t, split);
    r.splits.push_back({split, layer.index, layer.op, layer.shape});
    const inv::Tensor v = edge_features(t, split, x);
    inv::io::save_npy(out + "/" + split + "-features.npy", v);
    for (const AttackInfo* a : attacks) {
      progress.message("[" + std::to_string(k + 1) + "/" + std::to_string(splits.size()) + "] " + split + ": " +
                       a->name + " attack");
      const AttackJob job = make_job(s, split, *a);
      const std::string key = t.key() + "|" + job.fingerprint() +
                              "|images=" + images_key + "|attacker=" + attacker.description;
      const std::string cache = out + "/cache/" + split + "-" + a->name + ".invckpt";
      CachedAttack c;
      Cell cell;
      if (reuse && load_cached(cache, key, c) && c.reconstruction.shape() == x.shape()) {
        cell.reused = true;
      } else {
        const inv::attack::Reconstruction res = run_attack(t, job, v, a->uses_attacker_data ? &attacker : nullptr);
        save_cached(cache, key, res);
        c = {res.images, res.cost.seconds, res.cost.queries, res.architecture};
      }
      cell.split = split;
      cell.attack = a->name;
      cell.quality = score_reconstruction(t, originals.images, c.reconstruction);
      cell.seconds = c.seconds;
      cell.queries = c.queries;
      cell.settings = job.settings(c.architecture);
      cell.reconstructions = to_pixels(t, c.reconstruction);
      cell.png = split + "-" + a->name + ".png";
      inv::io::save_png(out + "/" + cell.png, comparison_grid(originals.images, cell.reconstructions));
      char line[160];
      std::snprintf(line, sizeof line, "    %s %s: SSIM %s, PSNR %.2f dB (%.1f s%s)", split.c_str(), a->name.c_str(),
                    fixed(mean_of(cell.quality.ssim_reference), 3).c_str(),
                    inv::metrics::summarize_psnr(cell.quality.psnr).finite_mean, c.seconds,
                    cell.reused ? ", cached" : "");
      progress.message(line);
      r.cells.push_back(std::move(cell));
    }
    r.seconds = elapsed();
    write_report(out, r);  // after every split, so that an interrupted run leaves a valid report
  }
  r.seconds = elapsed();
  r.complete = true;
  std::fputs(left_out_note(write_report(out, r)).c_str(), stderr);
  std::printf("%s\n", console_table(r).c_str());
  std::printf("%s\n", budget_line(s).c_str());
  std::printf("took %.0f s; report: %s/index.html\n", r.seconds, out.c_str());
  return 0;
}

}  // namespace cli
