// The defenses of He, Zhang & Lee (IEEE IoT-J 2021) and the attackers that know them:
// noise and mask statistics, the deployed edge, optimised noise, the Fisher bound, the
// label-only baseline.
#include <catch2/catch.hpp>

#include <cmath>

#include "temp_dir.hpp"
#include <inv/attack/registry.hpp>
#include <inv/defense/defended_edge.hpp>
#include <inv/defense/fisher.hpp>
#include <inv/defense/optimised_noise.hpp>
#include <inv/nn/activation.hpp>
#include <inv/nn/linear.hpp>
#include <inv/parallel.hpp>

using namespace inv;
using namespace inv::defense;

namespace {

double mean_of(const std::vector<float>& v, double (*f)(double)) {
  double s = 0;
  for (float x : v) s += f(x);
  return s / double(v.size());
}

/// x -> (2x + 0.5, -x) per pixel: a 1x1 conv, one channel to two (every feature informative).
std::shared_ptr<nn::Sequential> two_channel_edge() {
  auto e = std::make_shared<nn::Sequential>();
  auto conv = e->emplace<nn::Conv2d>("conv", 1, 2, 1);
  conv->weight.copy_(tensor({2, -1}, {2, 1, 1, 1}));
  conv->bias.copy_(tensor({0.5, 0}, {2}));
  e->eval();
  return e;
}

/// A target whose edge is two_channel_edge and whose cloud classifies 2x2 images in 2 classes.
std::shared_ptr<nn::Sequential> tiny_net() {
  auto net = std::make_shared<nn::Sequential>();
  auto conv = net->emplace<nn::Conv2d>("conv", 1, 2, 1);
  conv->weight.copy_(tensor({2, -1}, {2, 1, 1, 1}));
  conv->bias.copy_(tensor({0.5, 0}, {2}));
  net->emplace<nn::Flatten>("flatten");
  Generator g(3);
  net->emplace<nn::Linear>("fc", 8, 2, true, g);
  net->eval();
  return net;
}

protocol::ModelProtocol tiny_protocol() {
  protocol::ModelProtocol p;
  p.spec = {"tiny2", {1, 2, 2}, {0.5}, {0.5}};
  p.build = [](Generator&) { return tiny_net(); };
  p.rmle_blocks = {{{"conv", "fc"}, "conv", 1e-2, 0}};
  return p;
}

}  // namespace

TEST_CASE("noise draws: Gaussian variance σ², Laplace mean |ε| = b and variance 2b², seeded", "[defense][noise]") {
  Generator g(1);
  const auto gauss = gaussian_noise({200000}, 0.5, g).to_vector<float>();
  CHECK(mean_of(gauss, [](double x) { return x; }) == Approx(0).margin(0.005));
  CHECK(mean_of(gauss, [](double x) { return x * x; }) == Approx(0.25).epsilon(0.01));
  const auto lap = laplace_noise({200000}, 0.5, g).to_vector<float>();
  CHECK(mean_of(lap, [](double x) { return std::fabs(x); }) == Approx(0.5).epsilon(0.01));
  CHECK(mean_of(lap, [](double x) { return x * x; }) == Approx(0.5).epsilon(0.02));
  Generator a(7), b(7);
  CHECK(equal(laplace_noise({100}, 1, a), laplace_noise({100}, 1, b)));
  CHECK(equal(gaussian_noise({3}, 0, a), zeros({3})));
  CHECK_THROWS_WITH(gaussian_noise({3}, -0.1, a), Catch::Contains("sigma must be finite and >= 0, got -0.1"));
  CHECK_THROWS_WITH(laplace_noise({3}, NAN, a), Catch::Contains("scale b must be finite and >= 0, got nan"));
}

TEST_CASE("the dropout defense zeroes a fraction r and rescales nothing", "[defense][dropout]") {
  auto edge = std::make_shared<nn::Sequential>();
  edge->emplace<nn::ReLU>("relu");
  Defense d;
  d.kind = DefenseKind::Dropout;
  d.level = 0.3;
  DefendedEdge deployed(edge, d, 5);
  const Tensor x = full({100, 1, 20, 50}, 2.0);
  const auto v = deployed.forward(x).to_vector<float>();
  int64_t zeros_seen = 0, kept = 0;
  for (float e : v) zeros_seen += e == 0.0f, kept += e == 2.0f;  // kept values are not rescaled by 1/(1 - r)
  CHECK(zeros_seen + kept == int64_t(v.size()));
  CHECK(double(zeros_seen) / double(v.size()) == Approx(0.3).epsilon(0.01));
  // On the input: the edge sees x ⊙ m.
  d.position = Position::Input;
  DefendedEdge on_input(edge, d, 5);
  CHECK(equal(on_input.forward(x), deployed.forward(x)) == false);  // a fresh draw per call
}

TEST_CASE("the deployed edge: seeded draws, bitwise on 1 or 2 threads, the model left unchanged", "[defense]") {
  Generator g(2);
  auto edge = std::make_shared<nn::Sequential>();
  edge->emplace<nn::Conv2d>("conv", 1, 4, 3, Conv2dOptions(), true, g);
  edge->emplace<nn::ReLU>("relu");
  edge->train();
  const Tensor x = randn({8, 1, 12, 12}, g);
  std::vector<Tensor> before;
  for (auto& [n, t] : edge->state_dict()) before.push_back(copy_data(t));
  for (DefenseKind k : {DefenseKind::Gaussian, DefenseKind::Laplace, DefenseKind::Dropout}) {
    for (Position p : {Position::Input, Position::Features}) {
      Defense d;
      d.kind = k;
      d.position = p;
      d.level = 0.4;
      INFO(d.describe());
      std::vector<Tensor> runs;
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        DefendedEdge deployed(edge, d, 11);
        runs.push_back(deployed.forward(x));
        runs.push_back(deployed.forward(x));
      }
      set_num_threads(0);
      CHECK(equal(runs[0], runs[2]));
      CHECK(equal(runs[1], runs[3]));
      CHECK_FALSE(equal(runs[0], runs[1]));
    }
  }
  size_t i = 0;
  for (auto& [n, t] : edge->state_dict()) CHECK(equal(t, before[i++]));
  CHECK(edge->is_training());
  DefendedEdge wrapped(edge, Defense(), 0);
  CHECK(wrapped.state_dict().front().first == "edge.conv.weight");
}

TEST_CASE("defenses refuse bad settings, naming the value", "[defense]") {
  auto edge = two_channel_edge();
  Defense d;
  d.kind = DefenseKind::Gaussian;
  d.level = -1;
  CHECK_THROWS_WITH(DefendedEdge(edge, d, 0), Catch::Contains("level must be finite and >= 0, got -1"));
  d.kind = DefenseKind::Dropout;
  d.level = 1;
  CHECK_THROWS_WITH(DefendedEdge(edge, d, 0), Catch::Contains("the rate must be in [0, 1), got 1"));
  d.kind = DefenseKind::Optimised;
  d.level = 10;
  CHECK_THROWS_WITH(DefendedEdge(edge, d, 0), Catch::Contains("no noise tensor"));
  d.offset = zeros({2, 2, 2});
  d.position = Position::Input;
  CHECK_THROWS_WITH(DefendedEdge(edge, d, 0), Catch::Contains("applies to the features only"));
  CHECK_THROWS_WITH(parse_kind("blur"), Catch::Contains("unknown defense 'blur'"));
  CHECK_THROWS_WITH(parse_position("output"), Catch::Contains("unknown defense position 'output'"));
  d.position = Position::Features;
  d.offset = zeros({3, 2, 2});
  DefendedEdge wrong(edge, d, 0);
  CHECK_THROWS_WITH(wrong.forward(zeros({1, 1, 2, 2})), Catch::Contains("the optimised noise is (3,2,2)"));
}

TEST_CASE("optimised noise: learned against the next layer, saved and loaded, refused at the wrong shape",
          "[defense][optimised]") {
  inv::testing::TempDir tmp;
  Generator g(4);
  auto edge = std::make_shared<nn::Sequential>();
  edge->emplace<nn::Flatten>("flatten");
  auto next = std::make_shared<nn::Linear>(4, 2, true, g);  // a null space of dimension 2
  const Tensor x = randn({64, 1, 2, 2}, g);
  OptimisedNoiseOptions o;
  o.level = 10;
  o.epochs = 20;
  const Tensor n = learn_optimised_noise(*edge, *next, x, o);
  CHECK(n.shape() == Shape{4});
  // The next layer barely notices it: |W n| is small against |n|.
  double wn = 0, nn2 = 0;
  {
    NoGradGuard ng;
    const auto y = sub(next->forward(reshape(n, {1, 4})), next->forward(zeros({1, 4}))).to_vector<float>();
    for (float e : y) wn += double(e) * e;
  }
  for (float e : n.to_vector<float>()) nn2 += double(e) * e;
  CHECK(wn < 0.01 * nn2);
  CHECK(std::sqrt(nn2) > 1);  // and it is not simply zero
  const std::string path = tmp.file("noise.npy");
  save_optimised_noise(path, n);
  CHECK(equal(load_optimised_noise(path, {4}), n));
  CHECK_THROWS_WITH(load_optimised_noise(path, {2, 2}), Catch::Contains("expected optimised noise of shape (2,2)") &&
                                                            Catch::Contains("found (4)"));
}

TEST_CASE("edge_jacobian: exact for a linear edge, finite differences for a smooth one; dFIL", "[defense][fisher]") {
  // Linear: J = W.
  Generator g(5);
  auto linear = std::make_shared<nn::Sequential>();
  linear->emplace<nn::Flatten>("flatten");
  auto fc = linear->emplace<nn::Linear>("fc", 6, 3, true, g);
  const Tensor x = randn({1, 1, 2, 3}, g);
  CHECK(allclose(edge_jacobian(*linear, x, 2), fc->weight, 1e-6, 1e-7));
  double w2 = 0;
  for (float e : fc->weight.to_vector<float>()) w2 += double(e) * e;
  const auto fil = dfil(*linear, concat({x, x}, 0), 0.5);
  REQUIRE(fil.size() == 2);
  CHECK(fil[0] == Approx(w2 / (0.25 * 6)).epsilon(1e-6));
  // The σ-free part, computed once: ||J||²_F, then divided by σ²·d for each σ, bitwise alike.
  const auto norms = jacobian_sq_norms(*linear, concat({x, x}, 0));
  REQUIRE(norms.size() == 2);
  CHECK(norms[0] == Approx(w2).epsilon(1e-6));
  CHECK(dfil(norms, 0.5, 6) == fil);
  CHECK(dfil(norms, 2.0, 6)[1] == Approx(w2 / (4.0 * 6)).epsilon(1e-6));
  CHECK_THROWS_WITH(dfil(norms, 0.5, 0), Catch::Contains("expected d >= 1") && Catch::Contains("got 0"));
  // Smooth and non-linear, in double: against central differences.
  auto smooth = std::make_shared<nn::Sequential>();
  smooth->emplace<nn::Conv2d>("conv", 1, 2, 2, Conv2dOptions(), true, g);
  smooth->emplace<nn::Tanh>("tanh");
  smooth->to(kFloat64);
  Tensor xd = randn({1, 1, 3, 3}, g, kFloat64);
  const Tensor J = edge_jacobian(*smooth, xd, 3);
  REQUIRE(J.shape() == Shape{8, 9});
  const double h = 1e-6;
  NoGradGuard ng;
  for (int64_t j = 0; j < 9; ++j) {
    Tensor plus = copy_data(xd), minus = copy_data(xd);
    plus.data<double>()[j] += h;
    minus.data<double>()[j] -= h;
    const auto yp = smooth->forward(plus).to_vector<double>(), ym = smooth->forward(minus).to_vector<double>();
    for (int64_t k = 0; k < 8; ++k)
      CHECK(J.data<double>()[k * 9 + j] == Approx((yp[size_t(k)] - ym[size_t(k)]) / (2 * h)).margin(1e-7));
  }
  CHECK_THROWS_WITH(dfil(*linear, x, 0), Catch::Contains("sigma must be positive"));
}

TEST_CASE("the dropout-aware white-box attacker recovers what the paper's attacker cannot", "[defense][aware]") {
  // Every pixel of x has two features, (2x + 0.5, -x). Dropout removed one of each pair
  // (channel 0 at pixels 0 and 3, channel 1 at pixels 1 and 2); the other still fixes x.
  auto net = tiny_net();
  const protocol::ModelProtocol p = tiny_protocol();
  const Tensor x = tensor({0.3, -0.6, 0.9, 0.45}, {1, 1, 2, 2});
  Tensor v;
  {
    NoGradGuard ng;
    v = copy_data(net->split("conv").first->forward(x));
  }
  float* pv = v.data<float>();
  pv[0] = pv[3] = 0;          // channel 0, pixels 0 and 3
  pv[4 + 1] = pv[4 + 2] = 0;  // channel 1, pixels 1 and 2
  attack::Deployment dep;
  dep.defense.kind = DefenseKind::Dropout;
  dep.defense.level = 0.5;
  attack::AttackSettings s;
  s.rmle.iterations = 3000;
  s.rmle.lr = 1e-2;
  const attack::SplitTarget t{&p, net, "conv"};
  const auto aware = attack::run_attack(*attack::find_attack("white-box-aware"), t, v, nullptr, s, &dep);
  const auto naive = attack::run_attack(*attack::find_attack("white-box"), t, v, nullptr, s, &dep);
  CHECK(allclose(aware.images, x, 0, 1e-3));
  CHECK(mse_loss(naive.images, x).item() > 0.01);
  CHECK(aware.architecture == "zero features skipped");
}

TEST_CASE("the aware attacker estimates a fixed offset from the observed features", "[defense][aware]") {
  auto net = tiny_net();
  const protocol::ModelProtocol p = tiny_protocol();
  Generator g(9);
  const Tensor offset = tensor({5, -3, 4, 2, -6, 1, 3, -2}, {2, 2, 2});
  Defense d;
  d.kind = DefenseKind::Optimised;
  d.level = 10;
  d.offset = offset;
  auto deployed = std::make_shared<DefendedEdge>(net->split("conv").first, d, 0);
  protocol::AttackerData own;
  own.images = randn({400, 1, 2, 2}, g);
  const Tensor victims = randn({400, 1, 2, 2}, g);  // the stream the cloud sees
  const Tensor x = tensor({0.3, -0.6, 0.9, 0.45}, {1, 1, 2, 2});
  attack::Deployment dep;
  dep.edge = deployed;
  dep.defense = d;
  {
    NoGradGuard ng;
    dep.observed = deployed->forward(victims);
  }
  Tensor v;
  {
    NoGradGuard ng;
    v = deployed->forward(x);
  }
  attack::AttackSettings s;
  s.rmle.iterations = 2000;
  const attack::SplitTarget t{&p, net, "conv"};
  const auto aware = attack::run_attack(*attack::find_attack("white-box-aware"), t, v, &own, s, &dep);
  const auto naive = attack::run_attack(*attack::find_attack("white-box"), t, v, &own, s, &dep);
  CHECK(mse_loss(aware.images, x).item() < 0.02);  // the estimate's error: about 1/sqrt(400) per feature
  CHECK(mse_loss(naive.images, x).item() > 1);
  // The secret tensor never reaches the attacker: without observed features it cannot run.
  dep.observed = Tensor();
  CHECK_THROWS_WITH(attack::run_attack(*attack::find_attack("white-box-aware"), t, v, &own, s, &dep),
                    Catch::Contains("needs features observed from the deployment"));
}

TEST_CASE("the label-only baseline is the attacker's mean image of the predicted class", "[defense][baseline]") {
  auto net = tiny_net();
  const protocol::ModelProtocol p = tiny_protocol();
  protocol::AttackerData own;
  own.images = tensor({1, 1, 1, 1, 3, 3, 3, 3, -2, -2, -2, -2}, {3, 1, 2, 2});
  own.labels = {0, 0, 1};
  const Tensor x = zeros({2, 1, 2, 2});
  Tensor v;
  std::vector<int64_t> predicted;
  {
    NoGradGuard ng;
    v = net->split("conv").first->forward(x);
    predicted = argmax(net->forward(x), 1);
  }
  const auto r = attack::run_attack(*attack::find_attack("label-only"), {&p, net, "conv"}, v, &own,
                                    attack::AttackSettings());
  const float expected = predicted[0] == 0 ? 2.0f : -2.0f;
  CHECK(equal(slice(r.images, 0, 0, 1), full({1, 1, 2, 2}, expected)));
  own.labels.clear();
  CHECK_THROWS_WITH(attack::run_attack(*attack::find_attack("label-only"), {&p, net, "conv"}, v, &own,
                                       attack::AttackSettings()),
                    Catch::Contains("needs labelled images"));
}
