// Transforms: normalisation (worked example, round trip, gradient check) and the
// geometric augmentations (worked examples, torchvision affine fixtures, random
// versions: determinism and parameter ranges).
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <inv/data/transforms.hpp>
#include <set>
#include <sstream>

#include "gradcheck.hpp"

using namespace inv;
using namespace inv::data;
using inv::testing::gradcheck;
using V = std::vector<double>;

namespace {

/// x (shape) holding 1, 2, 3, ... in float64, so every output value names its source pixel.
Tensor iota(const Shape& shape) {
  Tensor t = empty(shape, kFloat64);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = double(i + 1);
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------
// normalize / denormalize
// ---------------------------------------------------------------------------

TEST_CASE("normalize and denormalize: worked example and round trip", "[transforms][normalize]") {
  // x (1, 2, 1, 2): channel 0 = [0, 0.5], channel 1 = [1, 0.25].
  const Tensor x = tensor({0, 0.5, 1, 0.25}, {1, 2, 1, 2});
  const Tensor y = normalize(x, {0.5, 0.25}, {0.5, 0.25});
  CHECK(y.shape() == Shape{1, 2, 1, 2});
  CHECK(y.to_vector<double>() == V{-1, 0, 3, 0});
  CHECK(denormalize(y, {0.5, 0.25}, {0.5, 0.25}).to_vector<double>() == V{0, 0.5, 1, 0.25});
  // One value for all channels, and a single image (C, H, W).
  CHECK(normalize(tensor({1, 3}, {2, 1, 1}), {1}, {2}).to_vector<double>() == V{0, 1});
  CHECK(normalize(tensor({1, 3}, {2, 1, 1}), {1}, {2}).shape() == Shape{2, 1, 1});

  Generator gen(5);
  const Tensor img = rand({4, 3, 5, 6}, gen);
  const V mean = {0.4914, 0.4822, 0.4465}, std = {0.2470, 0.2435, 0.2616};
  CHECK(max_abs_diff(denormalize(normalize(img, mean, std), mean, std), img) < 1e-6);
  // MNIST's (0.1307, 0.3081): pixel 1 maps to (1 - 0.1307) / 0.3081.
  CHECK(normalize(ones({1, 1, 1, 1}), {0.1307}, {0.3081}).item() == Approx((1 - 0.1307) / 0.3081).epsilon(1e-6));
}

TEST_CASE("normalize without a graph equals the recorded sub-then-div bitwise", "[transforms][normalize]") {
  Generator g(3);
  for (Dtype dt : {kFloat32, kFloat64}) {
    for (const auto& [mean, std] : std::vector<std::pair<V, V>>{{{0.4914, 0.4822, 0.4465}, {0.247, 0.243, 0.261}},
                                                               {{0.1307}, {0.3081}}}) {
      const Tensor x = rand({64, 3, 32, 32}, g, dt);  // 192 planes: several chunks of parallel_for
      const Tensor fused = normalize(x, mean, std);
      const Tensor graph = sub(x, data_detail::channel_constants(mean, {64, 3, 32, 32, true}, dt, "t", "mean"));
      const Tensor want = div(graph, data_detail::channel_constants(std, {64, 3, 32, 32, true}, dt, "t", "std"));
      CHECK(equal(fused, want));
      CHECK(equal(normalize(slice(x, 0, 2, 4), mean, std), copy_data(slice(want, 0, 2, 4))));  // a view with an offset
      Tensor w = copy_data(x);
      w.requires_grad_(true);
      const Tensor recorded = normalize(w, mean, std);
      CHECK(recorded.requires_grad());  // the differentiable path
      CHECK(equal(recorded, want));
    }
  }
}

TEST_CASE("normalize and denormalize are differentiable", "[transforms][normalize]") {
  Generator gen(11);
  const Tensor x = randn({2, 3, 2, 2}, gen, kFloat64);
  const V mean = {0.1, -0.2, 0.3}, std = {0.5, 2.0, 0.25};
  gradcheck("normalize", [&](auto& in) { return normalize(in[0], mean, std); }, {x});
  gradcheck("denormalize", [&](auto& in) { return denormalize(in[0], mean, std); }, {x});
  gradcheck("normalize single image", [&](auto& in) { return normalize(in[0], {0.5}, {0.2}); },
            {randn({3, 2, 3}, gen, kFloat64)});
  // The gradient of normalize is 1/std per channel.
  Tensor leaf = zeros({1, 2, 1, 1}, kFloat64).requires_grad_();
  normalize(leaf, {0, 0}, {0.5, 0.25}).backward(ones({1, 2, 1, 1}, kFloat64));
  CHECK(leaf.grad().to_vector<double>() == V{2, 4});
}

TEST_CASE("normalize rejects bad arguments", "[transforms][normalize]") {
  using Catch::Contains;
  CHECK_THROWS_WITH(normalize(zeros({2, 3, 4, 4}), {0.5, 0.5}, {1, 1, 1}),
                    Contains("mean has 2 values, expected 1 or one per channel (3)"));
  CHECK_THROWS_WITH(normalize(zeros({1, 3, 4, 4}), {0, 0, 0}, {1, 0, 1}), Contains("std values must be positive"));
  CHECK_THROWS_WITH(denormalize(zeros({4, 4}), {0}, {1}),
                    Contains("expected an image (C,H,W) or a batch (N,C,H,W)") && Contains("(4,4)"));
}

// ---------------------------------------------------------------------------
// Flip and crop
// ---------------------------------------------------------------------------

TEST_CASE("hflip and random_horizontal_flip", "[transforms][flip]") {
  const Tensor x = iota({1, 1, 2, 3});  // [[1, 2, 3], [4, 5, 6]]
  CHECK(hflip(x).to_vector<double>() == V{3, 2, 1, 6, 5, 4});
  CHECK(hflip(iota({2, 2, 1})).to_vector<double>() == V{1, 2, 3, 4});  // (C,H,W) with W = 1
  Generator g0(1);
  CHECK(equal(random_horizontal_flip(x, 0.0, g0), x));
  CHECK(equal(random_horizontal_flip(x, 1.0, g0), hflip(x)));

  // p = 0.5 on 64 copies of one image: each output is either x or hflip(x), both occur,
  // and the same seed gives the same choices.
  const Tensor batch = iota({64, 1, 2, 3});
  Generator a(9), b(9);
  const Tensor fa = random_horizontal_flip(batch, 0.5, a), fb = random_horizontal_flip(batch, 0.5, b);
  CHECK(equal(fa, fb));
  int flipped = 0;
  for (int64_t n = 0; n < 64; ++n) {
    const V got(fa.data<double>() + n * 6, fa.data<double>() + n * 6 + 6);
    const V in(batch.data<double>() + n * 6, batch.data<double>() + n * 6 + 6);
    const V mirrored = {in[2], in[1], in[0], in[5], in[4], in[3]};
    CHECK((got == in || got == mirrored));
    flipped += got == mirrored;
  }
  CHECK(flipped > 16);
  CHECK(flipped < 48);
  CHECK_THROWS_WITH(random_horizontal_flip(x, 1.5, a), Catch::Contains("p must be in [0, 1]"));
}

TEST_CASE("crop with zero padding at a known offset", "[transforms][crop]") {
  const Tensor x = iota({1, 1, 3, 3});  // [[1,2,3],[4,5,6],[7,8,9]]
  // The 3x3 window whose top-left is (-1, 1): one row of padding on top, one column on the right.
  CHECK(crop(x, -1, 1, 3, 3).to_vector<double>() == V{0, 0, 0, 2, 3, 0, 5, 6, 0});
  CHECK(crop(x, 1, 0, 2, 2).to_vector<double>() == V{4, 5, 7, 8});
  CHECK(crop(x, 5, 5, 1, 2).to_vector<double>() == V{0, 0});
  CHECK(crop(iota({2, 2, 2}), 0, 1, 2, 1).to_vector<double>() == V{2, 4, 6, 8});  // (C,H,W)
  CHECK_THROWS_WITH(crop(x, 0, 0, 0, 2), Catch::Contains("at least 1x1"));
}

TEST_CASE("random_crop pads with zeros and picks a uniformly random window", "[transforms][crop]") {
  const Tensor x = iota({1, 1, 3, 3});
  Generator g(3);
  CHECK(equal(random_crop(x, 3, 0, g), x));  // one possible window
  // Padding 1, size 3: 9 possible windows, all seen over 200 draws, each equal to crop().
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int k = 0; k < 200; ++k) {
    const Tensor out = random_crop(x, 3, 1, g);
    bool matched = false;
    for (int64_t top = -1; top <= 1 && !matched; ++top)
      for (int64_t left = -1; left <= 1 && !matched; ++left)
        if (equal(out, crop(x, top, left, 3, 3))) {
          seen.insert({top, left});
          matched = true;
        }
    CHECK(matched);
  }
  CHECK(seen.size() == 9);
  // A batch: each image gets its own window; same seed, same windows.
  const Tensor batch = iota({16, 2, 4, 4});
  Generator a(4), b(4);
  const Tensor ca = random_crop(batch, 4, 2, a);
  CHECK(ca.shape() == Shape{16, 2, 4, 4});
  CHECK(equal(ca, random_crop(batch, 4, 2, b)));
  CHECK_THROWS_WITH(random_crop(x, 6, 1, g), Catch::Contains("crop size 6 does not fit the padded image of 5x5"));
  CHECK_THROWS_WITH(random_crop(x, 2, -1, g), Catch::Contains("padding must be >= 0"));
}

// ---------------------------------------------------------------------------
// Affine
// ---------------------------------------------------------------------------

TEST_CASE("affine worked examples: rotation by 90 degrees and pure translation", "[transforms][affine]") {
  const Tensor x = iota({1, 1, 3, 3});  // [[1,2,3],[4,5,6],[7,8,9]]
  // Output (i, j) reads input (row, col) = (H-1-j, i) for +90 (clockwise on screen).
  CHECK(affine(x, 90, 0, 0, 1).to_vector<double>() == V{7, 4, 1, 8, 5, 2, 9, 6, 3});
  CHECK(affine(x, -90, 0, 0, 1).to_vector<double>() == V{3, 6, 9, 2, 5, 8, 1, 4, 7});
  CHECK(affine(x, 180, 0, 0, 1).to_vector<double>() == V{9, 8, 7, 6, 5, 4, 3, 2, 1});
  // Translation by (tx, ty) = (1, 0): everything moves one pixel right, column 0 is filled with 0.
  const Tensor y = iota({1, 1, 2, 3});
  CHECK(affine(y, 0, 1, 0, 1).to_vector<double>() == V{0, 1, 2, 0, 4, 5});
  CHECK(affine(y, 0, -1, 1, 1).to_vector<double>() == V{0, 0, 0, 2, 3, 0});
  CHECK(equal(affine(iota({2, 3, 4, 5}), 0, 0, 0, 1), iota({2, 3, 4, 5})));
  // Every channel and image moves the same way.
  const Tensor many = iota({2, 2, 3, 3});
  const V r = affine(many, 90, 0, 0, 1).to_vector<double>();
  for (int64_t plane = 0; plane < 4; ++plane)
    for (int64_t k = 0; k < 9; ++k)
      CHECK(r[size_t(plane * 9 + k)] == V{7, 4, 1, 8, 5, 2, 9, 6, 3}[size_t(k)] + 9.0 * double(plane));
  CHECK_THROWS_WITH(affine(x, 0, 0, 0, 0), Catch::Contains("scale must be positive"));
}

TEST_CASE("affine matches torchvision's functional affine (fixture)", "[transforms][affine]") {
  std::ifstream in(INV_FIXTURES_DIR "/transforms_affine.txt");
  REQUIRE(in.good());
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream head(line);
    std::string word, name;
    int64_t c, h, w;
    double angle, tx, ty, scale;
    head >> word >> name >> c >> h >> w >> angle >> tx >> ty >> scale;
    REQUIRE(word == "case");
    auto read_image = [&] {
      Tensor t = empty({1, c, h, w}, kFloat64);
      for (int64_t i = 0; i < t.numel(); ++i) in >> t.data<double>()[i];
      return t;
    };
    const Tensor input = read_image(), expected = read_image();
    REQUIRE(in.good());
    INFO("case " << name);
    CHECK(affine(input, angle, tx, ty, scale).to_vector<double>() == expected.to_vector<double>());
    const Tensor single = affine(reshape(input, {c, h, w}), angle, tx, ty, scale);  // (C,H,W) too
    CHECK(single.shape() == Shape{c, h, w});
    CHECK(single.to_vector<double>() == expected.to_vector<double>());
    Tensor input32 = empty({1, c, h, w});
    input32.copy_(input);
    CHECK(affine(input32, angle, tx, ty, scale).to_vector<double>() == expected.to_vector<double>());
    ++cases;
  }
  CHECK(cases == 8);
}

TEST_CASE("random_affine: parameter ranges, per-image draws, determinism", "[transforms][affine]") {
  const Tensor x = iota({1, 1, 10, 10});
  Generator g(21);
  CHECK(equal(random_affine(x, 0, 0, 1, 1, g), x));  // every range degenerate: identity

  // Translation only (t = 0.2 of 10 pixels): each output is a shift by integers |tx|, |ty| <= 2,
  // and over many draws every shift in that range occurs.
  std::set<std::pair<int, int>> shifts;
  for (int k = 0; k < 300; ++k) {
    const Tensor out = random_affine(x, 0, 0.2, 1, 1, g);
    bool matched = false;
    for (int tx = -2; tx <= 2 && !matched; ++tx)
      for (int ty = -2; ty <= 2 && !matched; ++ty)
        if (equal(out, affine(x, 0, tx, ty, 1))) {
          shifts.insert({tx, ty});
          matched = true;
        }
    CHECK(matched);
  }
  CHECK(shifts.size() == 25);

  // Rotation only: the output equals affine at some angle within ±degrees (scanned in steps).
  for (int k = 0; k < 10; ++k) {
    const Tensor out = random_affine(x, 10, 0, 1, 1, g);
    bool matched = false;
    for (double a = -10; a <= 10 && !matched; a += 0.01) matched = equal(out, affine(x, a, 0, 0, 1));
    CHECK(matched);
  }

  // A batch of identical images gets different parameters per image; a seed fixes them.
  Tensor batch = empty({8, 1, 10, 10}, kFloat64);
  for (int64_t n = 0; n < 8; ++n) std::copy_n(x.data<double>(), 100, batch.data<double>() + n * 100);
  Generator a(5), b(5);
  const Tensor ra = random_affine(batch, 10, 0.1, 0.9, 1.1, a);
  CHECK(equal(ra, random_affine(batch, 10, 0.1, 0.9, 1.1, b)));
  int distinct = 0;
  for (int64_t n = 1; n < 8; ++n)
    distinct += !std::equal(ra.data<double>(), ra.data<double>() + 100, ra.data<double>() + n * 100);
  CHECK(distinct >= 6);
  // float32 batches, as training uses.
  Generator f(1);
  CHECK(random_affine(rand({4, 1, 28, 28}, f), 10, 0.1, 0.9, 1.1, f).shape() == Shape{4, 1, 28, 28});

  using Catch::Contains;
  CHECK_THROWS_WITH(random_affine(x, -1, 0, 1, 1, g), Contains("degrees must be >= 0"));
  CHECK_THROWS_WITH(random_affine(x, 0, 1.5, 1, 1, g), Contains("translate must be in [0, 1]"));
  CHECK_THROWS_WITH(random_affine(x, 0, 0, 1.1, 0.9, g), Contains("0 < scale_min <= scale_max"));
  CHECK_THROWS_WITH(random_affine(zeros({10, 10}), 0, 0, 1, 1, g), Contains("(10,10)"));
}
