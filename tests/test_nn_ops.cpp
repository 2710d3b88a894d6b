// Pooling, upsampling, linear, batch_norm and dropout: worked examples and gradient checks.
#include <catch2/catch.hpp>

#include "gradcheck.hpp"

using namespace inv;
using inv::testing::gradcheck;
using V = std::vector<double>;

namespace {
Tensor dt(std::vector<double> v, Shape s) { return from_vector(v, s, kFloat64); }
Tensor rnd(Shape s, uint64_t seed) {
  Generator g(seed);
  return randn(s, g, kFloat64);
}
/// Output and input gradient of f(x) for an all-ones upstream gradient.
std::pair<Tensor, Tensor> fwd_bwd(const std::function<Tensor(const Tensor&)>& f, const Tensor& x0) {
  Tensor x = copy_data(x0).requires_grad_();
  Tensor y = f(x);
  y.backward(ones_like(y));
  return {y, x.grad()};
}
const Tensor kImage = dt({1, 2, 5, 3, 4, 0, 1, 1, 7, 8, 2, 2, 6, 5, 2, 9}, {1, 1, 4, 4});
}  // namespace

TEST_CASE("max_pool2d: 2x2 windows, gradient to the first maximum", "[pool]") {
  auto [y, dx] = fwd_bwd([](const Tensor& x) { return max_pool2d(x, 2); }, kImage);
  CHECK(y.to_vector<double>() == V{4, 5, 8, 9});
  CHECK(dx.to_vector<double>() == V{0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1});
  auto [yt, dt_] = fwd_bwd([](const Tensor& x) { return max_pool2d(x, 2); }, dt({3, 3, 1, 3}, {1, 1, 2, 2}));
  CHECK(yt.item() == 3);
  CHECK(dt_.to_vector<double>() == V{1, 0, 0, 0});  // ties: the first in row-major order
  // 3x3, stride 2, padding 1 (padding never wins: it is -inf). Window (0,1) covers x[0..1][1..2].
  const Tensor neg = dt({-1, -2, -3, -4, -5, -6, -7, -8, -9}, {1, 1, 3, 3});
  CHECK(max_pool2d(neg, Pool2dOptions(3).stride(2).padding(1)).to_vector<double>() == V{-1, -2, -4, -5});
  CHECK_THROWS_WITH(max_pool2d(zeros({1, 1, 4, 4}), Pool2dOptions(2).padding(2)), Catch::Contains("half the kernel"));
  // With dilation a window can reach only padding: rows -1 and 1 of a one-row input.
  CHECK_THROWS_WITH(max_pool2d(zeros({4, 1, 1, 1}), Pool2dOptions(2).stride(1).padding(1).dilation(2)),
                    Catch::Contains("window at output row 0 covers only padding"));
  CHECK_THROWS_WITH(max_pool2d(zeros({1, 1, 3, 1}), Pool2dOptions(2).stride(1).padding(1).dilation(2)),
                    Catch::Contains("window at output column 0 covers only padding"));
  CHECK_THROWS_WITH(max_pool2d(zeros({1, 4, 4}), 2), Catch::Contains("4-D"));
  CHECK_THROWS_WITH(max_pool2d(zeros({1, 1, 1, 1}), 2), Catch::Contains("smaller than"));
  gradcheck("max_pool2d 2x2", [](auto& v) { return max_pool2d(v[0], 2); }, {rnd({2, 3, 4, 6}, 1)});
  gradcheck("max_pool2d 3x3 s2 p1", [](auto& v) { return max_pool2d(v[0], Pool2dOptions(3).stride(2).padding(1)); },
            {rnd({1, 2, 5, 5}, 2)});
  gradcheck("max_pool2d dilation 2", [](auto& v) { return max_pool2d(v[0], Pool2dOptions(2).stride(1).dilation(2)); },
            {rnd({1, 2, 5, 5}, 3)});
}

TEST_CASE("the 2x2 max-pool fast path agrees with the general kernel, ties and NaN included", "[pool][kernel]") {
  // Odd heights drop the last row; rows of 5, 12 and 20 outputs.
  for (const auto& [H, W] : std::vector<std::pair<int64_t, int64_t>>{{9, 10}, {24, 24}, {7, 40}}) {
    Generator g(30);
    const int64_t P = 12, L = (H / 2) * (W / 2);
    Tensor x = randn({P, H, W}, g);
    auto* p = x.data<float>();
    for (int64_t i = 0; i < x.numel(); i += 7) p[i] = std::round(p[i]);  // many ties
    for (int64_t i = 5; i < x.numel(); i += 97) p[i] = std::nanf("");
    std::vector<float> y1(size_t(P * L)), y2(size_t(P * L));
    std::vector<int32_t> i1(size_t(P * L)), i2(size_t(P * L));
    kernels::max_pool2x2_forward<float>(p, P, H, W, y1.data(), i1.data());
    kernels::max_pool2d_forward_general<float>(p, P, H, W, Pool2dOptions(2), y2.data(), i2.data());
    INFO("H=" << H << " W=" << W);
    CHECK(i1 == i2);
    for (size_t k = 0; k < y1.size(); ++k) CHECK((y1[k] == y2[k] || (std::isnan(y1[k]) && std::isnan(y2[k]))));
  }
}

TEST_CASE("the 2x2 max-pool backward writes every input element, as the general scatter does", "[pool][kernel]") {
  // Odd height and width: the last row and column lie in no window and must get 0.
  for (const auto& [H, W] : std::vector<std::pair<int64_t, int64_t>>{{9, 10}, {8, 11}, {24, 24}, {3, 3}, {7, 40}}) {
    Generator g(31);
    const int64_t P = 5, OH = H / 2, OW = W / 2, L = OH * OW;
    Tensor x = randn({P, H, W}, g), dy = randn({P, OH, OW}, g);
    float* px = x.data<float>();
    for (int64_t i = 0; i < x.numel(); i += 3) px[i] = std::round(px[i]);  // ties
    px[7] = std::nanf("");
    std::vector<float> y(size_t(P * L));
    std::vector<int32_t> idx(size_t(P * L));
    kernels::max_pool2x2_forward<float>(px, P, H, W, y.data(), idx.data());
    std::vector<float> fast(size_t(P * H * W), 123.0f), general(size_t(P * H * W), -7.0f);  // stale contents
    kernels::max_pool2x2_backward<float>(dy.data<float>(), idx.data(), P, H, W, fast.data());
    kernels::max_pool2d_backward_general<float>(dy.data<float>(), idx.data(), P, H, W, L, general.data());
    CHECK(fast == general);
    int64_t nonzero = 0;
    for (float v : fast) nonzero += v != 0;
    CHECK(nonzero == P * L);  // each window's gradient lands once
  }
}

TEST_CASE("avg_pool2d with and without counting the padding", "[pool]") {
  auto [y, dx] = fwd_bwd([](const Tensor& x) { return avg_pool2d(x, 2); }, kImage);
  CHECK(y.to_vector<double>() == V{1.75, 2.5, 6.5, 3.75});
  CHECK(dx.to_vector<double>() == V(16, 0.25));
  const Tensor x = dt({1, 2, 3, 4}, {1, 1, 2, 2});
  CHECK(avg_pool2d(x, Pool2dOptions(2).stride(1).padding(1)).to_vector<double>() ==
        V{0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1});
  CHECK(avg_pool2d(x, Pool2dOptions(2).stride(1).padding(1).count_include_pad(false)).to_vector<double>() ==
        V{1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4});
  gradcheck("avg_pool2d", [](auto& v) { return avg_pool2d(v[0], 2); }, {rnd({2, 2, 4, 4}, 4)});
  gradcheck("avg_pool2d padded, exclude pad",
            [](auto& v) { return avg_pool2d(v[0], Pool2dOptions(3).stride(2).padding(1).count_include_pad(false)); },
            {rnd({1, 2, 5, 4}, 5)});
}

TEST_CASE("upsample nearest and bilinear follow PyTorch's source coordinates", "[upsample]") {
  const Tensor x = dt({1, 2, 3, 4}, {1, 1, 2, 2});
  auto [y, dx] = fwd_bwd([](const Tensor& v) { return upsample(v, UpsampleOptions().scale_factor(2)); }, x);
  CHECK(y.to_vector<double>() == V{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  CHECK(dx.to_vector<double>() == V{4, 4, 4, 4});
  const Tensor b = upsample(x, UpsampleOptions().size(4, 4).mode(UpsampleMode::Bilinear));
  CHECK(b.to_vector<double>() ==
        V{1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4});
  const Tensor c = upsample(x, UpsampleOptions().size(3, 3).mode(UpsampleMode::Bilinear).align_corners(true));
  CHECK(c.to_vector<double>() == V{1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4});
  CHECK_THROWS_WITH(upsample(x, UpsampleOptions()), Catch::Contains("exactly one"));
  gradcheck("upsample nearest 5->7", [](auto& v) { return upsample(v[0], UpsampleOptions().size(7, 3)); },
            {rnd({1, 2, 5, 2}, 6)});
  gradcheck("upsample bilinear 3->5",
            [](auto& v) { return upsample(v[0], UpsampleOptions().size(5, 4).mode(UpsampleMode::Bilinear)); },
            {rnd({2, 1, 3, 3}, 7)});
  gradcheck("upsample bilinear align_corners, downscale",
            [](auto& v) {
              return upsample(v[0], UpsampleOptions().size(3, 2).mode(UpsampleMode::Bilinear).align_corners(true));
            },
            {rnd({1, 2, 5, 4}, 8)});
}

TEST_CASE("linear: y = x·Wᵀ + b", "[linear]") {
  Tensor x = dt({1, 2}, {1, 2}).requires_grad_(), w = dt({1, 0, 0, 1, 1, 1}, {3, 2}).requires_grad_(),
         b = dt({0.5, 0, -1}, {3}).requires_grad_();
  Tensor y = linear(x, w, b);
  y.backward(ones_like(y));
  CHECK(y.to_vector<double>() == V{1.5, 2, 2});
  CHECK(x.grad().to_vector<double>() == V{2, 2});
  CHECK(w.grad().to_vector<double>() == V{1, 2, 1, 2, 1, 2});
  CHECK(b.grad().to_vector<double>() == V{1, 1, 1});
  CHECK(linear(zeros({2, 5, 2}), zeros({3, 2})).shape() == Shape{2, 5, 3});
  CHECK_THROWS_WITH(linear(zeros({4, 3}), zeros({2, 5})), Catch::Contains("expects 5"));
  gradcheck("linear", [](auto& v) { return linear(v[0], v[1], v[2]); }, {rnd({4, 3}, 9), rnd({2, 3}, 10), rnd({2}, 11)});
  gradcheck("linear 3-D, no bias", [](auto& v) { return linear(v[0], v[1]); }, {rnd({2, 3, 4}, 12), rnd({5, 4}, 13)});
}

TEST_CASE("batch_norm: PyTorch's statistics, momentum and unbiased running variance", "[batchnorm]") {
  // Channel values 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased 5/3.
  const Tensor x = dt({1, 2, 3, 4}, {2, 1, 1, 2});
  Tensor rm = zeros({1}, kFloat64), rv = ones({1}, kFloat64);
  const Tensor gamma = dt({2}, {1}), beta = dt({1}, {1});
  const Tensor y = batch_norm(x, rm, rv, gamma, beta, /*training=*/true, 0.1, 0.0);
  const double s = std::sqrt(1.25);
  CHECK(allclose(y, dt({2 * -1.5 / s + 1, 2 * -0.5 / s + 1, 2 * 0.5 / s + 1, 2 * 1.5 / s + 1}, {2, 1, 1, 2}), 1e-15, 1e-15));
  CHECK(rm.item() == Approx(0.25).epsilon(1e-15));              // 0.9·0 + 0.1·2.5
  CHECK(rv.item() == Approx(0.9 + 0.1 * 5.0 / 3).epsilon(1e-15));  // 0.9·1 + 0.1·(5/3)
  // Evaluation uses (and keeps) the running statistics.
  const Tensor ye = batch_norm(x, rm, rv, gamma, beta, /*training=*/false, 0.1, 0.0);
  CHECK(ye.at<double>({0, 0, 0, 0}) == Approx(2 * (1 - 0.25) / std::sqrt(rv.item()) + 1).epsilon(1e-15));
  CHECK(rm.item() == Approx(0.25).epsilon(1e-15));
  CHECK_THROWS_WITH(batch_norm(zeros({1, 2, 1, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    Catch::Contains("more than 1 value"));
  CHECK_THROWS_WITH(batch_norm(zeros({2, 2, 1, 1}), zeros({3}), zeros({3}), Tensor(), Tensor(), false),
                    Catch::Contains("running_mean of shape (2)"));
  Tensor rm2 = zeros({3}, kFloat64), rv2 = ones({3}, kFloat64);
  gradcheck("batch_norm train",
            [&](auto& v) { return batch_norm(v[0], rm2, rv2, v[1], v[2], true); },
            {rnd({4, 3, 2, 2}, 14), rnd({3}, 15), rnd({3}, 16)});
  gradcheck("batch_norm eval",
            [&](auto& v) { return batch_norm(v[0], rm2, rv2, v[1], v[2], false); },
            {rnd({2, 3, 2, 2}, 17), rnd({3}, 18), rnd({3}, 19)});
  gradcheck("batch_norm (N, C), no affine", [](auto& v) { return batch_norm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
            {rnd({5, 2}, 20)});
}

TEST_CASE("dropout rescales survivors; the dropout defense does not", "[dropout]") {
  Generator g(21);
  const Tensor x = ones({10000});
  const auto d = dropout(x, 0.25, true, g).to_vector<double>();
  int64_t zeros_seen = 0;
  for (double v : d) {
    CHECK((v == 0.0 || v == Approx(1 / 0.75)));
    zeros_seen += v == 0.0;
  }
  CHECK(std::abs(zeros_seen - 2500) < 150);
  CHECK(dropout(x, 0.25, false, g).is_same(x));  // evaluation: identity
  CHECK(dropout(x, 1.0, true, g).to_vector<double>() == V(10000, 0.0));
  const auto m = dropout_mask(x, 0.25, g).to_vector<double>();
  for (double v : m) CHECK((v == 0.0 || v == 1.0));
  CHECK(dropout_mask(x, 0.0, g).to_vector<double>() == V(10000, 1.0));
  CHECK_THROWS_WITH(dropout_mask(x, 1.5, g), Catch::Contains("[0, 1]"));
  // Same seed, same mask.
  Generator a(5), b(5);
  CHECK(equal(dropout(x, 0.5, true, a), dropout(x, 0.5, true, b)));
  // The gradient is the mask (times the scale).
  Tensor xv = ones({8}, kFloat64).requires_grad_();
  Generator g2(22);
  Tensor y = dropout(xv, 0.5, true, g2);
  y.backward(ones_like(y));
  CHECK(equal(xv.grad(), y.detach()));
}
