// plot.cpp: SSIM against split depth as an inline SVG (no scripts, no external resources).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <inv/attack/registry.hpp>

#include "report.hpp"

namespace cli {

const char* attack_colour(const std::string& attack) {
  static const char* palette[] = {"#1f5fa8", "#d9730d", "#2e8b57", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b8860b"};
  const auto& all = inv::attack::attacks();
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i].name == attack) return palette[i % (sizeof palette / sizeof palette[0])];
  return "#444";
}

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

std::string ssim_plot_svg(const Report& r) {
  const double W = 860, H = 400, left = 64, right = 170, top = 24, bottom = 84;
  const double pw = W - left - right, ph = H - top - bottom;
  // y range: [min(0, lowest SSIM rounded down to 0.1), 1]
  double lo = 0;
  for (const Cell& c : r.cells) lo = std::min(lo, std::floor(mean_of(c.quality.ssim_reference) * 10) / 10);
  const double hi = 1;
  const size_t n = r.splits.size();
  // The x axis is depth: the splits in network order, whatever order --splits gave them in.
  std::vector<SplitRow> splits = r.splits;
  std::stable_sort(splits.begin(), splits.end(), [](const SplitRow& a, const SplitRow& b) { return a.depth < b.depth; });
  auto x_of = [&](size_t i) { return left + (n <= 1 ? pw / 2 : pw * double(i) / double(n - 1)); };
  auto y_of = [&](double v) { return top + ph * (hi - v) / (hi - lo); };

  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << W << " " << H << "\" width=\"" << W
    << "\" height=\"" << H << "\" role=\"img\" aria-label=\"SSIM against split depth\" class=\"plot\">\n";
  s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"#fff\" stroke=\"#999\"/>\n";
  // y ticks and grid lines every 0.1, labels every 0.2
  for (int k = int(std::lround(lo * 10)); k <= 10; ++k) {
    const double v = k / 10.0, y = y_of(v);
    s << "<line x1=\"" << left << "\" x2=\"" << left + pw << "\" y1=\"" << num(y) << "\" y2=\"" << num(y)
      << "\" stroke=\"#e6e6e6\"/>\n";
    s << "<line x1=\"" << left - 5 << "\" x2=\"" << left << "\" y1=\"" << num(y) << "\" y2=\"" << num(y)
      << "\" stroke=\"#555\"/>\n";
    if (k % 2 == 0)
      s << "<text x=\"" << left - 8 << "\" y=\"" << num(y + 4) << "\" text-anchor=\"end\">" << num(v) << "</text>\n";
  }
  // x ticks: the split layers in network order
  for (size_t i = 0; i < n; ++i) {
    const double x = x_of(i);
    s << "<line x1=\"" << num(x) << "\" x2=\"" << num(x) << "\" y1=\"" << top + ph << "\" y2=\"" << top + ph + 5
      << "\" stroke=\"#555\"/>\n";
    s << "<text transform=\"translate(" << num(x + 4) << "," << num(top + ph + 12) << ") rotate(45)\">"
      << html_escape(splits[i].name) << "</text>\n";
  }
  s << "<text x=\"" << num(left + pw / 2) << "\" y=\"" << H - 6
    << "\" text-anchor=\"middle\" class=\"axis\">split layer (deeper →)</text>\n";
  s << "<text transform=\"translate(16," << num(top + ph / 2)
    << ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">SSIM (reference mode)</text>\n";
  // the papers' threshold
  if (0.3 >= lo) {
    const double y = y_of(0.3);
    s << "<line x1=\"" << left << "\" x2=\"" << left + pw << "\" y1=\"" << num(y) << "\" y2=\"" << num(y)
      << "\" stroke=\"#b22222\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n";
  }
  // one line per attack
  for (const std::string& a : r.attacks) {
    std::string points;
    std::ostringstream marks;
    for (size_t i = 0; i < n; ++i) {
      const Cell* c = r.find(splits[i].name, a);
      if (!c) continue;
      const double v = mean_of(c->quality.ssim_reference);
      points += num(x_of(i)) + "," + num(y_of(v)) + " ";
      char tip[96];
      std::snprintf(tip, sizeof tip, "%s at %s: SSIM %s", a.c_str(), splits[i].name.c_str(), fixed(v, 3).c_str());
      marks << "<circle cx=\"" << num(x_of(i)) << "\" cy=\"" << num(y_of(v)) << "\" r=\"4\" fill=\""
            << attack_colour(a) << "\"><title>" << html_escape(tip) << "</title></circle>\n";
    }
    s << "<polyline fill=\"none\" stroke=\"" << attack_colour(a) << "\" stroke-width=\"2\" points=\"" << points
      << "\"/>\n"
      << marks.str();
  }
  // legend
  double ly = top + 10;
  const double lx = left + pw + 18;
  for (const std::string& a : r.attacks) {
    s << "<line x1=\"" << lx << "\" x2=\"" << lx + 24 << "\" y1=\"" << ly << "\" y2=\"" << ly << "\" stroke=\""
      << attack_colour(a) << "\" stroke-width=\"2\"/><circle cx=\"" << lx + 12 << "\" cy=\"" << ly
      << "\" r=\"4\" fill=\"" << attack_colour(a) << "\"/>\n";
    s << "<text x=\"" << lx + 32 << "\" y=\"" << ly + 4 << "\">" << html_escape(a) << "</text>\n";
    ly += 22;
  }
  s << "<line x1=\"" << lx << "\" x2=\"" << lx + 24 << "\" y1=\"" << ly << "\" y2=\"" << ly
    << "\" stroke=\"#b22222\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n";
  s << "<text x=\"" << lx + 32 << "\" y=\"" << ly + 4 << "\">SSIM 0.3</text>\n";
  s << "<text x=\"" << lx + 32 << "\" y=\"" << ly + 20 << "\" class=\"small\">(recognisable)</text>\n";
  s << "</svg>\n";
  return s.str();
}

}  // namespace cli
