// report.hpp: the leakage report of a sweep — index.html, results.csv, settings.csv,
// results.json — and the table printed at the end.
//
// Metrics (inv/metrics.hpp), on de-normalised images clipped to [0, 1]:
//   PSNR            10·log10(1 / MSE) in dB; an exact reconstruction has PSNR +inf, which
//                   CSV writes as "inf" and JSON as null (with psnr_exact counting them).
//   SSIM reference  the papers' SSIM (scikit-image compare_ssim before 0.18 as the reference
//                   code called it: 7×7 uniform window, sample covariance, data range of
//                   the reconstruction). The tables and the plot use this one.
//   SSIM Gaussian   Wang et al. 2004 (11×11 Gaussian window, σ 1.5, data range 1).
// The papers call a reconstruction recognisable when SSIM > 0.3.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <inv/metrics.hpp>
#include <inv/tensor.hpp>

#include "settings.hpp"

namespace cli {

/// One split layer of the sweep.
struct SplitRow {
  std::string name;
  int64_t depth = 0;  // index of the layer in the network
  std::string op;
  inv::Shape shape;   // output of one image
};

/// One (split, attack) result.
struct Cell {
  std::string split;
  std::string attack;  // its name in the catalogue (inv/attack/registry.hpp)
  inv::metrics::ImageQuality quality;
  double seconds = 0;
  int64_t queries = 0;
  bool reused = false;  // taken from the cache of an earlier run
  std::vector<std::pair<std::string, std::string>> settings;  // AttackJob::settings
  inv::Tensor reconstructions;  // (N, C, H, W) in [0, 1]
  std::string png;              // grid file name in the report directory
};

struct Report {
  std::string dataset_id, dataset_display, accuracy_label, model;  // model: "lenet" or "cifar-cnn"
  double test_accuracy = 0;
  int64_t test_images = 0;
  std::string target_checkpoint;
  std::string target_key;  // what identifies the target's weights (its fingerprint and accuracy)
  bool target_reused = false;
  bool target_imported = false;             // trained elsewhere (--weights): no training settings
  std::string target_source, target_sha256;  // the imported weights' file and its SHA-256 (hex)
  std::vector<SettingRow> settings;  // every hyperparameter
  std::vector<SplitRow> splits;
  std::vector<std::string> attacks;  // names, in the catalogue's order or as chosen
  std::vector<Cell> cells;
  inv::Tensor originals;                  // (N, C, H, W) in [0, 1]
  std::vector<int64_t> image_indices;     // test-set index of each original
  std::vector<std::string> image_classes; // class name of each original
  std::string started;                    // UTC
  double seconds = 0;                     // wall time of the whole run
  int threads = 1;
  std::string command;
  std::string budget;  // what the preset spends (budget_line), shown under the title
  // Written after every split: until the sweep finishes, complete is false and the report
  // says "incomplete: <splits.size()> of <splits_planned> split layers done".
  size_t splits_planned = 0;
  bool complete = false;

  const Cell* find(const std::string& split, const std::string& attack) const;
};

/// Writes results.csv, settings.csv, results.json and the report's Leakage section into
/// `dir` (atomically). results.json has "complete", "splits_done" and "splits_planned";
/// while the sweep is not complete the section says so at its top. Returns what
/// write_section returns.
std::vector<std::string> write_report(const std::string& dir, const Report& r);

/// The report page is index.html in its directory. It shows the sections kept next to it,
/// in this order: index.leakage.part (inv sweep), index.defenses.part (inv defend), so
/// that one self-contained page holds both. write_section replaces one section (a fragment
/// of HTML; atomically) and rebuilds the page under `title`. A section written about
/// another target (another `target_key`) is left out of the page; returns the labels of
/// those left out ("Leakage"), for the caller to say so. Throws inv::Error for an unknown
/// section name or a failed write.
std::vector<std::string> write_section(const std::string& dir, const std::string& section,
                                       const std::string& target_key, const std::string& title,
                                       const std::string& html);

/// The note a command prints when write_section left sections out: "note: the report's
/// Defenses section is about another target and is left out of the page (rerun inv
/// defend ...)"; empty when none was.
std::string left_out_note(const std::vector<std::string>& labels);

/// "Model inversion leakage: LeNet on MNIST": the report page's title.
std::string report_title(const std::string& model, const std::string& dataset_display);

/// The split × attack table of mean PSNR and SSIM (reference) for the terminal.
std::string console_table(const Report& r);

/// The inline SVG plot of SSIM (reference) against split depth (the splits in network
/// order), one line per attack, with the 0.3 "recognisable" threshold dashed (plot.cpp).
std::string ssim_plot_svg(const Report& r);

/// The images of a batch (N, C, H, W) in [0, 1] tiled in one row (io::make_grid); with
/// originals, those in a first row above the reconstructions.
inv::Tensor comparison_grid(const inv::Tensor& originals, const inv::Tensor& reconstructions);

/// The report pages' CSS.
const char* page_style();

/// An image (C, H, W) in [0, 1] as a data: URI of a PNG.
std::string data_uri(const inv::Tensor& image);

/// Text escaped for HTML element content and attribute values.
std::string html_escape(const std::string& s);

/// `v` with `decimals` digits after the point ("%.3f"), without the sign of a value that
/// rounds to zero: -0.0001 is "0.000", not "-0.000".
std::string fixed(double v, int decimals);

/// Mean of a list (NaN when empty).
double mean_of(const std::vector<double>& v);

/// The display name of a model of the protocol table ("LeNet", "CIFAR-10 CNN", "ResNet-20"), else the name.
std::string model_display(const std::string& model);

/// An attack's colour, shared by the plot and the tables: by its place in the catalogue.
const char* attack_colour(const std::string& attack);

}  // namespace cli
