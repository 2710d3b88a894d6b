// The `inv` command itself (tools/inv/), driven as a user would: every subcommand on a
// tiny IDX dataset written here, its files and JSON, its error messages and exit codes,
// and what a killed or interrupted sweep leaves behind.
#include "run_inv.hpp"

using namespace clitest;

TEST_CASE("inv --help and every subcommand's help", "[cli]") {
  TempDir tmp;
  Result r = run_inv({"--help"}, tmp);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("usage: inv <command>") && Catch::Contains("sweep") && Catch::Contains("attack"));
  for (const std::string cmd : {"train", "info", "attack", "sweep", "defend"}) {
    r = run_inv({cmd, "--help"}, tmp);
    INFO(cmd);
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("usage: inv " + cmd) && Catch::Contains("--help"));
  }
  r = run_inv({"sweep", "--help"}, tmp);
  for (const std::string flag : {"--dataset", "--model", "--preset", "--seed", "--threads", "--quiet", "--out",
                                 "--splits", "--attacks", "--epochs", "--rmle-iterations", "--rmle-lr", "--lambda-tv",
                                 "--decoder-epochs", "--shadow-epochs", "--attacker-images", "--attacker-set"})
    CHECK_THAT(r.out, Catch::Contains(flag));
  std::string words;  // the help with line breaks and indentation collapsed
  for (char c : r.out)
    if (!std::isspace(static_cast<unsigned char>(c)) || (!words.empty() && words.back() != ' ')) words += std::isspace(static_cast<unsigned char>(c)) ? ' ' : c;
  CHECK_THAT(words, Catch::Contains("target training epochs (default: quick 2; paper 20 (lenet) or 50 (cifar-cnn and the models of no "
                                    "paper, protocol §10))"));

  r = run_inv({}, tmp);
  CHECK(r.code == 2);
  r = run_inv({"frobnicate"}, tmp);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("unknown command 'frobnicate'") && Catch::Contains("sweep, defend, train, info, attack"));
}

TEST_CASE("inv train, info and attack on a tiny dataset", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny");
  write_tiny_dataset(data);
  const std::string ckpt = tmp.file("out/tiny-lenet.invckpt");

  // train: the checkpoint with its metadata, the training checkpoint and the log
  Result r = run_inv(with(with({"train", "--dataset", data, "--out", ckpt, "--seed", "3"}, kRun), kTarget), tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("test accuracy") && Catch::Contains("(9 images) after 1 epoch on 24 training images"));
  const io::Checkpoint ck = io::load_checkpoint(ckpt);
  CHECK(ck.metadata.at("model") == "lenet");
  CHECK(ck.metadata.at("dataset") == data);
  CHECK(ck.metadata.at("epochs") == "1");
  CHECK(ck.metadata.at("seed") == "3");
  CHECK(ck.metadata.at("holdout") == "6");
  const double acc = std::stod(ck.metadata.at("test_accuracy"));
  CHECK((acc >= 0 && acc <= 1));
  CHECK(ck.tensors.size() == 10);  // 5 weights + 5 biases
  CHECK(io::file_exists(tmp.file("out/tiny-lenet.train.invckpt")));
  CHECK(read_text(tmp.file("out/tiny-lenet.csv")).rfind("epoch,train_loss", 0) == 0);

  // a rerun resumes from the training checkpoint instead of starting over
  r = run_inv(with({"train", "--dataset", data, "--out", ckpt, "--seed", "3", "--threads", "1"}, kTarget), tmp);
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Catch::Contains("resuming from") && Catch::Contains("after epoch 1"));

  // more epochs continue the same run: the first epoch of a 2-epoch run is the 1-epoch run
  const std::string longer = tmp.file("out/longer.invckpt"), fresh = tmp.file("out/fresh.invckpt");
  fs::copy_file(tmp.file("out/tiny-lenet.train.invckpt"), tmp.file("out/longer.train.invckpt"));
  const std::vector<std::string> two = {"--dataset", data, "--seed", "3", "--threads", "1", "--epochs", "2", "--holdout", "6"};
  r = run_inv(with({"train", "--out", longer}, two), tmp);
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Catch::Contains("resuming from") && Catch::Contains("after epoch 1"));
  REQUIRE(run_inv(with({"train", "--out", fresh}, two), tmp).code == 0);
  const io::Checkpoint resumed = io::load_checkpoint(longer), uninterrupted = io::load_checkpoint(fresh);
  CHECK(resumed.metadata.at("epochs") == "2");
  REQUIRE(resumed.tensors.size() == uninterrupted.tensors.size());
  for (size_t i = 0; i < resumed.tensors.size(); ++i) CHECK(equal(resumed.tensors[i].second, uninterrupted.tensors[i].second));
  // fewer epochs than the state holds: that state cannot be used
  r = run_inv(with({"train", "--out", longer}, with({"--dataset", data, "--seed", "3", "--threads", "1"}, kTarget)), tmp);
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Catch::Contains("not resuming from") && Catch::Contains("it is already past epoch 1 (2 epochs done)") &&
                        Catch::Contains("moved it to"));
  // ... and is kept aside, not deleted
  CHECK(io::load_checkpoint(tmp.file("out/longer.train.invckpt.old")).metadata.at("epochs_done") == "2");
  CHECK(io::load_checkpoint(tmp.file("out/longer.train.invckpt")).metadata.at("epochs_done") == "1");

  // info: metadata, layers with output shapes and parameters, split points
  r = run_inv({"info", ckpt}, tmp);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("model: lenet") && Catch::Contains("test_accuracy:") &&
                        Catch::Contains("(1,8,24,24)") && Catch::Contains("total parameters: 45278") &&
                        Catch::Contains("split points (--split): conv1, ReLU1, pool1, conv2, ReLU2, pool2, fc1, "
                                        "fc1act, fc2, fc2act, fc3"));

  // attack, white-box, on the first test image of each class
  const std::string wb = tmp.file("wb");
  r = run_inv(with(with({"attack", "--checkpoint", ckpt, "--split", "ReLU2", "--out", wb}, kRun), kAttack), tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("white-box at ReLU2") && Catch::Contains("SSIM"));
  CHECK_THAT(r.out, Catch::Contains("white-box at ReLU2 (16,8,8): PSNR") && !Catch::Contains("((") &&
                        !Catch::Contains("-0.000"));
  CHECK(io::load_npy(wb + "/features.npy").shape() == Shape({3, 16, 8, 8}));
  CHECK(io::load_npy(wb + "/reconstructions.npy").shape() == Shape({3, 1, 28, 28}));
  CHECK(io::load_image(wb + "/reconstruction.png", 1).shape() == Shape({1, 2 + 2 * 30, 2 + 3 * 30}));
  const auto m = parse_json(read_text(wb + "/metrics.json"));
  CHECK(m["attack"].string == "white-box");
  CHECK(m["settings"]["iterations"].string == "3");
  CHECK(m["metrics"]["per_image"]["ssim_reference"].array.size() == 3);
  CHECK(m["metrics"]["mean"]["mse"].type == testjson::JsonValue::Type::Number);
  CHECK(read_text(wb + "/metrics.csv").rfind("image,test_index,class,mse,psnr", 0) == 0);

  // black-box on saved features alone: reconstructions, no metrics
  const std::string bb = tmp.file("bb");
  r = run_inv(with(with({"attack", "--checkpoint", ckpt, "--split", "ReLU2", "--attack", "black-box", "--features",
                         wb + "/features.npy", "--out", bb},
                        kRun),
                   kAttack),
              tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("no originals given"));
  const auto mb = parse_json(read_text(bb + "/metrics.json"));
  CHECK(mb["metrics"].is_null());
  CHECK(mb["queries"].number == 8);
  CHECK_FALSE(io::file_exists(bb + "/metrics.csv"));

  // query-free on images given as a .npy of [0, 1] pixels
  const std::string images = tmp.file("images.npy");
  io::save_npy(images, io::load_npy(wb + "/reconstructions.npy"));
  const std::string qf = tmp.file("qf");
  r = run_inv(with(with({"attack", "--checkpoint", ckpt, "--split", "conv1", "--attack", "query-free", "--images",
                         images, "--attacker-set", "disjoint", "--out", qf},
                        kRun),
                   kAttack),
              tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(parse_json(read_text(qf + "/metrics.json"))["settings"]["attacker_set"].string == "disjoint");

  // mistakes: one clear line, non-zero exit
  check_error(run_inv({"attack", "--checkpoint", ckpt, "--split", "conv9"}, tmp), 2,
              {"unknown split layer 'conv9'", "valid layers: conv1, ReLU1, pool1, conv2, ReLU2, pool2, fc1"});
  // flatten is no split point (inv info does not list it): the same message as any other
  const std::string valid = "valid layers: conv1, ReLU1, pool1, conv2, ReLU2, pool2, fc1, fc1act, fc2, fc2act, fc3";
  check_error(run_inv({"attack", "--checkpoint", ckpt, "--split", "flatten"}, tmp), 2,
              {"unknown split layer 'flatten'", valid});
  check_error(run_inv({"sweep", "--target", ckpt, "--splits", "conv1,flatten", "--out", tmp.file("sw")}, tmp), 2,
              {"unknown split layer 'flatten'", valid});
  check_error(run_inv({"attack", "--checkpoint", ckpt, "--split", "conv1", "--attack", "grey-box"}, tmp), 2,
              {"--attack: unknown value 'grey-box'", "white-box, black-box, query-free"});
  check_error(run_inv({"attack", "--split", "conv1"}, tmp), 2, {"missing --checkpoint"});
  check_error(run_inv({"attack", "--checkpoint", ckpt, "--split", "conv1", "--images", tmp.file("none.npy")}, tmp), 1,
              {"none.npy"});
  check_error(run_inv({"attack", "--checkpoint", ckpt, "--split", "conv1", "--features", wb + "/features.npy"}, tmp),
              1, {"expected features (N, 8,24,24)", "found shape (3,16,8,8)"});
  check_error(run_inv({"info", tmp.file("missing.invckpt")}, tmp), 1, {"cannot open", "missing.invckpt"});
  check_error(run_inv({"info", tmp.file("out/tiny-lenet.csv")}, tmp), 1, {"tiny-lenet.csv"});
  check_error(run_inv({"info"}, tmp), 2, {"missing CHECKPOINT"});
}

TEST_CASE("inv rejects bad flags with the flag and the valid values named", "[cli]") {
  TempDir tmp;
  check_error(run_inv({"sweep", "--epoch", "1"}, tmp), 2, {"unknown flag '--epoch'", "did you mean --epochs?", "--splits"});
  check_error(run_inv({"sweep", "--quiet", "maybe"}, tmp), 2,
              {"--quiet: expected true, false, 1, 0, yes or no, got 'maybe'"});
  check_error(run_inv({"train", "--augment=maybe"}, tmp), 2, {"--augment", "got 'maybe'"});
  check_error(run_inv({"sweep", "--epochs", "-3"}, tmp), 2, {"--epochs: expected an integer >= 1, got '-3'"});
  check_error(run_inv({"sweep", "--epochs", "two"}, tmp), 2, {"--epochs", "got 'two'"});
  check_error(run_inv({"sweep", "--lr", "0"}, tmp), 2, {"--lr: expected a number > 0, got '0'"});
  check_error(run_inv({"sweep", "--seed"}, tmp), 2, {"--seed: missing value"});
  check_error(run_inv({"sweep", "--model", "resnet"}, tmp), 2, {"unknown value 'resnet'", "lenet, cifar-cnn"});
  check_error(run_inv({"sweep", "--attacks", "white-box,magic"}, tmp), 2,
              {"unknown item 'magic'", "white-box, black-box, query-free"});
  check_error(run_inv({"sweep", "--preset", "slow"}, tmp), 2, {"quick, paper"});
  check_error(run_inv({"sweep", "--threads", "1", "--threads", "2"}, tmp), 2, {"--threads given twice"});
  check_error(run_inv({"sweep", "--dataset", "nosuch", "--out", tmp.file("o")}, tmp), 1,
              {"unknown dataset 'nosuch'", "mnist, fashion-mnist, cifar10"});
  check_error(run_inv({"sweep", "--attacker-set", "noise", "--out", tmp.file("o")}, tmp), 2,
              {"query-free attack needs labelled images"});
  check_error(run_inv({"train", "extra"}, tmp), 2, {"unexpected argument 'extra'"});
  check_error(run_inv({"info", "--bogus"}, tmp), 2, {"unknown flag '--bogus'; valid flags: --help"});
}

TEST_CASE("inv sweep rejects an unknown split layer before training the target", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny"), out = tmp.file("sweep");
  write_tiny_dataset(data);
  // Progress is on (no --quiet): a single line on stderr shows that training never started.
  const auto sweep = [&](const std::vector<std::string>& model) {
    return run_inv(with(with({"sweep", "--dataset", data, "--splits", "conv1,conv9", "--out", out, "--threads", "1"},
                             kTarget),
                        model),
                   tmp);
  };
  check_error(sweep({}), 2,
              {"unknown split layer 'conv9' for lenet", "valid layers: conv1, ReLU1, pool1, conv2, ReLU2, pool2, fc1"});
  check_error(sweep({"--model", "cifar-cnn"}), 2,
              {"unknown split layer 'conv1' for cifar-cnn", "valid layers: conv11, ReLU11, conv12"});
  CHECK_FALSE(fs::exists(out + "/target.invckpt"));
}

TEST_CASE("inv sweep writes the report and reuses its work", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny");
  write_tiny_dataset(data);
  const std::string out = tmp.file("sweep");
  const auto args = with(with(with({"sweep", "--dataset", data, "--out", out}, kRun), kTarget), kAttack);
  Result r = run_inv(args, tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("split") && Catch::Contains("white-box") && Catch::Contains("query-free") &&
                        Catch::Contains("conv1") && Catch::Contains("fc2act") && Catch::Contains(out + "/index.html"));
  CHECK(check_complete(out) == 0);

  const auto j = parse_json(read_text(out + "/results.json"));
  CHECK(j["format"].string == "inv-sweep-1");
  CHECK(j["complete"].boolean == true);
  CHECK(j["splits_done"].number == 11);
  CHECK(j["splits_planned"].number == 11);
  CHECK(j["model"].string == "lenet");
  CHECK(j["target"]["test_accuracy"].type == testjson::JsonValue::Type::Number);
  CHECK(j["target"]["reused"].boolean == false);
  CHECK(j["settings"]["preset"].string == "quick");
  CHECK(j["settings"]["rmle_iterations"].number == 3);
  CHECK(j["settings"]["attacker_set"].string == "train");
  CHECK(j["images"].array.size() == 3);
  REQUIRE(j["splits"].array.size() == 11);  // every layer but flatten
  CHECK(j["splits"].array[0]["layer"].string == "conv1");
  REQUIRE(j["results"].array.size() == 44);  // 11 splits x (3 attacks + the label-only baseline)
  for (const auto& c : j["results"].array) {
    CHECK(c["per_image"]["psnr"].array.size() == 3);
    CHECK(c["mean"]["ssim_reference"].type == testjson::JsonValue::Type::Number);
    CHECK((c["mean"]["psnr"].type == testjson::JsonValue::Type::Number || c["mean"]["psnr"].is_null()));
    CHECK(c["reused"].boolean == false);
    CHECK(io::file_exists(out + "/" + c["image"].string));
  }
  const std::string csv = read_text(out + "/results.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 44 * 4);  // header, then mean + 3 images per cell
  CHECK(csv.rfind("split,depth,output_shape,attack,image,test_index,class,mse,psnr,ssim_reference", 0) == 0);
  const std::string html = read_text(out + "/index.html");
  CHECK_THAT(html, Catch::Contains("<svg") && Catch::Contains("data:image/png;base64,") &&
                       Catch::Contains("recognisable") && Catch::Contains("SSIM 0.3"));
  CHECK_THAT(html, !Catch::Contains("<script") && !Catch::Contains("src=\"http") && !Catch::Contains("href="));
  CHECK(io::load_checkpoint(out + "/target.invckpt").metadata.at("model") == "lenet");

  // a rerun reuses the target and every attack
  r = run_inv(args, tmp);
  REQUIRE(r.code == 0);
  const auto again = parse_json(read_text(out + "/results.json"));
  CHECK(again["target"]["reused"].boolean == true);
  for (const auto& c : again["results"].array) CHECK(c["reused"].boolean == true);
}

TEST_CASE("an interrupted or killed sweep leaves only complete files, and a rerun finishes", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny");
  write_tiny_dataset(data);
  const std::string out = tmp.file("sweep");
  // Enough rMLE iterations that the sweep is still running when it is stopped after its first attack.
  const auto args = with(with({"sweep", "--dataset", data, "--out", out, "--splits", "conv1,ReLU2,pool2,fc1,fc3",
                               "--rmle-iterations", "200", "--attacker-images", "8"},
                              kRun),
                         kTarget);

  SECTION("Ctrl-C: temporaries removed, exit code 130, the partial report says it is incomplete") {
    const pid_t pid = spawn_inv(args, false, tmp.file("sweep.err"));
    wait_for_file(out + "/index.html");  // the first split is done (the page is written last)
    ::kill(pid, SIGINT);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 130));
    CHECK_THAT(read_text(tmp.file("sweep.err")), Catch::Contains("rerun the same command to resume"));
    CHECK(check_complete(out) == 0);
    CHECK(io::file_exists(out + "/target.invckpt"));
    const auto partial = parse_json(read_text(out + "/results.json"));
    CHECK(partial["complete"].boolean == false);
    CHECK(partial["splits_planned"].number == 5);
    const double done = partial["splits_done"].number;
    CHECK((done >= 1 && done < 5));
    CHECK(partial["splits"].array.size() == size_t(done));
    CHECK_THAT(read_text(out + "/index.html"),
               Catch::Contains("incomplete: " + std::to_string(int(done)) +
                               " of 5 split layers done; rerun the same command to finish"));
  }
  SECTION("SIGHUP under nohup: ignored, the sweep runs to the end") {
    const pid_t pid = spawn_inv(args, true);
    wait_for_file_in(out + "/cache");
    ::kill(pid, SIGHUP);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    CHECK(check_complete(out) == 0);
  }
  SECTION("SIGKILL: every file complete; the rerun removes any temporary") {
    const pid_t pid = spawn_inv(args);
    wait_for_file_in(out + "/cache");
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
    check_complete(out);  // a temporary may remain if the kill hit a write; the rerun removes it
  }
  const Result r = run_inv(args, tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(check_complete(out) == 0);
  const auto j = parse_json(read_text(out + "/results.json"));
  CHECK(j["results"].array.size() == 20);  // 5 splits x (3 attacks + the label-only baseline)
  CHECK(j["target"]["reused"].boolean == true);
  CHECK(j["complete"].boolean == true);
  CHECK(j["splits_done"].number == 5);
  CHECK_THAT(read_text(out + "/index.html"), !Catch::Contains("incomplete:"));
}

TEST_CASE("--rmle-iterations wins over the paper preset's query-free iterations", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("rgb");
  for (int64_t k = 0; k < 3; ++k) {
    write_class_images(data + "/train/c" + std::to_string(k), k, 4, 3, 32);
    write_class_images(data + "/test/c" + std::to_string(k), k, 1, 3, 32);
  }
  const std::string ckpt = tmp.file("cifar.invckpt");
  Result r = run_inv(with({"train", "--dataset", data, "--model", "cifar-cnn", "--epochs", "1", "--holdout", "3",
                           "--out", ckpt},
                          kRun),
                     tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const std::string split : {"conv11", "ReLU22"}) {
    const std::string out = tmp.file("qf-" + split);
    r = run_inv(with({"attack", "--checkpoint", ckpt, "--split", split, "--attack", "query-free", "--preset",
                      "paper", "--rmle-iterations", "2", "--shadow-epochs", "1", "--attacker-images", "4", "--out",
                      out},
                     kRun),
                tmp);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto m = parse_json(read_text(out + "/metrics.json"));
    CHECK(m["settings"]["iterations"].string == "2");
  }
  // Without the flag, the protocol's 500 (§5) under the paper preset: documented in --help.
  r = run_inv({"attack", "--help"}, tmp);
  CHECK_THAT(collapse_spaces(r.out), Catch::Contains("500 for query-free at cifar-cnn conv11 and ReLU22 (protocol §5)") &&
                        Catch::Contains("per block (protocol §3)") && Catch::Contains("block 2 10") &&
                        !Catch::Contains("interpolated"));
}

TEST_CASE("the SSIM plot puts the splits in network order, whatever order --splits gives", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny"), out = tmp.file("sweep");
  write_tiny_dataset(data);
  const Result r = run_inv(with(with({"sweep", "--dataset", data, "--out", out, "--splits", "ReLU2,conv1",
                                      "--attacks", "white-box", "--rmle-iterations", "3"},
                                     kRun),
                                kTarget),
                           tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::string html = read_text(out + "/index.html");
  const size_t svg = html.find("<svg"), conv1 = html.find(">conv1</text>", svg), relu2 = html.find(">ReLU2</text>", svg);
  REQUIRE(svg != std::string::npos);
  REQUIRE(conv1 != std::string::npos);
  REQUIRE(relu2 != std::string::npos);
  CHECK(conv1 < relu2);
}

TEST_CASE("an interrupted attack does not promise to resume", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny"), ckpt = tmp.file("t.invckpt"), out = tmp.file("a");
  write_tiny_dataset(data);
  REQUIRE(run_inv(with(with({"train", "--dataset", data, "--out", ckpt}, kRun), kTarget), tmp).code == 0);
  const pid_t pid = spawn_inv({"attack", "--checkpoint", ckpt, "--split", "fc3", "--rmle-iterations", "10000000",
                               "--threads", "1", "--out", out},
                              false, tmp.file("attack.err"));
  wait_for_file_in(out);  // features.npy: the attack is running
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 130));
  CHECK_THAT(read_text(tmp.file("attack.err")),
             Catch::Contains("interrupted (Interrupt): removing temporary files\n") && !Catch::Contains("resume"));
}

TEST_CASE("--attacker-set disjoint against a target trained with holdout 0 says what to do", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny"), ckpt = tmp.file("t.invckpt");
  write_tiny_dataset(data);
  REQUIRE(run_inv(with({"train", "--dataset", data, "--epochs", "1", "--holdout", "0", "--out", ckpt}, kRun), tmp)
              .code == 0);
  check_error(run_inv(with(with({"attack", "--checkpoint", ckpt, "--split", "conv1", "--attack", "query-free",
                                 "--attacker-set", "disjoint", "--out", tmp.file("o")},
                                kRun),
                           kAttack),
                      tmp),
              1, {"the target was trained with holdout 0", "inv train --holdout N"});
}

TEST_CASE("a diverging decoder or shadow training is warned about", "[cli]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny"), ckpt = tmp.file("t.invckpt");
  write_tiny_dataset(data);
  REQUIRE(run_inv(with(with({"train", "--dataset", data, "--out", ckpt}, kRun), kTarget), tmp).code == 0);
  for (const std::string attack : {"black-box", "query-free"}) {
    const Result r = run_inv(with({"attack", "--checkpoint", ckpt, "--split", "conv1", "--attack", attack,
                                   "--attacker-lr", "1e6", "--decoder-epochs", "3", "--shadow-epochs", "3",
                                   "--attacker-images", "8", "--rmle-iterations", "3", "--out", tmp.file(attack)},
                                  kRun),
                             tmp);
    INFO(attack << ": " << r.err);
    CHECK(r.code == 0);
    CHECK_THAT(r.err, Catch::Contains("warning: the ") && Catch::Contains("(diverged?)") &&
                          Catch::Contains("try a lower --attacker-lr"));
  }
}

TEST_CASE("inv defend runs a defense grid, writes its report and recommends", "[cli][defend]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny"), ckpt = tmp.file("t.invckpt"), out = tmp.file("defend");
  write_tiny_dataset(data);
  REQUIRE(run_inv(with(with({"train", "--dataset", data, "--out", ckpt}, kRun), kTarget), tmp).code == 0);
  const std::vector<std::string> args = with(with({"defend", "--target", ckpt, "--dataset", data, "--splits", "conv1",
                                                   "--defenses", "dropout,gaussian", "--dropout-rates", "0.5",
                                                   "--noise-levels", "0,1", "--observed", "5", "--out", out},
                                                  kRun),
                                             kAttack);
  Result r = run_inv(args, tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("recommendation: "));
  CHECK(check_complete(out) == 0);
  const auto j = parse_json(read_text(out + "/defense.json"));
  CHECK(j["complete"].boolean);
  REQUIRE(j["cells"].array.size() == 3);  // none, dropout 0.5, gaussian 1
  CHECK(j["cells"].array[0]["defense"].string == "none");
  CHECK(j["cells"].array[1]["defense"].string == "dropout");
  CHECK(j["cells"].array[1]["attacks"].array.size() == 4);
  CHECK(j["cells"].array[1]["attacks"].array[1]["attack"].string == "white-box-aware");
  CHECK(j["cells"].array[1]["attacks"].array[1]["note"].string == "zero features skipped");
  CHECK_THAT(read_text(out + "/index.html"), Catch::Contains("Recommendation") && Catch::Contains("</html>"));
  CHECK_THAT(read_text(out + "/index.html"), !Catch::Contains("Leakage per split layer"));
  // A rerun reuses every cell, bit for bit.
  const std::string first = read_text(out + "/defense.csv");
  r = run_inv(args, tmp);
  REQUIRE(r.code == 0);
  CHECK(read_text(out + "/defense.csv") == first);
  // The Fisher bound: auto leaves it out at conv1 (8x24x24 = 4608 features per image, one
  // backward pass each); --fisher-bound yes adds it to the cached gaussian cell, and only there.
  CHECK(j["cells"].array[2]["defense"].string == "gaussian");
  CHECK(j["cells"].array[2]["fisher_mse_bound"].is_null());
  r = run_inv(with(args, {"--fisher-bound", "yes"}), tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto with_bound = parse_json(read_text(out + "/defense.json"));
  CHECK(with_bound["cells"].array[1]["fisher_mse_bound"].is_null());
  CHECK(with_bound["cells"].array[2]["fisher_mse_bound"].number > 0);
  for (size_t c = 0; c < 3; ++c)  // the attacks were reused, not run again
    CHECK(with_bound["cells"].array[c]["attacks"].array[0]["psnr"].number ==
          j["cells"].array[c]["attacks"].array[0]["psnr"].number);
  // A sweep into the same directory adds its Leakage section to the same page.
  const std::vector<std::string> sweep = with(with({"sweep", "--target", ckpt, "--dataset", data, "--splits", "conv1",
                                                    "--attacks", "white-box", "--out", out},
                                                   kRun),
                                              kAttack);
  r = run_inv(sweep, tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::string page = read_text(out + "/index.html");
  CHECK_THAT(page, Catch::Contains("Leakage per split layer") && Catch::Contains("<h2>Defenses</h2>") &&
                       Catch::Contains("<a href=\"#defenses\">Defenses</a>"));
  CHECK(page.find("Leakage per split layer") < page.find("<h2>Defenses</h2>"));
  // A section about another target is left out of the page.
  const std::string section = read_text(out + "/index.defenses.part");
  const std::string other = "<!-- inv report section; target another -->" + section.substr(section.find('\n'));
  {
    std::ofstream o(out + "/index.defenses.part", std::ios::binary | std::ios::trunc);
    o << other;
  }
  REQUIRE(run_inv(sweep, tmp).code == 0);
  page = read_text(out + "/index.html");
  CHECK_THAT(page, Catch::Contains("Leakage per split layer") && !Catch::Contains("<h2>Defenses</h2>"));

  check_error(run_inv({"defend", "--target", ckpt, "--dropout-rates", "1", "--defenses", "dropout", "--out", out}, tmp),
              2, {"--dropout-rates: '1' is not a rate in [0, 1)"});
  check_error(run_inv({"defend", "--target", ckpt, "--defenses", "blur", "--out", out}, tmp), 2,
              {"unknown item 'blur'", "none, gaussian, laplace, dropout, optimised"});
  check_error(run_inv({"defend", "--target", ckpt, "--splits", "conv9", "--out", out}, tmp), 2,
              {"unknown split layer 'conv9'"});
  check_error(run_inv({"defend", "--target", ckpt, "--defenses", "optimised", "--positions", "input", "--out", out},
                      tmp),
              2, {"optimised applies to the features only"});
  check_error(run_inv({"defend", "--target", ckpt, "--attacks", "label-only", "--out", out}, tmp), 2,
              {"the label-only baseline alone attacks nothing"});
  check_error(run_inv({"defend", "--target", ckpt, "--bar", "2", "--out", out}, tmp), 2,
              {"--bar: expected an SSIM in [0, 1], got 2"});
  check_error(run_inv({"defend", "--target", ckpt, "--noise-levels", "1,,2", "--out", out}, tmp), 2,
              {"--noise-levels: empty item in '1,,2'"});
  check_error(run_inv({"defend", "--target", ckpt, "--noise-levels", "0x10", "--out", out}, tmp), 2,
              {"--noise-levels: '0x10' is not a level >= 0"});
}

TEST_CASE("inv defend learns the optimised noise again for another target", "[cli][defend]") {
  TempDir tmp;
  const std::string data = tmp.file("tiny"), out = tmp.file("defend");
  write_tiny_dataset(data);
  const std::string noise = out + "/noise/conv1-100.npy";
  std::string first;
  for (const char* seed : {"0", "1"}) {
    const std::string ckpt = tmp.file(std::string("t") + seed + ".invckpt");
    REQUIRE(run_inv(with(with({"train", "--dataset", data, "--out", ckpt, "--seed", seed}, kRun), kTarget), tmp).code ==
            0);
    const Result r = run_inv(with(with({"defend", "--target", ckpt, "--dataset", data, "--splits", "conv1",
                                        "--defenses", "optimised", "--optimised-levels", "100", "--attacks",
                                        "white-box", "--out", out},
                                       kRun),
                                  kAttack),
                             tmp);
    INFO(r.err);
    REQUIRE(r.code == 0);
    REQUIRE(fs::exists(noise));
    if (first.empty()) {
      first = read_text(noise);
    } else {
      CHECK(read_text(noise) != first);  // learned for the second target, not reused from the first
    }
  }
}
