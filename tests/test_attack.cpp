// The three attacks on small problems with known answers; the threat model and model state.
#include <catch2/catch.hpp>
#include "temp_dir.hpp"

#include <algorithm>
#include <cmath>

#include <inv/attack.hpp>
#include <inv/io/checkpoint.hpp>
#include <inv/nn/activation.hpp>
#include <inv/nn/batchnorm.hpp>
#include <inv/models/zoo.hpp>
#include <inv/nn/dropout.hpp>
#include <inv/protocol/attacker_data.hpp>
#include <inv/protocol/rmle_settings.hpp>

using namespace inv;
using namespace inv::attack;

namespace {

/// An invertible linear edge: a 1x1 conv mapping one channel to two, x -> (2x + 0.5, -x).
std::shared_ptr<nn::Sequential> linear_edge() {
  auto e = std::make_shared<nn::Sequential>();
  auto conv = e->emplace<nn::Conv2d>("conv", 1, 2, 1);
  conv->weight.copy_(tensor({2, -1}, {2, 1, 1, 1}));
  conv->bias.copy_(tensor({0.5, 0}, {2}));
  return e;
}

/// A copy of every parameter, buffer, gradient and flag of a module, to prove it unchanged.
struct Snapshot {
  std::vector<Tensor> values, grads;
  std::vector<bool> requires_grad, training;
  explicit Snapshot(nn::Module& m) {
    for (auto& [n, t] : m.state_dict()) values.push_back(copy_data(t));
    for (auto& [n, p] : m.named_parameters()) {
      grads.push_back(p.grad().defined() ? copy_data(p.grad()) : Tensor());
      requires_grad.push_back(p.requires_grad());
    }
    m.visit("", [&](const std::string&, const nn::Module& x) { training.push_back(x.is_training()); });
  }
  bool same_as(nn::Module& m) const {
    const Snapshot now(m);
    if (now.training != training || now.requires_grad != requires_grad) return false;
    for (size_t i = 0; i < values.size(); ++i)
      if (!equal(values[i], now.values[i])) return false;
    for (size_t i = 0; i < grads.size(); ++i)
      if (grads[i].defined() != now.grads[i].defined() || (grads[i].defined() && !equal(grads[i], now.grads[i])))
        return false;
    return true;
  }
};

Tensor images(int64_t n, int64_t c, int64_t h, uint64_t seed) {
  Generator g(seed);
  return randn({n, c, h, h}, g);
}

/// The edge's features of x, without recording a graph.
Tensor features_of(nn::Module& edge, const Tensor& x) {
  NoGradGuard ng;
  return edge.forward(x);
}

}  // namespace

TEST_CASE("rMLE inverts a known invertible linear edge", "[attack][rmle]") {
  auto edge = linear_edge();
  const Tensor x = images(3, 1, 6, 1);
  const Tensor v = features_of(*edge, x);
  RmleConfig c;
  c.iterations = 3000;
  c.lr = 0.05;
  const auto r = rmle(*edge, v, {1, 6, 6}, c);
  CHECK(r.images.shape() == x.shape());
  CHECK(mse_loss(r.images, x).item() < 1e-6);
  REQUIRE(r.objective.size() == 3);
  for (double o : r.objective) CHECK(o < 1e-5);
  CHECK(r.trace.size() == 3000);
  CHECK(r.trace.back() < r.trace.front());
}

TEST_CASE("rMLE attacks a batch as independent images", "[attack][rmle]") {
  Generator g(2);
  auto edge = std::make_shared<nn::Sequential>();
  edge->emplace<nn::Conv2d>("conv1", 1, 4, 3, Conv2dOptions(), true, g);
  edge->emplace<nn::ReLU>("ReLU1");
  const Tensor x = images(2, 1, 8, 3);
  const Tensor v = features_of(*edge, x);
  RmleConfig c;
  c.iterations = 50;
  c.lambda_tv = 0.5;
  c.lambda_l2 = 0.1;
  const Tensor both = rmle(*edge, v, {1, 8, 8}, c).images;
  for (int64_t i = 0; i < 2; ++i) {
    const Tensor one = rmle(*edge, slice(v, 0, i, i + 1), {1, 8, 8}, c).images;
    CHECK(allclose(one, slice(both, 0, i, i + 1), 1e-5, 1e-6));
  }
}

TEST_CASE("rMLE leaves the edge bitwise unchanged and validates its inputs", "[attack][rmle][state]") {
  Generator g(4);
  auto edge = models::lenet(g)->split("ReLU2").first;
  edge->at("conv1").eval();  // a mixed mode must come back as it was
  sum(edge->forward(images(1, 1, 28, 5))).backward();  // existing gradients must survive
  const Snapshot before(*edge);
  const Tensor v = features_of(*edge, images(2, 1, 28, 6));
  RmleConfig c;
  c.iterations = 5;
  rmle(*edge, v, {1, 28, 28}, c);
  CHECK(before.same_as(*edge));

  CHECK_THROWS_WITH(rmle(*edge, v, {1, 32, 32}, c), Catch::Contains("maps (2,1,32,32)") &&
                                                         Catch::Contains("features are (2,16,8,8)"));
  RmleConfig bad = c;
  bad.iterations = 0;
  CHECK_THROWS_WITH(rmle(*edge, v, {1, 28, 28}, bad), Catch::Contains("iterations must be >= 1, got 0"));
  bad = c;
  bad.lr = -1;
  CHECK_THROWS_WITH(rmle(*edge, v, {1, 28, 28}, bad), Catch::Contains("lr must be positive, got -1"));
  bad = c;
  bad.lambda_tv = -2;
  CHECK_THROWS_WITH(rmle(*edge, v, {1, 28, 28}, bad), Catch::Contains("lambda_tv must be >= 0"));
  bad = c;
  bad.start = RmleStart::Given;
  CHECK_THROWS_WITH(rmle(*edge, v, {1, 28, 28}, bad), Catch::Contains("needs an initial tensor"));
  Tensor nan_v = copy_data(v);
  nan_v.data<float>()[0] = std::nanf("");
  CHECK_THROWS_WITH(rmle(*edge, nan_v, {1, 28, 28}, c), Catch::Contains("the objective is nan at the start"));
  CHECK(before.same_as(*edge));  // also after the errors
}

TEST_CASE("rMLE returns each image's best iterate with its own objective", "[attack][rmle]") {
  // A learning rate far too large for this edge: Adam overshoots, and the objective of the
  // last iterate is not the lowest one evaluated.
  auto edge = linear_edge();
  const Tensor x = images(2, 1, 4, 11);
  const Tensor v = features_of(*edge, x);
  RmleConfig c;
  c.iterations = 40;
  c.lr = 3.0;
  c.lambda_tv = 0.1;
  const auto both = rmle(*edge, v, {1, 4, 4}, c);
  REQUIRE(both.best_iteration.size() == 2);
  CHECK(both.stopped.empty());
  CHECK(both.cost.iterations == 40);
  for (int64_t i = 0; i < 2; ++i) {
    // Alone, the image's trace is its objective at x_0 ... x_39; its best is the minimum of
    // those and of the final iterate x_40 (which the trace does not hold).
    const auto one = rmle(*edge, slice(v, 0, i, i + 1), {1, 4, 4}, c);
    const double trace_min = *std::min_element(one.trace.begin(), one.trace.end());
    CHECK(one.objective[0] <= trace_min * (1 + 1e-6));
    CHECK(one.objective[0] < one.trace.back());  // the last evaluated step was not the best
    CHECK(one.best_iteration[0] < 40);
    // Images do not interact: the batch returns the same iterate and objective.
    CHECK(both.best_iteration[size_t(i)] == one.best_iteration[0]);
    CHECK(allclose(one.images, slice(both.images, 0, i, i + 1), 1e-5, 1e-6));
    // The objective returned is that of the reconstruction returned.
    NoGradGuard ng;
    const double recomputed = add(mse_loss(edge->forward(one.images), slice(v, 0, i, i + 1)),
                                  mul(total_variation(one.images, c.tv), c.lambda_tv))
                                  .item();
    CHECK(one.objective[0] == Approx(recomputed).epsilon(1e-5));
  }
}

TEST_CASE("rMLE stops at a non-finite objective and keeps the best finite iterate", "[attack][rmle]") {
  // With lr 1e37 the first Adam step moves x to about ±1e37 and the features overflow:
  // the objective is inf at iteration 2, and the start x_0 = 0 is the best finite iterate.
  auto edge = linear_edge();
  const Tensor v = full({1, 2, 4, 4}, 2.0);
  RmleConfig c;
  c.iterations = 100;
  c.lr = 1e37;
  const auto r = rmle(*edge, v, {1, 4, 4}, c);
  CHECK_THAT(r.stopped, Catch::Contains("the objective became inf at iteration 2"));
  CHECK(r.cost.iterations == 1);
  CHECK(r.best_iteration == std::vector<int64_t>{0});
  CHECK(equal(r.images, zeros({1, 1, 4, 4})));
  CHECK(std::isfinite(r.objective[0]));
}

TEST_CASE("rMLE refuses an edge whose Dropout or BatchNorm is in training mode", "[attack][rmle]") {
  auto edge = linear_edge();
  edge->emplace<nn::Dropout>("drop", 0.5);
  const Tensor v = full({1, 2, 4, 4}, 2.0);
  RmleConfig c;
  c.iterations = 3;
  CHECK_THROWS_WITH(rmle(*edge, v, {1, 4, 4}, c),
                    Catch::Contains("the edge's module drop (Dropout) is in training mode") &&
                        Catch::Contains("call edge.eval() first"));
  edge->eval();
  CHECK_NOTHROW(rmle(*edge, v, {1, 4, 4}, c));
  CHECK_FALSE(edge->is_training());
  // Training mode of a module whose output does not depend on it is no reason to refuse.
  auto plain = linear_edge();
  CHECK(plain->is_training());
  CHECK_NOTHROW(rmle(*plain, v, {1, 4, 4}, c));
  CHECK(plain->is_training());
}

TEST_CASE("rMLE says so when the first gradient is exactly zero", "[attack][rmle]") {
  // x = 0 through a ReLU edge with zero biases: relu'(0) = 0, every gradient vanishes.
  auto edge = std::make_shared<nn::Sequential>();
  auto conv = edge->emplace<nn::Conv2d>("conv", 1, 2, 3);
  conv->bias.fill_(0);
  edge->emplace<nn::ReLU>("relu");
  const Tensor v = ones({1, 2, 4, 4});
  RmleConfig c;
  c.iterations = 10;
  CHECK_THROWS_WITH(rmle(*edge, v, {1, 6, 6}, c), Catch::Contains("first gradient is exactly zero"));
  c.start = RmleStart::Random;  // the suggested way out works
  CHECK_NOTHROW(rmle(*edge, v, {1, 6, 6}, c));
}

TEST_CASE("rMLE projection keeps pixels in the valid box", "[attack][rmle]") {
  auto edge = linear_edge();
  const Tensor v = full({1, 2, 4, 4}, 100.0);  // asks for far-out pixels
  RmleConfig c;
  c.iterations = 200;
  c.lr = 0.5;
  c.project = true;
  c.mean = {0.5};
  c.std = {0.5};
  const auto r = rmle(*edge, v, {1, 4, 4}, c);
  for (float p : r.images.to_vector<float>()) CHECK((p >= -1.0f && p <= 1.0f));
}

TEST_CASE("the oracle counts exactly what was asked and enforces its budget", "[attack][oracle]") {
  EdgeOracle oracle(linear_edge(), 10);
  oracle.query(images(3, 1, 4, 7));
  oracle.query(images(4, 1, 4, 8));
  CHECK(oracle.queries() == 7);
  CHECK_THROWS_WITH(oracle.query(images(4, 1, 4, 9)), Catch::Contains("budget exceeded: asked for 4 images, 3 of 10 left"));
  CHECK(oracle.queries() == 7);  // a refused query is not counted
  oracle.query(images(3, 1, 4, 10));
  CHECK(oracle.queries() == 10);
  CHECK_THROWS_AS(EdgeOracle(nullptr), Error);
}

TEST_CASE("the inverse network learns the inverse of a linear edge", "[attack][inverse]") {
  auto edge = linear_edge();
  Generator g(11);
  auto decoder = std::make_shared<nn::Sequential>();
  decoder->emplace<nn::Conv2d>("conv", 2, 1, 1, Conv2dOptions(), true, g);
  TrainConfig c;
  c.epochs = 40;
  c.batch_size = 16;
  c.lr = 0.05;
  c.halve_every = 10;
  InverseNetwork attack(decoder, c);
  EdgeOracle oracle(edge);
  const Tensor attacker = images(64, 1, 4, 12);
  const Snapshot before(*edge);
  const auto history = attack.fit(oracle, attacker, /*query_batch=*/20);
  CHECK(oracle.queries() == 64);  // each attacker image queried exactly once
  CHECK(history.back() < 1e-6);
  const Tensor secret = images(5, 1, 4, 13);
  const Tensor v = oracle.query(secret);
  CHECK(mse_loss(attack.invert(v).images, secret).item() < 1e-6);
  CHECK(before.same_as(*edge));
  auto wrong = std::make_shared<nn::Sequential>();
  wrong->emplace<nn::Conv2d>("conv", 2, 3, 1);
  InverseNetwork bad(wrong, c);
  CHECK_THROWS_WITH(bad.fit(oracle, attacker), Catch::Contains("expected (1,1,4,4)"));
}

TEST_CASE("the inverse network trains bitwise alike with its features in memory or in a file", "[attack][inverse]") {
  auto edge = linear_edge();
  const Tensor attacker = images(50, 1, 4, 21);
  inv::testing::TempDir dir;
  std::vector<std::vector<double>> losses;
  std::vector<std::unique_ptr<Snapshot>> trained;
  for (data::RowStorage storage : {data::RowStorage::Memory, data::RowStorage::File}) {
    Generator g(12);
    auto decoder = std::make_shared<nn::Sequential>();
    decoder->emplace<nn::Conv2d>("conv", 2, 1, 1, Conv2dOptions(), true, g);
    TrainConfig c;
    c.epochs = 3;
    c.batch_size = 8;
    InverseNetwork attack(decoder, c, storage, dir.path.string());
    CHECK(attack.feature_storage() == data::RowStorage::Auto);
    EdgeOracle oracle(edge);
    losses.push_back(attack.fit(oracle, attacker, /*query_batch=*/7));
    CHECK(oracle.queries() == 50);  // each attacker image queried exactly once, wherever the features live
    CHECK(attack.feature_storage() == storage);
    trained.push_back(std::make_unique<Snapshot>(*decoder));
  }
  CHECK(losses[0] == losses[1]);
  CHECK(trained[0]->values.size() == trained[1]->values.size());
  for (size_t i = 0; i < trained[0]->values.size(); ++i) CHECK(equal(trained[0]->values[i], trained[1]->values[i]));
  CHECK(dir.listing().empty());  // the temporary file is gone with its cache
  auto decoder = std::make_shared<nn::Sequential>();
  decoder->emplace<nn::Conv2d>("conv", 2, 1, 1);
  InverseNetwork attack(decoder, TrainConfig{});
  EdgeOracle oracle(edge);
  CHECK_THROWS_WITH(attack.fit(oracle, attacker, 0), Catch::Contains("query_batch must be >= 1, got 0"));
  CHECK(oracle.queries() == 0);
}

TEST_CASE("the shadow model learns to drive a frozen linear cloud", "[attack][shadow]") {
  Generator g(14);
  // The target: edge = 1x1 conv (1 -> 2 channels), cloud = flatten + linear (32 -> 2).
  auto target = std::make_shared<nn::Sequential>();
  target->emplace<nn::Conv2d>("conv", 1, 2, 1, Conv2dOptions(), true, g);
  target->emplace<nn::Flatten>("flatten");
  target->emplace<nn::Linear>("fc", 32, 2, true, g);
  auto [edge, cloud] = target->split("conv");
  // The attacker's data, normalised as every attack takes it, labelled by the target itself.
  data::Dataset attacker;
  attacker.classes = {"a", "b"};
  attacker.images = data::normalize(rand({128, 1, 4, 4}, g), {0.5}, {0.5});
  {
    NoGradGuard ng;
    attacker.labels = argmax(target->forward(attacker.images), 1);
  }
  const Snapshot cloud_before(*cloud), edge_before(*edge);
  EdgeOracle untouched(edge);  // the query-free attacker gets no oracle: count stays 0
  auto shadow = std::make_shared<nn::Sequential>();
  shadow->emplace<nn::Conv2d>("conv", 1, 2, 1, Conv2dOptions(), true, g);
  TrainConfig c;
  c.epochs = 30;
  c.batch_size = 16;
  c.lr = 0.02;
  ShadowModel attack(shadow, c);
  attack.fit(*cloud, attacker);
  int64_t agree = 0;
  {
    NoGradGuard ng;
    const auto pred = argmax(cloud->forward(shadow->forward(attacker.images)), 1);
    for (size_t i = 0; i < pred.size(); ++i) agree += pred[i] == attacker.labels[i];
  }
  CHECK(double(agree) / 128.0 >= 0.95);
  CHECK(cloud_before.same_as(*cloud));  // the cloud's parameters stay bitwise unchanged
  CHECK(edge_before.same_as(*edge));
  CHECK(untouched.queries() == 0);
  // Then rMLE against the shadow runs and returns images of the right shape.
  RmleConfig rc;
  rc.iterations = 20;
  const Tensor v = features_of(*edge, slice(attacker.images, 0, 0, 2));
  CHECK(attack.invert(v, {1, 4, 4}, rc).images.shape() == Shape{2, 1, 4, 4});
}

TEST_CASE("automatic decoders map any edge output back to the input shape", "[attack][decoder]") {
  Generator g(15);
  NoGradGuard ng;
  for (const std::string name : {"lenet", "cifar-cnn"}) {
    auto net = models::by_name(name, g);
    const auto spec = models::spec_by_name(name);
    Shape in{1};
    in.insert(in.end(), spec.input_shape.begin(), spec.input_shape.end());
    for (const auto& row : net->layer_info(in)) {
      Shape features(row.output_shape.begin() + 1, row.output_shape.end());
      INFO(name << " " << row.name << " " << to_string(features));
      auto d = decoder_for(name, row.name, features, spec.input_shape, g);
      CHECK(d->forward(zeros(row.output_shape)).shape() == in);
    }
  }
  CHECK_THROWS_WITH(auto_decoder({2, 3}, {1, 28, 28}), Catch::Contains("(C, H, W) or (D)"));
}

TEST_CASE("score de-normalises, clips and measures", "[attack][metrics]") {
  const Tensor original = full({1, 1, 11, 11}, 0.5);
  const Tensor perfect = zeros({1, 1, 11, 11});  // 0 in normalised space = 0.5
  const auto q = score(original, perfect, {0.5}, {0.5});
  CHECK(std::isinf(q.psnr[0]));
  CHECK(q.ssim_reference[0] == Approx(1.0));
  const auto off = score(original, full({1, 1, 11, 11}, 10.0), {0.5}, {0.5});  // clipped to 1
  CHECK(off.mse[0] == Approx(0.25));
}

TEST_CASE("the protocol's rMLE table: every split point of the zoo has its block's setting", "[attack][protocol]") {
  using protocol::white_box_rmle;
  CHECK(white_box_rmle("lenet", "ReLU2").lambda_tv == 1);
  CHECK(white_box_rmle("lenet", "ReLU2").source == "protocol §3");
  CHECK(white_box_rmle("lenet", "pool2").lambda_tv == 1);
  CHECK(white_box_rmle("lenet", "pool2").source == "per block (protocol §3)");
  CHECK(white_box_rmle("lenet", "fc1act").lambda_tv == 1e3);
  CHECK(white_box_rmle("cifar-cnn", "conv22").lambda_tv == 10);
  CHECK(white_box_rmle("cifar-cnn", "ReLU32").lambda_tv == 1e3);
  CHECK((white_box_rmle("cifar-cnn", "fc2").lr == 1e-3 && white_box_rmle("cifar-cnn", "fc2").lambda_tv == 1e4));
  CHECK(white_box_rmle("cifar-cnn", "pool1").lambda_tv == 0);
  const auto qf = protocol::query_free_rmle("cifar-cnn", "ReLU22");
  REQUIRE(qf.has_value());
  CHECK((qf->iterations == 500 && qf->lr == 0.1 && qf->lambda_tv == 2));
  CHECK_FALSE(protocol::query_free_rmle("lenet", "ReLU2").has_value());
  Generator gen(0);
  for (const char* model : {"lenet", "cifar-cnn"}) {
    auto net = std::string(model) == "lenet" ? models::lenet(gen) : models::cifar_cnn(gen);
    for (const std::string& split : net->split_points()) CHECK_NOTHROW(white_box_rmle(model, split));
  }
  CHECK_THROWS_WITH(white_box_rmle("lenet", "flatten"), Catch::Contains("'flatten' is not a split point of lenet"));
  CHECK_THROWS_WITH(white_box_rmle("resnet", "layer1"), Catch::Contains("no rMLE settings for model 'resnet'"));
  // The models of no paper: blocks by resolution (protocol §10), the source saying so.
  const std::string analogy = "by resolution, after the CIFAR CNN's blocks (protocol §10)";
  CHECK(white_box_rmle("resnet20", "layer1.1").lambda_tv == 0);
  CHECK(white_box_rmle("resnet20", "layer2.0").lambda_tv == 10);
  CHECK(white_box_rmle("resnet20", "layer3").lambda_tv == 1e3);
  CHECK((white_box_rmle("resnet20", "avgpool").lambda_tv == 1e4 && white_box_rmle("resnet20", "fc").lr == 1e-3));
  CHECK(white_box_rmle("resnet20", "conv1").source == analogy);
  CHECK(white_box_rmle("resnet18", "conv1").lambda_tv == 10);
  CHECK(white_box_rmle("resnet18", "layer4.0").lambda_tv == 1e3);
  CHECK(white_box_rmle("vgg11-bn", "features.3").lambda_tv == 0);
  CHECK(white_box_rmle("vgg11-bn", "features.7").lambda_tv == 10);
  CHECK(white_box_rmle("vgg11-bn", "features").lambda_tv == 1e3);
  CHECK(white_box_rmle("vgg11-bn", "classifier").source == analogy);
  CHECK_FALSE(protocol::query_free_rmle("resnet20", "layer1").has_value());
}

TEST_CASE("the protocol table: every model's entry covers its split points, decoders and shadows", "[attack][protocol]") {
  CHECK(protocol::protocol_model_names() ==
        std::vector<std::string>{"lenet", "cifar-cnn", "resnet20", "resnet18", "vgg11-bn"});
  CHECK_THROWS_WITH(protocol::model_protocol("resnet"),
                    Catch::Contains("unknown model 'resnet' (models: lenet, cifar-cnn, resnet20, resnet18, vgg11-bn)"));
  for (const protocol::ModelProtocol& p : protocol::model_protocols()) {
    INFO(p.spec.name);
    Generator g(0);
    auto net = p.build(g);
    Shape in{1};
    in.insert(in.end(), p.spec.input_shape.begin(), p.spec.input_shape.end());
    if (p.any_input_size) in[2] = in[3] = 32;  // resnet18's 224 would only be slower
    net->eval();  // BatchNorm: one image in training mode would have no batch statistics
    // The classifier's weight names the class count.
    CHECK(io::named_tensor(net->state_dict(), p.classifier_weight, "", "").size(0) == p.classes);
    // The blocks list every split point once, in layer order.
    std::vector<std::string> listed;
    for (const protocol::RmleBlock& b : p.rmle_blocks) listed.insert(listed.end(), b.layers.begin(), b.layers.end());
    CHECK(listed == net->split_points());
    // Decoders and shadows, where the paper has them, fit the edge's shapes.
    NoGradGuard ng;
    for (const std::string& split : net->split_points()) {
      const Tensor v = net->split(split).first->forward(zeros(in));
      if (!p.paper_decoder) continue;  // a model of no paper: decoders from the edge's shape
      if (auto d = p.paper_decoder(split, g)) CHECK(d->forward(v).shape() == in);
      if (auto s = p.paper_shadow(split, g)) CHECK(s->forward(zeros(in)).shape() == v.shape());
    }
  }
  CHECK(protocol::model_protocol("lenet").recipe.epochs == 20);
  CHECK(protocol::model_protocol("cifar-cnn").recipe.epochs == 50);
  CHECK(protocol::model_protocol("cifar-cnn").recipe.augment);
  CHECK(protocol::model_protocol("resnet20").recipe.augment);
  CHECK_FALSE(protocol::model_protocol("resnet20").paper_decoder);
}

TEST_CASE("adapted_protocol: a target's own input and classes, refused where the architecture fixes them",
          "[attack][protocol]") {
  const protocol::ModelProtocol& r18 = protocol::model_protocol("resnet18");
  models::ModelSpec spec = r18.spec;
  spec.input_shape = {3, 32, 32};
  spec.mean = {0.5};
  const protocol::ModelProtocol p = protocol::adapted_protocol(r18, spec, 10);
  CHECK(p.spec.name == "resnet18");
  CHECK(p.spec.input_shape == Shape{3, 32, 32});
  CHECK(p.classes == 10);
  Generator g(1);
  NoGradGuard ng;
  CHECK(p.build(g)->forward(zeros({2, 3, 32, 32})).shape() == Shape{2, 10});
  // The papers' networks and VGG-11 fix their input; the papers' networks their classes.
  const protocol::ModelProtocol& cifar = protocol::model_protocol("cifar-cnn");
  models::ModelSpec big = cifar.spec;
  big.input_shape = {3, 64, 64};
  CHECK_THROWS_WITH(protocol::adapted_protocol(cifar, big, 10),
                    Catch::Contains("cifar-cnn's architecture fixes its input at (3,32,32), not (3,64,64)"));
  CHECK_THROWS_WITH(protocol::adapted_protocol(cifar, cifar.spec, 100), Catch::Contains("cifar-cnn has 10 classes, not 100"));
  CHECK_THROWS_WITH(protocol::adapted_protocol(protocol::model_protocol("vgg11-bn"), big, 10),
                    Catch::Contains("fixes its input at (3,32,32)"));
  models::ModelSpec two = r18.spec;
  two.std = {0.2, 0.2};
  CHECK_THROWS_WITH(protocol::adapted_protocol(r18, two, 1000), Catch::Contains("the std needs 3 values (one per channel), got 2"));
  two.std = {0.2, 0, 0.2};
  CHECK_THROWS_WITH(protocol::adapted_protocol(r18, two, 1000), Catch::Contains("positive and finite"));
  models::ModelSpec oblong = r18.spec;
  oblong.input_shape = {3, 32, 48};
  CHECK_THROWS_WITH(protocol::adapted_protocol(r18, oblong, 1000), Catch::Contains("takes square images"));
}

TEST_CASE("the attacker's data: train, disjoint and noise sets, normalised, with clear refusals", "[attack][protocol]") {
  using protocol::AttackerSet;
  data::Dataset train;
  train.classes = {"a", "b"};
  train.images = full({10, 1, 2, 2}, 1.0);
  for (int64_t i = 0; i < 10; ++i) train.labels.push_back(i % 2);
  const auto first = protocol::make_attacker_data(train, 4, AttackerSet::Train, 3, {0.5}, {0.5}, {1, 2, 2}, 0);
  CHECK(first.images.shape() == Shape{3, 1, 2, 2});
  CHECK(equal(first.images, full({3, 1, 2, 2}, 1.0)));  // (1 - 0.5) / 0.5
  CHECK(first.labels == std::vector<int64_t>{0, 1, 0});
  const auto held = protocol::make_attacker_data(train, 4, AttackerSet::Disjoint, 0, {0.5}, {0.5}, {1, 2, 2}, 0);
  CHECK(held.labels == std::vector<int64_t>{0, 1, 0, 1});  // images 6..9, the held-out tail
  CHECK_THAT(held.description, Catch::Contains("4 held-out training images"));
  const auto noise = protocol::make_attacker_data(train, 4, AttackerSet::Noise, 5, {0.5}, {0.5}, {1, 2, 2}, 7);
  CHECK((noise.images.shape() == Shape{5, 1, 2, 2} && !noise.labelled()));
  CHECK(equal(noise.images, protocol::make_attacker_data(train, 4, AttackerSet::Noise, 5, {0.5}, {0.5}, {1, 2, 2}, 7).images));
  CHECK_THROWS_WITH(protocol::make_attacker_data(train, 0, AttackerSet::Disjoint, 0, {0.5}, {0.5}, {1, 2, 2}, 0),
                    Catch::Contains("trained with holdout 0"));
  CHECK_THROWS_WITH(protocol::make_attacker_data(train, 11, AttackerSet::Train, 0, {0.5}, {0.5}, {1, 2, 2}, 0),
                    Catch::Contains("the training set has 10 images but the target held out the last 11"));
  CHECK_THROWS_WITH(protocol::make_attacker_data(train, 4, AttackerSet::Noise, 10001, {0.5}, {0.5}, {1, 2, 2}, 0),
                    Catch::Contains("10001 attacker images exceed the limit of 10000 noise images"));
  CHECK(protocol::holdout_size(-1, 60000) == 10000);
  CHECK(protocol::holdout_size(-1, 60) == 10);
  CHECK_THROWS_WITH(protocol::holdout_size(5, 5), Catch::Contains("leaves no training image"));
  CHECK_THROWS_WITH(protocol::parse_attacker_set("all"), Catch::Contains("train, disjoint, noise"));
}

namespace {

/// A tiny trained LeNet-like target on 1x8x8 images, with its protocol entry.
struct TinyTarget {
  protocol::ModelProtocol protocol;
  std::shared_ptr<nn::Sequential> net;
  protocol::AttackerData data;
  Tensor v;  // the features at "relu" of 3 images
};

TinyTarget tiny_target() {
  TinyTarget t;
  t.protocol.spec = {"tiny", {1, 8, 8}, {0.5}, {0.5}};
  t.protocol.build = [](Generator& g) {
    auto m = std::make_shared<nn::Sequential>();
    m->emplace<nn::Conv2d>("conv", 1, 4, 3, Conv2dOptions().padding(1), true, g);
    m->emplace<nn::ReLU>("relu");
    m->emplace<nn::Flatten>("flatten");
    m->emplace<nn::Linear>("fc", 256, 2, true, g);
    return m;
  };
  t.protocol.rmle_blocks = {{{"conv", "relu", "fc"}, "relu", 1e-2, 0}};
  Generator g(21);
  t.net = t.protocol.build(g);
  t.net->eval();
  t.data.images = randn({16, 1, 8, 8}, g);
  t.data.classes = {"a", "b"};
  for (int64_t i = 0; i < 16; ++i) t.data.labels.push_back(i % 2);
  t.v = features_of(*t.net->split("relu").first, images(3, 1, 8, 30));
  return t;
}

}  // namespace

TEST_CASE("the attack catalogue: unique names and seed streams, each granted only its access", "[attack][registry]") {
  std::vector<std::string> names;
  std::vector<uint64_t> streams;
  for (const AttackInfo& a : attacks()) names.push_back(a.name), streams.push_back(a.stream_id);
  CHECK(names == std::vector<std::string>{"white-box", "black-box", "query-free", "label-only", "white-box-aware"});
  CHECK(undefended_attack_names() == std::vector<std::string>{"white-box", "black-box", "query-free", "label-only"});
  CHECK(attack_names() == names);
  std::sort(streams.begin(), streams.end());
  CHECK(std::adjacent_find(streams.begin(), streams.end()) == streams.end());
  CHECK(find_attack("magic") == nullptr);

  // Each threat model's attack, run through the harness with a probe that asks for
  // everything: only its own access is there.
  TinyTarget t = tiny_target();
  const SplitTarget split{&t.protocol, t.net, "relu"};
  for (const AttackInfo& real : attacks()) {
    INFO(real.name);
    AttackInfo probe = real;
    std::vector<std::string> granted;
    probe.run = [&](const Granted& g, const Tensor& v, const AttackSettings&) {
      auto has = [&](const char* what, auto&& get) {
        try {
          get();
          granted.push_back(what);
        } catch (const inv::Error&) {
        }
      };
      has("edge", [&] { g.edge(); });
      has("oracle", [&] { g.oracle(); });
      has("cloud", [&] { g.cloud(); });
      has("data", [&] { g.data(); });
      Reconstruction r;
      r.images = zeros({v.size(0), 1, 8, 8});
      return r;
    };
    run_attack(probe, split, t.v, &t.data, AttackSettings());
    std::vector<std::string> expected;
    switch (real.access) {
      case Access::WhiteBox: expected = {"edge"}; break;
      case Access::BlackBox: expected = {"oracle"}; break;
      case Access::QueryFree: expected = {"cloud"}; break;
    }
    if (real.uses_attacker_data) expected.push_back("data");
    CHECK(granted == expected);
  }
}

TEST_CASE("the harness runs each attack as its own header does, and reports the cost", "[attack][registry]") {
  TinyTarget t = tiny_target();
  const SplitTarget split{&t.protocol, t.net, "relu"};
  AttackSettings s;
  s.rmle.iterations = 30;
  s.decoder.epochs = 2;
  s.shadow.epochs = 2;
  s.decoder.batch_size = s.shadow.batch_size = 8;

  // White-box: the harness's rMLE is attack::rmle on the edge, bit for bit.
  const Reconstruction white = run_attack(*find_attack("white-box"), split, t.v, nullptr, s);
  const Reconstruction direct = rmle(*t.net->split("relu").first, t.v, {1, 8, 8}, s.rmle);
  CHECK(equal(white.images, direct.images));
  CHECK(white.objective == direct.objective);
  CHECK(white.cost.iterations == 30);
  CHECK(white.cost.queries == 0);

  // Black-box: one query per attacker image, a decoder trained 2 epochs; same seed, same bits.
  const Reconstruction black = run_attack(*find_attack("black-box"), split, t.v, &t.data, s);
  CHECK(black.images.shape() == Shape{3, 1, 8, 8});
  CHECK(black.cost.queries == 16);
  CHECK((black.cost.epochs == 2 && black.cost.training_images == 16 && black.train_loss.size() == 2));
  CHECK(black.objective.empty());
  CHECK(black.architecture == "auto decoder");
  CHECK(equal(black.images, run_attack(*find_attack("black-box"), split, t.v, &t.data, s).images));
  AttackSettings other = s;
  other.seed = 1;
  CHECK_FALSE(equal(black.images, run_attack(*find_attack("black-box"), split, t.v, &t.data, other).images));

  // Query-free: a shadow trained through the cloud, then rMLE; the target is left unchanged.
  const Snapshot before(*t.net);
  const Reconstruction free = run_attack(*find_attack("query-free"), split, t.v, &t.data, s);
  CHECK(before.same_as(*t.net));
  CHECK(free.images.shape() == Shape{3, 1, 8, 8});
  CHECK((free.cost.iterations == 30 && free.cost.epochs == 2 && free.cost.queries == 0));
  CHECK(free.architecture == "copy of the edge (same structure)");

  // Attacks that need the attacker's images say so without them, and noise has no labels.
  CHECK_THROWS_WITH(run_attack(*find_attack("black-box"), split, t.v, nullptr, s),
                    Catch::Contains("black-box: needs the attacker's own images"));
  protocol::AttackerData noise = t.data;
  noise.labels.clear();
  CHECK_THROWS_WITH(run_attack(*find_attack("query-free"), split, t.v, &noise, s),
                    Catch::Contains("query-free: the attacker needs labelled images"));
}

TEST_CASE("query-free inverts its trained shadow in evaluation mode, as a deployed edge with BatchNorm runs",
          "[attack][registry]") {
  TinyTarget t = tiny_target();
  t.protocol.build = [](Generator& g) {  // the tiny target with a BatchNorm in its edge
    auto m = std::make_shared<nn::Sequential>();
    m->emplace<nn::Conv2d>("conv", 1, 4, 3, Conv2dOptions().padding(1), true, g);
    m->emplace<nn::BatchNorm2d>("bn", 4);
    m->emplace<nn::ReLU>("relu");
    m->emplace<nn::Flatten>("flatten");
    m->emplace<nn::Linear>("fc", 256, 2, true, g);
    return m;
  };
  t.protocol.rmle_blocks = {{{"conv", "bn", "relu", "fc"}, "relu", 1e-2, 0}};
  Generator g(22);
  t.net = t.protocol.build(g);
  t.net->eval();
  t.v = features_of(*t.net->split("relu").first, images(3, 1, 8, 30));
  AttackSettings s;
  s.rmle.iterations = 5;
  s.shadow.epochs = 1;
  s.shadow.batch_size = 8;
  const Reconstruction r = run_attack(*find_attack("query-free"), {&t.protocol, t.net, "relu"}, t.v, &t.data, s);
  CHECK(r.images.shape() == Shape{3, 1, 8, 8});
  CHECK(r.cost.iterations == 5);
}

TEST_CASE("the harness checks the target and the features before any attack starts", "[attack][registry]") {
  TinyTarget t = tiny_target();
  const AttackSettings s;
  const AttackInfo& white = *find_attack("white-box");
  CHECK_THROWS_WITH(run_attack(white, SplitTarget{nullptr, t.net, "relu"}, t.v, nullptr, s),
                    Catch::Contains("SplitTarget::model is null"));
  CHECK_THROWS_WITH(run_attack(white, SplitTarget{&t.protocol, nullptr, "relu"}, t.v, nullptr, s),
                    Catch::Contains("SplitTarget::net is null"));
  CHECK_THROWS_WITH(run_attack(white, SplitTarget{&t.protocol, t.net, "flatten"}, t.v, nullptr, s),
                    Catch::Contains("'flatten' is not a split point of the network (conv, relu, fc)"));
  const SplitTarget split{&t.protocol, t.net, "relu"};
  for (const AttackInfo& a : attacks()) {
    INFO(a.name);
    CHECK_THROWS_WITH(run_attack(a, split, zeros({3, 4, 9, 9}), &t.data, s),
                      Catch::Contains("the features are (3,4,9,9) but the edge at relu sends (3,4,8,8)"));
    CHECK_THROWS_WITH(run_attack(a, split, Tensor(), &t.data, s), Catch::Contains("an undefined tensor"));
  }
  protocol::ModelProtocol wrong = t.protocol;
  wrong.spec.input_shape = {3, 8, 8};
  CHECK_THROWS_WITH(run_attack(white, SplitTarget{&wrong, t.net, "relu"}, t.v, nullptr, s),
                    Catch::Contains("the network does not take tiny's input (3,8,8)"));
}

TEST_CASE("protocol_settings give the papers' budgets at the split; the harness keeps a caller's progress callback",
          "[attack][registry]") {
  Generator g(0);
  auto lenet = models::lenet(g);
  const AttackSettings white = protocol_settings(*find_attack("white-box"), {&protocol::model_protocol("lenet"), lenet, "ReLU2"});
  CHECK((white.rmle.iterations == 5000 && white.rmle.lr == 1e-2 && white.rmle.lambda_tv == 1));
  CHECK((white.decoder.epochs == 50 && white.decoder.halve_every == 10 && white.shadow.batch_size == 32));
  auto cifar = models::cifar_cnn(g);
  const SplitTarget relu22{&protocol::model_protocol("cifar-cnn"), cifar, "ReLU22"};
  const AttackSettings qf = protocol_settings(*find_attack("query-free"), relu22);
  CHECK((qf.rmle.iterations == 500 && qf.rmle.lr == 0.1 && qf.rmle.lambda_tv == 2));
  CHECK(protocol_settings(*find_attack("white-box"), relu22).rmle.lambda_tv == 10);

  TinyTarget t = tiny_target();
  AttackSettings s;
  s.rmle.iterations = 20;
  s.rmle.progress_every = 5;
  int calls = 0;
  s.rmle.on_progress = [&](int64_t, double) { ++calls; };
  run_attack(*find_attack("white-box"), {&t.protocol, t.net, "relu"}, t.v, nullptr, s);
  CHECK(calls == 4);
}

TEST_CASE("an inverse network refuses features of another shape than it was trained on", "[attack][blackbox]") {
  auto edge = linear_edge();
  EdgeOracle oracle(edge);
  auto decoder = std::make_shared<nn::Sequential>();
  decoder->emplace<nn::Conv2d>("conv", 2, 1, 1);
  TrainConfig c;
  c.epochs = 1;
  InverseNetwork net(decoder, c);
  net.fit(oracle, images(4, 1, 4, 3));
  CHECK(net.invert(features_of(*edge, images(2, 1, 4, 4))).images.shape() == Shape{2, 1, 4, 4});
  CHECK_THROWS_WITH(net.invert(features_of(*edge, images(2, 1, 5, 4))),
                    Catch::Contains("trained on features (2,4,4) per sample, but is asked to invert (2,2,5,5)"));
}

TEST_CASE("rMLE returns a start that already reproduces the features", "[attack][rmle]") {
  auto edge = linear_edge();
  const Tensor v = features_of(*edge, zeros({1, 1, 4, 4}));
  RmleConfig c;
  c.iterations = 50;
  const Reconstruction r = rmle(*edge, v, {1, 4, 4}, c);
  CHECK(equal(r.images, zeros({1, 1, 4, 4})));
  CHECK(r.objective == std::vector<double>{0.0});
  CHECK(r.cost.iterations == 0);
}
