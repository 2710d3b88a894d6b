// The autograd engine: accumulation, graph freeing, modes, errors, constant memory.
#include <catch2/catch.hpp>

#include <inv/inv.hpp>

using namespace inv;

TEST_CASE("a reused intermediate accumulates its gradient (c = c + c + 1)", "[autograd]") {
  Tensor a = tensor({2.0}, {}, kFloat64).requires_grad_();  // 0-dim
  Tensor c = a * a;                                         // c = a² = 4
  c = c + c + 1.0;                                          // c = 2a² + 1 = 9
  c.backward();
  CHECK(c.item() == 9.0);
  CHECK(a.grad().item() == 8.0);  // 4a; an overwriting engine would give 4
}

TEST_CASE("micrograd's worked example", "[autograd]") {
  // a = -4, b = 2: c = a + b; d = a·b + b³; c += c + 1; c += 1 + c + (-a); d += d·2 + relu(b + a);
  // d += 3·d + relu(b - a); e = c - d; f = e²; g = f / 2 + 10 / f. g = 24.7041, dg/da = 138.8338, dg/db = 645.5773.
  Tensor a = tensor({-4.0}, {}, kFloat64).requires_grad_();
  Tensor b = tensor({2.0}, {}, kFloat64).requires_grad_();
  Tensor c = a + b;
  Tensor d = a * b + pow(b, 3);
  c = c + c + 1.0;
  c = c + (1.0 + c + (-a));
  d = d + (d * 2.0 + relu(b + a));
  d = d + (3.0 * d + relu(b - a));
  Tensor e = c - d;
  Tensor f = pow(e, 2);
  Tensor g = f / 2.0 + 10.0 / f;
  g.backward();
  CHECK(g.item() == Approx(24.70408163265306).epsilon(1e-12));
  CHECK(a.grad().item() == Approx(138.83381924198252).epsilon(1e-12));
  CHECK(b.grad().item() == Approx(645.5772594752186).epsilon(1e-12));
}

TEST_CASE("leaf gradients accumulate across passes until zero_grad", "[autograd]") {
  Tensor w = tensor({1, 2, 3}, {3}, kFloat64).requires_grad_();
  sum(w * w).backward();
  CHECK(w.grad().to_vector<double>() == std::vector<double>{2, 4, 6});
  sum(w * w).backward();
  CHECK(w.grad().to_vector<double>() == std::vector<double>{4, 8, 12});
  w.zero_grad();
  CHECK_FALSE(w.grad().defined());
  sum(w).backward();
  CHECK(w.grad().to_vector<double>() == std::vector<double>{1, 1, 1});
}

TEST_CASE("gradients of different leaves never share memory", "[autograd]") {
  Tensor a = zeros({3}).requires_grad_(), b = zeros({3}).requires_grad_();
  sum(a + b).backward();  // add passes one upstream tensor to both inputs
  CHECK_FALSE(a.grad().shares_storage(b.grad()));
  a.grad().fill_(5);
  CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 1, 1});
  Tensor x = ones({2}).requires_grad_();
  Tensor up = tensor({3, 4});
  x.backward(up);  // a leaf's own backward copies the upstream gradient
  CHECK_FALSE(x.grad().shares_storage(up));
}

TEST_CASE("detach and NoGradGuard cut the graph; the guard restores on exceptions", "[autograd]") {
  Tensor x = ones({2}).requires_grad_();
  CHECK_FALSE((x.detach() * 2.0).requires_grad());
  {
    NoGradGuard guard;
    CHECK_FALSE((x * 2.0).requires_grad());
  }
  CHECK((x * 2.0).requires_grad());
  try {
    NoGradGuard guard;
    throw Error("boom");
  } catch (const Error&) {
  }
  CHECK(GradMode::is_enabled());
  CHECK_THROWS_WITH((x * 2.0).requires_grad_(), Catch::Contains("leaf"));
}

TEST_CASE("backward errors are clear", "[autograd]") {
  Tensor x = ones({2}).requires_grad_();
  Tensor y = x * 3.0;
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("one-element") && Catch::Contains("(2)"));
  CHECK_THROWS_WITH(y.backward(ones({3})), Catch::Contains("expected (2)"));
  CHECK_THROWS_WITH(ones({1}).backward(), Catch::Contains("does not require grad"));
  Tensor l = sum(y);
  l.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 3});
  CHECK_THROWS_WITH(l.backward(), Catch::Contains("already freed"));
}

TEST_CASE("an explicit upstream gradient on a non-scalar output", "[autograd]") {
  Tensor x = tensor({1, 2, 3}).requires_grad_();
  Tensor y = x * x;
  y.backward(tensor({1, 10, 100}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 40, 600});
}

TEST_CASE("the graph is freed after backward and by dropping the output", "[autograd][memory]") {
  const int64_t nodes0 = detail::live_nodes(), impls0 = detail::live_impls();
  {
    Tensor x = randn({4, 3}).requires_grad_();
    Tensor w = randn({3, 2}).requires_grad_();
    Tensor loss = mean(relu(matmul(x, w)) * 2.0);
    CHECK(detail::live_nodes() > nodes0);
    loss.backward();
    // Only the loss's own (emptied) node remains while `loss` lives.
    CHECK(detail::live_nodes() == nodes0 + 1);
    {
      Tensor unused = sum(exp(x));  // a graph nobody runs backward on
      CHECK(detail::live_nodes() > nodes0 + 1);
    }
    CHECK(detail::live_nodes() == nodes0 + 1);
  }
  CHECK(detail::live_nodes() == nodes0);
  CHECK(detail::live_impls() == impls0);
}

TEST_CASE("10,000 steps of an optimisation loop run in constant memory", "[autograd][memory]") {
  // Fit w in y = x·w by gradient descent, logging the loss value every step.
  Generator gen(3);
  const Tensor x = randn({16, 4}, gen), w_true = randn({4, 1}, gen);
  const Tensor y = matmul(x, w_true).detach();
  Tensor w = zeros({4, 1}).requires_grad_();
  double logged = 0;
  int64_t nodes_at_100 = 0, impls_at_100 = 0;
  for (int step = 0; step < 10000; ++step) {
    if (step == 100) {
      nodes_at_100 = detail::live_nodes();
      impls_at_100 = detail::live_impls();
    }
    Tensor loss = mse_loss(matmul(x, w), y);
    logged = loss.item();  // taking the value must not keep the graph alive
    loss.backward();
    {
      NoGradGuard ng;
      w.copy_(w - 0.05 * w.grad());
    }
    w.zero_grad();
  }
  CHECK(detail::live_nodes() == nodes_at_100);
  CHECK(detail::live_impls() == impls_at_100);
  CHECK(logged < 1e-8);
  CHECK(allclose(w.detach(), w_true, 1e-3, 1e-3));
}

TEST_CASE("a long chain of ops runs backward without recursion limits", "[autograd]") {
  Tensor x = tensor({1.0}, {}, kFloat64).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = y * 1.0001;
  y.backward();
  CHECK(x.grad().item() == Approx(std::pow(1.0001, 20000)).epsilon(1e-9));
}

TEST_CASE("dropping a 100,000-op graph that never ran backward does not overflow the stack", "[autograd]") {
  const int64_t nodes0 = detail::live_nodes();
  {
    Tensor x = ones({1}).requires_grad_();
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y * 1.0;
  }
  CHECK(detail::live_nodes() == nodes0);
}
