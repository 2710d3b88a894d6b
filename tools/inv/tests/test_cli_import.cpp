// The `inv` command with weights trained elsewhere (--weights) and the torchvision-style
// models: a PyTorch ResNet-20 state_dict (tests/fixtures/resnet20_torch.safetensors, written
// by scripts/fixtures/make_resnet_fixtures.py) imported, described, swept and attacked on a
// tiny RGB image folder; what the command says about an imported target (its file, its
// sha256, the attackers' data set, no training settings); and the mistakes it refuses.
#include "run_inv.hpp"

#include <inv/io/safetensors.hpp>
#include <inv/io/sha256.hpp>

using namespace clitest;

namespace {

const std::string kWeights = std::string(INV_FIXTURES_DIR) + "/resnet20_torch.safetensors";

/// A tiny image folder of 3 classes, 32x32 RGB: 4 training and 2 test images each.
std::string tiny_rgb(const TempDir& tmp) {
  const std::string data = tmp.file("rgb");
  for (int64_t k = 0; k < 3; ++k) {
    write_class_images(data + "/train/c" + std::to_string(k), k, 4, 3, 32);
    write_class_images(data + "/test/c" + std::to_string(k), k, 2, 3, 32);
  }
  return data;
}

const std::vector<std::string> kBudget = {"--rmle-iterations", "5", "--decoder-epochs", "1", "--shadow-epochs", "1",
                                          "--attacker-images", "64"};

}  // namespace

TEST_CASE("a PyTorch ResNet-20 imported with --weights: inv info shows it imported, its sha256 and its layers",
          "[cli][import]") {
  TempDir tmp;
  const std::string data = tiny_rgb(tmp), ckpt = tmp.file("r20.invckpt");
  const std::string sha = io::sha256_file(kWeights);
  Result r = run_inv(with({"train", "--model", "resnet20", "--weights", kWeights, "--dataset", data, "--out", ckpt},
                          kRun),
                     tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("resnet20 imported from " + kWeights) && Catch::Contains("sha256 " + sha) &&
                        Catch::Contains("not trained") && Catch::Contains("(6 images)"));
  const io::Checkpoint ck = io::load_checkpoint(ckpt);
  CHECK(ck.metadata.at("imported") == "true");
  CHECK(ck.metadata.at("sha256") == sha);
  CHECK(ck.metadata.at("source_file") == kWeights);
  CHECK(ck.metadata.at("num_classes") == "10");
  for (const char* invented : {"epochs", "seed", "holdout", "lr", "batch_size", "augment", "train_images"})
    CHECK(ck.metadata.count(invented) == 0);
  // The weights are PyTorch's, bit for bit (float16 in the file, exact in float32).
  const io::SafeTensors st = io::load_safetensors(kWeights);
  CHECK(equal(ck.tensor("layer2.0.downsample.0.weight"), st.tensor("layer2.0.downsample.0.weight")));

  r = run_inv({"info", ckpt}, tmp);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("imported: the weights of " + kWeights + " (sha256 " + sha + ")") &&
                        Catch::Contains("imported: true") && Catch::Contains("sha256: " + sha) &&
                        !Catch::Contains("epochs:") && !Catch::Contains("holdout:"));
  CHECK_THAT(r.out, Catch::Contains("layer2.0  BasicBlock(16, 32, stride=2, downsample=True)") &&
                        Catch::Contains("(1,32,16,16)") &&
                        Catch::Contains("split points (--split): conv1, bn1, relu, layer1.0, layer1.1, layer1, "
                                        "layer2.0, layer2.1, layer2, layer3.0, layer3.1, layer3, avgpool, fc"));

  // An inv checkpoint is taken as --weights too.
  r = run_inv(with({"train", "--model", "resnet20", "--weights", ckpt, "--dataset", data, "--out", tmp.file("again.invckpt")},
                   kRun),
              tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(io::load_checkpoint(tmp.file("again.invckpt")).metadata.at("sha256") == io::sha256_file(ckpt));
}

TEST_CASE("a sweep and an attack of an imported target name the attackers' data set and invent no training",
          "[cli][import]") {
  TempDir tmp;
  const std::string data = tiny_rgb(tmp), out = tmp.file("sweep");
  Result r = run_inv(with(with({"sweep", "--model", "resnet20", "--weights", kWeights, "--dataset", data, "--splits",
                                "conv1,layer2.0", "--attacks", "white-box,black-box", "--out", out},
                               kRun),
                          kBudget),
                     tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  // The stated default, one line: the training split, as the target's own images are unknown.
  CHECK_THAT(r.out, Catch::Contains("imported target: the black-box and query-free attackers use 12 images of the "
                                    "training split of " + data) &&
                        Catch::Contains("--attacker-set train takes the training split, disjoint the test split"));
  CHECK(check_complete(out) == 0);
  const auto j = parse_json(read_text(out + "/results.json"));
  CHECK(j["model"].string == "resnet20");
  CHECK(j["target"]["imported"].boolean);
  CHECK(j["target"]["sha256"].string == io::sha256_file(kWeights));
  CHECK(j["target"]["source_file"].string == kWeights);
  for (const char* invented : {"target_epochs", "target_lr", "target_batch_size", "target_augment", "holdout"})
    CHECK(j["settings"].object.count(invented) == 0);
  CHECK_THAT(j["settings"]["target"].string, Catch::Contains("imported from " + kWeights));
  CHECK_THAT(j["settings"]["attacker_data"].string, Catch::Contains("of the training split of"));
  REQUIRE(j["splits"].array.size() == 2);
  CHECK(j["splits"].array[1]["layer"].string == "layer2.0");
  CHECK(j["splits"].array[1]["depth"].number == 6);
  const std::string html = read_text(out + "/index.html");
  CHECK_THAT(html, Catch::Contains("ResNet-20") && Catch::Contains("imported weights") &&
                       !Catch::Contains("target epochs") && !Catch::Contains("held-out training images"));
  const auto m = parse_json(read_text(out + "/results.json"));
  for (const auto& c : m["results"].array)
    if (c["attack"].string == "white-box")
      CHECK_THAT(c["settings"]["lr"].string, Catch::Equals("0.01"));

  // A rerun reuses the imported target without evaluating it again.
  r = run_inv(with(with({"sweep", "--model", "resnet20", "--weights", kWeights, "--dataset", data, "--splits",
                         "conv1", "--attacks", "white-box", "--out", out},
                        kRun),
                   kBudget),
              tmp);
  REQUIRE(r.code == 0);
  CHECK(parse_json(read_text(out + "/results.json"))["target"]["reused"].boolean);

  // inv defend on the same imported target, in the same directory; its default splits for a
  // model of no paper are the outputs of its blocks (protocol §10).
  r = run_inv(with(with({"defend", "--model", "resnet20", "--weights", kWeights, "--dataset", data, "--defenses",
                         "none", "--attacks", "white-box", "--out", out},
                        kRun),
                   kBudget),
              tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto d = parse_json(read_text(out + "/defense.json"));
  REQUIRE(d["cells"].array.size() == 4);
  CHECK(d["cells"].array[0]["split"].string == "layer1");
  CHECK(d["cells"].array[3]["split"].string == "fc");
  CHECK_THAT(read_text(out + "/index.html"), Catch::Contains("imported weights") && Catch::Contains("<h2>Defenses</h2>"));

  // The attacker's set given: disjoint is the test split without the attacked images.
  const std::string a = tmp.file("attack");
  r = run_inv(with(with({"attack", "--model", "resnet20", "--weights", kWeights, "--dataset", data, "--split",
                         "layer1.0", "--attack", "black-box", "--attacker-set", "disjoint", "--out", a},
                        kRun),
                   kBudget),
              tmp);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("attackers use 3 images of the test split of " + data +
                                    " other than the attacked ones"));
  CHECK_THAT(r.out, Catch::Contains("black-box at layer1.0 (16,32,32): PSNR"));
  const auto metrics = parse_json(read_text(a + "/metrics.json"));
  CHECK(metrics["imported"].boolean);
  CHECK(metrics["queries"].number == 3);
}

TEST_CASE("weights of another shape: one error line naming every tensor that differs", "[cli][import]") {
  TempDir tmp;
  const std::string data = tiny_rgb(tmp), bad = tmp.file("bad.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : io::load_safetensors(kWeights).tensors) {
    if (name == "fc.bias" || name.find("num_batches_tracked") != std::string::npos) continue;  // fc.bias missing
    tensors.emplace_back(name, name == "layer1.0.conv1.weight" ? zeros({8, 16, 3, 3}) : t);
  }
  tensors.emplace_back("head.weight", zeros({2, 2}));  // unexpected
  io::save_safetensors(bad, tensors);
  check_error(run_inv({"train", "--model", "resnet20", "--weights", bad, "--dataset", data, "--out",
                       tmp.file("o.invckpt")},
                      tmp),
              1,
              {"'" + bad + "' does not hold the weights of resnet20", "3 differences; nothing was loaded",
               "layer1.0.conv1.weight: expected (16,16,3,3), found (8,16,3,3)", "missing in checkpoint: fc.bias",
               "unexpected in checkpoint: head.weight"});
  CHECK_FALSE(fs::exists(tmp.file("o.invckpt")));
  // The weights of another architecture: named the same way.
  check_error(run_inv({"attack", "--model", "vgg11-bn", "--weights", kWeights, "--dataset", data, "--split",
                       "features.3", "--out", tmp.file("a")},
                      tmp),
              1, {"does not hold the weights of vgg11-bn", "missing in checkpoint: features.0.weight"});
  // A file of neither format.
  const std::string text = tmp.file("weights.txt");
  std::ofstream(text) << "not weights";
  check_error(run_inv({"train", "--model", "resnet20", "--weights", text, "--dataset", data, "--out",
                       tmp.file("o.invckpt")},
                      tmp),
              1, {"weights.txt", "--weights takes a .safetensors file or an inv checkpoint"});
}

TEST_CASE("--weights, --input-size, --mean and --std mistakes are usage errors", "[cli][import]") {
  TempDir tmp;
  check_error(run_inv({"sweep", "--model", "resnet20", "--mean", "0.5,0.5"}, tmp), 2,
              {"--mean: expected 3 values (one per channel of resnet20's input), got 2 ('0.5,0.5')"});
  check_error(run_inv({"train", "--model", "lenet", "--std", "0.5,0.5,0.5"}, tmp), 2,
              {"--std: expected 1 value (one per channel of lenet's input), got 3"});
  check_error(run_inv({"train", "--model", "resnet18", "--std", "0.2,0,0.2"}, tmp), 2,
              {"--std: '0' is not a positive number"});
  check_error(run_inv({"sweep", "--model", "cifar-cnn", "--input-size", "64"}, tmp), 2,
              {"--input-size 64: cifar-cnn's architecture fixes its input at 32x32"});
  check_error(run_inv({"sweep", "--weights", kWeights}, tmp), 2,
              {"--weights needs --model", "lenet, cifar-cnn, resnet20, resnet18, vgg11-bn"});
  check_error(run_inv({"train", "--model", "resnet20", "--weights", kWeights, "--epochs", "3"}, tmp), 2,
              {"--epochs sets the target's training, but --weights imports a target trained elsewhere"});
  check_error(run_inv({"sweep", "--target", tmp.file("t.invckpt"), "--model", "resnet20", "--weights", kWeights}, tmp),
              2, {"--weights and --target both give the target: pass one"});
  check_error(run_inv({"attack", "--model", "resnet20", "--weights", kWeights, "--split", "conv1"}, tmp), 2,
              {"--weights: pass --dataset NAME|PATH"});
  check_error(run_inv({"attack", "--weights", kWeights, "--split", "conv1"}, tmp), 2, {"--weights needs --model"});
  check_error(run_inv({"attack", "--model", "resnet20", "--weights", kWeights, "--split", "layer9"}, tmp), 2,
              {"unknown split layer 'layer9' for resnet20", "layer1.0, layer1.1, layer1"});
}
