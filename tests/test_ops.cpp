// Every op of the foundation: a hand-computed worked example (exact numbers) and
// the generic gradient check in double precision.
#include <catch2/catch.hpp>

#include "gradcheck.hpp"

using namespace inv;
using inv::testing::gradcheck;
using V = std::vector<double>;

namespace {

Tensor dt(std::initializer_list<double> v, Shape s = {}) { return tensor(v, std::move(s), kFloat64); }

/// Runs f on leaves made from `inputs`, backward with an all-ones upstream gradient,
/// and returns the output and each input's gradient.
struct Worked {
  Tensor out;
  std::vector<Tensor> grads;
};
Worked run(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs) {
  for (Tensor& x : inputs) x = copy_data(x).requires_grad_();
  Worked w{f(inputs), {}};
  w.out.backward(ones_like(w.out));
  for (Tensor& x : inputs) w.grads.push_back(x.grad());
  return w;
}

Tensor rnd(Shape s, uint64_t seed) {
  Generator g(seed);
  return randn(s, g, kFloat64);
}

}  // namespace

// ---------------------------------------------------------------------------
// Elementwise binary ops with broadcasting
// ---------------------------------------------------------------------------

TEST_CASE("add broadcasts and sums the gradient back", "[ops][elementwise]") {
  auto w = run([](auto& x) { return x[0] + x[1]; }, {dt({1, 2, 3, 4, 5, 6}, {2, 3}), dt({10, 20, 30})});
  CHECK(w.out.to_vector<double>() == V{11, 22, 33, 14, 25, 36});
  CHECK(w.grads[0].to_vector<double>() == V{1, 1, 1, 1, 1, 1});
  CHECK(w.grads[1].to_vector<double>() == V{2, 2, 2});
  gradcheck("add", [](auto& x) { return x[0] + x[1]; }, {rnd({2, 3, 4}, 1), rnd({3, 1}, 2)});
  gradcheck("add scalar", [](auto& x) { return x[0] + 2.5; }, {rnd({5}, 3)});
}

TEST_CASE("sub", "[ops][elementwise]") {
  auto w = run([](auto& x) { return x[0] - x[1]; }, {dt({5, 7}), dt({1}, {1})});
  CHECK(w.out.to_vector<double>() == V{4, 6});
  CHECK(w.grads[0].to_vector<double>() == V{1, 1});
  CHECK(w.grads[1].to_vector<double>() == V{-2});
  gradcheck("sub", [](auto& x) { return x[0] - x[1]; }, {rnd({4, 1}, 4), rnd({3}, 5)});
  CHECK((3.0 - dt({1, 2})).to_vector<double>() == V{2, 1});
}

TEST_CASE("mul", "[ops][elementwise]") {
  auto w = run([](auto& x) { return x[0] * x[1]; }, {dt({1, 2}), dt({3, 4})});
  CHECK(w.out.to_vector<double>() == V{3, 8});
  CHECK(w.grads[0].to_vector<double>() == V{3, 4});
  CHECK(w.grads[1].to_vector<double>() == V{1, 2});
  gradcheck("mul", [](auto& x) { return x[0] * x[1]; }, {rnd({2, 1, 3}, 6), rnd({4, 1}, 7)});
  gradcheck("mul scalar", [](auto& x) { return 3.0 * x[0]; }, {rnd({4}, 8)});
  gradcheck("mul self", [](auto& x) { return x[0] * x[0]; }, {rnd({4}, 9)});
}

TEST_CASE("div", "[ops][elementwise]") {
  auto w = run([](auto& x) { return x[0] / x[1]; }, {dt({1, 2}), dt({4, 8})});
  CHECK(w.out.to_vector<double>() == V{0.25, 0.25});
  CHECK(w.grads[0].to_vector<double>() == V{0.25, 0.125});
  CHECK(w.grads[1].to_vector<double>() == V{-1.0 / 16, -1.0 / 32});
  gradcheck("div", [](auto& x) { return x[0] / (x[1] * x[1] + 1.0); }, {rnd({3, 2}, 10), rnd({2}, 11)});
  gradcheck("scalar / x", [](auto& x) { return 2.0 / (x[0] * x[0] + 1.0); }, {rnd({3}, 12)});
}

TEST_CASE("binary ops reject mismatched shapes and dtypes, naming both", "[ops][elementwise]") {
  CHECK_THROWS_WITH(zeros({2, 3}) + zeros({3, 2}), Catch::Contains("(2,3)") && Catch::Contains("(3,2)"));
  CHECK_THROWS_WITH(zeros({2}) * zeros({2}, kFloat64), Catch::Contains("float32") && Catch::Contains("float64"));
}

// ---------------------------------------------------------------------------
// Elementwise unary ops
// ---------------------------------------------------------------------------

TEST_CASE("neg, exp, log, sqrt, pow, square", "[ops][elementwise]") {
  auto w = run([](auto& x) { return neg(x[0]); }, {dt({1, -2})});
  CHECK(w.out.to_vector<double>() == V{-1, 2});
  CHECK(w.grads[0].to_vector<double>() == V{-1, -1});

  w = run([](auto& x) { return exp(x[0]); }, {dt({0, std::log(2.0)})});
  CHECK(w.out.to_vector<double>()[0] == 1.0);
  CHECK(w.out.to_vector<double>()[1] == Approx(2.0).epsilon(1e-15));
  CHECK(w.grads[0].to_vector<double>()[1] == Approx(2.0).epsilon(1e-15));

  w = run([](auto& x) { return log(x[0]); }, {dt({1, 4})});
  CHECK(w.out.to_vector<double>() == V{0, std::log(4.0)});
  CHECK(w.grads[0].to_vector<double>() == V{1, 0.25});

  w = run([](auto& x) { return sqrt(x[0]); }, {dt({4, 9})});
  CHECK(w.out.to_vector<double>() == V{2, 3});
  CHECK(w.grads[0].to_vector<double>() == V{0.25, 0.5 / 3});

  w = run([](auto& x) { return pow(x[0], 3); }, {dt({2, 3})});
  CHECK(w.out.to_vector<double>() == V{8, 27});
  CHECK(w.grads[0].to_vector<double>() == V{12, 27});

  w = run([](auto& x) { return square(x[0]); }, {dt({-3, 0.5})});
  CHECK(w.out.to_vector<double>() == V{9, 0.25});
  CHECK(w.grads[0].to_vector<double>() == V{-6, 1});

  const Tensor pos = add(abs(rnd({6}, 13)), 0.5);
  gradcheck("neg", [](auto& x) { return neg(x[0]); }, {rnd({6}, 14)});
  gradcheck("exp", [](auto& x) { return exp(x[0]); }, {rnd({6}, 15)});
  gradcheck("log", [](auto& x) { return log(x[0]); }, {pos});
  gradcheck("sqrt", [](auto& x) { return sqrt(x[0]); }, {pos});
  gradcheck("pow 2.5", [](auto& x) { return pow(x[0], 2.5); }, {pos});
  gradcheck("pow -1", [](auto& x) { return pow(x[0], -1); }, {pos});
  gradcheck("square", [](auto& x) { return square(x[0]); }, {rnd({6}, 16)});
}

TEST_CASE("abs, clamp, relu and leaky_relu use PyTorch's conventions at kinks", "[ops][elementwise]") {
  auto w = run([](auto& x) { return abs(x[0]); }, {dt({-2, 0, 3})});
  CHECK(w.out.to_vector<double>() == V{2, 0, 3});
  CHECK(w.grads[0].to_vector<double>() == V{-1, 0, 1});

  w = run([](auto& x) { return clamp(x[0], 0, 1); }, {dt({-2, 0, 0.5, 1, 3})});
  CHECK(w.out.to_vector<double>() == V{0, 0, 0.5, 1, 1});
  CHECK(w.grads[0].to_vector<double>() == V{0, 1, 1, 1, 0});
  CHECK_THROWS_WITH(clamp(zeros({1}), 1, 0), Catch::Contains("lo <= hi"));
  // Double bounds on a float32 tensor compare at float precision, forward and backward:
  // x = 0.7f with lo = 0.7 is left as it is and passes its gradient (PyTorch: 1).
  {
    Tensor x = from_vector(std::vector<float>{0.7f, 1.0f}, {2}).requires_grad_();
    Tensor y = clamp(x, 0.7, 1.0);
    CHECK(y.to_vector<float>() == std::vector<float>{0.7f, 1.0f});
    sum(y).backward();
    CHECK(x.grad().to_vector<float>() == std::vector<float>{1.0f, 1.0f});
  }

  w = run([](auto& x) { return relu(x[0]); }, {dt({-1, 0, 2})});
  CHECK(w.out.to_vector<double>() == V{0, 0, 2});
  CHECK(w.grads[0].to_vector<double>() == V{0, 0, 1});

  w = run([](auto& x) { return leaky_relu(x[0], 0.1); }, {dt({-2, 0, 3})});
  CHECK(w.out.to_vector<double>() == V{-0.2, 0, 3});
  CHECK(w.grads[0].to_vector<double>() == V{0.1, 0.1, 1});

  gradcheck("abs", [](auto& x) { return abs(x[0]); }, {rnd({8}, 17)});
  gradcheck("clamp", [](auto& x) { return clamp(x[0], -0.5, 0.7); }, {rnd({8}, 18)});
  gradcheck("relu", [](auto& x) { return relu(x[0]); }, {rnd({8}, 19)});
  gradcheck("leaky_relu", [](auto& x) { return leaky_relu(x[0], 0.2); }, {rnd({8}, 20)});
}

TEST_CASE("sigmoid and tanh, stable at large inputs", "[ops][elementwise]") {
  auto w = run([](auto& x) { return sigmoid(x[0]); }, {dt({0, 1000, -1000})});
  CHECK(w.out.to_vector<double>() == V{0.5, 1, 0});
  CHECK(w.grads[0].to_vector<double>() == V{0.25, 0, 0});
  w = run([](auto& x) { return tanh(x[0]); }, {dt({0})});
  CHECK(w.out.to_vector<double>() == V{0});
  CHECK(w.grads[0].to_vector<double>() == V{1});
  CHECK(sigmoid(tensor({-1000, 1000})).to_vector<double>() == V{0, 1});
  gradcheck("sigmoid", [](auto& x) { return sigmoid(x[0]); }, {rnd({8}, 21)});
  gradcheck("tanh", [](auto& x) { return tanh(x[0]); }, {rnd({8}, 22)});
}

// ---------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------

TEST_CASE("sum and mean over all, or dims with keepdim", "[ops][reduce]") {
  const Tensor a = dt({1, 2, 3, 4, 5, 6}, {2, 3});
  auto w = run([](auto& x) { return sum(x[0], {0}); }, {a});
  CHECK(w.out.shape() == Shape{3});
  CHECK(w.out.to_vector<double>() == V{5, 7, 9});
  CHECK(w.grads[0].to_vector<double>() == V{1, 1, 1, 1, 1, 1});
  w = run([](auto& x) { return sum(x[0], {1}, true); }, {a});
  CHECK(w.out.shape() == Shape{2, 1});
  CHECK(w.out.to_vector<double>() == V{6, 15});
  w = run([](auto& x) { return mean(x[0]); }, {a});
  CHECK(w.out.dim() == 0);
  CHECK(w.out.item() == 3.5);
  CHECK(w.grads[0].to_vector<double>() == V(6, 1.0 / 6));
  w = run([](auto& x) { return mean(x[0], {-1}); }, {a});
  CHECK(w.out.to_vector<double>() == V{2, 5});
  CHECK(w.grads[0].to_vector<double>() == V(6, 1.0 / 3));
  CHECK(sum(a).item() == 21);
  CHECK_THROWS_AS(sum(a, {2}), Error);
  CHECK_THROWS_AS(sum(a, {0, 0}), Error);

  gradcheck("sum all", [](auto& x) { return sum(x[0]); }, {rnd({2, 3, 4}, 23)});
  gradcheck("sum dims", [](auto& x) { return sum(x[0], {0, 2}); }, {rnd({2, 3, 4}, 24)});
  gradcheck("sum keepdim", [](auto& x) { return sum(x[0], {1}, true); }, {rnd({2, 3, 4}, 25)});
  gradcheck("mean all", [](auto& x) { return mean(x[0]); }, {rnd({2, 3, 4}, 26)});
  gradcheck("mean dims", [](auto& x) { return mean(x[0], {-1, 0}, true); }, {rnd({2, 3, 4}, 27)});
}

TEST_CASE("max along a dim sends the gradient to the first maximum", "[ops][reduce]") {
  const Tensor a = dt({1, 5, 5, 7, 2, 3}, {2, 3});
  auto w = run([](auto& x) { return max(x[0], 1); }, {a});
  CHECK(w.out.to_vector<double>() == V{5, 7});
  CHECK(w.grads[0].to_vector<double>() == V{0, 1, 0, 1, 0, 0});
  CHECK(max(a, 0, true).shape() == Shape{1, 3});
  CHECK(argmax(a, 1) == std::vector<int64_t>{1, 0});
  CHECK(argmax(a, 0) == std::vector<int64_t>{1, 0, 0});
  gradcheck("max", [](auto& x) { return max(x[0], 1); }, {rnd({3, 4, 2}, 28)});
  gradcheck("max dim 0 keepdim", [](auto& x) { return max(x[0], 0, true); }, {rnd({3, 4}, 29)});
}

TEST_CASE("broadcast_to and sum_to are adjoint", "[ops][reduce]") {
  auto w = run([](auto& x) { return broadcast_to(x[0], {2, 3}); }, {dt({1, 2, 3})});
  CHECK(w.out.to_vector<double>() == V{1, 2, 3, 1, 2, 3});
  CHECK(w.grads[0].to_vector<double>() == V{2, 2, 2});
  w = run([](auto& x) { return sum_to(x[0], {2, 1}); }, {dt({1, 2, 3, 4, 5, 6}, {2, 3})});
  CHECK(w.out.to_vector<double>() == V{6, 15});
  CHECK(w.grads[0].to_vector<double>() == V(6, 1.0));
  CHECK_THROWS_AS(broadcast_to(zeros({2}), {3}), Error);
  gradcheck("broadcast_to", [](auto& x) { return broadcast_to(x[0], {4, 2, 3}); }, {rnd({2, 1}, 30)});
  gradcheck("sum_to", [](auto& x) { return sum_to(x[0], {3, 1}); }, {rnd({2, 3, 4}, 31)});
}

// ---------------------------------------------------------------------------
// Linear algebra
// ---------------------------------------------------------------------------

TEST_CASE("matmul: 2-D worked example", "[ops][linalg]") {
  auto w = run([](auto& x) { return matmul(x[0], x[1]); }, {dt({1, 2, 3, 4}, {2, 2}), dt({5, 6, 7, 8}, {2, 2})});
  CHECK(w.out.to_vector<double>() == V{19, 22, 43, 50});
  CHECK(w.grads[0].to_vector<double>() == V{11, 15, 11, 15});  // ones · Bᵀ
  CHECK(w.grads[1].to_vector<double>() == V{4, 4, 6, 6});      // Aᵀ · ones
  CHECK_THROWS_WITH(matmul(zeros({2, 3}), zeros({2, 3})), Catch::Contains("(2,3)"));
  CHECK_THROWS_WITH(matmul(zeros({3}), zeros({3, 2})), Catch::Contains("at least 2 dims"));
}

TEST_CASE("matmul: batched and broadcast batches", "[ops][linalg]") {
  const Tensor a = rnd({2, 3, 4}, 32), b = rnd({4, 5}, 33);
  const Tensor y = matmul(a, b);
  CHECK(y.shape() == Shape{2, 3, 5});
  for (int64_t i = 0; i < 2; ++i)
    CHECK(allclose(reshape(slice(y, 0, i, i + 1), {3, 5}), matmul(reshape(slice(a, 0, i, i + 1), {3, 4}), b), 1e-12,
                   1e-12));
  gradcheck("matmul 2-D", [](auto& x) { return matmul(x[0], x[1]); }, {rnd({3, 4}, 34), rnd({4, 2}, 35)});
  gradcheck("matmul batched", [](auto& x) { return matmul(x[0], x[1]); }, {rnd({2, 3, 4}, 36), rnd({2, 4, 2}, 37)});
  gradcheck("matmul broadcast", [](auto& x) { return matmul(x[0], x[1]); }, {rnd({2, 1, 3, 4}, 38), rnd({3, 4, 2}, 39)});
}

TEST_CASE("the GEMM agrees with the naive reference for every transpose and size", "[ops][linalg][kernel]") {
  Generator g(40);
  for (auto [M, N, K] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {3, 5, 7}, {64, 1, 33}, {130, 70, 90},
                                                              {7, 300, 129}, {0, 4, 4}, {4, 4, 0}})
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        const Tensor A = randn(ta ? Shape{K, M} : Shape{M, K}, g, kFloat64);
        const Tensor B = randn(tb ? Shape{N, K} : Shape{K, N}, g, kFloat64);
        Tensor c1 = randn({M, N}, g, kFloat64), c2 = copy_data(c1);
        const int64_t lda = ta ? M : K, ldb = tb ? K : N;
        kernels::gemm<double>(ta, tb, M, N, K, 0.5, A.data<double>(), lda, B.data<double>(), ldb, 2.0,
                              c1.data<double>(), N);
        kernels::gemm_naive<double>(ta, tb, M, N, K, 0.5, A.data<double>(), lda, B.data<double>(), ldb, 2.0,
                                    c2.data<double>(), N);
        INFO("M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb);
        if (M * N > 0) CHECK(max_abs_diff(c1, c2) < 1e-11);
      }
}

// ---------------------------------------------------------------------------
// Shape ops
// ---------------------------------------------------------------------------

TEST_CASE("reshape and flatten pass gradients through", "[ops][shape]") {
  auto w = run([](auto& x) { return reshape(x[0], {3, 2}) * dt({1, 2, 3, 4, 5, 6}, {3, 2}); },
               {dt({1, 1, 1, 1, 1, 1}, {2, 3})});
  CHECK(w.grads[0].shape() == Shape{2, 3});
  CHECK(w.grads[0].to_vector<double>() == V{1, 2, 3, 4, 5, 6});
  gradcheck("reshape", [](auto& x) { return reshape(x[0], {4, -1}); }, {rnd({2, 3, 2}, 41)});
  gradcheck("flatten", [](auto& x) { return flatten(x[0], 1); }, {rnd({2, 3, 2}, 42)});
  gradcheck("unsqueeze/squeeze", [](auto& x) { return squeeze(unsqueeze(x[0], 1) * 2.0, 1); }, {rnd({3, 2}, 43)});
}

TEST_CASE("permute and transpose", "[ops][shape]") {
  auto w = run([](auto& x) { return transpose(x[0], 0, 1); }, {dt({1, 2, 3, 4, 5, 6}, {2, 3})});
  CHECK(w.out.shape() == Shape{3, 2});
  CHECK(w.out.to_vector<double>() == V{1, 4, 2, 5, 3, 6});
  const Tensor p = permute(arange(24, kFloat64), {0});
  CHECK(permute(reshape(p, {2, 3, 4}), {2, 0, 1}).at<double>({3, 1, 2}) == 1 * 12 + 2 * 4 + 3);
  CHECK_THROWS_WITH(permute(zeros({2, 3}), {0, 0}), Catch::Contains("repeated"));
  gradcheck("permute", [](auto& x) { return permute(x[0], {2, 0, 1}); }, {rnd({2, 3, 4}, 44)});
  gradcheck("transpose", [](auto& x) { return transpose(x[0], -1, 0); }, {rnd({2, 3, 4}, 45)});
}

TEST_CASE("slice with steps and negative bounds", "[ops][shape]") {
  auto w = run([](auto& x) { return slice(x[0], 0, 1, 6, 2); }, {arange(6, kFloat64)});
  CHECK(w.out.to_vector<double>() == V{1, 3, 5});
  CHECK(w.grads[0].to_vector<double>() == V{0, 1, 0, 1, 0, 1});
  CHECK(slice(arange(6), 0, -2, 100).to_vector<double>() == V{4, 5});
  CHECK(slice(arange(6), 0, 4, 2).numel() == 0);
  const Tensor m = reshape(arange(12), {3, 4});
  CHECK(slice(m, 1, 1, 3).to_vector<double>() == V{1, 2, 5, 6, 9, 10});
  gradcheck("slice", [](auto& x) { return slice(x[0], 1, 1, 4, 2); }, {rnd({2, 5, 3}, 46)});
}

TEST_CASE("concat", "[ops][shape]") {
  auto w = run([](auto& x) { return concat({x[0], x[1]}, 0) * dt({1, 2, 3}); }, {dt({1, 2}), dt({3})});
  CHECK(w.out.to_vector<double>() == V{1, 4, 9});
  CHECK(w.grads[0].to_vector<double>() == V{1, 2});
  CHECK(w.grads[1].to_vector<double>() == V{3});
  CHECK(concat({zeros({2, 1}), ones({2, 2})}, 1).to_vector<double>() == V{0, 1, 1, 0, 1, 1});
  CHECK_THROWS_WITH(concat({zeros({2, 1}), zeros({3, 1})}, 1), Catch::Contains("(2,1)") && Catch::Contains("(3,1)"));
  gradcheck("concat", [](auto& x) { return concat({x[0], x[1], x[0]}, 1); }, {rnd({2, 2, 3}, 47), rnd({2, 1, 3}, 48)});
}

// ---------------------------------------------------------------------------
// Softmax and losses
// ---------------------------------------------------------------------------

TEST_CASE("softmax and log_softmax", "[ops][loss]") {
  const Tensor z = dt({0, std::log(3.0)}, {1, 2});
  auto w = run([](auto& x) { return softmax(x[0], 1); }, {z});
  CHECK(w.out.to_vector<double>()[0] == Approx(0.25).epsilon(1e-15));
  CHECK(w.out.to_vector<double>()[1] == Approx(0.75).epsilon(1e-15));
  CHECK(w.grads[0].to_vector<double>()[0] == Approx(0.0).margin(1e-15));  // Σ softmax is constant
  w = run([](auto& x) { return log_softmax(x[0], -1); }, {z});
  CHECK(w.out.to_vector<double>()[0] == Approx(std::log(0.25)).epsilon(1e-15));
  CHECK(w.grads[0].to_vector<double>()[0] == Approx(1 - 2 * 0.25).epsilon(1e-15));  // 1 - softmax·Σg
  const auto big = softmax(tensor({1000, 0, -1000}, {1, 3}), 1).to_vector<double>();
  CHECK(big == V{1, 0, 0});
  gradcheck("softmax", [](auto& x) { return softmax(x[0], 1); }, {rnd({2, 4, 3}, 49)});
  gradcheck("log_softmax", [](auto& x) { return log_softmax(x[0], 0); }, {rnd({3, 4}, 50)});
}

TEST_CASE("cross_entropy: worked example, stability at ±1000, label errors", "[ops][loss]") {
  auto w = run([](auto& x) { return cross_entropy(x[0], {1}); }, {dt({0, std::log(3.0)}, {1, 2})});
  CHECK(w.out.item() == Approx(-std::log(0.75)).epsilon(1e-15));
  CHECK(w.grads[0].to_vector<double>()[0] == Approx(0.25).epsilon(1e-15));
  CHECK(w.grads[0].to_vector<double>()[1] == Approx(-0.25).epsilon(1e-15));

  for (Dtype d : {kFloat32, kFloat64}) {
    Tensor z = tensor({1000, 0, -1000, 1000, 0, -1000}, {2, 3}, d).requires_grad_();
    Tensor loss = cross_entropy(z, {0, 2});
    loss.backward();
    CHECK(std::isfinite(loss.item()));
    CHECK(loss.item() == Approx(1000.0));  // (0 + 2000) / 2
    CHECK(z.grad().to_vector<double>() == V{0, 0, 0, 0.5, 0, -0.5});
  }
  CHECK_THROWS_WITH(cross_entropy(zeros({2, 3}), {0, 3}), Catch::Contains("label 3") && Catch::Contains("sample 1"));
  CHECK_THROWS_WITH(cross_entropy(zeros({2, 3}), {-1, 0}), Catch::Contains("label -1"));
  CHECK_THROWS_WITH(cross_entropy(zeros({2, 3}), {0}), Catch::Contains("expected 2 labels"));
  CHECK_THROWS_WITH(cross_entropy(zeros({6}), {0}), Catch::Contains("(N, C)"));
  CHECK(cross_entropy(dt({0, 0, 0, 0}, {2, 2}), {0, 1}, Reduction::Sum).item() == Approx(2 * std::log(2.0)));
  CHECK(cross_entropy(dt({0, 0, 0, 0}, {2, 2}), {0, 1}, Reduction::None).shape() == Shape{2});
  gradcheck("cross_entropy", [](auto& x) { return cross_entropy(x[0], {2, 0, 1}); }, {rnd({3, 4}, 51)});
  gradcheck("cross_entropy sum", [](auto& x) { return cross_entropy(x[0], {1, 1}, Reduction::Sum); }, {rnd({2, 3}, 52)});
}

TEST_CASE("nll_loss", "[ops][loss]") {
  auto w = run([](auto& x) { return nll_loss(x[0], {1, 0}); }, {dt({-1, -2, -3, -4}, {2, 2})});
  CHECK(w.out.item() == 2.5);
  CHECK(w.grads[0].to_vector<double>() == V{0, -0.5, -0.5, 0});
  CHECK_THROWS_WITH(nll_loss(zeros({1, 2}), {2}), Catch::Contains("label 2"));
  gradcheck("nll_loss", [](auto& x) { return nll_loss(log_softmax(x[0], 1), {0, 2}); }, {rnd({2, 3}, 53)});
  gradcheck("nll_loss none", [](auto& x) { return nll_loss(x[0], {0, 2}, Reduction::None); }, {rnd({2, 3}, 54)});
}

TEST_CASE("mse_loss", "[ops][loss]") {
  auto w = run([](auto& x) { return mse_loss(x[0], x[1]); }, {dt({1, 2}), dt({3, 5})});
  CHECK(w.out.item() == 6.5);
  CHECK(w.grads[0].to_vector<double>() == V{-2, -3});
  CHECK(w.grads[1].to_vector<double>() == V{2, 3});
  CHECK(mse_loss(dt({1, 2}), dt({3, 5}), Reduction::Sum).item() == 13);
  CHECK(mse_loss(dt({1, 2}), dt({3, 5}), Reduction::None).to_vector<double>() == V{4, 9});
  CHECK_THROWS_WITH(mse_loss(zeros({2, 3}), zeros({3, 2})), Catch::Contains("(2,3)") && Catch::Contains("(3,2)"));
  gradcheck("mse_loss", [](auto& x) { return mse_loss(x[0], x[1]); }, {rnd({2, 3}, 55), rnd({2, 3}, 56)});
  gradcheck("mse_loss sum", [](auto& x) { return mse_loss(x[0], x[1], Reduction::Sum); }, {rnd({4}, 57), rnd({4}, 58)});
}

// ---------------------------------------------------------------------------
// Total variation
// ---------------------------------------------------------------------------

TEST_CASE("TV, reference variant: count-normalised squared differences", "[ops][tv]") {
  // x = [[1, 2], [4, 8]]: vertical (3² + 6²)/(1·1·2) = 22.5, horizontal (1² + 4²)/(1·2·1) = 8.5.
  auto w = run([](auto& x) { return tv_reference(x[0]); }, {dt({1, 2, 4, 8}, {1, 1, 2, 2})});
  CHECK(w.out.item() == 31);
  CHECK(w.grads[0].to_vector<double>() == V{-4, -5, -1, 10});
  // Divided by N: two copies of the image give the same value.
  CHECK(tv_reference(dt({1, 2, 4, 8, 1, 2, 4, 8}, {2, 1, 2, 2})).item() == 31);
  CHECK_THROWS_WITH(tv_reference(zeros({1, 2, 2})), Catch::Contains("4-D"));
  CHECK_THROWS_WITH(tv_reference(zeros({1, 1, 1, 5})), Catch::Contains("H, W >= 2"));
  gradcheck("tv_reference", [](auto& x) { return tv_reference(x[0]); }, {rnd({2, 3, 4, 5}, 59)});
}

TEST_CASE("TV, the paper's TV_beta for beta = 1 and 2", "[ops][tv]") {
  // Only pixel (0,0) has both neighbours: dv = 3, dh = 1, s = 10.
  const Tensor x = dt({1, 2, 4, 8}, {1, 1, 2, 2});
  auto w = run([](auto& v) { return tv_beta(v[0], 2); }, {x});
  CHECK(w.out.item() == 10);
  CHECK(w.grads[0].to_vector<double>() == V{-8, 2, 6, 0});
  w = run([](auto& v) { return tv_beta(v[0], 1); }, {x});
  const double r = std::sqrt(10.0);
  CHECK(w.out.item() == Approx(r).epsilon(1e-15));
  const auto g = w.grads[0].to_vector<double>();
  CHECK(g[0] == Approx(-4 / r).epsilon(1e-15));
  CHECK(g[1] == Approx(1 / r).epsilon(1e-15));
  CHECK(g[2] == Approx(3 / r).epsilon(1e-15));
  // At a flat image the beta-1 gradient is the zero subgradient, not NaN.
  Tensor flat = zeros({1, 1, 3, 3}, kFloat64).requires_grad_();
  tv_beta(flat, 1).backward();
  CHECK(flat.grad().to_vector<double>() == V(9, 0.0));
  CHECK(total_variation(x, TvVariant::PaperBeta2).item() == 10);
  CHECK(total_variation(x, TvVariant::Reference).item() == 31);
  gradcheck("tv_beta 1", [](auto& v) { return tv_beta(v[0], 1); }, {rnd({2, 2, 4, 3}, 60)});
  gradcheck("tv_beta 2", [](auto& v) { return tv_beta(v[0], 2); }, {rnd({2, 2, 4, 3}, 61)});
}

TEST_CASE("TV per image: each image's TV, as total_variation of that image alone", "[ops][tv]") {
  // Image 0 is the worked example above (reference 31, TV_β2 10); image 1 is flat (0).
  const Tensor x = dt({1, 2, 4, 8, 5, 5, 5, 5}, {2, 1, 2, 2});
  CHECK(total_variation_per_image(x, TvVariant::Reference) == V{31, 0});
  CHECK(total_variation_per_image(x, TvVariant::PaperBeta2) == V{10, 0});
  const Tensor r = rnd({3, 2, 5, 4}, 63);
  for (TvVariant v : {TvVariant::Reference, TvVariant::PaperBeta1, TvVariant::PaperBeta2}) {
    const std::vector<double> per = total_variation_per_image(r, v);
    REQUIRE(per.size() == 3);
    for (int64_t n = 0; n < 3; ++n)
      CHECK(per[size_t(n)] == Approx(total_variation(slice(r, 0, n, n + 1), v).item()).epsilon(1e-13));
  }
  CHECK_THROWS_WITH(total_variation_per_image(zeros({1, 1, 1, 5}), TvVariant::Reference), Catch::Contains("H, W >= 2"));
}

// ---------------------------------------------------------------------------
// Thread-count independence
// ---------------------------------------------------------------------------

TEST_CASE("results are bitwise identical with 1 and 2 threads", "[ops][threads]") {
  Generator g(62);
  const Tensor a = randn({300, 300}, g), b = randn({300, 300}, g), big = randn({200000}, g);
  auto compute = [&] {
    return std::vector<Tensor>{matmul(a, b), sum(big), mean(big), mse_loss(big, mul(big, 0.5)), exp(big),
                               softmax(a, 1), big + reshape(slice(big, 0, 0, 1), {1}), transpose(a, 0, 1)};
  };
  const int saved = num_threads();
  set_num_threads(1);
  const auto one = compute();
  set_num_threads(2);
  const auto two = compute();
  set_num_threads(saved);
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("result " << i);
    CHECK(equal(one[i], two[i]));
  }
}
