// Training loop: learning, exact resume, CSV log, checkpoints, divergence, progress output.
#include "temp_dir.hpp"
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <inv/data/transforms.hpp>
#include <inv/models/zoo.hpp>
#include <inv/optim/adam.hpp>
#include <inv/optim/sgd.hpp>
#include <inv/train/fit.hpp>

using namespace inv;
namespace fs = std::filesystem;

namespace {

using TempDir = inv::testing::TempDir;

/// Two classes of 8x8 images: a bright left half (0) or a bright right half (1), plus noise.
data::Dataset halves(int64_t n, uint64_t seed) {
  Generator g(seed);
  data::Dataset ds;
  ds.classes = {"left", "right"};
  ds.images = rand({n, 1, 8, 8}, g);
  auto* p = ds.images.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = i % 2;
    ds.labels.push_back(label);
    for (int64_t r = 0; r < 8; ++r)
      for (int64_t c = 0; c < 8; ++c) p[i * 64 + r * 8 + c] = 0.3f * p[i * 64 + r * 8 + c] + ((c < 4) == (label == 0) ? 0.7f : 0.f);
  }
  return ds;
}

std::shared_ptr<nn::Sequential> small_net(uint64_t seed) {
  Generator g(seed);
  auto m = std::make_shared<nn::Sequential>();
  m->emplace<nn::Conv2d>("conv1", 1, 4, 3, Conv2dOptions(), true, g);
  m->emplace<nn::ReLU>("ReLU1");
  m->emplace<nn::MaxPool2d>("pool1", 2);
  m->emplace<nn::Flatten>("flatten");
  m->emplace<nn::Linear>("fc", 36, 2, true, g);
  return m;
}

optim::AdamOptions paper_adam() { return optim::AdamOptions::paper(1e-2); }

}  // namespace

TEST_CASE("fit learns a separable problem and evaluate agrees", "[train]") {
  const auto train = halves(64, 1), test = halves(32, 2);
  auto net = small_net(3);
  optim::Adam opt(net->parameters(), paper_adam());
  train::FitOptions o;
  o.epochs = 5;
  o.batch_size = 8;
  o.quiet = true;
  o.mean = {0.5};
  o.std = {0.5};
  o.validation = &test;
  const auto history = train::fit(*net, opt, nullptr, train, o);
  REQUIRE(history.size() == 5);
  CHECK(history.back().train_accuracy == 1.0);
  CHECK(history.back().val_accuracy == 1.0);
  CHECK(history.back().train_loss < history.front().train_loss);
  const auto eval = train::evaluate(*net, test, {0.5}, {0.5});
  CHECK(eval.count == 32);
  CHECK(eval.accuracy == history.back().val_accuracy);
  CHECK(net->is_training());  // fit and evaluate restore the mode
}

TEST_CASE("a resumed run ends bitwise identical to an uninterrupted one", "[train][resume]") {
  TempDir dir;
  const auto train = halves(40, 4);
  train::FitOptions o;
  o.epochs = 3;
  o.batch_size = 8;
  o.quiet = true;
  o.mean = {0.5};
  o.std = {0.5};
  o.augment = [](data::Batch& b, Generator& g) { b.images = data::random_horizontal_flip(b.images, 0.5, g); };

  auto straight = small_net(5);
  optim::Adam opt1(straight->parameters(), paper_adam());
  optim::StepLR s1(opt1, 1, 0.5);
  const auto h1 = train::fit(*straight, opt1, &s1, train, o);

  o.checkpoint = dir.file("run.invckpt");
  o.csv_log = dir.file("run.csv");
  o.epochs = 1;  // "interrupted" after one epoch
  auto first = small_net(5);
  optim::Adam opt2(first->parameters(), paper_adam());
  optim::StepLR s2(opt2, 1, 0.5);
  train::fit(*first, opt2, &s2, train, o);

  o.epochs = 3;  // a new process: fresh model and optimiser, resumed from the checkpoint
  auto resumed = small_net(99);
  optim::Adam opt3(resumed->parameters(), paper_adam());
  optim::StepLR s3(opt3, 1, 0.5);
  const auto h3 = train::fit(*resumed, opt3, &s3, train, o);

  REQUIRE(h3.size() == 3);
  CHECK(h3[0].train_loss == Approx(h1[0].train_loss).epsilon(1e-7));  // restored from the log (8 digits)
  CHECK(h3[2].train_loss == h1[2].train_loss);                          // trained after the resume
  CHECK(opt3.lr() == opt1.lr());
  const auto a = straight->state_dict(), b = resumed->state_dict();
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].first);
    CHECK(equal(a[i].second, b[i].second));
  }
  std::ifstream csv(o.csv_log);
  std::string header, line;
  std::getline(csv, header);
  CHECK(header == "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second");
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  CHECK(rows == 3);
  for (const auto& e : fs::directory_iterator(dir.path))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);  // atomic writes left nothing behind
}

TEST_CASE("model checkpoints round-trip and mismatches are reported by name", "[train][checkpoint]") {
  TempDir dir;
  auto a = models::lenet();
  train::save_model(dir.file("lenet.invckpt"), *a, {{"model", "lenet"}});
  Generator g(6);
  auto b = models::lenet(g);
  const auto ck = train::load_model(dir.file("lenet.invckpt"), *b);
  CHECK(ck.metadata.at("model") == "lenet");
  CHECK(equal(a->named_parameters()[0].second, b->named_parameters()[0].second));
  auto other = small_net(7);
  CHECK_THROWS_WITH(train::load_model(dir.file("lenet.invckpt"), *other),
                    Catch::Contains("conv1.weight: expected (4,1,3,3), found (8,1,5,5)") &&
                        Catch::Contains("missing in checkpoint: fc.weight"));
}

TEST_CASE("every layer type round-trips through a model checkpoint, buffers included", "[train][checkpoint]") {
  // One of each layer; the stateful ones (Conv2d, ConvTranspose2d, BatchNorm2d, Linear)
  // differ between the two seeds, and the BatchNorm running statistics are moved off their
  // initial values by a training-mode forward before saving.
  auto every_layer = [](uint64_t seed) {
    Generator g(seed);
    auto m = std::make_shared<nn::Sequential>();
    m->emplace<nn::Conv2d>("conv", 2, 4, 3, Conv2dOptions().padding(1), true, g);
    m->emplace<nn::BatchNorm2d>("bn", 4);
    m->emplace<nn::LeakyReLU>("lrelu", 0.1);
    m->emplace<nn::ConvTranspose2d>("convT", 4, 3, 2, ConvTranspose2dOptions().stride(2), true, g);
    m->emplace<nn::Sigmoid>("sigmoid");
    m->emplace<nn::MaxPool2d>("maxpool", 2);
    m->emplace<nn::AvgPool2d>("avgpool", 2);
    m->emplace<nn::Upsample>("up", UpsampleOptions().size(4, 4));
    m->emplace<nn::Tanh>("tanh");
    m->emplace<nn::Dropout>("drop", 0.5);  // (keeps a reference to its generator: the default one)
    m->emplace<nn::ReLU>("relu");
    m->emplace<nn::Flatten>("flatten");
    m->emplace<nn::Linear>("fc", 48, 5, true, g);
    return m;
  };
  TempDir dir;
  auto a = every_layer(1), b = every_layer(2);
  {
    Generator g(3);
    a->train();
    NoGradGuard ng;
    a->forward(randn({3, 2, 4, 4}, g));
  }
  train::save_model(dir.file("all.invckpt"), *a, {});
  train::load_model(dir.file("all.invckpt"), *b);
  const auto sa = a->state_dict(), sb = b->state_dict();
  REQUIRE(sa.size() == 10);  // weight and bias of conv, convT, fc; bn's weight, bias, running_mean, running_var
  REQUIRE(sb.size() == sa.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].first);
    CHECK(sa[i].first == sb[i].first);
    CHECK(equal(sa[i].second, sb[i].second));
  }
  CHECK_FALSE(equal(every_layer(2)->state_dict()[0].second, sa[0].second));  // the seeds do differ
}

TEST_CASE("fit flushes subnormals while it trains and restores the mode afterwards", "[train][denormal]") {
  if (!set_flush_denormal(false)) return;  // no MXCSR on this CPU
  const auto train = halves(16, 4);
  auto net = small_net(5);
  optim::Adam opt(net->parameters(), paper_adam());
  train::FitOptions o;
  o.epochs = 1;
  o.batch_size = 8;
  o.quiet = true;
  std::vector<bool> seen;
  net->register_forward_hook("fc", [&](const std::string&, const Tensor&) {
    seen.push_back(flush_denormal());
    return Tensor();
  });
  train::fit(*net, opt, nullptr, train, o);
  CHECK(seen == std::vector<bool>{true, true});
  CHECK_FALSE(flush_denormal());
  o.flush_denormal = false;
  train::fit(*net, opt, nullptr, train, o);
  CHECK(seen == std::vector<bool>{true, true, false, false});
}

TEST_CASE("a diverging run stops with a clear error", "[train]") {
  auto train = halves(16, 8);
  train.images.data<float>()[3] = std::nanf("");
  auto net = small_net(9);
  optim::Adam opt(net->parameters(), paper_adam());
  train::FitOptions o;
  o.epochs = 1;
  o.batch_size = 16;
  o.quiet = true;
  CHECK_THROWS_WITH(train::fit(*net, opt, nullptr, train, o), Catch::Contains("loss became nan") &&
                                                                  Catch::Contains("epoch 1, batch 1"));
}

TEST_CASE("progress prints plain lines when the output is not a terminal", "[train][progress]") {
  TempDir dir;
  FILE* f = std::fopen(dir.file("log.txt").c_str(), "w+");
  REQUIRE(f);
  train::Progress p(false, f, /*interval=*/1e9);
  p.start("epoch 1/2", 4);
  p.update(1, "loss 1.0", 32);
  p.update(2, "loss 0.5", 64);  // suppressed: within the interval
  p.update(4, "loss 0.1", 128);
  p.message("done");
  std::fflush(f);
  std::rewind(f);
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string out(buf, n);
  CHECK(out.find("\r") == std::string::npos);
  CHECK(out.find("epoch 1/2 1/4  loss 1.0") != std::string::npos);
  CHECK(out.find("2/4") == std::string::npos);
  CHECK(out.find("epoch 1/2 4/4  loss 0.1") != std::string::npos);
  CHECK(out.find("took") != std::string::npos);
  CHECK(out.find("done\n") != std::string::npos);
  CHECK(train::format_duration(3725) == "1:02:05");
  CHECK(train::format_duration(65) == "1:05");
}

TEST_CASE("the training loop visits epoch_order's batches, the DataLoader's, and steps once per batch", "[train][loop]") {
  Generator g(31);
  auto net = small_net(31);
  net->eval();  // the loop trains in training mode, then restores this
  optim::SGD opt(net->parameters(), optim::SGDOptions{1e-3});
  train::LoopOptions o;
  o.epochs = 2;
  o.batch_size = 4;
  o.seed = 9;
  o.quiet = true;
  std::vector<std::vector<int64_t>> seen;
  const Tensor x = randn({10, 1, 8, 8}, g);
  const auto history = train::train_epochs(*net, opt, nullptr, 10, o, [&](const train::BatchIndices& b) {
    seen.push_back(b.indices);
    CHECK(net->is_training());
    return train::BatchLoss{mean(square(net->forward(data::gather_rows(x, b.indices))))};
  });
  REQUIRE(seen.size() == 6);  // 2 epochs of batches 4, 4, 2
  CHECK((seen[0].size() == 4 && seen[2].size() == 2));
  data::Dataset ds;
  ds.images = x;
  ds.labels.assign(10, 0);
  ds.classes = {"x"};
  const data::DataLoader loader(ds, 4, true, 9);
  for (int64_t e = 0; e < 2; ++e) {
    std::vector<int64_t> flat;
    for (int64_t b = 0; b < 3; ++b) flat.insert(flat.end(), seen[size_t(3 * e + b)].begin(), seen[size_t(3 * e + b)].end());
    CHECK(flat == loader.order(e));
    CHECK(flat == data::epoch_order(10, true, 9, e));
  }
  REQUIRE(history.size() == 2);
  CHECK((history[0].epoch == 1 && history[1].epoch == 2));
  CHECK(std::isnan(history[0].train_accuracy));  // not a classifier
  CHECK_FALSE(net->is_training());  // the mode is restored: eval
  CHECK_THROWS_WITH(train::train_epochs(*net, opt, nullptr, 10, o,
                                        [&](const train::BatchIndices&) { return train::BatchLoss{full({}, NAN)}; }),
                    Catch::Contains("the loss became nan at epoch 1, batch 1"));
}
