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
// black-box attacker (its oracle is the deployed edge) and the label-only baseline. In
// the output directory (default out/<dataset>-<model>-<preset>-defend):
// The target is the one `inv sweep` trains for the same dataset, model and preset
// (out/<dataset>-<model>-<preset>/target.invckpt, trained there when missing), or --target.
//   noise/<split>-<level>.npy            optimised noise tensors (protocol §9)
//   cache/<cell>.invckpt                 each finished cell, reused by a rerun
//   defense.csv, defense.json, index.html   the results, the plot, the recommendation
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
#include "files.hpp"
#include "json.hpp"
#include "report.hpp"

namespace cli {

namespace {

using inv::defense::DefenseKind;
using inv::defense::Position;

const char* kNoiseLevels = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,1.5,2,2.5,3,3.5,4,4.5,5";
const char* kDropoutRates = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9";
const char* kOptimisedLevels = "0,100,1000";

FlagSet defend_flags() {
  FlagSet f("defend", "inv defend [--dataset NAME|PATH] [--splits L1,L2] [--defenses gaussian,dropout] [flags]",
            "What to do about the leakage: runs every chosen defense at every level and position, at every chosen "
            "split, measures the cloud's test accuracy under it and how well each attacker still reconstructs the "
            "input, and recommends the split, defense and level that meet the privacy bar with the least loss of "
            "accuracy (protocol §7). Writes index.html, defense.csv and defense.json; a rerun reuses finished cells.");
  add_common_flags(f, true, true);
  f.section("defenses");
  f.text("splits", "all|L1,L2,...", "the paper splits of the model (lenet: conv1, ReLU2, fc3)",
         "split layers (all = every layer except flatten)");
  f.list("defenses", "D1,D2,...", {"none", "gaussian", "laplace", "dropout", "optimised"}, "gaussian,dropout",
         "defenses (gaussian and laplace noise, dropout, the optimised noise of protocol §9); every split also "
         "runs undefended, and `none` alone compares the splits (privacy-aware partitioning)");
  f.list("positions", "P1,P2", {"features", "input"}, "features",
         "where noise and dropout apply: to the edge's output, or to its input (optimised: features only)");
  f.text("noise-levels", "L1,L2,...", kNoiseLevels, "σ of gaussian and b of laplace noise, in normalised units");
  f.text("dropout-rates", "R1,R2,...", kDropoutRates, "dropout rates, each in [0, 1)");
  f.text("optimised-levels", "L1,L2,...", kOptimisedLevels, "scales of the optimised noise's random reference");
  f.list("attacks", "A1,A2,...", inv::attack::attack_names(), "white-box,white-box-aware,black-box,label-only",
         "attackers: white-box is the paper's (it ignores the defense), white-box-aware models it, black-box "
         "queries the deployed edge, label-only is the baseline an attack must beat");
  f.real("bar", "SSIM", 0, false, "0.3",
         "the privacy bar: every attacker's SSIM (reference) at most this and no better than the label-only "
         "baseline");
  f.integer("observed", "N", 1, "1000", "features of other test images the cloud has seen (the aware attacker's "
                                        "estimate of optimised noise)");
  f.text("target", "FILE", "out/<dataset>-<model>-<preset>/target.invckpt (the sweep's; trained when missing)",
         "the target checkpoint to defend");
  f.text("out", "DIR", "out/<dataset>-<model>-<preset>-defend", "output directory");
  f.boolean("reuse", "true", "reuse cells finished by an earlier run with the same settings");
  add_target_flags(f);
  add_attack_flags(f);
  return f;
}

std::vector<double> parse_levels(const FlagSet& f, const std::string& name, const char* def, bool rate) {
  std::vector<double> out;
  for (const std::string& item : split_list(f.get_text(name, def))) {
    double v = 0;
    if (!parse_float(item, v) || v < 0 || (rate && v >= 1))
      throw f.error("--" + name + ": '" + item + "' is not " + (rate ? "a rate in [0, 1)" : "a level >= 0"));
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  if (out.empty()) throw f.error("--" + name + ": no level given");
  return out;
}

/// One defense setting at one split, and what every attacker did against it.
struct DefenseCell {
  std::string split;
  inv::defense::Defense defense;  // kind None for the undefended split
  double accuracy = 0;
  std::vector<std::string> attacks;
  std::vector<inv::metrics::ImageQuality> quality;
  std::vector<inv::Tensor> reconstructions;  // (N, C, H, W) in [0, 1]
  std::vector<std::string> architecture;
  double seconds = 0;
  /// Gaussian noise on the features: the Fisher bound on any unbiased attacker's MSE, in
  /// pixel units (std² / dFIL, mean over the images; defense/fisher.hpp); else NaN.
  double fisher_bound = NAN;

  std::string label() const { return split + " · " + defense.describe(); }
  /// Mean SSIM (reference) of attack `a`, or NaN when it did not run.
  double ssim(const std::string& a) const {
    for (size_t i = 0; i < attacks.size(); ++i)
      if (attacks[i] == a) return mean_of(quality[i].ssim_reference);
    return NAN;
  }
  /// The strongest attacker by SSIM (reference), baselines excluded; -1 when none ran.
  int strongest() const {
    int best = -1;
    for (size_t i = 0; i < attacks.size(); ++i) {
      if (attacks[i] == "label-only") continue;
      if (best < 0 || mean_of(quality[i].ssim_reference) > mean_of(quality[size_t(best)].ssim_reference)) best = int(i);
    }
    return best;
  }
};

/// Whether a cell meets the bar: every attacker's SSIM <= bar and <= the label-only baseline's.
bool meets_bar(const DefenseCell& c, double bar) {
  const double baseline = c.ssim("label-only");
  for (size_t i = 0; i < c.attacks.size(); ++i) {
    if (c.attacks[i] == "label-only") continue;
    const double s = mean_of(c.quality[i].ssim_reference);
    if (!(s <= bar) || (!std::isnan(baseline) && s > baseline)) return false;
  }
  return true;
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

std::string level_text(double v) { return fmt(v); }

std::string defense_csv(const std::vector<DefenseCell>& cells) {
  std::string csv =
      "split,defense,position,level,accuracy,attack,psnr,ssim_reference,ssim_gaussian,mse,fisher_mse_bound,note\n";
  for (const DefenseCell& c : cells)
    for (size_t i = 0; i < c.attacks.size(); ++i) {
      char row[512];
      std::snprintf(row, sizeof row, "%s,%s,%s,%s,%.6f,%s,%.6g,%.6f,%.6f,%.8g,%s,", c.split.c_str(),
                    inv::defense::kind_name(c.defense.kind), inv::defense::position_name(c.defense.position),
                    level_text(c.defense.level).c_str(), c.accuracy, c.attacks[i].c_str(),
                    inv::metrics::summarize_psnr(c.quality[i].psnr).finite_mean, mean_of(c.quality[i].ssim_reference),
                    mean_of(c.quality[i].ssim_gaussian), mean_of(c.quality[i].mse),
                    std::isnan(c.fisher_bound) ? "" : fmt(c.fisher_bound).c_str());
      csv += row;
      csv += "\"" + c.architecture[i] + "\"\n";
    }
  return csv;
}

std::string defense_json(const std::vector<DefenseCell>& cells, const std::string& recommendation, double bar,
                         const std::string& command, bool complete) {
  JsonWriter j;
  j.begin_object();
  j.key("command").value(command).key("complete").value(complete).key("bar_ssim").value(bar);
  j.key("recommendation").value(recommendation);
  j.key("cells").begin_array();
  for (const DefenseCell& c : cells) {
    j.begin_object();
    j.key("split").value(c.split).key("defense").value(inv::defense::kind_name(c.defense.kind));
    j.key("position").value(inv::defense::position_name(c.defense.position)).key("level").value(c.defense.level);
    j.key("accuracy").value(c.accuracy).key("meets_bar").value(meets_bar(c, bar));
    j.key("fisher_mse_bound");
    if (std::isnan(c.fisher_bound))
      j.null();
    else
      j.value(c.fisher_bound);
    j.key("attacks").begin_array();
    for (size_t i = 0; i < c.attacks.size(); ++i) {
      j.begin_object();
      j.key("attack").value(c.attacks[i]);
      j.key("psnr").value(inv::metrics::summarize_psnr(c.quality[i].psnr).finite_mean);
      j.key("ssim_reference").value(mean_of(c.quality[i].ssim_reference));
      j.key("ssim_gaussian").value(mean_of(c.quality[i].ssim_gaussian));
      j.key("mse").value(mean_of(c.quality[i].mse));
      j.key("note").value(c.architecture[i]);
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

/// The privacy–utility plot: accuracy against the strongest attacker's SSIM, one curve per
/// (split, defense, position), solid for the strongest attacker, dashed for the paper's.
std::string tradeoff_svg(const std::vector<DefenseCell>& cells, double bar) {
  const double W = 860, H = 420, left = 64, right = 250, top = 20, bottom = 50;
  const double pw = W - left - right, ph = H - top - bottom;
  double lo_acc = 1;
  for (const DefenseCell& c : cells) lo_acc = std::min(lo_acc, c.accuracy);
  lo_acc = std::floor(lo_acc * 10) / 10;
  auto x_of = [&](double s) { return left + pw * std::min(1.0, std::max(0.0, s)); };
  auto y_of = [&](double a) { return top + ph * (1 - (a - lo_acc) / std::max(1e-9, 1 - lo_acc)); };
  std::ostringstream s;
  char buf[256];
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << W << " " << H << "\" width=\"" << W
    << "\" height=\"" << H << "\" class=\"plot\" role=\"img\" aria-label=\"accuracy against SSIM\">\n";
  std::snprintf(buf, sizeof buf, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"#fff\" stroke=\"#999\"/>\n",
                left, top, pw, ph);
  s << buf;
  for (int k = 0; k <= 10; k += 2) {
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f</text>\n", x_of(k / 10.0),
                  top + ph + 16, k / 10.0);
    s << buf;
  }
  for (double a = lo_acc; a <= 1.0001; a += (1 - lo_acc) / 5) {
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n", left - 6,
                  y_of(a) + 4, 100 * a);
    s << buf;
  }
  std::snprintf(buf, sizeof buf,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%g\" y2=\"%g\" stroke=\"#b22222\" stroke-dasharray=\"6 4\"/>\n",
                x_of(bar), x_of(bar), top, top + ph);
  s << buf;
  s << "<text x=\"" << left + pw / 2 << "\" y=\"" << H - 8
    << "\" text-anchor=\"middle\" class=\"axis\">SSIM of the attacker (reference mode)</text>\n";
  s << "<text transform=\"translate(14," << top + ph / 2
    << ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">cloud's test accuracy</text>\n";
  static const char* palette[] = {"#1f5fa8", "#d9730d", "#2e8b57", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d"};
  std::vector<std::string> curves;
  for (const DefenseCell& c : cells) {
    if (c.defense.kind == DefenseKind::None) continue;
    const std::string key = c.split + " " + inv::defense::kind_name(c.defense.kind) + " (" +
                            inv::defense::position_name(c.defense.position) + ")";
    if (std::find(curves.begin(), curves.end(), key) == curves.end()) curves.push_back(key);
  }
  double ly = top + 10;
  for (size_t k = 0; k < curves.size(); ++k) {
    const char* colour = palette[k % (sizeof palette / sizeof palette[0])];
    for (int naive = 0; naive < 2; ++naive) {
      std::vector<std::pair<double, double>> pts;
      for (const DefenseCell& c : cells) {
        const std::string key = c.split + " " + inv::defense::kind_name(c.defense.kind) + " (" +
                                inv::defense::position_name(c.defense.position) + ")";
        if (key != curves[k]) continue;
        const double ssim = naive ? c.ssim("white-box") : [&] {
          const int i = c.strongest();
          return i < 0 ? NAN : mean_of(c.quality[size_t(i)].ssim_reference);
        }();
        if (!std::isnan(ssim)) pts.emplace_back(x_of(ssim), y_of(c.accuracy));
      }
      std::string points;
      for (const auto& [x, y] : pts) {
        std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x, y);
        points += buf;
      }
      s << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\""
        << (naive ? " stroke-dasharray=\"4 3\"" : "") << " points=\"" << points << "\"/>\n";
      for (const auto& [x, y] : pts) {
        std::snprintf(buf, sizeof buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\"/>\n", x, y, naive ? 2 : 3,
                      colour);
        s << buf;
      }
    }
    s << "<line x1=\"" << left + pw + 14 << "\" x2=\"" << left + pw + 38 << "\" y1=\"" << ly << "\" y2=\"" << ly
      << "\" stroke=\"" << colour << "\" stroke-width=\"2\"/><text x=\"" << left + pw + 44 << "\" y=\"" << ly + 4
      << "\">" << html_escape(curves[k]) << "</text>\n";
    ly += 20;
  }
  s << "<text x=\"" << left + pw + 14 << "\" y=\"" << ly + 8
    << "\" class=\"small\">solid: strongest attacker; dashed: the paper's (white-box)</text>\n";
  s << "</svg>\n";
  return s.str();
}

std::string defense_html(const std::vector<DefenseCell>& cells, const Target& t, const std::string& dataset,
                         const std::string& recommendation, double bar, const inv::Tensor& originals,
                         const std::string& command, bool complete) {
  std::ostringstream h;
  const std::string title = "Defenses: " + model_display(t.spec.name) + " on " + dataset;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << html_escape(title)
    << "</title>\n<style>" << page_style() << "</style>\n</head>\n<body>\n<main>\n<h1>" << html_escape(title)
    << "</h1>\n";
  if (!complete) h << "<p class=\"incomplete\">incomplete: rerun the same command to finish</p>\n";
  h << "<p>Each defense is applied by the deployed edge at inference (He, Zhang &amp; Lee, IEEE IoT-J 2021). "
       "Accuracy is the cloud's on the whole test set under the defense; SSIM is the reference mode's, mean over "
       "the first test image of each class. The privacy bar: every attacker's SSIM at most "
    << fixed(bar, 2)
    << " and no better than the label-only baseline (the mean image of the predicted class).</p>\n"
    << "<h2>Recommendation</h2>\n<p><b>" << html_escape(recommendation) << "</b></p>\n";
  h << "<h2>Privacy and utility</h2>\n" << tradeoff_svg(cells, bar);
  std::vector<std::string> attacks;
  for (const DefenseCell& c : cells)
    for (const auto& a : c.attacks)
      if (std::find(attacks.begin(), attacks.end(), a) == attacks.end()) attacks.push_back(a);
  h << "<h2>Every setting</h2>\n<table>\n<tr><th class=\"l\">split</th><th class=\"l\">defense</th><th>level</th>"
       "<th>accuracy</th>";
  for (const auto& a : attacks) h << "<th>" << html_escape(a) << "<br>PSNR / SSIM</th>";
  h << "<th>bar</th><th class=\"l\">strongest attacker's reconstructions</th></tr>\n";
  for (const DefenseCell& c : cells) {
    h << "<tr><td class=\"l\">" << html_escape(c.split) << "</td><td class=\"l\">"
      << html_escape(c.defense.kind == DefenseKind::None
                         ? std::string("none")
                         : std::string(inv::defense::kind_name(c.defense.kind)) + " (" +
                               inv::defense::position_name(c.defense.position) + ")")
      << "</td><td>" << level_text(c.defense.level) << "</td><td>" << fixed(100 * c.accuracy, 2) << "%</td>";
    for (const auto& a : attacks) {
      auto it = std::find(c.attacks.begin(), c.attacks.end(), a);
      if (it == c.attacks.end()) {
        h << "<td></td>";
        continue;
      }
      const size_t i = size_t(it - c.attacks.begin());
      h << "<td>" << fixed(inv::metrics::summarize_psnr(c.quality[i].psnr).finite_mean, 2) << " / "
        << fixed(mean_of(c.quality[i].ssim_reference), 3) << "</td>";
    }
    h << "<td>" << (meets_bar(c, bar) ? "✓" : "") << "</td><td class=\"l\">";
    const int best = c.strongest();
    if (best >= 0)
      h << "<img alt=\"" << html_escape(c.attacks[size_t(best)]) << "\" src=\""
        << data_uri(comparison_grid(inv::Tensor(), c.reconstructions[size_t(best)])) << "\"> "
        << html_escape(c.attacks[size_t(best)]);
    h << "</td></tr>\n";
  }
  h << "</table>\n<p>Originals: <img alt=\"originals\" src=\"" << data_uri(comparison_grid(inv::Tensor(), originals))
    << "\"></p>\n<p class=\"small\">" << html_escape(command) << "</p>\n</main>\n</body>\n</html>\n";
  return h.str();
}

/// The terminal table: one row per cell, each attacker's SSIM (reference).
std::string defense_table(const std::vector<DefenseCell>& cells, double bar) {
  std::ostringstream os;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%-8s %-22s %8s %9s", "split", "defense", "level", "accuracy");
  os << buf;
  if (!cells.empty())
    for (const auto& a : cells.front().attacks) {
      std::snprintf(buf, sizeof buf, " %16s", a.c_str());
      os << buf;
    }
  os << "  (SSIM; * meets the bar; Fisher bound on the MSE where defined)\n";
  for (const DefenseCell& c : cells) {
    const std::string kind = c.defense.kind == DefenseKind::None
                                 ? std::string("none")
                                 : std::string(inv::defense::kind_name(c.defense.kind)) + " (" +
                                       inv::defense::position_name(c.defense.position) + ")";
    std::snprintf(buf, sizeof buf, "%-8s %-22s %8s %8.2f%%", c.split.c_str(), kind.c_str(),
                  level_text(c.defense.level).c_str(), 100 * c.accuracy);
    os << buf;
    for (size_t i = 0; i < c.attacks.size(); ++i) {
      std::snprintf(buf, sizeof buf, " %16s", fixed(mean_of(c.quality[i].ssim_reference), 3).c_str());
      os << buf;
    }
    os << (meets_bar(c, bar) ? "  *" : "");
    if (!std::isnan(c.fisher_bound)) {
      std::snprintf(buf, sizeof buf, "  MSE >= %.4g", c.fisher_bound);
      os << buf;
    }
    os << "\n";
  }
  return os.str();
}

/// The recommendation (see the flag --bar): among the cells that meet the bar, the one with
/// the highest accuracy (ties: the lower level).
std::string recommend(const std::vector<DefenseCell>& cells, double bar, double clean_accuracy) {
  const DefenseCell* best = nullptr;
  for (const DefenseCell& c : cells)
    if (meets_bar(c, bar) && (!best || c.accuracy > best->accuracy)) best = &c;
  char buf[512];
  if (!best) {
    std::snprintf(buf, sizeof buf,
                  "nothing in this grid meets the bar (every attacker's SSIM <= %.2f and no better than the label-only "
                  "baseline): try other splits, higher levels, or another defense",
                  bar);
    return buf;
  }
  const int s = best->strongest();
  std::snprintf(buf, sizeof buf, "split at %s with %s: accuracy %.2f%% (%+.2f points against the undefended model); "
                "strongest attacker %s at SSIM %.3f (bar %.2f)",
                best->split.c_str(), best->defense.describe().c_str(), 100 * best->accuracy,
                100 * (best->accuracy - clean_accuracy), s >= 0 ? best->attacks[size_t(s)].c_str() : "none",
                s >= 0 ? mean_of(best->quality[size_t(s)].ssim_reference) : 0.0, bar);
  return buf;
}

}  // namespace

int cmd_defend(const Args& args, const std::string& command_line) {
  const auto t0 = std::chrono::steady_clock::now();
  FlagSet f = defend_flags();
  if (!parse_or_help(f, args)) return 0;
  if (!f.positional().empty()) throw f.error("unexpected argument '" + f.positional()[0] + "'");
  Settings s;
  Target t;
  if (f.given("target")) {
    t = load_target(f.get_text("target", ""));
    s.model = t.spec.name;
    s.dataset = t.meta("dataset", s.dataset);
  }
  read_settings(f, s);
  const inv::protocol::ModelProtocol& model = inv::protocol::model_protocol(s.model);
  if (!f.given("rmle-iterations")) s.rmle.iterations = model.defense_rmle_iterations;  // protocol §7
  apply_threads(s);

  // The grid, checked before any work.
  std::vector<std::string> splits;
  {
    inv::Generator init(0);
    const auto net = model.build(init);
    if (f.given("splits") && f.get_text("splits", "") == "all") {
      splits = net->split_points();
    } else if (f.given("splits")) {
      for (const auto& sp : split_list(f.get_text("splits", ""))) {
        check_split(*net, s.model, sp);
        if (std::find(splits.begin(), splits.end(), sp) == splits.end()) splits.push_back(sp);
      }
    } else {
      for (const auto& b : model.rmle_blocks) splits.push_back(b.paper_split);
    }
    if (splits.empty()) throw f.error("--splits: no layer given");
  }
  std::vector<const AttackInfo*> attacks;
  for (const auto& name : f.get_list("attacks", {"white-box", "white-box-aware", "black-box", "label-only"}))
    attacks.push_back(&parse_attack(name));
  std::vector<inv::defense::Defense> defenses;
  std::vector<Position> positions;
  for (const auto& p : f.get_list("positions", {"features"})) positions.push_back(inv::defense::parse_position(p));
  for (const auto& name : f.get_list("defenses", {"gaussian", "dropout"})) {
    const DefenseKind kind = inv::defense::parse_kind(name);
    if (kind == DefenseKind::None) continue;  // the undefended cell runs at every split anyway
    const std::vector<double> levels =
        kind == DefenseKind::Dropout     ? parse_levels(f, "dropout-rates", kDropoutRates, true)
        : kind == DefenseKind::Optimised ? parse_levels(f, "optimised-levels", kOptimisedLevels, false)
                                         : parse_levels(f, "noise-levels", kNoiseLevels, false);
    for (Position p : positions) {
      if (kind == DefenseKind::Optimised && p == Position::Input) continue;
      for (double level : levels) {
        if (level == 0) continue;  // the undefended cell is run once per split
        inv::defense::Defense d;
        d.kind = kind;
        d.position = p;
        d.level = level;
        defenses.push_back(d);
      }
    }
  }
  const double bar = f.get_float("bar", 0.3);
  const int64_t observed_count = f.get_int("observed", 1000);
  const bool any_labels = std::any_of(attacks.begin(), attacks.end(), [](const AttackInfo* a) { return a->needs_labels; });
  if (s.attacker.set == "noise" && any_labels)
    throw f.error("--attacker-set noise has no labels, but label-only and query-free need labelled images");
  const std::string out =
      f.get_text("out", "out/" + dataset_slug(s.dataset) + "-" + s.model + "-" + s.preset + "-defend");
  prepare_output_directory(out);
  prepare_output_directory(out + "/cache");
  prepare_output_directory(out + "/noise");
  set_interrupt_note("; rerun the same command to resume (the target and the finished cells are reused)");
  inv::train::Progress progress(s.quiet);

  // Data, target, the attacked images and the attacker's own.
  const DataSource src = f.given("target") ? locate_target_dataset(s, f.given("dataset"), t)
                                           : locate_dataset(s.dataset, s.data_dir);
  const int channels = int(model.spec.input_shape[0]);
  const auto test = load_split(src, false, channels);
  check_input_shape(test, model.spec.input_shape, s.model, src.display + " (test set)");
  const auto train = load_split(src, true, channels);
  check_input_shape(train, model.spec.input_shape, s.model, src.display + " (training set)");
  if (!f.given("target")) {
    s.target.holdout = inv::protocol::holdout_size(s.target.holdout, train.size());
    bool reused = false;
    const std::string sweep_dir = "out/" + dataset_slug(s.dataset) + "-" + s.model + "-" + s.preset;
    prepare_output_directory(sweep_dir);
    t = obtain_target(s, src, train, test, s.target.holdout, sweep_dir + "/target.invckpt", reused);
    progress.message(reused ? "reusing the target in " + t.path : "saved the target to " + t.path);
  } else {
    s.target.holdout = t.meta_integer("holdout", -1, 0);
  }
  const int64_t holdout = s.target.holdout >= 0 ? s.target.holdout : inv::protocol::holdout_size(-1, train.size());
  const inv::protocol::AttackerData attacker = attacker_data(s, t, train, holdout);
  const Originals originals = first_of_each_class(test);
  const inv::Tensor x = normalise(t, originals.images);
  std::vector<int64_t> seen;
  for (int64_t i = 0; i < test.size() && int64_t(seen.size()) < observed_count; ++i)
    if (std::find(originals.indices.begin(), originals.indices.end(), i) == originals.indices.end()) seen.push_back(i);
  const inv::Tensor observed_inputs = normalise(t, inv::data::gather_rows(test.images, seen));
  const inv::Tensor train_inputs = normalise(t, inv::protocol::target_part(train, holdout).images);

  std::string images_key;
  for (int64_t i : originals.indices) images_key += std::to_string(i) + ",";
  const bool reuse = f.get_bool("reuse", true);
  std::vector<DefenseCell> cells;
  double clean_accuracy = NAN;
  const size_t total = splits.size() * (defenses.size() + 1);
  auto write_all = [&](bool complete) {
    const std::string rec = recommend(cells, bar, clean_accuracy);
    inv::io::write_file_atomic(out + "/defense.csv", defense_csv(cells));
    inv::io::write_file_atomic(out + "/defense.json", defense_json(cells, rec, bar, command_line, complete));
    inv::io::write_file_atomic(out + "/index.html", defense_html(cells, t, src.display, rec, bar, originals.images,
                                                                  command_line, complete));
    return rec;
  };
  for (const std::string& split : splits) {
    auto [edge, cloud] = t.net->split(split);
    std::vector<inv::defense::Defense> grid{inv::defense::Defense()};
    grid.insert(grid.end(), defenses.begin(), defenses.end());
    for (inv::defense::Defense d : grid) {
      const auto c0 = std::chrono::steady_clock::now();
      DefenseCell cell;
      cell.split = split;
      const std::string name = split + "-" + inv::defense::kind_name(d.kind) + "-" +
                               inv::defense::position_name(d.position) + "-" + level_text(d.level);
      progress.message("[" + std::to_string(cells.size() + 1) + "/" + std::to_string(total) + "] " + split + ": " +
                       d.describe());
      if (d.kind == DefenseKind::Optimised) {  // learned once per split and level, kept in noise/
        const std::string path = out + "/noise/" + split + "-" + level_text(d.level) + ".npy";
        const inv::Shape per = layer_shape(t, split).shape;
        if (inv::io::file_exists(path)) {
          d.offset = inv::defense::load_optimised_noise(path, per);
        } else {
          inv::defense::OptimisedNoiseOptions o;
          o.level = d.level;
          o.seed = inv::mix_seed(s.seed, 0x6f7074);  // "opt"
          o.quiet = s.quiet;
          d.offset = inv::defense::learn_optimised_noise(*edge, *next_layer(*cloud), train_inputs, o);
          inv::defense::save_optimised_noise(path, d.offset);
        }
      }
      cell.defense = d;
      uint64_t name_hash = 1469598103934665603ull;  // FNV-1a of the cell's name: the same on every platform
      for (char ch : name) name_hash = (name_hash ^ uint8_t(ch)) * 1099511628211ull;
      const uint64_t cell_seed = inv::mix_seed(s.seed, name_hash);
      auto deployed = std::make_shared<inv::defense::DefendedEdge>(edge, d, cell_seed);
      std::vector<std::string> keys;
      for (const AttackInfo* a : attacks) {
        const AttackJob job = make_job(s, split, *a);
        keys.push_back(job.fingerprint());
      }
      std::string key = t.meta("fingerprint") + "|" + name + "|" + images_key + "|" + attacker.description + "|" +
                        std::to_string(observed_count);
      for (const auto& k : keys) key += "|" + k;
      const std::string cache = out + "/cache/" + name + ".invckpt";
      bool cached = false;
      if (reuse && inv::io::file_exists(cache)) {
        try {
          const auto ck = inv::io::load_checkpoint(cache);
          if (ck.metadata.count("key") && ck.metadata.at("key") == key && ck.tensors.size() == attacks.size()) {
            cell.accuracy = metadata_number("accuracy", ck.metadata.at("accuracy"), cache);
            for (size_t i = 0; i < attacks.size(); ++i) {
              cell.attacks.push_back(attacks[i]->name);
              cell.reconstructions.push_back(ck.tensors[i].second);
              cell.quality.push_back(inv::metrics::evaluate(originals.images, ck.tensors[i].second));
              cell.architecture.push_back(ck.metadata.at("note" + std::to_string(i)));
            }
            cached = true;
          }
        } catch (const std::exception&) {
          cached = false;  // unreadable: recompute
        }
      }
      if (!cached) {
        cell.accuracy = deployed_accuracy(*deployed, *cloud, test, t);
        inv::Tensor v;
        inv::attack::Deployment dep;
        dep.edge = deployed;
        dep.defense = d;
        {
          inv::NoGradGuard no_grad;
          v = deployed->forward(x);
          if (d.kind == DefenseKind::Optimised) dep.observed = deployed->forward(observed_inputs);
        }
        inv::io::Checkpoint ck;
        for (size_t i = 0; i < attacks.size(); ++i) {
          const AttackJob job = make_job(s, split, *attacks[i]);
          const auto r = run_attack(t, job, v, attacks[i]->uses_attacker_data ? &attacker : nullptr, &dep);
          const inv::Tensor pixels = to_pixels(t, r.images);
          cell.attacks.push_back(attacks[i]->name);
          cell.reconstructions.push_back(pixels);
          cell.quality.push_back(inv::metrics::evaluate(originals.images, pixels));
          cell.architecture.push_back(r.architecture);
          ck.tensors.emplace_back(attacks[i]->name, pixels);
          ck.metadata["note" + std::to_string(i)] = r.architecture;
        }
        char acc[32];
        std::snprintf(acc, sizeof acc, "%.17g", cell.accuracy);
        ck.metadata["key"] = key;
        ck.metadata["accuracy"] = acc;
        inv::io::save_checkpoint(cache, ck);
      }
      if (d.kind == DefenseKind::Gaussian && d.position == Position::Features) {
        // MSE >= 1/dFIL in normalised units; pixel MSE = std² x that (before clipping).
        const std::vector<double> fil = inv::defense::dfil(*edge, x, d.level);
        double bound = 0;
        double var = 0;  // std² of the normalisation (its mean over the channels)
        for (double sd : t.spec.std) var += sd * sd / double(t.spec.std.size());
        for (double fi : fil) bound += var / fi / double(fil.size());
        cell.fisher_bound = bound;
      }
      if (d.kind == DefenseKind::None && split == splits.front()) clean_accuracy = cell.accuracy;
      cell.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
      std::string line = "    accuracy " + fixed(100 * cell.accuracy, 2) + "%";
      for (size_t i = 0; i < cell.attacks.size(); ++i)
        line += "; " + cell.attacks[i] + " SSIM " + fixed(mean_of(cell.quality[i].ssim_reference), 3);
      progress.message(line + (cached ? " (cached)" : ""));
      cells.push_back(std::move(cell));
    }
    write_all(false);
  }
  const std::string rec = write_all(true);
  std::printf("%s", defense_table(cells, bar).c_str());
  std::printf("recommendation: %s\n", rec.c_str());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("took %.0f s; report: %s/index.html\n", seconds, out.c_str());
  return 0;
}

}  // namespace cli
