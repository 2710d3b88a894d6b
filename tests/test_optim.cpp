// Optimisers and the learning-rate schedule: worked examples, PyTorch trajectories, resume.
#include <catch2/catch.hpp>

#include <inv/optim/adam.hpp>
#include <inv/optim/lr_scheduler.hpp>
#include <inv/optim/sgd.hpp>

#include "fixture.hpp"

using namespace inv;
using namespace inv::optim;
using inv::testing::get;

namespace {
Tensor leaf(std::vector<double> v, Shape s) { return from_vector(v, s, kFloat64).requires_grad_(); }

std::unique_ptr<Optimizer> make(const std::string& name, std::vector<Tensor> ps) {
  if (name == "sgd") return std::make_unique<SGD>(ps, SGDOptions{0.1});
  if (name == "sgd_momentum") return std::make_unique<SGD>(ps, SGDOptions{0.1, 0.9, 0.1, 0.01});
  if (name == "sgd_nesterov") return std::make_unique<SGD>(ps, SGDOptions{0.1, 0.9, 0, 0.01, true});
  if (name == "adam") return std::make_unique<Adam>(ps, AdamOptions{0.01});
  if (name == "adam_amsgrad_eps") return std::make_unique<Adam>(ps, AdamOptions{1e-3, 0.9, 0.999, 1e-3, 0, true});
  if (name == "adam_wd") return std::make_unique<Adam>(ps, AdamOptions{0.01, 0.8, 0.99, 1e-8, 0.1});
  if (name == "adamw") return std::make_unique<AdamW>(ps, AdamOptions{0.01, 0.9, 0.999, 1e-8, 0.1, true});
  FAIL("unknown optimiser " << name);
  return nullptr;
}
}  // namespace

TEST_CASE("SGD worked examples: plain, momentum, weight decay", "[optim]") {
  Tensor p = leaf({1, 2}, {2});
  SGD sgd({p}, SGDOptions{0.5, 0.9, 0, 0.1});
  p.set_grad(from_vector(std::vector<double>{1, -1}, {2}, kFloat64));
  sgd.step();  // d = g + 0.1·p = (1.1, -0.8); buf = d; p -= 0.5·d
  CHECK(p.to_vector<double>() == std::vector<double>{1 - 0.55, 2 + 0.4});
  sgd.step();  // d = (1 + 0.045, -1 + 0.24); buf = 0.9·buf + d
  const double d0 = 1 + 0.1 * 0.45, b0 = 0.9 * 1.1 + d0;
  CHECK(p.to_vector<double>()[0] == Approx(0.45 - 0.5 * b0).epsilon(1e-15));
  CHECK(sgd.steps() == 2);
  CHECK_THROWS_WITH(SGD({p}, SGDOptions{0.1, 0, 0, 0, true}), Catch::Contains("Nesterov"));
  CHECK_THROWS_WITH(SGD({ones({1})}, SGDOptions{}), Catch::Contains("requires grad"));
}

TEST_CASE("Adam's first step is lr·g/(|g| + eps); the step counter advances once per step", "[optim]") {
  Tensor a = leaf({0}, {1}), b = leaf({0, 0}, {2});
  Adam adam({a, b}, AdamOptions{0.1, 0.9, 0.999, 1e-3, 0, true});
  const Tensor g = from_vector(std::vector<double>{2}, {1}, kFloat64);
  a.set_grad(g);
  b.set_grad(from_vector(std::vector<double>{2, 2}, {2}, kFloat64));
  adam.step();
  CHECK(adam.steps() == 1);
  CHECK(a.item() == Approx(-0.1 * 2 / 2.001).epsilon(1e-14));
  // A per-tensor counter would give the second tensor t = 2 and a different step.
  CHECK(b.to_vector<double>()[0] == a.item());
  CHECK(b.to_vector<double>()[1] == a.item());
  // PyTorch 1.0's eps placement: lr·sqrt(1-β2)/(1-β1) · (1-β1)g / (sqrt((1-β2)g²) + eps).
  Tensor c = leaf({0}, {1});
  Adam legacy({c}, AdamOptions{0.1, 0.9, 0.999, 1e-3, 0, false, EpsPlacement::PyTorch10});
  c.set_grad(g);
  legacy.step();
  CHECK(c.item() == Approx(-0.1 * std::sqrt(0.001) * 2 / (std::sqrt(0.001 * 4) + 1e-3)).epsilon(1e-14));
  CHECK_THROWS_WITH(Adam({a}, AdamOptions{0.1, 1.0}), Catch::Contains("betas"));
}

TEST_CASE("float32 Adam forms 1 - beta in double, as PyTorch does", "[optim][torch]") {
  // torch.optim.Adam([p], lr=0.1), p = 1, two steps with gradient 0.5, float32: p = 0.800000011920929
  // (= float(0.8)). Forming 1 - β1 and 1 - β2 from the float-rounded betas gave 0.7999986.
  Tensor p = from_vector(std::vector<float>{1.0f}, {1}).requires_grad_();
  Adam adam({p}, AdamOptions{0.1});
  for (int step = 0; step < 2; ++step) {
    p.set_grad(from_vector(std::vector<float>{0.5f}, {1}));
    adam.step();
  }
  CHECK(p.to_vector<float>()[0] == 0.8f);
}

TEST_CASE("parameters without a gradient are skipped", "[optim]") {
  Tensor a = leaf({1}, {1}), b = leaf({1}, {1});
  Adam adam({a, b}, AdamOptions{0.1});
  a.set_grad(from_vector(std::vector<double>{1}, {1}, kFloat64));
  adam.step();
  CHECK(a.item() != 1.0);
  CHECK(b.item() == 1.0);
}

TEST_CASE("optimiser trajectories match torch.optim (6 steps, StepLR halving every 2)", "[optim][torch]") {
  const auto f = inv::testing::load_fixture("torch_optim.txt");
  for (const std::string name : {"sgd", "sgd_momentum", "sgd_nesterov", "adam", "adam_amsgrad_eps", "adam_wd", "adamw"}) {
    std::vector<Tensor> ps{copy_data(get(f, "init/p0")).requires_grad_(), copy_data(get(f, "init/p1")).requires_grad_()};
    auto opt = make(name, ps);
    StepLR sched(*opt, 2, 0.5);
    for (int s = 0; s < 6; ++s) {
      for (int i = 0; i < 2; ++i) ps[size_t(i)].set_grad(copy_data(get(f, "grad/" + std::to_string(s) + "/p" + std::to_string(i))));
      opt->step();
      sched.step();
      for (int i = 0; i < 2; ++i) {
        INFO(name << " step " << s << " p" << i);
        CHECK(max_abs_diff(ps[size_t(i)], get(f, name + "/" + std::to_string(s) + "/p" + std::to_string(i))) < 1e-14);
      }
    }
  }
}

TEST_CASE("a resumed optimiser continues exactly as an uninterrupted one", "[optim][resume]") {
  for (const std::string name : {"sgd_momentum", "adam_amsgrad_eps", "adamw"}) {
    Generator gen(3);
    const Tensor init = randn({5}, gen, kFloat64);
    std::vector<Tensor> grads;
    for (int s = 0; s < 10; ++s) grads.push_back(randn({5}, gen, kFloat64));
    auto run = [&](int from, int to, Optimizer& opt, Tensor& p) {
      for (int s = from; s < to; ++s) {
        p.set_grad(copy_data(grads[size_t(s)]));
        opt.step();
      }
    };
    Tensor p1 = copy_data(init).requires_grad_();
    auto o1 = make(name, {p1});
    run(0, 10, *o1, p1);

    Tensor p2 = copy_data(init).requires_grad_();
    auto o2 = make(name, {p2});
    run(0, 4, *o2, p2);
    const auto saved = o2->state_dict();
    Tensor p3 = copy_data(p2).requires_grad_();
    auto o3 = make(name, {p3});
    o3->load_state_dict(saved);
    CHECK(o3->steps() == 4);
    run(4, 10, *o3, p3);
    INFO(name);
    CHECK(equal(p1.detach(), p3.detach()));
  }
  Tensor p = leaf({1, 2}, {2});
  Adam adam({p}, AdamOptions{});
  auto bad = adam.state_dict();
  bad.emplace_back("0.exp_avg", zeros({3}, kFloat64));
  CHECK_THROWS_WITH(adam.load_state_dict(bad), Catch::Contains("0.exp_avg: expected (2), found (3)"));
  CHECK_THROWS_WITH(adam.load_state_dict({}), Catch::Contains("missing entry 'lr'"));
}

TEST_CASE("optimiser steps are bitwise identical with 1 and 2 threads", "[optim][threads]") {
  // 4095 elements: large enough to split over two threads, and not a multiple of the
  // vector width, so that a split anywhere would move elements between vector and scalar code.
  const int64_t n = 4095;
  for (const std::string name : {"sgd_momentum", "sgd_nesterov", "adam_wd", "adam_amsgrad_eps", "adamw"})
    for (Dtype dtype : {kFloat32, kFloat64}) {
      Generator gen(31);
      const Tensor init = randn({n}, gen, dtype);
      std::vector<Tensor> grads;
      for (int s = 0; s < 3; ++s) grads.push_back(randn({n}, gen, dtype));
      auto run = [&](int threads) {
        Tensor p = copy_data(init).requires_grad_();
        auto opt = make(name, {p});
        const int saved = num_threads();
        set_num_threads(threads);
        for (const Tensor& g : grads) {
          p.set_grad(copy_data(g));
          opt->step();
        }
        set_num_threads(saved);
        return p.detach();
      };
      INFO(name << " " << dtype_name(dtype));
      CHECK(equal(run(1), run(2)));
    }
}

TEST_CASE("StepLR halves the rate every step_size epochs and can be restored", "[optim]") {
  Tensor p = leaf({1}, {1});
  SGD sgd({p}, SGDOptions{1e-3});
  StepLR sched(sgd, 20, 0.5);
  for (int e = 0; e < 19; ++e) sched.step();
  CHECK(sgd.lr() == 1e-3);
  sched.step();
  CHECK(sgd.lr() == 5e-4);
  sched.set_epoch(45);
  CHECK(sgd.lr() == 2.5e-4);
  CHECK_THROWS_AS(StepLR(sgd, 0), Error);
}

TEST_CASE("AdamOptions::paper is the reference code's Adam; named setters change one option each", "[optim]") {
  const AdamOptions p = AdamOptions::paper(0.01);
  CHECK(p.lr == 0.01);
  CHECK(p.beta1 == 0.9);
  CHECK(p.beta2 == 0.999);
  CHECK(p.eps == 1e-3);
  CHECK(p.weight_decay == 0);
  CHECK(p.amsgrad);
  CHECK(p.eps_placement == EpsPlacement::PyTorch);
  const AdamOptions q = AdamOptions::paper(0.01).with_eps(1e-8).with_amsgrad(false).with_betas(0.5, 0.9);
  CHECK((q.eps == 1e-8 && !q.amsgrad && q.beta1 == 0.5 && q.beta2 == 0.9 && q.lr == 0.01));
}
