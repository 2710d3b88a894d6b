// The library compiled for the baseline x86-64 instruction set (no AVX, as a user's
// `g++ -O2 -fopenmp` builds it, see the README), not with this project's -march=native:
// the SIMD paths then take their portable forms, and the fast convolution kernels must
// still agree with the naive ones.
#include <catch2/catch.hpp>

#include <inv/inv.hpp>

using namespace inv;

TEST_CASE("built without -march, the conv kernels agree with the naive ones and LeNet trains a step", "[baseline]") {
#ifdef __AVX__
  WARN("this program was compiled with AVX: it does not test the baseline build");
#endif
  CHECK_FALSE(kernels::use_tiles(kernels::ConvGeometry{}));  // never the AVX-512 tiles here
  Generator g(5);
  for (const auto& [C, O, k] : std::vector<std::array<int64_t, 3>>{{1, 8, 5}, {8, 16, 5}, {8, 1, 5}}) {
    kernels::ConvGeometry geo;
    geo.N = 3, geo.C = C, geo.H = geo.W = 12, geo.O = O, geo.kh = geo.kw = k;
    const Tensor x = randn({geo.N, C, 12, 12}, g), w = randn({O, C, k, k}, g);
    const Tensor dy = randn({geo.N, O, geo.OH(), geo.OW()}, g);
    Tensor y0 = empty_like(dy), y1 = empty_like(dy), dx0 = zeros_like(x), dx1 = zeros_like(x);
    Tensor dw0 = empty_like(w), dw1 = empty_like(w);
    kernels::conv2d_forward_naive<float>(geo, x.data<float>(), w.data<float>(), y0.data<float>());
    kernels::conv2d_backward_data_naive<float>(geo, w.data<float>(), dy.data<float>(), dx0.data<float>());
    kernels::conv2d_backward_weight_naive<float>(geo, x.data<float>(), dy.data<float>(), dw0.data<float>());
    kernels::conv2d_forward<float>(geo, x.data<float>(), w.data<float>(), nullptr, y1.data<float>());
    kernels::conv2d_backward<float>(geo, x.data<float>(), w.data<float>(), dy.data<float>(), dx1.data<float>(),
                                    dw1.data<float>());
    INFO("C=" << C << " O=" << O);
    CHECK(allclose(y1, y0, 1e-4, 1e-4));
    CHECK(allclose(dx1, dx0, 1e-4, 1e-4));
    CHECK(allclose(dw1, dw0, 1e-4, 1e-3));
  }
  auto net = models::lenet(g);
  optim::Adam adam(net->parameters(), optim::AdamOptions::paper(1e-3));
  const Tensor x = randn({8, 1, 28, 28}, g);
  const std::vector<int64_t> labels{0, 1, 2, 3, 4, 5, 6, 7};
  const double before = cross_entropy(net->forward(x), labels).item();
  for (int step = 0; step < 20; ++step) {
    adam.zero_grad();
    Tensor loss = cross_entropy(net->forward(x), labels);
    loss.backward();
    adam.step();
  }
  CHECK(cross_entropy(net->forward(x), labels).item() < before);  // it learns the batch
}
