// attacks_intro: the three model-inversion attacks of He, Zhang & Lee (ACSAC 2019) on a
// small LeNet, in one page.
//
//   attacks_intro [FASHION_MNIST_DIR]     (default /usr/share/datasets/fashion-mnist)
//
// A network f = f2 ∘ f1 is split after ReLU2: the edge computes v = f1(x) on the private
// image x and sends v to the cloud, which computes f2(v). Here the cloud is the attacker.
// It tries to recover x from v in the three settings of the paper (docs/protocol.md §1):
//
//   white-box    knows f1           rMLE: min_x ||f1(x) - v||² + λ_TV·TV(x)        (§3)
//   black-box    may query f1       an inverse network g trained so that g(f1(x)) ≈ x (§4)
//   query-free   knows only f2      a shadow f̃1 trained through the frozen f2, then rMLE (§5)
//
// The budgets are small, so that the program runs in seconds: the target trains 2 epochs
// on 10,000 images, rMLE runs 1,000 iterations, the inverse network and the shadow train
// 5 epochs on 10,000 images of the attacker's own. The paper's budgets are larger (inv
// sweep --preset paper). Output on Fashion-MNIST (the last digits may differ on another CPU):
//
//   target: LeNet, 2 epochs on 10000 images, test accuracy 79.3% (10000 test images)
//   the edge sends ReLU2: 16x8x8 = 1024 numbers per 784-pixel image
//   white-box   PSNR 15.61 dB  SSIM 0.586 (reference)  0.645 (Gaussian)
//   black-box   PSNR 17.47 dB  SSIM 0.584 (reference)  0.607 (Gaussian)   10000 queries
//   query-free  PSNR 10.47 dB  SSIM 0.309 (reference)  0.336 (Gaussian)
//   black-box   PSNR 16.85 dB  SSIM 0.573 (reference)  0.598 (Gaussian)   (through the catalogue: paper decoder (protocol §4))
//
// The papers call a reconstruction recognisable when its SSIM is above 0.3.
#include <cstdio>
#include <inv/inv.hpp>

using namespace inv;

namespace {

/// Mean PSNR and both SSIMs of reconstructions (normalised) against the originals in [0, 1].
void report(const char* attack, const Tensor& originals, const attack::Reconstruction& r,
            const models::ModelSpec& spec, const std::string& extra = "") {
  const metrics::ImageQuality q = attack::score(originals, r.images, spec.mean, spec.std);
  double psnr = 0, ssim_ref = 0, ssim_gauss = 0;
  for (size_t i = 0; i < q.psnr.size(); ++i) {
    psnr += q.psnr[i] / double(q.psnr.size());
    ssim_ref += q.ssim_reference[i] / double(q.psnr.size());
    ssim_gauss += q.ssim_gaussian[i] / double(q.psnr.size());
  }
  std::printf("%-11s PSNR %5.2f dB  SSIM %.3f (reference)  %.3f (Gaussian)%s\n", attack, psnr, ssim_ref,
              ssim_gauss, extra.c_str());
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";

  // 1. The data: images (N, 1, 28, 28) in [0, 1]. The target trains on the first 10,000
  //    training images; the black-box and query-free attackers own the next 10,000 (a
  //    set of the same distribution that the target never saw).
  const data::Dataset train = data::load_mnist_like(dir, true, data::fashion_mnist_classes());
  const data::Dataset test = data::load_mnist_like(dir, false, data::fashion_mnist_classes());
  std::vector<int64_t> target_idx, attacker_idx;
  for (int64_t i = 0; i < 10000; ++i) target_idx.push_back(i), attacker_idx.push_back(10000 + i);
  const data::Dataset target_set = train.subset(target_idx), attacker_set = train.subset(attacker_idx);

  // 2. The target: the paper's LeNet, trained by the paper's recipe (protocol §2) for 2 epochs.
  const protocol::ModelProtocol& lenet = protocol::model_protocol("lenet");
  Generator init(0);
  std::shared_ptr<nn::Sequential> net = lenet.build(init);
  protocol::TargetRecipe recipe = lenet.recipe;
  recipe.epochs = 2;
  train::FitOptions fit;
  fit.quiet = true;
  protocol::train_target(*net, lenet.spec, recipe, target_set, fit);
  const train::EvalResult acc = train::evaluate(*net, test, lenet.spec.mean, lenet.spec.std);
  std::printf("target: LeNet, 2 epochs on %lld images, test accuracy %.1f%% (%lld test images)\n",
              (long long)target_set.size(), 100 * acc.accuracy, (long long)acc.count);

  // 3. The split. Every attack works in normalised space: x = (pixels - 0.5) / 0.5.
  const std::string split = "ReLU2";
  auto [edge, cloud] = net->split(split);  // f1 = conv1 .. ReLU2, f2 = pool2 .. fc3
  net->eval();
  const Tensor originals = test.subset(data::first_index_of_each_class(test)).images;  // one image per class
  const Tensor x = data::normalize(originals, lenet.spec.mean, lenet.spec.std);
  Tensor v;  // what the edge sends: (10, 16, 8, 8)
  {
    NoGradGuard no_grad;
    v = edge->forward(x);
  }
  std::printf("the edge sends %s: %lldx%lldx%lld = %lld numbers per %lld-pixel image\n", split.c_str(),
              (long long)v.size(1), (long long)v.size(2), (long long)v.size(3), (long long)(v.numel() / v.size(0)),
              (long long)(x.numel() / x.size(0)));
  const Tensor attacker_images = data::normalize(attacker_set.images, lenet.spec.mean, lenet.spec.std);

  // 4. White-box: rMLE with the edge itself. Start from x = 0, minimise the feature
  //    distance plus λ_TV times the total variation with Adam (protocol §3: lr 1e-2,
  //    λ_TV 1 at LeNet ReLU2). Returns each image's best iterate.
  const protocol::RmleSetting setting = protocol::white_box_rmle("lenet", split);
  attack::RmleConfig rc;
  rc.iterations = 1000;
  rc.lr = setting.lr;
  rc.lambda_tv = setting.lambda_tv;
  const attack::Reconstruction white = attack::rmle(*edge, v, lenet.spec.input_shape, rc);
  report("white-box", originals, white, lenet.spec);

  // 5. Black-box: the attacker may only query the edge. The EdgeOracle hides the model
  //    and counts the queries. The inverse network is the paper's decoder at ReLU2
  //    (protocol §4), trained on (f1(x'), x') for the attacker's own images x'.
  attack::EdgeOracle oracle(edge);
  Generator decoder_init(1);
  attack::TrainConfig tc;
  tc.epochs = 5;
  attack::InverseNetwork inverse(lenet.paper_decoder(split, decoder_init), tc);
  inverse.fit(oracle, attacker_images);
  const attack::Reconstruction black = inverse.invert(v);
  report("black-box", originals, black, lenet.spec, "   " + std::to_string(oracle.queries()) + " queries");

  // 6. Query-free: no access to the edge, but the cloud f2 is known. A shadow edge with
  //    the edge's architecture and fresh weights is trained so that f2(shadow(x')) gives
  //    the attacker's labels (f2 frozen); then rMLE runs against the shadow.
  Generator shadow_init(2);
  attack::ShadowModel shadow(lenet.build(shadow_init)->split(split).first, tc);
  data::Dataset labelled = attacker_set;
  labelled.images = attacker_images;
  shadow.fit(*cloud, labelled);
  const attack::Reconstruction free = shadow.invert(v, lenet.spec.input_shape, rc);
  report("query-free", originals, free, lenet.spec);

  // 7. The same attacks, and any other of the library's catalogue (inv/attack/registry.hpp),
  //    run through one call that grants each only its access. Here the black-box attack
  //    again, with the budget above instead of the protocol's (protocol_settings).
  const attack::AttackInfo& black_box = *attack::find_attack("black-box");
  const attack::SplitTarget target{&lenet, net, split};
  protocol::AttackerData own;
  own.images = attacker_images;
  attack::AttackSettings s = attack::protocol_settings(black_box, target);
  s.decoder.epochs = 5;
  const attack::Reconstruction again = attack::run_attack(black_box, target, v, &own, s);
  report("black-box", originals, again, lenet.spec, "   (through the catalogue: " + again.architecture + ")");
  // `inv sweep` runs every attack of the catalogue at every split and writes the report.
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "attacks_intro: error: %s\n", e.what());
  return 1;
}
