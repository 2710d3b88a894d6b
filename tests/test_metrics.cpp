// Image-quality metrics: hand-computed worked examples (MSE, PSNR, both SSIM modes),
// agreement with scikit-image 0.19 on committed fixtures, and the error paths.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>

#include <inv/metrics.hpp>

using namespace inv;
using namespace inv::metrics;
using V = std::vector<double>;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

Tensor img(const V& values, Shape shape, Dtype dtype = kFloat64) { return from_vector(values, shape, dtype); }

/// An (1, C, H, W) image with every pixel of channel c equal to values[c].
Tensor constant_image(const V& values, int64_t h, int64_t w) {
  V v;
  for (double x : values) v.insert(v.end(), static_cast<size_t>(h * w), x);
  return img(v, {1, static_cast<int64_t>(values.size()), h, w});
}

/// An (1, 1, H, W) image of zeros with `value` at (i, j).
Tensor delta_image(int64_t h, int64_t w, int64_t i, int64_t j, double value) {
  V v(static_cast<size_t>(h * w), 0.0);
  v[static_cast<size_t>(i * w + j)] = value;
  return img(v, {1, 1, h, w});
}

// ---------------------------------------------------------------------------
// Fixtures written by scripts/fixtures/make_metric_fixtures.py
// ---------------------------------------------------------------------------

struct Fixture {
  Shape shape;
  V ref, rec;                              // pixel values (already divided by the scale)
  std::map<std::string, V> expected;       // "mse", "psnr", "ssim_reference", ...
  bool has(const std::string& key) const { return expected.count(key) > 0; }
};

double parse_number(const std::string& token, const std::string& path) {
  char* end = nullptr;
  const double v = std::strtod(token.c_str(), &end);
  if (end == token.c_str() || *end != '\0') FAIL("bad number '" << token << "' in " << path);
  return v;
}

Fixture load_fixture(const std::string& name) {
  const std::string path = std::string(INV_FIXTURES_DIR) + "/metrics_" + name + ".txt";
  std::ifstream in(path);
  if (!in) FAIL("cannot open fixture " << path);
  Fixture f;
  double scale = 0;
  V* pixels = nullptr;  // the image being read, if any
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string key;
    ls >> key;
    if (key == "shape") {
      f.shape.assign(4, 0);
      for (int64_t& d : f.shape) ls >> d;
    } else if (key == "scale") {
      ls >> scale;
    } else if (key == "reference" || key == "reconstruction") {
      pixels = key == "reference" ? &f.ref : &f.rec;
    } else if (std::isdigit(static_cast<unsigned char>(key[0])) || key[0] == '-') {
      if (!pixels || scale <= 0) FAIL("pixel row outside an image block in " << path);
      pixels->push_back(parse_number(key, path) / scale);
      for (std::string tok; ls >> tok;) pixels->push_back(parse_number(tok, path) / scale);
    } else {
      pixels = nullptr;
      V values;
      for (std::string tok; ls >> tok;)
        if (tok != "none") values.push_back(parse_number(tok, path));
      if (!values.empty()) f.expected[key] = values;
    }
  }
  const size_t n = static_cast<size_t>(numel(f.shape));
  if (f.shape.size() != 4 || f.ref.size() != n || f.rec.size() != n) FAIL("incomplete fixture " << path);
  return f;
}

void check_values(const V& got, const V& want, double tolerance, bool relative, const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("image " << i << ": got " << got[i] << ", want " << want[i]);
    if (std::isinf(want[i])) {
      CHECK(got[i] == want[i]);
    } else {
      const double bound = relative ? tolerance * std::abs(want[i]) : tolerance;
      CHECK(std::abs(got[i] - want[i]) <= bound);
    }
  }
}

const char* const kFixtures[] = {"gray28", "color32", "identical", "constant", "clipped", "min7", "min11"};

}  // namespace

// ---------------------------------------------------------------------------
// MSE and PSNR
// ---------------------------------------------------------------------------

TEST_CASE("MSE and PSNR of 2x2 worked examples", "[metrics][psnr]") {
  // Difference 0.1 everywhere: MSE 0.01, PSNR 10·log10(1/0.01) = 20 dB.
  const Tensor a = img({0.2, 0.3, 0.4, 0.5}, {1, 1, 2, 2});
  const Tensor b = img({0.3, 0.4, 0.5, 0.6}, {1, 1, 2, 2});
  CHECK(mse(a, b)[0] == Approx(0.01).epsilon(1e-12));
  CHECK(psnr(a, b)[0] == Approx(20.0).epsilon(1e-12));

  // Differences {0, 0.5, 0.5, 0} (exact in binary): MSE 0.125, PSNR 10·log10(8);
  // data_range 2 adds 20·log10(2): 10·log10(32).
  const Tensor c = img({0.0, 0.5, 1.0, 0.25}, {1, 2, 2});  // a single (C, H, W) image
  const Tensor d = img({0.0, 1.0, 0.5, 0.25}, {1, 2, 2});
  CHECK(mse(c, d) == V{0.125});
  CHECK(psnr(c, d)[0] == Approx(10 * std::log10(8.0)).epsilon(1e-14));
  CHECK(psnr(c, d, 2.0)[0] == Approx(10 * std::log10(32.0)).epsilon(1e-14));

  // A batch gives one value per image; images do not mix.
  const Tensor ab = img({0.2, 0.3, 0.4, 0.5, 0.0, 0.5, 1.0, 0.25}, {2, 1, 2, 2});
  const Tensor cd = img({0.3, 0.4, 0.5, 0.6, 0.0, 1.0, 0.5, 0.25}, {2, 1, 2, 2});
  const V m = mse(ab, cd);
  REQUIRE(m.size() == 2);
  CHECK(m[0] == Approx(0.01).epsilon(1e-12));
  CHECK(m[1] == 0.125);
}

TEST_CASE("metrics clip both images to [0, 1] first", "[metrics][psnr]") {
  // Clipped, {-1, 2, 0.5, inf} equals {0, 1, 0.5, 1}: MSE 0, PSNR +inf.
  const Tensor a = img({-1.0, 2.0, 0.5, kInf}, {1, 1, 2, 2});
  const Tensor b = img({0.0, 1.0, 0.5, 1.0}, {1, 1, 2, 2});
  CHECK(mse(a, b) == V{0.0});
  CHECK(psnr(a, b) == V{kInf});
  // {1.5, -0.5, 0, 0} vs {0.5, 0.5, 0, 0}: clipped differences {0.5, -0.5, 0, 0}, MSE 0.125.
  CHECK(mse(img({1.5, -0.5, 0, 0}, {1, 1, 2, 2}), img({0.5, 0.5, 0, 0}, {1, 1, 2, 2})) == V{0.125});
}

TEST_CASE("PSNR and SSIM clip to [0, data_range]: scaling images and range together changes nothing",
          "[metrics][psnr][ssim]") {
  // Values in [0, 1.2]: clipped to [0, 1] at data_range 1; doubled, they must be clipped
  // to [0, 2], not to [0, 1] (which made PSNR(2a, 2b, 2) differ from PSNR(a, b, 1)).
  std::vector<double> a(2 * 12 * 12), b(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = 1.2 * double((i * 37) % 101) / 100.0;
    b[i] = 1.2 * double((i * 53 + 7) % 97) / 96.0;
  }
  std::vector<double> a2(a), b2(b);
  for (double& v : a2) v *= 2;
  for (double& v : b2) v *= 2;
  const Shape s{2, 1, 12, 12};
  const Tensor ta = img(a, s), tb = img(b, s), ta2 = img(a2, s), tb2 = img(b2, s);
  CHECK(psnr(ta2, tb2, 2.0) == psnr(ta, tb, 1.0));
  for (SsimMode mode : {SsimMode::Reference, SsimMode::Gaussian})
    CHECK(ssim(ta2, tb2, mode, 2.0) == ssim(ta, tb, mode, 1.0));
}

TEST_CASE("identical images: MSE 0, PSNR +inf (not NaN), SSIM 1 in both modes", "[metrics]") {
  Generator gen(7);
  const Tensor x = rand({2, 3, 12, 12}, gen);
  CHECK(mse(x, x) == V{0.0, 0.0});
  CHECK(psnr(x, x) == V{kInf, kInf});
  for (double s : ssim(x, x, SsimMode::Reference)) CHECK(s == Approx(1.0).epsilon(1e-12));
  for (double s : ssim(x, x, SsimMode::Gaussian)) CHECK(s == Approx(1.0).epsilon(1e-12));
  // Constant identical images (flat windows everywhere) as well.
  const Tensor k = constant_image({0.0, 0.3}, 11, 11);
  CHECK(ssim(k, k, SsimMode::Reference)[0] == Approx(1.0).epsilon(1e-12));
  CHECK(ssim(k, k, SsimMode::Gaussian)[0] == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("summarize_psnr: +inf mean when any image is exact, plus the finite mean", "[metrics][psnr]") {
  PsnrSummary s = summarize_psnr({20.0, 30.0});
  CHECK(s.mean == 25.0);
  CHECK(s.finite_mean == 25.0);
  CHECK(s.exact == 0);
  CHECK(s.count == 2);

  s = summarize_psnr({20.0, kInf, 30.0});
  CHECK(s.mean == kInf);
  CHECK(s.finite_mean == 25.0);
  CHECK(s.exact == 1);
  CHECK(s.count == 3);

  s = summarize_psnr({kInf, kInf});
  CHECK(s.mean == kInf);
  CHECK(s.finite_mean == kInf);
  CHECK(s.exact == 2);

  CHECK_THROWS_WITH(summarize_psnr({}), Catch::Contains("at least one"));
  CHECK_THROWS_WITH(summarize_psnr({20.0, std::nan("")}), Catch::Contains("value 1 is nan"));
  CHECK_THROWS_WITH(summarize_psnr({-kInf}), Catch::Contains("value 0 is -inf"));
}

// ---------------------------------------------------------------------------
// SSIM worked examples: each has a single window position or constant maps, so
// the expected value is the SSIM formula evaluated by hand,
//   S = (2μxμy + C1)/(μx² + μy² + C1) · (2σxy + C2)/(σx² + σy² + C2),
//   C1 = (0.01·R)², C2 = (0.03·R)², R the data range.
// ---------------------------------------------------------------------------

TEST_CASE("SSIM of constant images is the luminance term", "[metrics][ssim]") {
  // x = 0.25, y = 0.75 everywhere: all variances are 0, S = (2xy + C1)/(x² + y² + C1).
  const Tensor x = constant_image({0.25}, 11, 13);
  const Tensor y = constant_image({0.75}, 11, 13);
  // Gaussian: R = 1, C1 = 1e-4. Reference: the reconstruction is constant (range 0),
  // so R falls back to 1 and the value is the same.
  const double expected = (0.375 + 1e-4) / (0.625 + 1e-4);
  CHECK(ssim(x, y, SsimMode::Gaussian)[0] == Approx(expected).epsilon(1e-13));
  CHECK(ssim(x, y, SsimMode::Reference)[0] == Approx(expected).epsilon(1e-13));
  // An explicit data_range 2: C1 = 4e-4.
  CHECK(ssim(x, y, SsimMode::Reference, 2.0)[0] == Approx((0.375 + 4e-4) / (0.625 + 4e-4)).epsilon(1e-13));
  CHECK(ssim(x, y, SsimMode::Gaussian, 2.0)[0] == Approx((0.375 + 4e-4) / (0.625 + 4e-4)).epsilon(1e-13));
}

TEST_CASE("reference SSIM of a 7x7 delta: uniform window and sample covariance", "[metrics][ssim]") {
  // x: one pixel 1, 48 pixels 0; y: all 0 (constant, so R falls back to 1).
  // μx = 1/49, sample σx² = 49/48 · (1/49)(48/49) = 1/49; μy = σy² = σxy = 0.
  const Tensor x = delta_image(7, 7, 2, 5, 1.0);
  const Tensor y = constant_image({0.0}, 7, 7);
  const double C1 = 1e-4, C2 = 9e-4;
  const double expected = C1 / (1.0 / 2401 + C1) * (C2 / (1.0 / 49 + C2));
  CHECK(ssim(x, y, SsimMode::Reference)[0] == Approx(expected).epsilon(1e-13));
  // Where the delta sits inside the single window does not matter (uniform weights).
  CHECK(ssim(delta_image(7, 7, 0, 0, 1.0), y, SsimMode::Reference)[0] == Approx(expected).epsilon(1e-13));
}

TEST_CASE("Gaussian SSIM of an 11x11 delta: sigma 1.5, radius 5, population covariance", "[metrics][ssim]") {
  // The centre weight of the 11x11 window is p = g0², g0 = 1/Σ_{k=-5..5} exp(−k²/(2·1.5²)).
  // x: 1 at the centre, 0 elsewhere; y: 0. μx = p, σx² = p − p² (weights sum to 1).
  double sum = 0;
  for (int k = -5; k <= 5; ++k) sum += std::exp(-k * k / 4.5);
  const double p = 1.0 / (sum * sum);
  const double C1 = 1e-4, C2 = 9e-4;
  const double expected = C1 / (p * p + C1) * (C2 / (p - p * p + C2));
  const Tensor y = constant_image({0.0}, 11, 11);
  CHECK(ssim(delta_image(11, 11, 5, 5, 1.0), y, SsimMode::Gaussian)[0] == Approx(expected).epsilon(1e-13));
  // A corner pixel has weight exp(−25/4.5)² · p.
  const double pc = p * std::exp(-50.0 / 4.5);
  CHECK(ssim(delta_image(11, 11, 0, 10, 1.0), y, SsimMode::Gaussian)[0] ==
        Approx(C1 / (pc * pc + C1) * (C2 / (pc - pc * pc + C2))).epsilon(1e-12));
}

TEST_CASE("reference SSIM takes its data range from the reconstruction", "[metrics][ssim]") {
  // Two-level 7x7 image: 24 pixels at 0.75 and 25 at 0.25 (range 0.5).
  V two(49, 0.25);
  for (int i = 0; i < 24; ++i) two[static_cast<size_t>(2 * i)] = 0.75;
  const Tensor t = img(two, {1, 1, 7, 7});
  const Tensor half = constant_image({0.5}, 7, 7);
  // μ = (24·0.75 + 25·0.25)/49 = 24.25/49, sample σ² = 49/48 · (24·25/49²) · 0.5² = 25/392.
  const double mu = 24.25 / 49, var = 25.0 / 392;
  auto expected = [&](double R) {
    const double C1 = (0.01 * R) * (0.01 * R), C2 = (0.03 * R) * (0.03 * R);
    return (2 * 0.5 * mu + C1) / (0.25 + mu * mu + C1) * (C2 / (var + C2));
  };
  // reference = constant, reconstruction = two-level: R = 0.5.
  CHECK(ssim(half, t, SsimMode::Reference)[0] == Approx(expected(0.5)).epsilon(1e-13));
  // Swapped: the reconstruction is constant, R falls back to 1.
  CHECK(ssim(t, half, SsimMode::Reference)[0] == Approx(expected(1.0)).epsilon(1e-13));
  CHECK(expected(0.5) != Approx(expected(1.0)).epsilon(1e-6));
}

TEST_CASE("colour SSIM: channel mean, data range over all channels of the image", "[metrics][ssim]") {
  // Channel 0 identical (S = 1); channel 1: 0.25 vs 0.75, the luminance term.
  const Tensor x = constant_image({0.25, 0.25}, 7, 9);
  const Tensor y = constant_image({0.25, 0.75}, 7, 9);
  // The reconstruction spans 0.25..0.75 across its channels: R = 0.5, C1 = 2.5e-5
  // (a per-channel range would be 0 in each channel and fall back to 1).
  const double C1 = 2.5e-5;
  const double expected = (1.0 + (0.375 + C1) / (0.625 + C1)) / 2;
  CHECK(ssim(x, y, SsimMode::Reference)[0] == Approx(expected).epsilon(1e-13));
}

// ---------------------------------------------------------------------------
// Agreement with scikit-image 0.19
// ---------------------------------------------------------------------------

TEST_CASE("metrics agree with scikit-image on the fixtures", "[metrics][fixtures]") {
  for (const char* name : kFixtures) {
    const Fixture f = load_fixture(name);
    for (Dtype dtype : {kFloat64, kFloat32}) {  // pixel values are exact in both
      INFO("fixture " << name << ", " << dtype_name(dtype));
      const Tensor ref = img(f.ref, f.shape, dtype), rec = img(f.rec, f.shape, dtype);
      check_values(mse(ref, rec), f.expected.at("mse"), 1e-12, true, "mse");
      check_values(psnr(ref, rec), f.expected.at("psnr"), 1e-9, true, "psnr");
      check_values(ssim(ref, rec, SsimMode::Reference), f.expected.at("ssim_reference"), 1e-5, false,
                   "ssim reference");
      check_values(ssim(ref, rec, SsimMode::Reference, 1.0), f.expected.at("ssim_reference_dr1"), 1e-5, false,
                   "ssim reference, data_range 1");
      if (f.has("ssim_gaussian")) {
        check_values(ssim(ref, rec, SsimMode::Gaussian), f.expected.at("ssim_gaussian"), 1e-5, false,
                     "ssim gaussian");
        const ImageQuality q = evaluate(ref, rec);
        check_values(q.mse, f.expected.at("mse"), 1e-12, true, "evaluate mse");
        check_values(q.psnr, f.expected.at("psnr"), 1e-9, true, "evaluate psnr");
        check_values(q.ssim_reference, f.expected.at("ssim_reference"), 1e-5, false, "evaluate ssim reference");
        check_values(q.ssim_gaussian, f.expected.at("ssim_gaussian"), 1e-5, false, "evaluate ssim gaussian");
      } else {
        CHECK_THROWS_WITH(ssim(ref, rec, SsimMode::Gaussian), Catch::Contains("at least 11x11"));
      }
    }
  }
}

TEST_CASE("each image of a batch is measured on its own", "[metrics][fixtures]") {
  // The batch fixtures hold images with different data ranges; measuring image i
  // alone, as a single (C, H, W) image, gives the batch's value i exactly.
  for (const char* name : {"gray28", "constant"}) {
    const Fixture f = load_fixture(name);
    const int64_t n = f.shape[0], per = numel(f.shape) / n;
    const Shape one(f.shape.begin() + 1, f.shape.end());
    const Tensor ref = img(f.ref, f.shape), rec = img(f.rec, f.shape);
    const ImageQuality all = evaluate(ref, rec);
    for (int64_t i = 0; i < n; ++i) {
      INFO("fixture " << name << ", image " << i);
      const V r(f.ref.begin() + i * per, f.ref.begin() + (i + 1) * per);
      const V c(f.rec.begin() + i * per, f.rec.begin() + (i + 1) * per);
      const ImageQuality q = evaluate(img(r, one), img(c, one));
      CHECK(q.mse[0] == all.mse[static_cast<size_t>(i)]);
      CHECK(q.psnr[0] == all.psnr[static_cast<size_t>(i)]);
      CHECK(q.ssim_reference[0] == all.ssim_reference[static_cast<size_t>(i)]);
      CHECK(q.ssim_gaussian[0] == all.ssim_gaussian[static_cast<size_t>(i)]);
    }
  }
}

TEST_CASE("metric values do not depend on the thread count", "[metrics]") {
  Generator gen(3);
  const Tensor ref = rand({4, 3, 16, 16}, gen), rec = rand({4, 3, 16, 16}, gen);
  const int saved = num_threads();
  set_num_threads(1);
  const ImageQuality one = evaluate(ref, rec);
  set_num_threads(2);
  const ImageQuality two = evaluate(ref, rec);
  set_num_threads(saved);
  CHECK(one.ssim_reference == two.ssim_reference);
  CHECK(one.ssim_gaussian == two.ssim_gaussian);
}

TEST_CASE("an empty batch gives empty results", "[metrics]") {
  const Tensor e = zeros({0, 1, 8, 8});
  CHECK(mse(e, e).empty());
  CHECK(psnr(e, e).empty());
  CHECK(ssim(e, e).empty());
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

TEST_CASE("metrics reject bad input with clear messages", "[metrics][errors]") {
  const Tensor a = zeros({1, 1, 8, 8}), b = zeros({1, 1, 8, 9});
  CHECK_THROWS_WITH(mse(a, b), Catch::Contains("same shape") && Catch::Contains("(1,1,8,8) and (1,1,8,9)"));
  CHECK_THROWS_WITH(psnr(a, b), Catch::Contains("(1,1,8,8) and (1,1,8,9)"));
  CHECK_THROWS_WITH(ssim(a, b), Catch::Contains("(1,1,8,8) and (1,1,8,9)"));
  CHECK_THROWS_WITH(evaluate(a, b), Catch::Contains("(1,1,8,8) and (1,1,8,9)"));

  const Tensor flat = zeros({28, 28});
  CHECK_THROWS_WITH(mse(flat, flat), Catch::Contains("(N, C, H, W) or (C, H, W), got (28,28)"));
  CHECK_THROWS_WITH(ssim(zeros({1, 0, 8, 8}), zeros({1, 0, 8, 8})), Catch::Contains("C, H, W >= 1"));
  CHECK_THROWS_WITH(mse(Tensor(), a), Catch::Contains("defined"));

  // Images smaller than the window: the message names the minimum size.
  const Tensor small = zeros({2, 3, 6, 9});
  CHECK_THROWS_WITH(ssim(small, small, SsimMode::Reference),
                    Catch::Contains("at least 7x7") && Catch::Contains("got 6x9"));
  const Tensor ten = zeros({3, 10, 12});
  CHECK_THROWS_WITH(ssim(ten, ten, SsimMode::Gaussian),
                    Catch::Contains("at least 11x11") && Catch::Contains("got 10x12"));
  CHECK_THROWS_WITH(evaluate(zeros({1, 1, 8, 8}), zeros({1, 1, 8, 8})), Catch::Contains("at least 11x11"));
  CHECK_NOTHROW(ssim(zeros({1, 7, 7}), zeros({1, 7, 7}), SsimMode::Reference));

  // data_range must be positive and finite.
  CHECK_THROWS_WITH(psnr(a, a, 0.0), Catch::Contains("data_range must be a positive finite number, got 0"));
  CHECK_THROWS_WITH(psnr(a, a, -1.0), Catch::Contains("got -1"));
  const Tensor big = zeros({1, 1, 12, 12});
  CHECK_THROWS_WITH(ssim(big, big, SsimMode::Gaussian, kInf), Catch::Contains("data_range must be"));
  CHECK_THROWS_WITH(ssim(big, big, SsimMode::Reference, 1e-200), Catch::Contains("too small"));
  CHECK_THROWS_WITH(evaluate(big, zeros({12, 12})), Catch::Contains("same shape"));

  // NaN is reported with its index (±inf are clipped like any other value).
  Tensor n = zeros({1, 1, 8, 8}, kFloat64);
  n.at<double>({0, 0, 3, 4}) = std::nan("");
  CHECK_THROWS_WITH(ssim(a, n), Catch::Contains("reconstruction contains NaN at index (0,0,3,4)"));
  CHECK_THROWS_WITH(psnr(n, a), Catch::Contains("reference contains NaN"));
}
