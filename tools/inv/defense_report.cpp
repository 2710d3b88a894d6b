// defense_report.cpp: the results of `inv defend` (see defense_report.hpp).
#include "defense_report.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "json.hpp"
#include "settings.hpp"

namespace cli {

using inv::defense::DefenseKind;

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

namespace {

std::string level_text(double v) { return fmt(v); }

/// "none", or the defense's kind and position: "dropout (features)".
std::string kind_label(const inv::defense::Defense& d) {
  if (d.kind == DefenseKind::None) return "none";
  return std::string(inv::defense::kind_name(d.kind)) + " (" + inv::defense::position_name(d.position) + ")";
}

/// The privacy–utility plot: accuracy against the strongest attacker's SSIM, one curve per
/// (split, defense, position), solid for the strongest attacker, dashed for the paper's.
std::string tradeoff_svg(const std::vector<DefenseCell>& cells, double bar) {
  const double W = 860, H = 420, left = 64, right = 250, top = 20, bottom = 50;
  const double pw = W - left - right, ph = H - top - bottom;
  double lo_acc = 1;
  for (const DefenseCell& c : cells) lo_acc = std::min(lo_acc, c.accuracy);
  lo_acc = std::min(0.9, std::floor(lo_acc * 10) / 10);  // at least one tick of 10 points, also with no cell
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
    const std::string key = c.split + " " + kind_label(c.defense);
    if (std::find(curves.begin(), curves.end(), key) == curves.end()) curves.push_back(key);
  }
  double ly = top + 10;
  for (size_t k = 0; k < curves.size(); ++k) {
    const char* colour = palette[k % (sizeof palette / sizeof palette[0])];
    for (int naive = 0; naive < 2; ++naive) {
      std::vector<std::pair<double, double>> pts;
      for (const DefenseCell& c : cells) {
        const std::string key = c.split + " " + kind_label(c.defense);
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

}  // namespace

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

std::string defense_section(const std::vector<DefenseCell>& cells, const std::string& recommendation, double bar,
                            const inv::Tensor& originals, const std::string& command, bool complete) {
  std::ostringstream h;
  h << "<h2>Defenses</h2>\n";
  if (!complete) h << "<p class=\"incomplete\">incomplete: rerun the same command to finish</p>\n";
  h << "<p>Each defense is applied by the deployed edge at inference (He, Zhang &amp; Lee, IEEE IoT-J 2021). "
       "Accuracy is the cloud's on the whole test set under the defense; SSIM is the reference mode's, mean over "
       "the first test image of each class. The privacy bar: every attacker's SSIM at most "
    << fmt(bar)
    << " and no better than the label-only baseline (the mean image of the predicted class).</p>\n"
    << "<h3>Recommendation</h3>\n<p><b>" << html_escape(recommendation) << "</b></p>\n";
  h << "<h3>Privacy and utility</h3>\n" << tradeoff_svg(cells, bar);
  std::vector<std::string> attacks;
  bool any_bound = false;
  for (const DefenseCell& c : cells) {
    any_bound = any_bound || !std::isnan(c.fisher_bound);
    for (const auto& a : c.attacks)
      if (std::find(attacks.begin(), attacks.end(), a) == attacks.end()) attacks.push_back(a);
  }
  h << "<h3>Every setting</h3>\n<table>\n<tr><th class=\"l\">split</th><th class=\"l\">defense</th><th>level</th>"
       "<th>accuracy</th>";
  for (const auto& a : attacks) h << "<th>" << html_escape(a) << "<br>PSNR / SSIM</th>";
  if (any_bound) h << "<th>Fisher bound<br>on the MSE</th>";
  h << "<th>bar</th><th class=\"l\">strongest attacker's reconstructions</th></tr>\n";
  for (const DefenseCell& c : cells) {
    h << "<tr><td class=\"l\">" << html_escape(c.split) << "</td><td class=\"l\">" << html_escape(kind_label(c.defense))
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
    if (any_bound) h << "<td>" << (std::isnan(c.fisher_bound) ? "" : fixed(c.fisher_bound, 4)) << "</td>";
    h << "<td>" << (meets_bar(c, bar) ? "✓" : "") << "</td><td class=\"l\">";
    const int best = c.strongest();
    if (best >= 0)
      h << "<img alt=\"" << html_escape(c.attacks[size_t(best)]) << "\" src=\""
        << data_uri(comparison_grid(inv::Tensor(), c.reconstructions[size_t(best)])) << "\"> "
        << html_escape(c.attacks[size_t(best)]);
    h << "</td></tr>\n";
  }
  h << "</table>\n<p>Originals: <img alt=\"originals\" src=\"" << data_uri(comparison_grid(inv::Tensor(), originals))
    << "\"></p>\n";
  if (any_bound)
    h << "<p class=\"small\">Fisher bound: the smallest pixel MSE any unbiased attacker can reach against Gaussian "
         "noise on the features (std² / dFIL, Maeng et al., NeurIPS 2023); an attacker below it owes its result to "
         "its prior. A bound above the MSE of a constant grey guess (at most 0.25 on pixels in [0, 1]) says that "
         "the features tell an unbiased attacker almost nothing.</p>\n";
  h << "<p class=\"small\">" << html_escape(command) << "</p>\n";
  return h.str();
}

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
    const std::string kind = kind_label(c.defense);
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

std::string recommend(const std::vector<DefenseCell>& cells, double bar, double clean_accuracy) {
  auto strongest_ssim = [](const DefenseCell& c) {
    const int i = c.strongest();
    return i < 0 ? 0.0 : mean_of(c.quality[size_t(i)].ssim_reference);
  };
  const DefenseCell* best = nullptr;
  for (const DefenseCell& c : cells)
    if (meets_bar(c, bar) && (!best || c.accuracy > best->accuracy ||
                              (c.accuracy == best->accuracy && strongest_ssim(c) < strongest_ssim(*best))))
      best = &c;
  const bool baseline = std::any_of(cells.begin(), cells.end(), [](const DefenseCell& c) {
    return std::find(c.attacks.begin(), c.attacks.end(), "label-only") != c.attacks.end();
  });
  const std::string bar_text = "every attacker's SSIM <= " + fmt(bar) +
                               (baseline ? " and no better than the label-only baseline"
                                         : "; the label-only baseline did not run, so the bar is the SSIM alone");
  if (!best) return "nothing in this grid meets the bar (" + bar_text + "): try other splits, higher levels, or another defense";
  const int s = best->strongest();
  char buf[512];
  std::snprintf(buf, sizeof buf, "split at %s with %s: accuracy %.2f%% (%+.2f points against the undefended model); "
                "strongest attacker %s at SSIM %.3f (bar: %s)",
                best->split.c_str(), best->defense.describe().c_str(), 100 * best->accuracy,
                100 * (best->accuracy - clean_accuracy), s >= 0 ? best->attacks[size_t(s)].c_str() : "none",
                strongest_ssim(*best), bar_text.c_str());
  return buf;
}

}  // namespace cli
