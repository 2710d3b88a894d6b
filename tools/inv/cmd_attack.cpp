// cmd_attack.cpp: `inv attack` — one attack at one split layer.
//
//   inv attack --checkpoint out/fmnist-lenet.invckpt --split ReLU2 --attack white-box
//   inv attack --checkpoint T.invckpt --split conv1 --features v.npy --attack black-box
//   inv attack --model resnet20 --weights R.safetensors --dataset cifar10 --split layer2.0
//
// The target is a checkpoint of inv (--checkpoint) or weights trained elsewhere (--weights
// with --model: imported as import_target does, without evaluating its accuracy).
// The attacked features are either computed from images (--images: the first test image
// of each class, or a .npy of images with values in [0, 1]) or read from --features.
// Writes into --out: features.npy (what was attacked), reconstructions.npy (values in
// [0, 1]), reconstruction.png (originals over reconstructions when the originals are
// known), metrics.json and, with originals, metrics.csv (without them, a metrics.csv left
// by an earlier run in --out is removed).
#include <cstdio>

#include <inv/io/file.hpp>
#include <inv/io/image.hpp>
#include <inv/io/npy.hpp>

#include "attacks.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "json.hpp"
#include "report.hpp"

namespace cli {

namespace {

FlagSet attack_flags() {
  FlagSet f("attack",
            "inv attack (--checkpoint FILE | --model NAME --weights FILE) --split LAYER [--attack white-box|black-box|"
            "query-free] [flags]",
            "Runs one model-inversion attack against the target of FILE split after LAYER, on the first test "
            "image of each class, on images from a .npy file, or on saved features, and writes the "
            "reconstructions, the features attacked and the metrics.");
  f.section("attack");
  f.text("checkpoint", "FILE", "", "the target checkpoint (from inv train, or target.invckpt of a sweep); or --weights");
  f.choice("model", inv::protocol::protocol_model_names(), "the checkpoint's",
           "the target network; with --weights, required (the architecture of the weights)");
  f.text("split", "LAYER", "", "the split layer: the edge computes every layer up to and including it; required");
  f.choice("attack", inv::attack::attack_names(), "white-box", "the attacker (inv/attack/registry.hpp)");
  f.text("images", "first|FILE.npy", "first",
         "the private images: 'first' = the first test image of each class, or a .npy of images (N, C, H, W) "
         "(or (N, H, W) for grey) with pixel values in [0, 1], not normalised");
  f.text("features", "FILE.npy", "",
         "attack these features (N, ...) of the split layer instead of computing them from --images; "
         "metrics need --images too");
  f.text("out", "DIR", "out/attack-<split>-<attack>", "output directory");
  f.text("dataset", "NAME|PATH", "the checkpoint's dataset",
         "where the test images (--images first) and the attacker's training images come from");
  add_common_flags(f, false, false);
  add_input_flags(f, true);
  add_attack_flags(f);
  return f;
}

void write_metrics(const std::string& dir, const std::string& command, const AttackJob& job,
                   const inv::attack::Reconstruction& r, const Target& t,
                   const Originals* o, const inv::metrics::ImageQuality* q) {
  JsonWriter j;
  j.begin_object();
  j.key("command").value(command);
  j.key("checkpoint").value(t.path).key("model").value(t.spec.name);
  if (t.imported()) j.key("imported").value(true).key("sha256").value(t.meta("sha256"));
  j.key("split").value(job.split).key("attack").value(job.attack->name);
  j.key("seconds").value(r.cost.seconds).key("queries").value(r.cost.queries);
  j.key("settings").begin_object();
  for (const auto& [k, v] : job.settings(r.architecture))
    if (!v.empty()) j.key(k).value(v);
  j.end_object();
  j.key("metrics");
  if (!q) {
    j.null();
  } else {
    const auto ps = inv::metrics::summarize_psnr(q->psnr);
    j.begin_object();
    j.key("mean").begin_object();
    j.key("mse").value(mean_of(q->mse)).key("psnr").value(ps.mean).key("psnr_finite").value(ps.finite_mean);
    j.key("psnr_exact").value(ps.exact);
    j.key("ssim_reference").value(mean_of(q->ssim_reference)).key("ssim_gaussian").value(mean_of(q->ssim_gaussian));
    j.end_object();
    j.key("per_image").begin_object();
    j.key("mse").values(q->mse).key("psnr").values(q->psnr);
    j.key("ssim_reference").values(q->ssim_reference).key("ssim_gaussian").values(q->ssim_gaussian);
    j.end_object();
    j.end_object();
  }
  j.end_object();
  inv::io::write_file_atomic(dir + "/metrics.json", j.str());
  if (!q) {  // no originals: an earlier run's metrics.csv would describe other reconstructions
    std::remove((dir + "/metrics.csv").c_str());
    return;
  }
  std::string csv = "image,test_index,class,mse,psnr,ssim_reference,ssim_gaussian\n";
  for (size_t i = 0; i < q->mse.size(); ++i) {
    char row[256];
    std::snprintf(row, sizeof row, ",%.10g,%.10g,%.10g,%.10g\n", q->mse[i], q->psnr[i], q->ssim_reference[i],
                  q->ssim_gaussian[i]);
    const bool known = o && !o->indices.empty();
    csv += std::to_string(i) + "," + (known ? std::to_string(o->indices[i]) : "") + "," +
           (known ? "\"" + o->classes[i] + "\"" : "") + row;
  }
  inv::io::write_file_atomic(dir + "/metrics.csv", csv);
}

}  // namespace

int cmd_attack(const Args& args, const std::string& command_line) {
  FlagSet f = attack_flags();
  if (!parse_or_help(f, args)) return 0;
  if (!f.positional().empty()) throw f.error("unexpected argument '" + f.positional()[0] + "'");
  const bool weights = f.given("weights");
  if (!f.given("checkpoint") && !weights)
    throw f.error("missing --checkpoint FILE (a target checkpoint from inv train), or --model NAME --weights FILE");
  if (f.given("checkpoint") && weights) throw f.error("--checkpoint and --weights both give the target: pass one");
  if (weights && !f.given("model"))
    throw f.error("--weights needs --model, the architecture of the weights (" +
                  join(inv::protocol::protocol_model_names()) + ")");
  if (!f.given("split")) throw f.error("missing --split LAYER (inv info FILE lists the layers)");
  if (!weights)
    for (const char* name : {"input-size", "mean", "std"})
      if (f.given(name))
        throw f.error(std::string("--") + name + ": --checkpoint gives a target with its own input and normalisation");

  Settings s;
  Target t;
  if (weights) {
    s.model = f.get_text("model", "");
    read_settings(f, s);
    t = import_target(s.model, input_spec(s), s.weights);
    s.imported = true;
  } else {
    t = load_target(f.get_text("checkpoint", ""));
    if (f.given("model") && f.get_text("model", "") != t.spec.name)
      throw f.error("--model " + f.get_text("model", "") + " but --checkpoint holds a " + t.spec.name);
    s.model = t.spec.name;
    read_settings(f, s);
    s.imported = t.imported();
  }
  apply_threads(s);
  const std::string split = f.get_text("split", "");
  check_split(t, split);
  const AttackInfo& attack = parse_attack(f.get_text("attack", "white-box"));
  if (attack.needs_labels && s.attacker.set == "noise")
    throw f.error("--attacker-set noise has no labels; the " + attack.name +
                  " attack needs labelled images (train or disjoint)");
  const std::string out = f.get_text("out", "out/attack-" + split + "-" + attack.name);
  const bool need_test = f.get_text("images", "first") == "first" && !(f.given("features") && !f.given("images"));
  if (weights && !f.given("dataset") && (need_test || attack.uses_attacker_data))
    throw f.error("--weights: pass --dataset NAME|PATH, the images to attack and the attacker's");
  prepare_output_directory(out);

  // The private images and the features the attacker observes.
  const std::string images = f.get_text("images", "first");
  // An imported target's attackers take the test split when disjoint (attacker_data).
  const int64_t holdout = t.holdout();
  const bool test_for_attacker = attack.uses_attacker_data && holdout < 0 && s.attacker.set == "disjoint";
  s.dataset = f.get_text("dataset", t.meta("dataset", "fashion-mnist"));
  const int channels = int(t.spec.input_shape[0]);
  const bool resizable = t.protocol.any_input_size;
  DataSource src;
  if (need_test || attack.uses_attacker_data) src = locate_target_dataset(s, f.given("dataset"), t);
  Originals originals;
  inv::data::Dataset test;
  if (need_test || test_for_attacker) {
    test = load_split(src, false, channels);
    fit_input_size(test, t.spec.input_shape, resizable, t.spec.name, src.display + " (test set)");
  }
  if (need_test) {
    originals = first_of_each_class(test);
  } else if (f.given("images")) {
    originals.images = load_images_npy(images, t.spec.input_shape);
  }
  const LayerShape layer = layer_shape(t, split);
  inv::Tensor features;
  if (f.given("features")) {
    features = load_features_npy(f.get_text("features", ""), layer.shape, split);
    INV_CHECK(!originals.images.defined() || originals.images.size(0) == features.size(0), "--features holds ",
              features.size(0), " feature sets but --images ", originals.images.size(0), " images");
  } else {
    features = edge_features(t, split, normalise(t, originals.images));
  }
  inv::io::save_npy(out + "/features.npy", features);

  // The attacker's own data.
  inv::protocol::AttackerData attacker;
  if (attack.uses_attacker_data) {
    inv::data::Dataset train;
    if (!test_for_attacker) {
      train = load_split(src, true, channels);
      fit_input_size(train, t.spec.input_shape, resizable, t.spec.name, src.display + " (training set)");
    }
    // Without a recorded holdout (an imported target), the split is named (attacker_data).
    attacker = attacker_data(s, t, train, holdout, test, need_test ? originals.indices : std::vector<int64_t>{},
                             src.display);
  }

  const AttackJob job = make_job(s, split, attack);
  if (!s.quiet) std::fprintf(stderr, "%s\n", budget_line(s).c_str());
  const inv::attack::Reconstruction r = run_attack(t, job, features, attack.uses_attacker_data ? &attacker : nullptr);

  const inv::Tensor recon = to_pixels(t, r.images);
  inv::io::save_npy(out + "/reconstructions.npy", recon);
  inv::io::save_png(out + "/reconstruction.png", comparison_grid(originals.images, recon));
  if (originals.images.defined()) {
    const auto q = score_reconstruction(t, originals.images, r.images);
    write_metrics(out, command_line, job, r, t, &originals, &q);
    const auto ps = inv::metrics::summarize_psnr(q.psnr);
    std::printf("%s at %s %s: PSNR %.2f dB%s, SSIM %s (reference), %s (Gaussian), %.1f s\n", attack.name.c_str(),
                split.c_str(), inv::to_string(layer.shape).c_str(), ps.finite_mean, ps.exact ? " (some exact)" : "",
                fixed(mean_of(q.ssim_reference), 3).c_str(), fixed(mean_of(q.ssim_gaussian), 3).c_str(), r.cost.seconds);
  } else {
    write_metrics(out, command_line, job, r, t, nullptr, nullptr);
    std::printf("%s at %s: reconstructed %s in %.1f s (no originals given, so no metrics)\n", attack.name.c_str(),
                split.c_str(), count_of(recon.size(0), "image").c_str(), r.cost.seconds);
  }
  std::printf("wrote %s/reconstruction.png, reconstructions.npy, features.npy, metrics.json%s\n", out.c_str(),
              originals.images.defined() ? ", metrics.csv" : "");
  return 0;
}

}  // namespace cli
