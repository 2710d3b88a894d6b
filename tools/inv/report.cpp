// report.cpp: index.html, results.csv, settings.csv, results.json and the terminal table.
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <inv/attack/registry.hpp>
#include <inv/io/file.hpp>
#include <inv/io/image.hpp>
#include <inv/protocol/model_protocol.hpp>
#include <inv/ops/shape_ops.hpp>

#include "json.hpp"

namespace cli {

using inv::Tensor;

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string t = buf;
  if (t[0] == '-' && t.find_first_not_of("-0.") == std::string::npos) t.erase(0, 1);
  return t;
}

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

std::string model_display(const std::string& model) {
  const inv::protocol::ModelProtocol* m = inv::protocol::find_model_protocol(model);
  return m ? m->display : model;
}

const Cell* Report::find(const std::string& split, const std::string& a) const {
  for (const Cell& c : cells)
    if (c.split == split && c.attack == a) return &c;
  return nullptr;
}

namespace {

std::string printf_str(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

/// "8×24×24" (or "8x24x24" when ascii).
std::string shape_text(const inv::Shape& s, bool ascii = false) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? (ascii ? "x" : "×") : "") + std::to_string(s[i]);
  return out;
}

/// Mean PSNR for tables: the finite mean, "inf" when every image is exact, and a note
/// of how many images were exact.
std::string psnr_text(const std::vector<double>& psnr) {
  const auto s = inv::metrics::summarize_psnr(psnr);
  if (s.exact == s.count) return "inf";
  std::string t = fixed(s.finite_mean, 2);
  if (s.exact > 0) t += " (" + std::to_string(s.exact) + " exact)";
  return t;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string csv_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return printf_str("%.10g", v);
}

std::vector<Tensor> images_of(const Tensor& batch) {
  std::vector<Tensor> out;
  for (int64_t i = 0; i < batch.size(0); ++i) {
    inv::Shape chw(batch.shape().begin() + 1, batch.shape().end());
    out.push_back(inv::copy_data(inv::reshape(inv::slice(batch, 0, i, i + 1), chw)));
  }
  return out;
}

}  // namespace

std::string data_uri(const Tensor& image) { return "data:image/png;base64," + inv::io::png_base64(image); }

Tensor comparison_grid(const Tensor& originals, const Tensor& reconstructions) {
  std::vector<Tensor> all;
  if (originals.defined()) all = images_of(originals);
  for (Tensor& t : images_of(reconstructions)) all.push_back(t);
  return inv::io::make_grid(all, reconstructions.size(0), 2, 1.0);
}

// ---------------------------------------------------------------------------
// Terminal table
// ---------------------------------------------------------------------------

std::string console_table(const Report& r) {
  std::ostringstream os;
  os << model_display(r.model) << " on " << r.dataset_display << ": " << r.accuracy_label << " "
     << printf_str("%.2f%%", 100 * r.test_accuracy) << " (" << r.test_images << " images)\n";
  os << "mean over " << r.image_indices.size()
     << " images; PSNR in dB, SSIM in the papers' reference mode (* = recognisable, SSIM > 0.3)\n\n";
  auto line = [&](std::string text) {  // without trailing spaces
    while (!text.empty() && text.back() == ' ') text.pop_back();
    os << text << "\n";
  };
  // Each attack takes a block of 22 characters: "  PSNR........ SSIM.*". The split column
  // is 8 characters wide, or as wide as the longest split name ("features.27").
  size_t name_width = 8;
  for (const SplitRow& s : r.splits) name_width = std::max(name_width, s.name.size());
  char buf[256];
  std::string head1 = "split" + std::string(name_width - 4, ' ') + "output    ", head2(name_width + 11, ' ');
  for (const std::string& a : r.attacks) {
    std::snprintf(buf, sizeof buf, "  %-20s", a.c_str());
    head1 += buf;
    std::snprintf(buf, sizeof buf, "  %-12s %6s ", "PSNR", "SSIM");
    head2 += buf;
  }
  line(head1);
  line(head2);
  for (const SplitRow& s : r.splits) {
    std::snprintf(buf, sizeof buf, "%-*s %-10s", int(name_width), s.name.c_str(), shape_text(s.shape, true).c_str());
    std::string row = buf;
    for (const std::string& a : r.attacks) {
      const Cell* c = r.find(s.name, a);
      if (!c) {
        row += std::string(22, ' ');
        continue;
      }
      const double ssim = mean_of(c->quality.ssim_reference);
      std::snprintf(buf, sizeof buf, "  %-12s %6s%s", psnr_text(c->quality.psnr).c_str(), fixed(ssim, 3).c_str(),
                    ssim > 0.3 ? "*" : " ");
      row += buf;
    }
    line(row);
  }
  return os.str();
}

// ---------------------------------------------------------------------------
// CSV and JSON
// ---------------------------------------------------------------------------

namespace {

const char* kSettingKeys[] = {"iterations", "lr", "lambda_tv", "lambda_l2", "epochs", "attacker_set",
                              "attacker_images", "architecture"};

std::string setting(const Cell& c, const std::string& key) {
  for (const auto& [k, v] : c.settings)
    if (k == key) return v;
  return "";
}

std::string results_csv(const Report& r) {
  std::ostringstream os;
  os << "split,depth,output_shape,attack,image,test_index,class,mse,psnr,ssim_reference,ssim_gaussian,seconds,"
        "queries,reused";
  for (const char* k : kSettingKeys) os << "," << k;
  os << ",target_test_accuracy\n";
  for (const SplitRow& s : r.splits)
    for (const std::string& a : r.attacks) {
      const Cell* c = r.find(s.name, a);
      if (!c) continue;
      const auto& q = c->quality;
      auto row = [&](const std::string& image, const std::string& index, const std::string& cls, double mse,
                     double psnr, double ssim_r, double ssim_g) {
        os << csv_field(s.name) << "," << s.depth << "," << shape_text(s.shape, true) << "," << a << ","
           << image << "," << index << "," << csv_field(cls) << "," << csv_number(mse) << "," << csv_number(psnr)
           << "," << csv_number(ssim_r) << "," << csv_number(ssim_g) << "," << csv_number(c->seconds) << ","
           << c->queries << "," << (c->reused ? "true" : "false");
        for (const char* k : kSettingKeys) os << "," << csv_field(setting(*c, k));
        os << "," << csv_number(r.test_accuracy) << "\n";
      };
      row("mean", "", "", mean_of(q.mse), inv::metrics::summarize_psnr(q.psnr).mean, mean_of(q.ssim_reference),
          mean_of(q.ssim_gaussian));
      for (size_t i = 0; i < q.mse.size(); ++i)
        row(std::to_string(i), std::to_string(r.image_indices[i]), r.image_classes[i], q.mse[i], q.psnr[i],
            q.ssim_reference[i], q.ssim_gaussian[i]);
    }
  return os.str();
}

std::string settings_csv(const Report& r) {
  std::string out = "setting,value\n";
  out += "dataset," + csv_field(r.dataset_display) + "\nmodel," + r.model + "\n";
  for (const auto& row : r.settings) out += csv_field(row.key) + "," + csv_field(row.value) + "\n";
  out += "target_test_accuracy," + csv_number(r.test_accuracy) + "\n";
  return out;
}

std::string results_json(const Report& r) {
  JsonWriter j;
  j.begin_object();
  j.key("format").value("inv-sweep-1");
  j.key("complete").value(r.complete);
  j.key("splits_done").value(int64_t(r.splits.size())).key("splits_planned").value(int64_t(r.splits_planned));
  j.key("notes").begin_object();
  j.key("psnr").value("dB, peak 1, on images clipped to [0, 1]; null means +infinity (an exact reconstruction)");
  j.key("ssim_reference").value("the papers' SSIM: 7x7 uniform window, sample covariance, data range of the "
                                "reconstruction (scikit-image compare_ssim before 0.18)");
  j.key("ssim_gaussian").value("Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, data range 1");
  j.key("recognisable").value("SSIM > 0.3 (the papers' threshold)");
  j.end_object();
  j.key("dataset").begin_object().key("id").value(r.dataset_id).key("name").value(r.dataset_display).end_object();
  j.key("model").value(r.model);
  j.key("target").begin_object();
  j.key("checkpoint").value(r.target_checkpoint);
  j.key("test_accuracy").value(r.test_accuracy);
  j.key("accuracy_label").value(r.accuracy_label);
  j.key("test_images").value(r.test_images);
  j.key("reused").value(r.target_reused);
  j.key("imported").value(r.target_imported);
  if (r.target_imported) j.key("source_file").value(r.target_source).key("sha256").value(r.target_sha256);
  j.end_object();
  j.key("settings").begin_object();
  for (const auto& row : r.settings) {
    double number;
    j.key(row.key);
    if (parse_float(row.value, number)) j.value(number); else j.value(row.value);
  }
  j.end_object();
  j.key("run").begin_object();
  j.key("started").value(r.started).key("seconds").value(r.seconds).key("threads").value(r.threads);
  j.key("command").value(r.command);
  j.end_object();
  j.key("images").begin_array();
  for (size_t i = 0; i < r.image_indices.size(); ++i)
    j.begin_object().key("test_index").value(r.image_indices[i]).key("class").value(r.image_classes[i]).end_object();
  j.end_array();
  j.key("splits").begin_array();
  for (const SplitRow& s : r.splits) {
    std::vector<double> shape(s.shape.begin(), s.shape.end());
    j.begin_object().key("layer").value(s.name).key("depth").value(s.depth).key("op").value(s.op);
    j.key("output_shape").values(shape).end_object();
  }
  j.end_array();
  j.key("results").begin_array();
  for (const Cell& c : r.cells) {
    const auto& q = c.quality;
    const auto ps = inv::metrics::summarize_psnr(q.psnr);
    j.begin_object();
    j.key("split").value(c.split).key("attack").value(c.attack);
    j.key("mean").begin_object();
    j.key("mse").value(mean_of(q.mse)).key("psnr").value(ps.mean).key("psnr_finite").value(ps.finite_mean);
    j.key("psnr_exact").value(ps.exact);
    j.key("ssim_reference").value(mean_of(q.ssim_reference)).key("ssim_gaussian").value(mean_of(q.ssim_gaussian));
    j.end_object();
    j.key("per_image").begin_object();
    j.key("mse").values(q.mse).key("psnr").values(q.psnr);
    j.key("ssim_reference").values(q.ssim_reference).key("ssim_gaussian").values(q.ssim_gaussian);
    j.end_object();
    j.key("seconds").value(c.seconds).key("queries").value(c.queries).key("reused").value(c.reused);
    j.key("image").value(c.png);
    j.key("settings").begin_object();
    for (const auto& [k, v] : c.settings)
      if (!v.empty()) j.key(k).value(v);
    j.end_object();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

}  // namespace

// ---------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------

namespace {

const char* kStyle = R"(
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1d232a; background: #f6f7f9; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 48px; background: #fff;
       box-shadow: 0 0 0 1px #e3e6ea; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #e3e6ea; }
h3 { font-size: 15px; margin: 0 0 6px; }
p { margin: 6px 0; max-width: 80ch; }
.sub { color: #5b6670; margin: 0 0 18px; }
.incomplete { background: #fff4d6; border: 1px solid #e8c66a; border-radius: 6px; padding: 8px 14px;
              font-weight: 600; }
.facts { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0 6px; }
.fact { border: 1px solid #e3e6ea; border-radius: 6px; padding: 8px 14px; min-width: 150px; }
.fact b { display: block; font-size: 20px; }
.fact span { color: #5b6670; font-size: 13px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eceef1; text-align: right; white-space: nowrap; }
th { background: #f3f5f7; font-weight: 600; }
td.l, th.l { text-align: left; }
tr.group th { border-bottom: none; }
th.attack { border-top: 3px solid var(--c); }
td.ok { background: #e6f4ea; }
td.sep, th.sep { border-left: 1px solid #d5d9de; }
.legend-ok { display: inline-block; width: 12px; height: 12px; background: #e6f4ea; border: 1px solid #b7dfc2;
             vertical-align: -1px; }
.settings td { text-align: left; white-space: normal; }
.settings td:first-child { color: #5b6670; white-space: nowrap; }
.plot { max-width: 100%; height: auto; font-size: 12px; fill: #1d232a; }
.plot .axis { font-size: 13px; } .plot .small { font-size: 11px; fill: #5b6670; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 18px; }
.card { border: 1px solid #e3e6ea; border-radius: 6px; padding: 10px 12px; }
.card .shape { color: #5b6670; font-weight: normal; }
.strip { display: grid; grid-template-columns: 150px 1fr; align-items: center; gap: 0 10px; margin: 4px 0; }
.strip .label { font-size: 13px; line-height: 1.3; }
.strip .label small { color: #5b6670; display: block; }
.strip img { image-rendering: pixelated; width: 100%; max-width: var(--w); border-radius: 2px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; background: var(--c);
          margin-right: 6px; }
.notes li { margin: 4px 0; max-width: 95ch; }
footer { color: #5b6670; font-size: 13px; margin-top: 30px; }
)";

std::string ssim_cell(double v) {
  return std::string("<td class=\"") + (v > 0.3 ? "ok" : "") + "\">" + fixed(v, 3) + "</td>";
}

std::string results_table_html(const Report& r) {
  std::ostringstream h;
  h << "<table>\n<tr class=\"group\"><th class=\"l\" rowspan=\"2\">split layer</th><th class=\"l\" "
       "rowspan=\"2\">output</th>";
  for (const std::string& a : r.attacks)
    h << "<th colspan=\"3\" class=\"attack sep\" style=\"--c:" << attack_colour(a) << "\">" << html_escape(a) << "</th>";
  h << "</tr>\n<tr>";
  for (size_t i = 0; i < r.attacks.size(); ++i)
    h << "<th class=\"sep\">PSNR (dB)</th><th>SSIM</th><th>SSIM<sub>G</sub></th>";
  h << "</tr>\n";
  for (const SplitRow& s : r.splits) {
    h << "<tr><td class=\"l\"><b>" << html_escape(s.name) << "</b></td><td class=\"l\">" << shape_text(s.shape)
      << "</td>";
    for (const std::string& a : r.attacks) {
      const Cell* c = r.find(s.name, a);
      if (!c) {
        h << "<td class=\"sep\"></td><td></td><td></td>";
        continue;
      }
      h << "<td class=\"sep\">" << html_escape(psnr_text(c->quality.psnr)) << "</td>"
        << ssim_cell(mean_of(c->quality.ssim_reference)) << "<td>"
        << fixed(mean_of(c->quality.ssim_gaussian), 3) << "</td>";
    }
    h << "</tr>\n";
  }
  h << "</table>\n";
  return h.str();
}

std::string strip_html(const std::string& label, const std::string& detail, const Tensor& strip, const char* colour) {
  std::ostringstream h;
  h << "<div class=\"strip\"><div class=\"label\">";
  if (colour) h << "<span class=\"swatch\" style=\"--c:" << colour << "\"></span>";
  h << html_escape(label) << "<small>" << detail << "</small></div><img alt=\"" << html_escape(label)
    << "\" style=\"--w:" << 2 * strip.size(2) << "px\" src=\"" << data_uri(strip) << "\"></div>\n";
  return h.str();
}

std::string reconstructions_html(const Report& r) {
  std::ostringstream h;
  const Tensor originals = comparison_grid(Tensor(), r.originals);
  h << "<div class=\"cards\">\n";
  for (const SplitRow& s : r.splits) {
    h << "<div class=\"card\"><h3>" << html_escape(s.name) << " <span class=\"shape\">" << html_escape(s.op) << " → "
      << shape_text(s.shape) << "</span></h3>\n";
    h << strip_html("original", "test images", originals, nullptr);
    for (const std::string& a : r.attacks) {
      const Cell* c = r.find(s.name, a);
      if (!c) continue;
      const std::string detail = "PSNR " + html_escape(psnr_text(c->quality.psnr)) + " dB · SSIM " +
                                 fixed(mean_of(c->quality.ssim_reference), 3);
      h << strip_html(a, detail, comparison_grid(Tensor(), c->reconstructions), attack_colour(a));
    }
    h << "</div>\n";
  }
  h << "</div>\n";
  return h.str();
}

std::string duration_text(double seconds) {
  const long s = long(std::lround(seconds));
  if (s < 60) return std::to_string(s) + " s";
  return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
}

/// The Leakage section: what a sweep found at every split.
std::string leakage_section(const Report& r) {
  std::ostringstream h;
  std::string preset;
  for (const auto& row : r.settings)
    if (row.key == "preset") preset = row.value;
  h << "<p class=\"sub\">" << html_escape(preset) << " preset · " << html_escape(r.started) << " · took "
    << duration_text(r.seconds) << " on " << r.threads << " thread" << (r.threads == 1 ? "" : "s") << "</p>\n";
  if (!r.complete)
    h << "<p class=\"incomplete\">incomplete: " << r.splits.size() << " of " << r.splits_planned
      << " split layers done; rerun the same command to finish</p>\n";
  h << "<p>The network is split in two: the edge device computes the layers up to the <em>split layer</em> "
       "and sends that layer's output to the cloud. Each attacker sees those features and tries to "
       "reconstruct the private input (He, Zhang &amp; Lee, ACSAC 2019):</p>\n<ul>\n";
  for (const std::string& name : r.attacks)
    if (const inv::attack::AttackInfo* a = inv::attack::find_attack(name))
      h << "<li><b>" << html_escape(a->name) << "</b> (" << inv::attack::access_name(a->access)
        << " access): " << html_escape(a->summary) << "</li>\n";
  h << "</ul>\n";
  if (!r.budget.empty()) h << "<p class=\"sub\">" << html_escape(r.budget) << "</p>\n";
  h << "<div class=\"facts\">"
    << "<div class=\"fact\"><b>" << printf_str("%.2f%%", 100 * r.test_accuracy) << "</b><span>"
    << html_escape(r.accuracy_label) << " (" << r.test_images << " images)</span></div>"
    << "<div class=\"fact\"><b>" << r.splits.size() << " × " << r.attacks.size() << "</b><span>split layers × "
    << "attacks</span></div>"
    << "<div class=\"fact\"><b>" << r.image_indices.size() << "</b><span>attacked images (first test image of "
    << "each class)</span></div>"
    << "<div class=\"fact\"><b>" << duration_text(r.seconds) << "</b><span>wall time"
    << (r.target_reused     ? " (cached target)"
        : r.target_imported ? " (incl. evaluating the imported target)"
                            : " (incl. target training)")
    << "</span></div></div>\n";

  h << "<h2>Leakage per split layer</h2>\n<p>Mean over the attacked images. <b>SSIM</b> is the papers' reference "
       "mode (the one their results use); SSIM<sub>G</sub> is the Gaussian-window SSIM of Wang et al. 2004. "
       "<span class=\"legend-ok\"></span> SSIM &gt; 0.3: recognisable by the papers' criterion.</p>\n"
    << results_table_html(r);
  h << "<h2>SSIM against split depth</h2>\n" << ssim_plot_svg(r);
  h << "<h2>Reconstructions</h2>\n<p>Top row of each card: the original test images; below, each attack's "
       "reconstruction from the features of that split layer.</p>\n"
    << reconstructions_html(r);

  h << "<h2>Settings</h2>\n<table class=\"settings\">\n";
  auto row = [&](const std::string& k, const std::string& v) {
    h << "<tr><td>" << html_escape(k) << "</td><td>" << html_escape(v) << "</td></tr>\n";
  };
  row("dataset", r.dataset_display + " (" + r.dataset_id + ")");
  row("model", model_display(r.model) + " (" + r.model + ")");
  row("target checkpoint", r.target_checkpoint + (r.target_reused ? " (reused from an earlier run)" : ""));
  if (r.target_imported)
    row("imported weights", r.target_source + " (sha256 " + r.target_sha256 +
                                "); trained elsewhere, so no training settings are shown");
  for (const auto& s : r.settings) row(s.label, s.value);
  std::string images;
  for (size_t i = 0; i < r.image_indices.size(); ++i)
    images += (i ? ", " : "") + std::to_string(r.image_indices[i]) + " (" + r.image_classes[i] + ")";
  row("attacked test images", images);
  row("threads", std::to_string(r.threads));
  row("started", r.started);
  row("time taken", duration_text(r.seconds));
  row("command", r.command);
  h << "</table>\n";

  h << "<h2>Notes</h2>\n<ul class=\"notes\">\n"
    << "<li>Metrics are computed on de-normalised images clipped to [0, 1]. PSNR = 10·log<sub>10</sub>(1/MSE); an "
       "exact reconstruction has infinite PSNR (written <code>inf</code> in results.csv and <code>null</code> in "
       "results.json).</li>\n"
    << "<li>SSIM (reference): 7×7 uniform window, sample covariance, data range of the reconstruction, as the "
       "papers' code computed it with scikit-image. SSIM<sub>G</sub>: 11×11 Gaussian window (σ 1.5), data range 1."
       "</li>\n"
    << "<li>rMLE starts from x = 0 in normalised space and runs Adam (eps 1e-3, AMSGrad); λ<sub>TV</sub> and the "
       "learning rate take one value per block of layers, the protocol's value (§3) for the block's split in its "
       "table; query-free at cifar-cnn ReLU22 uses lr 0.1 and λ<sub>TV</sub> 2 (§5). Each attack's own "
       "settings are in results.json.</li>\n"
    << (r.target_imported
            ? "<li>The target is imported: which images it was trained on is unknown. The attacker's set "
              "<code>train</code> is the dataset's training split, <code>disjoint</code> its test split without "
              "the attacked images.</li>\n"
            : "<li>The last held-out training images were never shown to the target; they form the attacker's set "
              "when it is <code>disjoint</code>.</li>\n")
    << "<li>Every number is in results.csv, settings.csv and results.json next to this page; the grids are the "
       "PNG files there.</li>\n</ul>\n";
  return h.str();
}

/// The marker on the first line of a section file: which target its numbers are about.
std::string section_marker(const std::string& target_key) {
  return "<!-- inv report section; target " + target_key + " -->";
}

}  // namespace

std::string left_out_note(const std::vector<std::string>& labels) {
  std::string out;
  for (const std::string& l : labels)
    out += "note: the report's " + l + " section is about another target and is left out of the page (rerun inv " +
           (l == "Leakage" ? "sweep" : "defend") + " with this target to bring it back)\n";
  return out;
}

std::string report_title(const std::string& model, const std::string& dataset_display) {
  return "Model inversion leakage: " + model_display(model) + " on " + dataset_display;
}

std::vector<std::string> write_section(const std::string& dir, const std::string& section,
                                       const std::string& target_key, const std::string& title,
                                       const std::string& html) {
  static const std::pair<const char*, const char*> kSections[] = {{"leakage", "Leakage"}, {"defenses", "Defenses"}};
  bool known = false;
  for (const auto& [name, label] : kSections) known = known || section == name;
  INV_CHECK(known, "write_section: unknown report section '", section, "'");
  const std::string marker = section_marker(target_key);
  inv::io::write_file_atomic(dir + "/index." + section + ".part", marker + "\n" + html);
  struct Shown {
    std::string name, label, html;
  };
  std::vector<Shown> shown;
  std::vector<std::string> left_out;
  for (const auto& [name, label] : kSections) {
    const std::string path = dir + "/index." + name + ".part";
    if (!inv::io::file_exists(path)) continue;
    const std::vector<uint8_t> bytes = inv::io::read_file(path);
    const std::string text(bytes.begin(), bytes.end());
    if (text.compare(0, marker.size() + 1, marker + "\n") != 0) {  // about another target
      left_out.push_back(label);
      continue;
    }
    shown.push_back({name, label, text.substr(marker.size() + 1)});
  }
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
       "content=\"width=device-width, initial-scale=1\">\n<title>"
    << html_escape(title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<main>\n";
  h << "<h1>" << html_escape(title) << "</h1>\n";
  if (shown.size() > 1) {
    h << "<nav>";
    for (size_t i = 0; i < shown.size(); ++i)
      h << (i ? " · " : "") << "<a href=\"#" << shown[i].name << "\">" << shown[i].label << "</a>";
    h << "</nav>\n";
  }
  for (const Shown& sec : shown) h << "<section id=\"" << sec.name << "\">\n" << sec.html << "</section>\n";
  h << "<footer>Generated by <code>inv</code>: the leakage by <code>inv sweep</code>, the defenses by <code>inv "
       "defend</code>.</footer>\n</main>\n</body>\n</html>\n";
  inv::io::write_file_atomic(dir + "/index.html", h.str());
  return left_out;
}

std::vector<std::string> write_report(const std::string& dir, const Report& r) {
  inv::io::write_file_atomic(dir + "/results.csv", results_csv(r));
  inv::io::write_file_atomic(dir + "/settings.csv", settings_csv(r));
  inv::io::write_file_atomic(dir + "/results.json", results_json(r));
  return write_section(dir, "leakage", r.target_key, report_title(r.model, r.dataset_display), leakage_section(r));
}

const char* page_style() { return kStyle; }

}  // namespace cli
