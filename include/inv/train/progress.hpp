// inv/train/progress.hpp: progress output for long loops.
//
// On a terminal a single line is redrawn in place:
//   epoch 3/20 [=========>          ] 940/1875  loss 0.0312  acc 99.06%  41230 img/s  ETA 0:05
// When the stream is not a terminal (a log file, CI), plain lines are printed instead:
// the first update, then at most one every `interval` seconds, and the last. Quiet progress prints nothing.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace inv::train {

/// "1:02:03" or "2:03" for a number of seconds.
inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

class Progress {
 public:
  /// Reports on `out` (stderr by default); `quiet` silences it.
  explicit Progress(bool quiet = false, FILE* out = stderr, double interval = 5.0)
      : out_(out), quiet_(quiet), tty_(!quiet && isatty(fileno(out))), interval_(interval) {}

  /// Starts a task of `total` steps named `title` (e.g. "epoch 3/20").
  void start(const std::string& title, int64_t total) {
    title_ = title;
    total_ = total;
    start_ = last_ = std::chrono::steady_clock::now();
    printed_any_ = false;
  }

  /// Step `done` of total finished; `stats` is appended (e.g. "loss 0.03  acc 99.1%").
  /// `items` is the number of items processed so far, for the rate; "img/s" by default.
  void update(int64_t done, const std::string& stats, int64_t items = -1, const char* unit = "img/s") {
    if (quiet_) return;
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const bool last = done >= total_;
    // Plain output: the first update, then at most one line per interval, and the last.
    if (!tty_ && !last && printed_any_ && std::chrono::duration<double>(now - last_).count() < interval_) return;
    if (tty_ && !last && std::chrono::duration<double>(now - last_).count() < 0.1) return;
    last_ = now;
    std::string line = title_;
    if (tty_) line += " " + bar(done);
    line += " " + std::to_string(done) + "/" + std::to_string(total_);
    if (!stats.empty()) line += "  " + stats;
    if (items >= 0 && elapsed > 0) {
      char rate[48];
      std::snprintf(rate, sizeof rate, "  %.0f %s", double(items) / elapsed, unit);
      line += rate;
    }
    if (done > 0) line += (last ? "  took " : "  ETA ") + format_duration(last ? elapsed : elapsed * double(total_ - done) / double(done));
    if (tty_)
      std::fprintf(out_, "\r\033[K%s%s", line.c_str(), last ? "\n" : "");
    else
      std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
    printed_any_ = true;
  }

  /// A message on its own line (does not disturb a bar being drawn).
  void message(const std::string& text) {
    if (quiet_) return;
    std::fprintf(out_, "%s%s\n", tty_ && printed_any_ ? "\r\033[K" : "", text.c_str());
    std::fflush(out_);
  }

  bool quiet() const { return quiet_; }

 private:
  std::string bar(int64_t done) const {
    const int width = 20;
    const int fill = total_ > 0 ? static_cast<int>(width * std::min<int64_t>(done, total_) / total_) : width;
    std::string b = "[";
    for (int i = 0; i < width; ++i) b += i < fill ? '=' : (i == fill ? '>' : ' ');
    return b + "]";
  }

  FILE* out_;
  bool quiet_, tty_;
  double interval_;
  std::string title_;
  int64_t total_ = 0;
  bool printed_any_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace inv::train
