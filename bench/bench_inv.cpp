// bench_inv: the benchmark cases of bench/torch_bench.py, with inv.
//
//   bench_inv [GROUPS]     GROUPS: comma-separated subset of conv,gemm,train,rmle,attack,conv_parts
//
// conv_parts (not in compare.py's default groups: PyTorch has no counterpart) times the
// conv cases' kernels one by one: forward, backward_weight, backward_data.
//
// Prints one JSON object per line: {"case": ..., "ms": ...} (median wall time), the
// thread count taken from OMP_NUM_THREADS. bench/compare.py runs this and the PyTorch
// script in one go and prints the side-by-side table.
#include <cstdio>
#include <inv/inv.hpp>
#include <set>
#include <sstream>

#include "bench_util.hpp"

using namespace inv;

namespace {

std::set<std::string> groups;
bool wanted(const std::string& g) { return groups.empty() || groups.count(g); }

void emit(const std::string& name, double ms, double gflops = 0) {
  if (gflops > 0)
    std::printf("{\"case\": \"%s\", \"ms\": %.6g, \"gflops\": %.4g}\n", name.c_str(), ms, gflops);
  else
    std::printf("{\"case\": \"%s\", \"ms\": %.6g}\n", name.c_str(), ms);
  std::fflush(stdout);
}

optim::AdamOptions paper_adam(double lr = 1e-3) { return optim::AdamOptions::paper(lr); }

data::Dataset synthetic(int64_t n, uint64_t seed) {
  Generator g(seed);
  data::Dataset ds;
  ds.images = rand({n, 1, 28, 28}, g);
  for (int64_t i = 0; i < n; ++i) ds.labels.push_back(g.randint(10));
  ds.classes = data::mnist_classes();
  return ds;
}

// The paper's conv layers at batch 32: MNIST LeNet conv1, conv2; CIFAR CNN conv12, conv22, conv32.
struct ConvCase {
  const char* name;
  int64_t cin, cout, k, pad, hw;
};
const ConvCase kConvCases[] = {{"lenet.conv1", 1, 8, 5, 0, 28},
                               {"lenet.conv2", 8, 16, 5, 0, 12},
                               {"cifar.conv12", 64, 64, 3, 1, 32},
                               {"cifar.conv22", 128, 128, 3, 1, 16},
                               {"cifar.conv32", 128, 128, 3, 1, 8}};

// Conv layers at the paper's shapes, batch 32: forward + backward (input and weight gradients).
void conv_cases() {
  for (const ConvCase c : kConvCases) {
    Generator g(0);
    nn::Conv2d conv(c.cin, c.cout, c.k, Conv2dOptions().padding(c.pad), true, g);
    Tensor x = randn({32, c.cin, c.hw, c.hw}, g).requires_grad_();
    Tensor gy;
    {
      NoGradGuard ng;
      gy = randn(conv.forward(x).shape(), g);
    }
    emit(std::string("conv/") + c.name, bench::median_ms([&] {
           x.zero_grad();
           conv.zero_grad();
           conv.forward(x).backward(gy);
         }));
  }
}

// The conv cases' three passes, kernels called directly (no autograd, no bias gradient).
void conv_part_cases() {
  for (const ConvCase c : kConvCases) {
    kernels::ConvGeometry geo;
    geo.N = 32, geo.C = c.cin, geo.H = geo.W = c.hw, geo.O = c.cout, geo.kh = geo.kw = c.k;
    geo.pt = geo.pb = geo.pl = geo.pr = c.pad;
    Generator g(0);
    const Tensor x = randn({geo.N, geo.C, geo.H, geo.W}, g), w = randn({geo.O, geo.C, geo.kh, geo.kw}, g);
    const Tensor b = randn({geo.O}, g), dy = randn({geo.N, geo.O, geo.OH(), geo.OW()}, g);
    Tensor y = empty_like(dy), dx = zeros_like(x), dw = empty_like(w);
    const std::string name = std::string("conv_parts/") + c.name;
    emit(name + ".forward", bench::median_ms([&] {
           kernels::conv2d_forward<float>(geo, x.data<float>(), w.data<float>(), b.data<float>(), y.data<float>());
         }));
    emit(name + ".backward_weight", bench::median_ms([&] {
           kernels::conv2d_backward<float>(geo, x.data<float>(), nullptr, dy.data<float>(), nullptr, dw.data<float>());
         }));
    emit(name + ".backward_data", bench::median_ms([&] {
           kernels::conv2d_backward<float>(geo, nullptr, w.data<float>(), dy.data<float>(), dx.data<float>(), nullptr);
         }));
  }
}

void gemm_cases() {
  Generator g(0);
  const Tensor a = randn({1024, 1024}, g), b = randn({1024, 1024}, g);
  const double ms = bench::median_ms([&] { matmul(a, b); });
  emit("gemm/1024", ms, 2.0 * 1024 * 1024 * 1024 / ms / 1e6);
}

// One epoch of the paper's LeNet recipe on 60,000 MNIST-sized images.
void train_cases() {
  const auto ds = synthetic(60000, 1);
  auto net = models::lenet();
  optim::Adam adam(net->parameters(), paper_adam());
  train::FitOptions o;
  o.epochs = 1;
  o.quiet = true;
  o.mean = {0.5};
  o.std = {0.5};
  const auto h = train::fit(*net, adam, nullptr, ds, o);
  emit("train/lenet_epoch", h[0].seconds * 1e3);
}

// rMLE iterations on a batch of 10 (input gradient only), as the attack runs them.
void rmle_cases() {
  Generator g(0);
  auto lenet = models::lenet(g);
  auto cnn = models::cifar_cnn(g);
  struct Case {
    const char* name;
    std::shared_ptr<nn::Sequential> edge;
    Shape in;
    double lambda;
  };
  for (const Case& c : {Case{"mnist.conv1", lenet->split("conv1").first, {1, 28, 28}, 0.0},
                       Case{"mnist.ReLU2", lenet->split("ReLU2").first, {1, 28, 28}, 1.0},
                       Case{"cifar.ReLU22", cnn->split("ReLU22").first, {3, 32, 32}, 10.0}}) {
    Shape batch{10};
    batch.insert(batch.end(), c.in.begin(), c.in.end());
    Tensor v;
    {
      NoGradGuard ng;
      v = c.edge->forward(randn(batch, g));
    }
    attack::RmleConfig cfg;
    cfg.lambda_tv = c.lambda;
    cfg.start = attack::RmleStart::Random;
    cfg.iterations = 300;
    const double ms = bench::median_ms([&] { attack::rmle(*c.edge, v, c.in, cfg); }, 1, 3, 0);
    emit(std::string("rmle/") + c.name, ms / cfg.iterations);
  }
}

// One epoch of decoder and of shadow training on 60,000 MNIST-sized images.
void attack_cases() {
  const auto ds = synthetic(60000, 2);
  Generator g(3);
  auto target = models::lenet(g);
  for (const std::string split : {"conv1", "ReLU2"}) {
    auto [edge, cloud] = target->split(split);
    attack::TrainConfig c;
    c.epochs = 1;
    Tensor x = data::normalize(ds.images, {0.5}, {0.5});
    {
      auto decoder = models::paper_decoder("lenet", split, g);
      attack::InverseNetwork inverse(decoder, c);
      attack::EdgeOracle oracle(edge);
      Tensor features;
      {
        NoGradGuard ng;
        features = edge->forward(x);
      }
      const auto t0 = std::chrono::steady_clock::now();
      attack::detail::train_attacker_model(*decoder, c, ds.size(), "decoder", [&](const std::vector<int64_t>& idx) {
        return mse_loss(decoder->forward(data::gather_rows(features, idx)), data::gather_rows(x, idx));
      });
      emit("decoder_epoch/mnist." + split,
           std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    {
      auto shadow = models::lenet(g)->split(split).first;
      attack::ShadowModel attack(shadow, c);
      data::Dataset normalised = ds;  // attacks take normalised images
      normalised.images = x;
      const auto t0 = std::chrono::steady_clock::now();
      attack.fit(*cloud, normalised);
      emit("shadow_epoch/mnist." + split,
           std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  }
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc > 1) {
    std::stringstream ss(argv[1]);
    for (std::string g; std::getline(ss, g, ',');) groups.insert(g);
  }
  if (wanted("conv")) conv_cases();
  if (wanted("gemm")) gemm_cases();
  if (wanted("train")) train_cases();
  if (wanted("rmle")) rmle_cases();
  if (wanted("attack")) attack_cases();
  if (groups.count("conv_parts")) conv_part_cases();
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
