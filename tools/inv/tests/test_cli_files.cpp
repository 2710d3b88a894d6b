// The `inv` command and the files it is given and writes: inputs that are not what they
// should be, output paths checked before any work, datasets given by path (image
// folders, relative paths), and what a rerun leaves in an output directory.
#include "run_inv.hpp"

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
              1, {"--attacker-set noise: 9223372036854775807 attacker images exceed the limit of 10000 noise images"});
}

TEST_CASE("output paths are checked before any work, and a failure leaves no file", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny");
  write_tiny_dataset(data);
  // Progress is on (no --quiet): a single line on stderr shows that training never started.
  const auto train = [&](const std::string& out) {
    return run_inv(with({"train", "--dataset", data, "--epochs", "2", "--holdout", "6", "--threads", "1", "--out", out},
                        {}),
                   tmp);
  };
  check_error(train("/proc/x.invckpt"), 1, {"cannot write in '/proc'"});

  const std::string dir = tmp.file("existing");
  fs::create_directory(dir);
  check_error(train(dir), 1, {"--out '" + dir + "' is a directory, expected a file name"});
  CHECK_FALSE(fs::exists(dir + ".csv"));
  CHECK_FALSE(fs::exists(dir + ".train.invckpt"));
  CHECK(fs::is_empty(dir));

  const std::string nd = tmp.file("nd") + "/";
  check_error(train(nd), 1, {"--out '" + nd + "' ends in '/': expected a file name"});
  CHECK_FALSE(fs::exists(nd));

  const std::string ckpt = tmp.file("t.invckpt");
  REQUIRE(run_inv(with(with({"train", "--dataset", data, "--out", ckpt}, kRun), kTarget), tmp).code == 0);
  check_error(run_inv({"attack", "--checkpoint", ckpt, "--split", "conv1", "--out", "/proc"}, tmp), 1,
              {"cannot write in '/proc'"});
  check_error(run_inv({"sweep", "--dataset", data, "--out", "/proc"}, tmp), 1, {"cannot write in '/proc'"});
  check_error(run_inv({"sweep", "--dataset", data, "--out", ckpt}, tmp), 1,
              {"cannot create directory '" + ckpt + "'"});
}

TEST_CASE("image folders: the test split must have the training classes, and both splits must exist", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("folder"), out = tmp.file("t.invckpt");
  for (const std::string c : {"a", "b", "c"}) write_class_images(data + "/train/" + c, c[0] - 'a', 3, 1, 28);
  for (const std::string c : {"a", "c"}) write_class_images(data + "/test/" + c, c[0] - 'a', 1, 1, 28);
  // Progress is on (no --quiet): a single line on stderr shows that nothing was trained.
  const auto train = [&] {
    return run_inv({"train", "--dataset", data, "--epochs", "1", "--holdout", "2", "--threads", "1", "--out", out},
                   tmp);
  };
  check_error(train(), 1,
              {"the class folders of test/ must be those of train/", "train/ has 3 (a, b, c) and test/ has 2 (a, c)"});
  write_class_images(data + "/test/b", 1, 1, 1, 28);
  write_class_images(data + "/test/d", 3, 1, 1, 28);
  check_error(train(), 1, {"train/ has 3 (a, b, c) and test/ has 4 (a, b, c, d)"});
  fs::remove_all(data + "/test/d");
  Result r = train();
  INFO(r.err);
  CHECK(r.code == 0);

  // A folder of class folders alone has no test set of its own.
  const std::string flat = tmp.file("flat");
  for (const std::string c : {"a", "b"}) write_class_images(flat + "/" + c, c[0] - 'a', 2, 1, 28);
  const std::string layout = "DIR/train/<class>/*.png and DIR/test/<class>/*.png";
  check_error(run_inv({"train", "--dataset", flat, "--out", out}, tmp), 1,
              {"dataset '" + flat + "' has no dataset files and no train/ and test/ folders", layout});
  fs::create_directories(flat + "/train");
  check_error(run_inv({"train", "--dataset", flat, "--out", out}, tmp), 1, {"has train/ but no test/", layout});
  r = run_inv({"train", "--help"}, tmp);
  CHECK_THAT(collapse_spaces(r.out), Catch::Contains("the same class folders in both"));
}

TEST_CASE("the training checkpoint given for the model checkpoint is named as such", "[cli]") {
  TempDir tmp;
  const std::string ckpt = tiny_target(tmp), resume = tmp.file("t.train.invckpt");
  REQUIRE(io::file_exists(resume));
  const std::string hint = resume + " is the training-resume state of `inv train`; pass the model checkpoint " + ckpt;
  check_error(run_inv({"info", resume}, tmp), 1, {hint});
  check_error(run_inv({"attack", "--checkpoint", resume, "--split", "conv1", "--out", tmp.file("o")}, tmp), 1, {hint});
  check_error(run_inv({"sweep", "--target", resume, "--out", tmp.file("o")}, tmp), 1, {hint});
}

TEST_CASE("a dataset path is recorded absolute, and a recorded dataset that is gone is named", "[cli]") {
  TempDir tmp;
  write_tiny_dataset(tmp.file("tiny"));
  Result r = run_inv(with(with({"train", "--dataset", "tiny", "--out", "t.invckpt"}, kRun), kTarget), tmp,
                     tmp.path.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::string ckpt = tmp.file("t.invckpt");
  CHECK(io::load_checkpoint(ckpt).metadata.at("dataset") == tmp.file("tiny"));

  // From another directory the checkpoint's dataset is found.
  const std::string elsewhere = tmp.file("elsewhere");
  fs::create_directory(elsewhere);
  const auto attack = with(with({"attack", "--checkpoint", ckpt, "--split", "conv1", "--out", "wb"}, kRun), kAttack);
  r = run_inv(attack, tmp, elsewhere);
  INFO(r.err);
  CHECK(r.code == 0);

  // Moved away: the error says where the name came from and what to do.
  fs::rename(tmp.file("tiny"), tmp.file("moved"));
  check_error(run_inv(attack, tmp, elsewhere), 1,
              {"the dataset '" + tmp.file("tiny") + "' recorded in " + ckpt + " was not found", "pass --dataset"});
  check_error(run_inv({"sweep", "--target", ckpt, "--out", tmp.file("sw")}, tmp), 1,
              {"recorded in " + ckpt, "pass --dataset"});
  r = run_inv(with(attack, {"--dataset", tmp.file("moved")}), tmp, elsewhere);
  INFO(r.err);
  CHECK(r.code == 0);
}

TEST_CASE("an attack into the directory of an earlier one leaves none of its stale outputs", "[cli]") {
  TempDir tmp;
  const std::string ckpt = tiny_target(tmp), out = tmp.file("a");
  const auto attack = with(with({"attack", "--checkpoint", ckpt, "--split", "conv1", "--out", out}, kRun), kAttack);
  REQUIRE(run_inv(attack, tmp).code == 0);
  REQUIRE(io::file_exists(out + "/metrics.csv"));
  const Result r = run_inv(with(attack, {"--features", out + "/features.npy"}), tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_FALSE(io::file_exists(out + "/metrics.csv"));
  CHECK(parse_json(read_text(out + "/metrics.json"))["metrics"].is_null());
}

namespace {

/// A copy of the checkpoint `from` at `to` with the metadata `key` set to `value`.
std::string with_metadata(const std::string& from, const std::string& to, const std::string& key,
                          const std::string& value) {
  io::Checkpoint ck = io::load_checkpoint(from);
  ck.metadata[key] = value;
  io::save_checkpoint(to, ck);
  return to;
}

}  // namespace

TEST_CASE("a metadata number that does not parse is named with its key and value and the checkpoint", "[cli]") {
  TempDir tmp;
  const std::string ckpt = tiny_target(tmp);
  const auto expected = [](const std::string& file, const std::string& key, const std::string& what,
                           const std::string& value) {
    return file + ": expected the metadata '" + key + "' to be " + what + ", found '" + value + "'";
  };
  const std::string acc = with_metadata(ckpt, tmp.file("acc.invckpt"), "test_accuracy", "abc");
  check_error(run_inv({"info", acc}, tmp), 1, {expected(acc, "test_accuracy", "a finite number", "abc")});

  const auto sweep = [&](const std::string& target) {
    return run_inv(with({"sweep", "--target", target, "--splits", "conv1", "--attacks", "white-box", "--out",
                         tmp.file("sw")},
                        with(kRun, kAttack)),
                   tmp);
  };
  const std::string epochs = with_metadata(ckpt, tmp.file("epochs.invckpt"), "epochs", "1e999");
  check_error(sweep(epochs), 1, {expected(epochs, "epochs", "a 64-bit integer", "1e999")});
  const std::string holdout = with_metadata(ckpt, tmp.file("holdout.invckpt"), "holdout", "abc");
  check_error(sweep(holdout), 1, {expected(holdout, "holdout", "an integer >= 0", "abc")});

  // 1e300 was read as 1 by std::stoll: the attacker's set was then not the held-out images
  for (const std::string value : {"abc", "1e300", "-5", "6.5"}) {
    const std::string bad = with_metadata(ckpt, tmp.file("h.invckpt"), "holdout", value);
    check_error(run_inv(with({"attack", "--checkpoint", bad, "--split", "conv1", "--attack", "black-box",
                              "--attacker-set", "disjoint", "--out", tmp.file("a")},
                             with(kRun, kAttack)),
                        tmp),
                1, {expected(bad, "holdout", "an integer >= 0", value)});
  }
}

TEST_CASE("a dataset smaller than the target's holdout is refused for the attacker's set", "[cli]") {
  TempDir tmp;
  const std::string ckpt = tiny_target(tmp), small = tmp.file("small");  // the target held out 6
  fs::create_directories(small);
  for (const bool train : {true, false}) {
    const int64_t n = train ? 4 : 3;
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < n; ++i) labels.push_back(i % 3);
    const std::string prefix = small + (train ? "/train" : "/t10k");
    data::write_idx_images(prefix + "-images-idx3-ubyte",
                           from_vector(std::vector<float>(size_t(n * 28 * 28), 0.5f), {n, 1, 28, 28}));
    data::write_idx_labels(prefix + "-labels-idx1-ubyte", labels);
  }
  for (const std::string set : {"disjoint", "train"}) {
    INFO(set);
    check_error(run_inv(with({"attack", "--checkpoint", ckpt, "--split", "conv1", "--dataset", small, "--attack",
                              "black-box", "--attacker-set", set, "--out", tmp.file("a")},
                             with(kRun, kAttack)),
                        tmp),
                1, {"--attacker-set " + set + ": the training set has 4 images but the target held out the last 6",
                    "pass --dataset with the dataset the target was trained on"});
  }
}

TEST_CASE("a named dataset is taken only from a directory of its name; CIFAR-10 sets are never mixed", "[cli]") {
  TempDir tmp;
  ::unsetenv("INV_DATA_DIR");  // only --data-dir and the standard places
  // IDX files do not say which dataset they are: a directory holding some is not "mnist".
  const std::string idx = tmp.file("tiny");
  write_tiny_dataset(idx);
  check_error(run_inv(with({"train", "--dataset", "mnist", "--data-dir", idx, "--out", tmp.file("t.invckpt")}, kRun),
                      tmp),
              1, {"dataset 'mnist' not found", "'" + idx + "' itself holds a dataset: pass --dataset " + idx});
  check_error(run_inv(with({"train", "--dataset", "mnist", "--data-dir", tmp.file("typo"), "--out",
                            tmp.file("t.invckpt")},
                           kRun),
                      tmp),
              1, {"--data-dir '" + tmp.file("typo") + "' is not a directory"});

  // CIFAR-10 binary files: the canonical set and the JPEG copy in one directory are refused,
  // and so is a file whose name says both train and test.
  auto write_cifar = [](const std::string& path) {
    std::ofstream f(path, std::ios::binary);
    const std::string record(3073, '\1');
    f << record << record;
  };
  const std::string mix = tmp.file("mix");
  fs::create_directories(mix);
  for (const char* name : {"data_batch_1.bin", "test_batch.bin", "cifar10_train_jpegq75.bin", "cifar10_test_jpegq75.bin"})
    write_cifar(mix + "/" + name);
  check_error(run_inv(with({"train", "--dataset", mix, "--model", "cifar-cnn", "--out", tmp.file("c.invckpt")}, kRun),
                      tmp),
              1, {"holds CIFAR-10 binary files of more than one set", "cifar10_train_jpegq75.bin, data_batch_1.bin",
                  "keep one set per directory"});
  const std::string both = tmp.file("both");
  fs::create_directories(both);
  write_cifar(both + "/part_train.bin");
  write_cifar(both + "/part_train_test.bin");
  check_error(run_inv(with({"train", "--dataset", both, "--model", "cifar-cnn", "--out", tmp.file("c.invckpt")}, kRun),
                      tmp),
              1, {"part_train_test.bin': the name says both train and test"});
}
