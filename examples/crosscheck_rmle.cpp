// crosscheck_rmle: the white-box attack on the trained LeNet, with everything exported as
// NumPy files so that scripts/crosscheck_rmle.py can run the same attack in PyTorch on
// identical weights, images and settings, and compare the reconstructions.
//
//   crosscheck_rmle CHECKPOINT MNIST_DIR OUT_DIR [ITERATIONS=5000]
//
// Writes OUT_DIR/<param>.npy for every LeNet parameter (PyTorch layout), images.npy (the
// first test image of each class, normalised), and for conv1 and ReLU2 the features
// v_<split>.npy and inv's reconstruction rec_<split>.npy (normalised space). Settings
// (protocol §3): Adam(lr 1e-2, eps 1e-3, AMSGrad) from x = 0; λ_TV = 0 at conv1, 1 at ReLU2.
#include <cstdio>
#include <inv/inv.hpp>

int main(int argc, char** argv) try {
  using namespace inv;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s CHECKPOINT MNIST_DIR OUT_DIR [ITERATIONS=5000]\n", argv[0]);
    return 2;
  }
  const std::string out = argv[3];
  const int64_t iterations = argc > 4 ? std::stoll(argv[4]) : 5000;
  auto net = models::lenet();
  train::load_model(argv[1], *net);
  for (const auto& [name, t] : net->named_parameters()) io::save_npy(out + "/" + name + ".npy", t);

  const data::Dataset test = data::load_mnist(argv[2], false);
  const data::Dataset firsts = test.subset(data::first_index_of_each_class(test));
  const Tensor x = data::normalize(firsts.images, {0.5}, {0.5});
  io::save_npy(out + "/images.npy", x);

  for (const auto& [split, lambda] : std::vector<std::pair<std::string, double>>{{"conv1", 0.0}, {"ReLU2", 1.0}}) {
    auto edge = net->split(split).first;
    Tensor v;
    {
      NoGradGuard ng;
      v = edge->forward(x);
    }
    attack::RmleConfig c;
    c.iterations = iterations;
    c.lr = 1e-2;
    c.lambda_tv = lambda;
    const auto r = attack::rmle(*edge, v, {1, 28, 28}, c);
    io::save_npy(out + "/v_" + split + ".npy", v);
    io::save_npy(out + "/rec_" + split + ".npy", r.images);
    const auto q = attack::score(firsts.images, r.images, {0.5}, {0.5});
    double psnr = 0, ssim = 0;
    for (size_t i = 0; i < q.psnr.size(); ++i) psnr += q.psnr[i] / double(q.psnr.size());
    for (size_t i = 0; i < q.ssim_reference.size(); ++i) ssim += q.ssim_reference[i] / double(q.psnr.size());
    std::printf("%s: %lld iterations, final objective %.3g, PSNR %.2f dB, SSIM %.4f\n", split.c_str(),
                (long long)iterations, r.trace.back(), psnr, ssim);
  }
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
