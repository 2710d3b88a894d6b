// The fuzz targets (tests/fuzz/targets.hpp) on their committed inputs, in the normal test
// suite. Every file in tests/fuzz/regressions/<target>/ is an input that once made a reader
// fail (crash, hang, sanitizer report, broken oracle, wrong exception) and must now throw
// inv::Error with a message containing the one line of <file>.expect. Every file in
// tests/fuzz/corpus/<target>/ is a seed that must run through its target with at most an
// inv::Error, and each target must read at least one of its seeds. An oracle failure
// aborts the program, naming the oracle on stderr.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz/targets.hpp"

namespace {

namespace fs = std::filesystem;
using inv::fuzz::Target;

const fs::path kFuzzDir = INV_FUZZ_DIR;
const std::string kExpectSuffix = ".expect";

bool is_expect_file(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.size() > kExpectSuffix.size() &&
         name.compare(name.size() - kExpectSuffix.size(), kExpectSuffix.size(), kExpectSuffix) == 0;
}

/// The entries of `dir` (files, or directories with want_dirs) sorted by name, skipping
/// names that start with '.' (.gitkeep); none when `dir` does not exist.
std::vector<fs::path> entries(const fs::path& dir, bool want_dirs) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if ((want_dirs ? e.is_directory() : e.is_regular_file()) && e.path().filename().string()[0] != '.')
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// The text of an .expect file without its trailing whitespace (the final newline).
std::string read_expect(const fs::path& p) {
  const std::vector<uint8_t> bytes = inv::io::read_file(p.string());
  std::string text(bytes.begin(), bytes.end());
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

const Target* find_target(const std::string& name) {
  for (const Target& t : inv::fuzz::targets())
    if (name == t.name) return &t;
  return nullptr;
}

/// What a target did with an input: read it, rejected it with inv::Error (message), or
/// threw something else (a finding; message says what).
struct Outcome {
  enum Kind { kRead, kRejected, kOtherException } kind;
  std::string message;
};

Outcome run(const Target& target, const fs::path& input) {
  const std::vector<uint8_t> bytes = inv::io::read_file(input.string());
  try {
    target.run(bytes.data(), bytes.size());
    return {Outcome::kRead, ""};
  } catch (const inv::Error& e) {
    return {Outcome::kRejected, e.what()};
  } catch (const std::exception& e) {
    return {Outcome::kOtherException, std::string("std::exception: ") + e.what()};
  } catch (...) {
    return {Outcome::kOtherException, "an exception that is not a std::exception"};
  }
}

}  // namespace

TEST_CASE("every fuzz corpus and regression directory belongs to a target, every target has seeds", "[fuzz]") {
  for (const char* kind : {"corpus", "regressions"})
    for (const fs::path& dir : entries(kFuzzDir / kind, true)) {
      INFO(dir.string());
      CHECK(find_target(dir.filename().string()) != nullptr);
    }
  for (const Target& t : inv::fuzz::targets()) {
    INFO("target " << t.name);
    CHECK_FALSE(entries(kFuzzDir / "corpus" / t.name, false).empty());
  }
}

TEST_CASE("every regression input throws the inv::Error its .expect file names", "[fuzz]") {
  for (const Target& t : inv::fuzz::targets()) {
    const fs::path dir = kFuzzDir / "regressions" / t.name;
    for (const fs::path& input : entries(dir, false)) {
      INFO("regression input " << input.string());
      if (is_expect_file(input)) {
        CHECK(fs::is_regular_file(dir / input.stem()));  // an .expect file needs its input
        continue;
      }
      const fs::path expect_path = dir / (input.filename().string() + kExpectSuffix);
      const bool has_expect = fs::is_regular_file(expect_path);
      CHECK(has_expect);  // every regression input needs its .expect file
      if (!has_expect) continue;
      const std::string expected = read_expect(expect_path);
      CHECK_FALSE(expected.empty());
      const Outcome outcome = run(t, input);
      INFO("outcome: " << outcome.message);
      CHECK(outcome.kind == Outcome::kRejected);
      CHECK_THAT(outcome.message, Catch::Contains(expected));
    }
  }
}

TEST_CASE("every seed corpus input runs through its target, and each target reads a seed", "[fuzz]") {
  for (const Target& t : inv::fuzz::targets()) {
    int read = 0;
    for (const fs::path& input : entries(kFuzzDir / "corpus" / t.name, false)) {
      INFO("seed " << input.string());
      const Outcome outcome = run(t, input);
      INFO("outcome: " << outcome.message);
      CHECK(outcome.kind != Outcome::kOtherException);
      read += outcome.kind == Outcome::kRead;
    }
    INFO("target " << t.name);
    CHECK(read > 0);
  }
}
