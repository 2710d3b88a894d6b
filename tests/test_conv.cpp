// conv2d and conv_transpose2d: worked examples, fast vs naive kernels, the adjoint
// identity, gradient checks, thread-count independence.
#include <catch2/catch.hpp>

#include <cstring>

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
/// x = 1..25 as a (1,1,5,5) image.
Tensor ramp5() {
  V v(25);
  for (int i = 0; i < 25; ++i) v[size_t(i)] = i + 1;
  return dt(v, {1, 1, 5, 5});
}
double dot(const Tensor& a, const Tensor& b) { return inv::testing::dot(a, b); }

struct ConvGrads {
  Tensor y, dx, dw, db;
};
ConvGrads conv_with_grads(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& dy,
                          const Conv2dOptions& opt) {
  Tensor x = copy_data(x0).requires_grad_(), w = copy_data(w0).requires_grad_(), b = copy_data(b0).requires_grad_();
  Tensor y = conv2d(x, w, b, opt);
  y.backward(dy);
  return {y, x.grad(), w.grad(), b.grad()};
}

}  // namespace

// ---------------------------------------------------------------------------
// Worked examples: every output and gradient written out (integers, exact).
// ---------------------------------------------------------------------------

TEST_CASE("conv2d worked example: 5x5 input, 3x3 kernel, stride 2", "[conv][worked]") {
  // x = [[1..5], [6..10], ..., [21..25]], w = [[1,2,0],[0,-1,1],[3,0,-2]], b = 0.5.
  // y[0,0] = (1+4+0) + (0-7+8) + (33+0-26) + 0.5 = 13.5
  const Tensor w = dt({1, 2, 0, 0, -1, 1, 3, 0, -2}, {1, 1, 3, 3});
  auto r = conv_with_grads(ramp5(), w, dt({0.5}, {1}), dt({1, 2, 3, 4}, {1, 1, 2, 2}), Conv2dOptions().stride(2));
  CHECK(r.y.shape() == Shape{1, 1, 2, 2});
  CHECK(r.y.to_vector<double>() == V{13.5, 21.5, 53.5, 61.5});
  CHECK(r.dx.to_vector<double>() == V{1, 2, 2, 4, 0,  //
                                      0, -1, 1, -2, 2,  //
                                      6, 6, 8, 8, -4,   //
                                      0, -3, 3, -4, 4,  //
                                      9, 0, 6, 0, -8});
  CHECK(r.dw.to_vector<double>() == V{92, 102, 112, 142, 152, 162, 192, 202, 212});
  CHECK(r.db.to_vector<double>() == V{10});
}

TEST_CASE("conv2d worked example: dilation 2", "[conv][worked]") {
  // A 2x2 kernel with dilation 2 reads x[oy + 2i, ox + 2j]: y[0,0] = 1 - 3 + 2·11 + 13 = 33.
  const Tensor w = dt({1, -1, 2, 1}, {1, 1, 2, 2});
  auto r = conv_with_grads(ramp5(), w, dt({0}, {1}), dt({1, 0, -1, 2, 1, 0, 0, 1, 1}, {1, 1, 3, 3}),
                           Conv2dOptions().dilation(2));
  CHECK(r.y.to_vector<double>() == V{33, 36, 39, 48, 51, 54, 63, 66, 69});
  CHECK(r.dx.to_vector<double>() == V{1, 0, -2, 0, 1,   //
                                      2, 1, -2, -1, 0,  //
                                      2, 1, 0, -1, -2,  //
                                      4, 2, 2, 1, 0,    //
                                      0, 2, 2, 1, 1});
  CHECK(r.dw.to_vector<double>() == V{42, 52, 92, 102});
  CHECK(r.db.to_vector<double>() == V{5});
}

TEST_CASE("conv2d worked example: asymmetric padding (top 1, bottom 0, left 0, right 2)", "[conv][worked]") {
  // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,2],[3,4]]; padded image is 4 rows x 5 columns.
  const Tensor x = dt({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}), w = dt({1, 2, 3, 4}, {1, 1, 2, 2});
  auto r = conv_with_grads(x, w, dt({0}, {1}), dt({1, 1, 1, 1, 1, 2, 1, 1, 0, 0, 1, 3}, {1, 1, 3, 4}),
                           Conv2dOptions().padding(1, 0, 0, 2));
  CHECK(r.y.shape() == Shape{1, 1, 3, 4});
  CHECK(r.y.to_vector<double>() == V{11, 18, 9, 0, 37, 47, 21, 0, 67, 77, 33, 0});
  CHECK(r.dx.to_vector<double>() == V{4, 11, 12, 3, 10, 12, 0, 0, 3});
  CHECK(r.dw.to_vector<double>() == V{14, 8, 35, 22});
  CHECK(r.db.to_vector<double>() == V{13});
}

TEST_CASE("conv_transpose2d worked examples: stride 2, and padding 1 with output_padding 1", "[conv][worked]") {
  // Each input pixel stamps a copy of w, scaled by its value, every 2 pixels.
  const Tensor x = dt({1, 2, 3, 4}, {1, 1, 2, 2}), w = dt({1, 0, 2, 0, 1, 0, 3, 0, 1}, {1, 1, 3, 3});
  const Tensor y = conv_transpose2d(x, w, Tensor(), ConvTranspose2dOptions().stride(2));
  CHECK(y.shape() == Shape{1, 1, 5, 5});
  CHECK(y.to_vector<double>() == V{1, 0, 4, 0, 4,    //
                                   0, 1, 0, 2, 0,    //
                                   6, 0, 17, 0, 10,  //
                                   0, 3, 0, 4, 0,    //
                                   9, 0, 15, 0, 4});
  // padding 1 crops one pixel per side of the 6x6 result (5x5 plus one output_padding row/column).
  const Tensor y2 =
      conv_transpose2d(x, w, dt({0.5}, {1}), ConvTranspose2dOptions().stride(2).padding(1).output_padding(1));
  CHECK(y2.shape() == Shape{1, 1, 4, 4});
  CHECK(y2.to_vector<double>() == V{1.5, 0.5, 2.5, 0.5, 0.5, 17.5, 0.5, 10.5, 3.5, 0.5, 4.5, 0.5, 0.5, 15.5, 0.5, 4.5});
}

TEST_CASE("conv shape errors name what was expected", "[conv][errors]") {
  CHECK_THROWS_WITH(conv2d(zeros({3, 28, 28}), zeros({8, 3, 5, 5})),
                    Catch::Contains("expected 4-D (N,C,H,W) input, got (3,28,28)"));
  CHECK_THROWS_WITH(conv2d(zeros({1, 3, 8, 8}), zeros({8, 2, 3, 3})), Catch::Contains("(8,2,3,3)"));
  CHECK_THROWS_WITH(conv2d(zeros({1, 1, 4, 4}), zeros({1, 1, 5, 5})), Catch::Contains("too small"));
  CHECK_THROWS_WITH(conv2d(zeros({1, 1, 4, 4}), zeros({1, 1, 5, 5}), Tensor(), Conv2dOptions().stride(2)),
                    Catch::Contains("too small"));  // floor((4 - 5) / 2) + 1 = 0, not 1
  CHECK_THROWS_WITH(conv2d(zeros({1, 1, 8, 8}), zeros({2, 1, 3, 3}), zeros({3})), Catch::Contains("bias"));
  CHECK_THROWS_WITH(conv2d(zeros({1, 3, 8, 8}), zeros({4, 1, 3, 3}), Tensor(), Conv2dOptions().groups(3)),
                    Catch::Contains("divisible"));
  CHECK_THROWS_WITH(conv_transpose2d(zeros({1, 2, 4, 4}), zeros({2, 1, 3, 3}), Tensor(),
                                     ConvTranspose2dOptions().stride(2).output_padding(2)),
                    Catch::Contains("output_padding"));
  CHECK_THROWS_AS(conv2d(zeros({1, 1, 8, 8}), zeros({1, 1, 3, 3}), Tensor(), Conv2dOptions().stride(0)), Error);
}

// ---------------------------------------------------------------------------
// The fast kernels against the naive reference.
// ---------------------------------------------------------------------------

namespace {
struct GeomCase {
  int64_t N, C, H, W, O, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, groups;
};
}  // namespace

TEST_CASE("implicit GEMM, col2im, flipped, lanes, direct, register-tiled, channel- and pixel-tile kernels agree with the naive kernels over a grid of shapes", "[conv][kernel]") {
  const std::vector<GeomCase> cases = {
      {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      // padding 1
      {3, 4, 9, 8, 6, 3, 3, 2, 2, 1, 2, 0, 1, 2, 2, 2},      // stride 2, asymmetric padding, dilation 2, groups 2
      {1, 1, 5, 5, 1, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1},      // stride 2
      {20, 2, 6, 6, 4, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, 2},     // many images: several per chunk
      {33, 1, 28, 28, 8, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1},   // LeNet conv1, odd batch
      {4, 8, 12, 12, 16, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1},   // LeNet conv2
      {2, 6, 10, 7, 6, 3, 2, 2, 1, 1, 0, 2, 1, 1, 2, 6},     // depthwise, non-square kernel
      {3, 4, 8, 8, 8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},      // 1x1
      {2, 3, 11, 9, 5, 3, 5, 3, 2, 2, 1, 0, 3, 2, 1, 1},     // stride 3x2, mixed padding and dilation
      {2, 3, 32, 30, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    // CIFAR conv11-like, 7 channels (block tail 3)
      {3, 2, 6, 21, 5, 2, 4, 1, 1, 2, 0, 3, 1, 1, 2, 1},     // padding larger than the kernel reach, wide rows
      {1, 5, 9, 9, 2, 5, 5, 1, 1, 4, 4, 4, 4, 1, 1, 1},      // the paper's conv1 decoder: 5x5, padding 4
      {3, 16, 9, 8, 12, 3, 2, 1, 1, 2, 0, 1, 3, 2, 1, 2},    // stride 1, asymmetric padding, dilation 2, groups 2
      {2, 8, 8, 7, 4, 3, 3, 1, 1, 2, -1, 1, -1, 2, 1, 1},    // negative bottom/right padding (conv_transpose2d's)
      {5, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    // CIFAR-like 3x3 padding 1, 8-pixel rows
      {9, 8, 24, 24, 1, 5, 5, 1, 1, 4, 4, 4, 4, 1, 1, 1},    // LeNet's conv1 decoder, 8 -> 1 channel, 28-pixel rows
      {2, 4, 7, 40, 2, 3, 3, 2, 1, 1, 0, 2, 1, 1, 2, 1},     // 2 outputs, rows of several blocks, stride 2x1
      {3, 6, 9, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 6},      // depthwise, stride 1, dilation 2
      {2, 8, 7, 13, 5, 4, 4, 1, 1, 1, 2, 3, 0, 1, 1, 1},     // 8 channels, 4x4 (taps 3 + 1), 13-pixel rows
      {2, 16, 6, 9, 3, 2, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1},     // 16 channels, 2x1 kernel
      {1, 8, 5, 6, 2, 2, 5, 1, 1, 0, 0, 1, -2, 1, 1, 1},     // 1x5 taps (3 + 2) past both row ends
      {2, 4, 9, 11, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},     // groups 2 of 3 outputs: a 2-output tile never spans groups
      {2, 2, 10, 20, 3, 2, 7, 2, 1, 0, 1, 3, 3, 1, 2, 1},    // 2x7 taps (5 + 2), dilation 2 along the width, stride 2x1
      {2, 3, 11, 13, 16, 3, 3, 2, 1, 1, 0, 2, 1, 2, 1, 1},   // 16 outputs: stride 2x1, dilation 2x1, 14-pixel rows
      {2, 3, 12, 13, 8, 3, 3, 2, 1, 1, 0, 2, 1, 2, 1, 1},    // 8 outputs (row pairs): stride 2x1, dilation 2x1, 5 rows
      {3, 4, 9, 10, 16, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 1},    // 7x7 taps, 10-pixel rows
      {2, 6, 10, 12, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},   // groups 2 of 16 outputs
      {2, 4, 7, 9, 24, 2, 4, 1, 1, 0, 1, 3, 0, 1, 1, 1},     // 24 outputs: three blocks of 8 lanes
      {2, 2, 1, 12, 8, 1, 6, 1, 1, 0, 0, 0, 0, 1, 1, 1},     // one output row, 1x6 taps
      {2, 6, 15, 17, 48, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 3},   // 1x1, groups 3 of 16, 15 rows
      {2, 16, 9, 11, 8, 3, 7, 1, 1, 2, 0, 3, 1, 1, 1, 2},    // groups of 8 input channels: row pairs, 3x7 taps
      {3, 32, 6, 10, 4, 2, 2, 1, 1, 0, 1, 1, 0, 1, 1, 2},    // groups of 16 input channels: one row per vector
      {2, 24, 5, 19, 6, 5, 3, 1, 1, 4, 4, 2, 2, 1, 1, 1},    // 24 input channels (3 blocks), full padding
      {1, 8, 3, 3, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1},      // a single output pixel
  };
  int64_t lanes_cases = 0, rows_cases = 0, tiles_cases = 0, data_tiles_cases = 0, pixel_tiles_cases = 0;
  for (Dtype dtype : {kFloat64, kFloat32}) {
    Generator g(1);
    for (const auto& c : cases) {
      kernels::ConvGeometry G;
      G.N = c.N, G.C = c.C, G.H = c.H, G.W = c.W, G.O = c.O, G.kh = c.kh, G.kw = c.kw, G.sh = c.sh, G.sw = c.sw;
      G.pt = c.pt, G.pb = c.pb, G.pl = c.pl, G.pr = c.pr, G.dh = c.dh, G.dw = c.dw, G.groups = c.groups;
      const Tensor x = randn({c.N, c.C, c.H, c.W}, g, dtype), w = randn({c.O, c.C / c.groups, c.kh, c.kw}, g, dtype);
      const Tensor dy = randn({c.N, c.O, G.OH(), G.OW()}, g, dtype);
      const double tol = dtype == kFloat64 ? 1e-12 : 2e-4;
      dispatch(dtype, [&](auto tag) {
        using T = decltype(tag);
        INFO("N=" << c.N << " C=" << c.C << " H=" << c.H << " W=" << c.W << " O=" << c.O << " k=" << c.kh << "x"
                  << c.kw << " stride=" << c.sh << "x" << c.sw << " groups=" << c.groups << " " << dtype_name(dtype));
        const Tensor bias = randn({c.O}, g, dtype);
        Tensor y1 = empty_like(dy), dx1 = zeros_like(x), dw1 = empty_like(w);
        kernels::conv2d_forward_naive<T>(G, x.data<T>(), w.data<T>(), y1.data<T>());
        kernels::conv2d_backward_data_naive<T>(G, w.data<T>(), dy.data<T>(), dx1.data<T>());
        kernels::conv2d_backward_weight_naive<T>(G, x.data<T>(), dy.data<T>(), dw1.data<T>());
        const Tensor y1b = add(y1, reshape(bias, {1, c.O, 1, 1}));
        // Backward kernels add into dx: start from a non-zero dx to check that they accumulate.
        const Tensor dx0 = randn(x.shape(), g, dtype);
        auto check = [&](const char* path, const Tensor& y, const Tensor& yb, const Tensor& dx, const Tensor& dw) {
          INFO(path);
          CHECK(allclose(y, y1, tol, tol));
          CHECK(allclose(yb, y1b, tol, tol));  // the bias is fused into the kernels
          CHECK(allclose(sub(dx, dx0), dx1, tol, tol));
          CHECK(allclose(dw, dw1, tol, tol * 10));
        };
        {
          Tensor y = empty_like(dy), yb = empty_like(dy), dx = copy_data(dx0), dw = empty_like(w);
          kernels::conv2d_forward_gemm<T>(G, x.data<T>(), w.data<T>(), nullptr, y.data<T>());
          kernels::conv2d_forward_gemm<T>(G, x.data<T>(), w.data<T>(), bias.data<T>(), yb.data<T>());
          kernels::conv2d_backward_gemm<T>(G, x.data<T>(), w.data<T>(), dy.data<T>(), dx.data<T>(), dw.data<T>());
          check("implicit GEMM (dispatched backward_data)", y, yb, dx, dw);
        }
        // Both backward_data paths, whatever the dispatch picks for this shape.
        auto check_dx = [&](const char* path, const Tensor& dx) {
          INFO(path);
          CHECK(allclose(sub(dx, dx0), dx1, tol, tol));
        };
        {
          Tensor dx = copy_data(dx0);
          kernels::conv2d_backward_data_col2im<T>(G, w.data<T>(), dy.data<T>(), dx.data<T>());
          check_dx("backward_data: W^T dY + col2im", dx);
        }
        if (kernels::use_backward_data_lanes<T>(G)) {
          Tensor dx = copy_data(dx0), dx_col2im = copy_data(dx0);
          kernels::conv2d_backward_data_lanes<T>(G, w.data<T>(), dy.data<T>(), dx.data<T>());
          check_dx("backward_data: lanes", dx);
          kernels::conv2d_backward_data_col2im<T>(G, w.data<T>(), dy.data<T>(), dx_col2im.data<T>());
          CHECK(std::memcmp(dx.data<T>(), dx_col2im.data<T>(), size_t(dx.numel()) * sizeof(T)) == 0);  // col2im's bits
          ++lanes_cases;
        }
        if (c.sh == 1 && c.sw == 1) {
          Tensor dx = copy_data(dx0);
          kernels::conv2d_backward_data_flipped<T>(G, w.data<T>(), dy.data<T>(), dx.data<T>());
          check_dx("backward_data: forward with flipped weights", dx);
        }
        // The direct forward and the register-tiled weight gradient on every shape they can
        // take (any channel count, stride 1 along the width), whatever the dispatch picks;
        // dx through the dispatched kernel.
        if (c.sw == 1) {
          Tensor y = empty_like(dy), yb = empty_like(dy), dx = copy_data(dx0), dw = empty_like(w);
          kernels::conv2d_forward_direct<T>(G, x.data<T>(), w.data<T>(), nullptr, y.data<T>());
          kernels::conv2d_forward_direct<T>(G, x.data<T>(), w.data<T>(), bias.data<T>(), yb.data<T>());
          kernels::conv2d_backward_weight_rows<T>(G, x.data<T>(), dy.data<T>(), dw.data<T>());
          kernels::conv2d_backward_data_gemm<T>(G, w.data<T>(), dy.data<T>(), dx.data<T>());
          check("direct forward, register-tiled backward_weight", y, yb, dx, dw);
          ++rows_cases;
        }
#ifdef INV_CONV_TILES
        // The channel tiles (float32, AVX-512) on every shape they can take.
        if constexpr (std::is_same_v<T, float>)
          if (kernels::use_tiles(G)) {
            Tensor y = empty_like(dy), yb = empty_like(dy), dx = copy_data(dx0), dw = empty_like(w);
            kernels::conv2d_forward_tiles(G, x.data<T>(), w.data<T>(), nullptr, y.data<T>());
            kernels::conv2d_forward_tiles(G, x.data<T>(), w.data<T>(), bias.data<T>(), yb.data<T>());
            Tensor db = empty({c.O}), dw_only = empty_like(w);
            kernels::conv2d_backward_weight_tiles(G, x.data<T>(), dy.data<T>(), dw.data<T>(), db.data<T>());
            kernels::conv2d_backward_weight_tiles(G, x.data<T>(), dy.data<T>(), dw_only.data<T>());
            kernels::conv2d_backward_data_gemm<T>(G, w.data<T>(), dy.data<T>(), dx.data<T>());
            check("channel tiles: forward, backward_weight", y, yb, dx, dw);
            CHECK(equal(dw_only, dw));                             // the bias sum changes nothing else
            CHECK(allclose(db, sum(dy, {0, 2, 3}), tol, tol));  // and is the bias gradient
            ++tiles_cases;
          }
        if constexpr (std::is_same_v<T, float>)
          if (kernels::use_pixel_tiles(G)) {
            Tensor y = empty_like(dy), yb = empty_like(dy);
            kernels::conv2d_forward_pixel_tiles(G, x.data<T>(), w.data<T>(), nullptr, y.data<T>());
            kernels::conv2d_forward_pixel_tiles(G, x.data<T>(), w.data<T>(), bias.data<T>(), yb.data<T>());
            INFO("forward: pixel tiles");
            CHECK(allclose(y, y1, tol, tol));
            CHECK(allclose(yb, y1b, tol, tol));
            ++pixel_tiles_cases;
          }
        if constexpr (std::is_same_v<T, float>)
          if (c.sh == 1 && kernels::use_pixel_tiles(kernels::flipped_geometry(G))) {
            Tensor dx = copy_data(dx0);
            kernels::conv2d_backward_data_pixel_tiles(G, w.data<T>(), dy.data<T>(), dx.data<T>());
            check_dx("backward_data: pixel tiles on the flipped weights", dx);
            ++pixel_tiles_cases;
          }
        if constexpr (std::is_same_v<T, float>)
          if (kernels::use_backward_data_tiles(G)) {
            Tensor dx = copy_data(dx0);
            kernels::conv2d_backward_data_tiles(G, w.data<T>(), dy.data<T>(), dx.data<T>());
            check_dx("backward_data: channel tiles", dx);
            ++data_tiles_cases;
          }
#endif
      });
    }
  }
  CHECK(lanes_cases >= 12);  // the lanes kernel ran on shapes of both element types
  CHECK(rows_cases >= 40);   // and the register-tiled weight gradient
  if (kernels::cpu_has_avx512()) {
    CHECK(tiles_cases >= 10);       // and the channel tiles
    CHECK(data_tiles_cases >= 10);
    CHECK(pixel_tiles_cases >= 8);
  } else
    WARN("this CPU has no AVX-512: the channel-tile kernels were not run");
}

// ---------------------------------------------------------------------------
// Adjoint identity and gradient checks.
// ---------------------------------------------------------------------------

TEST_CASE("<conv2d(x), y> = <x, conv_transpose2d(y)> to 1e-10 in double", "[conv][adjoint]") {
  struct Case {
    int64_t C, O, H, k, stride, pad, dil, groups;
  };
  for (const Case c : {Case{3, 2, 9, 3, 2, 1, 1, 1}, Case{4, 6, 11, 3, 1, 2, 2, 2}, Case{1, 8, 28, 5, 1, 0, 1, 1},
                       Case{2, 2, 10, 4, 3, 1, 1, 2}, Case{16, 8, 12, 5, 2, 0, 1, 1}}) {
    Generator g(2);
    const Tensor w = randn({c.O, c.C / c.groups, c.k, c.k}, g, kFloat64);
    const Tensor x = randn({2, c.C, c.H, c.H}, g, kFloat64);
    const Tensor cx = conv2d(x, w, Tensor(), Conv2dOptions().stride(c.stride).padding(c.pad).dilation(c.dil).groups(c.groups));
    const Tensor y = randn(cx.shape(), g, kFloat64);
    // Transposed conv back to x's size (output_padding makes up for the rows the stride skips).
    const int64_t out_pad = c.H - ((cx.size(2) - 1) * c.stride - 2 * c.pad + c.dil * (c.k - 1) + 1);
    const Tensor ty = conv_transpose2d(
        y, w, Tensor(),
        ConvTranspose2dOptions().stride(c.stride).padding(c.pad).dilation(c.dil).groups(c.groups).output_padding(out_pad));
    REQUIRE(ty.shape() == x.shape());
    INFO("C=" << c.C << " O=" << c.O << " H=" << c.H << " k=" << c.k << " stride=" << c.stride << " dil=" << c.dil);
    CHECK(std::fabs(dot(cx, y) - dot(x, ty)) < 1e-10);
  }
}

TEST_CASE("conv2d gradient checks (double)", "[conv][gradcheck]") {
  const Tensor b = rnd({4}, 3);
  gradcheck("conv2d plain", [](auto& v) { return conv2d(v[0], v[1], v[2]); }, {rnd({2, 2, 5, 6}, 4), rnd({4, 2, 3, 3}, 5), b});
  gradcheck("conv2d stride 2 padding 1",
            [](auto& v) { return conv2d(v[0], v[1], v[2], Conv2dOptions().stride(2).padding(1)); },
            {rnd({2, 2, 6, 5}, 6), rnd({4, 2, 3, 3}, 7), b});
  gradcheck("conv2d asymmetric padding, dilation 2",
            [](auto& v) { return conv2d(v[0], v[1], v[2], Conv2dOptions().padding(0, 2, 1, 0).dilation(2)); },
            {rnd({1, 2, 6, 6}, 8), rnd({4, 2, 2, 3}, 9), b});
  gradcheck("conv2d groups 2", [](auto& v) { return conv2d(v[0], v[1], v[2], Conv2dOptions().groups(2)); },
            {rnd({2, 4, 5, 5}, 10), rnd({4, 2, 3, 3}, 11), b});
  gradcheck("conv2d depthwise, no bias",
            [](auto& v) { return conv2d(v[0], v[1], Tensor(), Conv2dOptions().groups(4).stride(2)); },
            {rnd({2, 4, 7, 7}, 12), rnd({4, 1, 3, 3}, 13)});
}

TEST_CASE("conv_transpose2d gradient checks (double)", "[conv][gradcheck]") {
  const Tensor b = rnd({4}, 14);
  gradcheck("conv_transpose2d plain", [](auto& v) { return conv_transpose2d(v[0], v[1], v[2]); },
            {rnd({2, 3, 4, 3}, 15), rnd({3, 4, 3, 3}, 16), b});
  gradcheck("conv_transpose2d stride 2 padding 1 output_padding 1",
            [](auto& v) {
              return conv_transpose2d(v[0], v[1], v[2], ConvTranspose2dOptions().stride(2).padding(1).output_padding(1));
            },
            {rnd({2, 3, 4, 4}, 17), rnd({3, 4, 3, 3}, 18), b});
  gradcheck("conv_transpose2d dilation 2 groups 2",
            [](auto& v) { return conv_transpose2d(v[0], v[1], v[2], ConvTranspose2dOptions().dilation(2).groups(2)); },
            {rnd({1, 4, 3, 3}, 19), rnd({4, 2, 2, 2}, 20), b});
  gradcheck("conv_transpose2d paper decoder layer (5x5, stride 2, output_padding 1)",
            [](auto& v) {
              return conv_transpose2d(v[0], v[1], Tensor(), ConvTranspose2dOptions().stride(2).output_padding(1));
            },
            {rnd({1, 2, 4, 4}, 21), rnd({2, 1, 5, 5}, 22)});
}

TEST_CASE("conv results are bitwise identical with 1 and 2 threads", "[conv][threads]") {
  Generator g(23);
  const Tensor x = randn({32, 8, 12, 12}, g), w = randn({16, 8, 5, 5}, g), b = randn({16}, g);
  const Tensor x1 = randn({1, 64, 16, 16}, g), w1 = randn({64, 64, 3, 3}, g);  // one image: the GEMM splits
  const Tensor x3 = randn({12, 32, 8, 8}, g), w3 = randn({32, 32, 3, 3}, g);    // several chunks, flipped dx
  const Tensor x5 = randn({32, 1, 28, 28}, g), w5 = randn({8, 1, 5, 5}, g);    // register-tiled dw, 8 chunks
  auto run = [&] {
    Tensor xx = copy_data(x).requires_grad_(), ww = copy_data(w).requires_grad_(), bb = copy_data(b).requires_grad_();
    Tensor y = conv2d(xx, ww, bb);
    sum(y * y).backward();
    Tensor xx1 = copy_data(x1).requires_grad_(), ww1 = copy_data(w1).requires_grad_();
    Tensor y1 = conv2d(xx1, ww1, Tensor(), Conv2dOptions().padding(1));
    sum(y1 * y1).backward();
    Tensor xx3 = copy_data(x3).requires_grad_(), ww3 = copy_data(w3).requires_grad_();
    Tensor y3 = conv2d(xx3, ww3, Tensor(), Conv2dOptions().padding(1, 0, 2, 1).dilation(2));
    sum(y3 * y3).backward();
    Tensor xx4 = copy_data(x3).requires_grad_(), ww4 = copy_data(w3).requires_grad_();
    Tensor y4 = conv2d(xx4, ww4, Tensor(), Conv2dOptions().stride(2).padding(1));
    sum(y4 * y4).backward();
    Tensor ww5 = copy_data(w5).requires_grad_();
    Tensor y5 = conv2d(x5, ww5);
    sum(y5 * y5).backward();
    Tensor t = conv_transpose2d(y, ww.detach(), Tensor());
    return std::vector<Tensor>{y.detach(),  xx.grad(),  ww.grad(),  bb.grad(),   y1.detach(), xx1.grad(),
                               ww1.grad(),  y3.detach(), xx3.grad(), ww3.grad(), y4.detach(), xx4.grad(),
                               ww4.grad(),  y5.detach(), ww5.grad(), t};
  };
  const int saved = num_threads();
  set_num_threads(1);
  const auto one = run();
  set_num_threads(2);
  const auto two = run();
  set_num_threads(saved);
  for (size_t i = 0; i < one.size(); ++i) {
    INFO("result " << i);
    CHECK(equal(one[i], two[i]));
  }
}

TEST_CASE("conv2d in float64 after a float32 conv2d of another shape gives the same result as before it", "[conv][kernel]") {
  // Both types lay out the GEMM's tap and pixel offsets in the same per-thread buffers.
  Generator g(29);
  const Tensor xd = randn({1, 3, 10, 10}, g, kFloat64), wd = randn({4, 3, 3, 3}, g, kFloat64);
  const Tensor xf = randn({1, 2, 7, 9}, g), wf = randn({4, 2, 2, 2}, g);
  const int saved = num_threads();
  set_num_threads(1);
  const Tensor before = conv2d(xd, wd);
  const Tensor between = conv2d(xf, wf);
  const Tensor after = conv2d(xd, wd);
  const Tensor again = conv2d(xf, wf);
  set_num_threads(saved);
  CHECK(equal(before, after));
  CHECK(equal(between, again));
}
