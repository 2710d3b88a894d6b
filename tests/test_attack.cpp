// The three attacks on small problems with known answers; the threat model and model state.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <inv/attack.hpp>
#include <inv/nn/activation.hpp>
#include <inv/models/zoo.hpp>
#include <inv/nn/dropout.hpp>
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
  CHECK(r.reconstruction.shape() == x.shape());
  CHECK(mse_loss(r.reconstruction, x).item() < 1e-6);
  REQUIRE(r.objective.size() == 3);
  for (double o : r.objective) CHECK(o < 1e-5);
  CHECK(r.loss_trace.size() == 3000);
  CHECK(r.loss_trace.back() < r.loss_trace.front());
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
  const Tensor both = rmle(*edge, v, {1, 8, 8}, c).reconstruction;
  for (int64_t i = 0; i < 2; ++i) {
    const Tensor one = rmle(*edge, slice(v, 0, i, i + 1), {1, 8, 8}, c).reconstruction;
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
  CHECK_THROWS_WITH(rmle(*edge, nan_v, {1, 28, 28}, c), Catch::Contains("objective became nan at iteration 1"));
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
  CHECK(both.iterations == 40);
  for (int64_t i = 0; i < 2; ++i) {
    // Alone, the image's trace is its objective at x_0 ... x_39; its best is the minimum of
    // those and of the final iterate x_40 (which the trace does not hold).
    const auto one = rmle(*edge, slice(v, 0, i, i + 1), {1, 4, 4}, c);
    const double trace_min = *std::min_element(one.loss_trace.begin(), one.loss_trace.end());
    CHECK(one.objective[0] <= trace_min * (1 + 1e-6));
    CHECK(one.objective[0] < one.loss_trace.back());  // the last evaluated step was not the best
    CHECK(one.best_iteration[0] < 40);
    // Images do not interact: the batch returns the same iterate and objective.
    CHECK(both.best_iteration[size_t(i)] == one.best_iteration[0]);
    CHECK(allclose(one.reconstruction, slice(both.reconstruction, 0, i, i + 1), 1e-5, 1e-6));
    // The objective returned is that of the reconstruction returned.
    NoGradGuard ng;
    const double recomputed = add(mse_loss(edge->forward(one.reconstruction), slice(v, 0, i, i + 1)),
                                  mul(total_variation(one.reconstruction, c.tv), c.lambda_tv))
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
  CHECK(r.iterations == 1);
  CHECK(r.best_iteration == std::vector<int64_t>{0});
  CHECK(equal(r.reconstruction, zeros({1, 1, 4, 4})));
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
  for (float p : r.reconstruction.to_vector<float>()) CHECK((p >= -1.0f && p <= 1.0f));
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
  CHECK(mse_loss(attack.invert(v), secret).item() < 1e-6);
  CHECK(before.same_as(*edge));
  auto wrong = std::make_shared<nn::Sequential>();
  wrong->emplace<nn::Conv2d>("conv", 2, 3, 1);
  InverseNetwork bad(wrong, c);
  CHECK_THROWS_WITH(bad.fit(oracle, attacker), Catch::Contains("expected (1,1,4,4)"));
}

TEST_CASE("the shadow model learns to drive a frozen linear cloud", "[attack][shadow]") {
  Generator g(14);
  // The target: edge = 1x1 conv (1 -> 2 channels), cloud = flatten + linear (32 -> 2).
  auto target = std::make_shared<nn::Sequential>();
  target->emplace<nn::Conv2d>("conv", 1, 2, 1, Conv2dOptions(), true, g);
  target->emplace<nn::Flatten>("flatten");
  target->emplace<nn::Linear>("fc", 32, 2, true, g);
  auto [edge, cloud] = target->split("conv");
  // The attacker's data, labelled by the target itself.
  data::Dataset attacker;
  attacker.classes = {"a", "b"};
  attacker.images = rand({128, 1, 4, 4}, g);
  {
    NoGradGuard ng;
    attacker.labels = argmax(target->forward(data::normalize(attacker.images, {0.5}, {0.5})), 1);
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
  attack.fit(*cloud, attacker, {0.5}, {0.5});
  int64_t agree = 0;
  {
    NoGradGuard ng;
    const auto pred = argmax(cloud->forward(shadow->forward(data::normalize(attacker.images, {0.5}, {0.5}))), 1);
    for (size_t i = 0; i < pred.size(); ++i) agree += pred[i] == attacker.labels[i];
  }
  CHECK(double(agree) / 128.0 >= 0.95);
  CHECK(cloud_before.same_as(*cloud));  // the cloud's parameters stay bitwise unchanged
  CHECK(edge_before.same_as(*edge));
  CHECK(untouched.queries() == 0);
  // Then rMLE against the shadow runs and returns images of the right shape.
  RmleConfig rc;
  rc.iterations = 20;
  const Tensor v = features_of(*edge, data::normalize(slice(attacker.images, 0, 0, 2), {0.5}, {0.5}));
  CHECK(attack.invert(v, {1, 4, 4}, rc).reconstruction.shape() == Shape{2, 1, 4, 4});
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
  CHECK_THROWS_WITH(white_box_rmle("resnet18", "layer1"), Catch::Contains("no rMLE settings for model 'resnet18'"));
}
