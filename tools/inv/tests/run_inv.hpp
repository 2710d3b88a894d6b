// cli/run_inv.hpp: driving the built `inv` executable from the tests (test_cli*.cpp):
// running it with captured output, a tiny IDX dataset, checks of its error lines and of
// the completeness of its output files, and starting it in the background.
#pragma once

#include "temp_dir.hpp"
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <inv/data/idx.hpp>
#include <inv/io/checkpoint.hpp>
#include <inv/io/image.hpp>
#include <inv/io/image_decode.hpp>
#include <inv/io/npy.hpp>

#include "json_parse.hpp"

namespace clitest {

using namespace inv;
namespace fs = std::filesystem;
using testjson::parse_json;

using TempDir = inv::testing::TempDir;

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

inline bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Result {
  int code = -1;
  std::string out, err;
};

/// Runs the inv executable with `args`, capturing stdout, stderr and the exit code; in the
/// working directory `cwd` when given.
inline Result run_inv(const std::vector<std::string>& args, const TempDir& tmp, const std::string& cwd = "") {
  std::string cmd = (cwd.empty() ? "" : "cd " + shell_quote(cwd) + " && ") + shell_quote(INV_CLI_PATH);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  const std::string out = tmp.file("stdout.txt"), err = tmp.file("stderr.txt");
  cmd += " >" + shell_quote(out) + " 2>" + shell_quote(err);
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

/// `text` with every run of whitespace (line breaks and indentation of --help) as one space.
inline std::string collapse_spaces(const std::string& text) {
  std::string words;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c)) || (!words.empty() && words.back() != ' '))
      words += std::isspace(static_cast<unsigned char>(c)) ? ' ' : c;
  return words;
}

/// A tiny MNIST-like dataset in `dir`: 3 classes (a vertical bar, a horizontal bar, a box),
/// 10 training and 3 test images each, 28x28, classes interleaved 0 1 2 0 1 2 ...
inline void write_tiny_dataset(const std::string& dir) {
  fs::create_directories(dir);
  Generator gen(7);
  for (const bool train : {true, false}) {
    const int64_t n = train ? 30 : 9;
    std::vector<float> pixels(size_t(n * 28 * 28));
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = i % 3, shift = int64_t(gen.randint(5));
      labels.push_back(k);
      for (int64_t y = 0; y < 28; ++y)
        for (int64_t x = 0; x < 28; ++x) {
          const bool on = k == 0   ? (x >= 10 + shift && x < 15 + shift && y > 3 && y < 24)
                          : k == 1 ? (y >= 10 + shift && y < 15 + shift && x > 3 && x < 24)
                                   : ((x == 6 + shift || x == 20 || y == 6 || y == 20 + shift / 2) && x >= 6 &&
                                      x <= 20 && y >= 6 && y <= 22);
          pixels[size_t((i * 28 + y) * 28 + x)] = on ? 0.9f : float(0.1 * gen.uniform());
        }
    }
    const std::string prefix = dir + (train ? "/train" : "/t10k");
    data::write_idx_images(prefix + "-images-idx3-ubyte", from_vector(pixels, {n, 1, 28, 28}));
    data::write_idx_labels(prefix + "-labels-idx1-ubyte", labels);
  }
}

/// Writes `n` PNG images (channels, size, size) into `dir` as 0.png, 1.png, ...: for class
/// `k` a bright square at a place of its own, on faint seeded noise.
inline void write_class_images(const std::string& dir, int64_t k, int64_t n, int64_t channels, int64_t size) {
  fs::create_directories(dir);
  Generator gen(uint64_t(11 + k));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> pixels(size_t(channels * size * size));
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < size; ++y)
        for (int64_t x = 0; x < size; ++x) {
          const int64_t at = 2 + 5 * (k % 4) + i % 2, row = 2 + 5 * (k / 4);
          const bool on = x >= at && x < at + 6 && y >= row && y < row + 6;
          pixels[size_t((c * size + y) * size + x)] = on ? 0.9f : float(0.1 * gen.uniform());
        }
    io::save_png(dir + "/" + std::to_string(i) + ".png", from_vector(pixels, {channels, size, size}));
  }
}

/// Run flags shared by every subcommand, and the tiny settings of each group.
inline std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
inline const std::vector<std::string> kRun = {"--threads", "1", "--quiet"};
inline const std::vector<std::string> kTarget = {"--epochs", "1", "--holdout", "6"};
inline const std::vector<std::string> kAttack = {"--rmle-iterations", "3", "--attacker-images", "8",
                                          "--decoder-epochs", "1", "--shadow-epochs", "1"};

/// One error line on stderr that starts with "inv " and contains every `part`; nothing on stdout.
inline void check_error(const Result& r, int code, const std::vector<std::string>& parts) {
  INFO("stderr: " << r.err);
  CHECK(r.code == code);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("inv ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  for (const auto& p : parts) CHECK_THAT(r.err, Catch::Contains(p));
}

/// Every output file under `dir` is complete: checkpoints load, JSON parses, arrays and images
/// decode, pages and tables end properly. Returns the number of temporaries found.
inline int check_complete(const fs::path& dir) {
  int temporaries = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string p = e.path().string(), name = e.path().filename().string(), ext = e.path().extension().string();
    INFO("file " << p);
    if (name.find(".tmp.") != std::string::npos) {
      ++temporaries;
      continue;
    }
    if (ext == ".invckpt") CHECK_NOTHROW(io::load_checkpoint(p));
    if (ext == ".json") CHECK_NOTHROW(parse_json(read_text(p)));
    if (ext == ".npy") CHECK_NOTHROW(io::load_npy(p));
    if (ext == ".png") CHECK_NOTHROW(io::load_image(p, 1));
    if (ext == ".html") CHECK(ends_with(read_text(p), "</html>\n"));
    if (ext == ".part") CHECK(read_text(p).rfind("<!-- inv report section; target ", 0) == 0);
    if (ext == ".csv") CHECK(ends_with(read_text(p), "\n"));
  }
  return temporaries;
}

/// Starts inv in the background (output discarded, or stderr into `stderr_path`); returns
/// its process id. With `ignore_hangup` the child starts with SIGHUP ignored, as under nohup.
inline pid_t spawn_inv(const std::vector<std::string>& args, bool ignore_hangup = false,
                       const std::string& stderr_path = "") {
  std::vector<std::string> all = {INV_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(stderr_path.empty() ? null : ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    if (ignore_hangup) ::signal(SIGHUP, SIG_IGN);
    ::execv(INV_CLI_PATH, argv.data());
    ::_exit(127);
  }
  return pid;
}

/// Waits until `path` exists (up to 5 minutes).
inline void wait_for_file(const fs::path& path) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (fs::exists(path, ec)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  FAIL("no file " << path);
}

/// Waits until `dir` holds at least one finished file, not a temporary NAME.tmp.PID (up to
/// 5 minutes).
inline void wait_for_file_in(const fs::path& dir) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename().string().find(".tmp.") == std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  FAIL("no file appeared in " << dir);
}

}  // namespace clitest
