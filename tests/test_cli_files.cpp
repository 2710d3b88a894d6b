// The `inv` command and the files it is given and writes: inputs that are not what they
// should be, output paths checked before any work, datasets given by path (image
// folders, relative paths), and what a rerun leaves in an output directory.
#include "cli/run_inv.hpp"

using namespace clitest;

namespace {

/// A target trained on the tiny dataset in `tmp` (1 epoch, holdout 6); returns its path.
std::string tiny_target(const TempDir& tmp, const std::vector<std::string>& extra = {}) {
  const std::string data = tmp.file("tiny"), ckpt = tmp.file("t.invckpt");
  write_tiny_dataset(data);
  const Result r = run_inv(with(with(with({"train", "--dataset", data, "--out", ckpt}, kRun), kTarget), extra), tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  return ckpt;
}

}  // namespace

TEST_CASE("a directory where a file is expected is named as such", "[cli]") {
  TempDir tmp;
  const std::string ckpt = tiny_target(tmp), dir = tmp.file("adir");
  fs::create_directory(dir);
  const std::string is_dir = "'" + dir + "' is a directory, expected a file";
  check_error(run_inv({"info", dir}, tmp), 1, {is_dir});
  check_error(run_inv({"attack", "--checkpoint", dir, "--split", "conv1"}, tmp), 1, {is_dir});
  check_error(run_inv({"attack", "--checkpoint", ckpt, "--split", "conv1", "--images", dir, "--out",
                       tmp.file("o1")},
                      tmp),
              1, {is_dir});
  check_error(run_inv({"attack", "--checkpoint", ckpt, "--split", "conv1", "--features", dir, "--out",
                       tmp.file("o2")},
                      tmp),
              1, {is_dir});
  check_error(run_inv({"sweep", "--target", dir, "--out", tmp.file("o3")}, tmp), 1, {is_dir});
}

TEST_CASE("the noise attacker set is bounded with a clear message", "[cli]") {
  TempDir tmp;
  const std::string ckpt = tiny_target(tmp);
  check_error(run_inv(with({"attack", "--checkpoint", ckpt, "--split", "conv1", "--attack", "black-box",
                            "--attacker-set", "noise", "--attacker-images", "9223372036854775807", "--out",
                            tmp.file("o")},
                           kRun),
                      tmp),
              1, {"--attacker-images 9223372036854775807 exceeds the limit of 10000 noise images"});
}
