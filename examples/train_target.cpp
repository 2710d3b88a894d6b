// train_target: train one of the paper's target networks with the paper's recipe.
//
//   train_target lenet     MNIST_DIR   [EPOCHS=20] [CHECKPOINT]   (MNIST or Fashion-MNIST IDX files)
//   train_target cifar-cnn CIFAR_FILES [EPOCHS=50] [CHECKPOINT]   (train,test CIFAR binary files)
//
// Recipe (He, Zhang & Lee 2019, reference code): Adam(lr 1e-3, eps 1e-3, AMSGrad), batch
// 32, cross-entropy, learning rate halved every 20 epochs. LeNet: inputs (x - 0.5)/0.5, no
// augmentation. CIFAR CNN: ImageNet normalisation, random horizontal flip and random affine
// (±10°, translation 0.1, scale 0.9-1.1). Prints a progress line per batch and the
// validation accuracy per epoch, e.g.
//   epoch 1: validation loss 0.0562  accuracy 98.20%
// then the test accuracy and the checkpoint written. An interrupted run resumes from
// CHECKPOINT.train when started again.
#include <cstdio>
#include <inv/inv.hpp>

int main(int argc, char** argv) try {
  using namespace inv;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s lenet|cifar-cnn DATA [EPOCHS] [CHECKPOINT]\n", argv[0]);
    return 2;
  }
  const std::string model = argv[1], data_arg = argv[2];
  const bool cifar = model == "cifar-cnn";
  const int64_t epochs = argc > 3 ? std::stoll(argv[3]) : (cifar ? 50 : 20);
  const std::string out = argc > 4 ? argv[4] : model + ".invckpt";

  data::Dataset train, test;
  if (cifar) {
    const auto comma = data_arg.find(',');
    INV_CHECK(comma != std::string::npos, "cifar-cnn needs TRAIN_FILE,TEST_FILE, got '", data_arg, "'");
    train = data::load_cifar10_binary({data_arg.substr(0, comma)});
    test = data::load_cifar10_binary({data_arg.substr(comma + 1)});
  } else {
    train = data::load_mnist_like(data_arg, true, data::mnist_classes());
    test = data::load_mnist_like(data_arg, false, data::mnist_classes());
  }
  std::printf("%lld training and %lld test images of shape %s\n", (long long)train.size(), (long long)test.size(),
              to_string(test.images.shape()).c_str());

  Generator gen(0);
  auto net = models::by_name(model, gen);
  const auto spec = models::spec_by_name(model);
  Shape one{1};
  one.insert(one.end(), spec.input_shape.begin(), spec.input_shape.end());
  std::printf("%s", net->summary(one).c_str());

  optim::Adam adam(net->parameters(), optim::AdamOptions::paper(1e-3));
  optim::StepLR halve(adam, 20, 0.5);
  train::FitOptions o;
  o.epochs = epochs;
  o.mean = spec.mean;
  o.std = spec.std;
  o.validation = &test;
  o.checkpoint = out + ".train";
  o.csv_log = out + ".csv";
  if (cifar)
    o.augment = [](data::Batch& b, Generator& g) {
      b.images = data::random_affine(data::random_horizontal_flip(b.images, 0.5, g), 10, 0.1, 0.9, 1.1, g);
    };
  const auto history = train::fit(*net, adam, &halve, train, o);

  const auto result = train::evaluate(*net, test, o.mean, o.std);
  double seconds = 0;
  for (const auto& h : history) seconds += h.seconds;
  std::printf("test accuracy %.2f%% after %lld epochs (%.1f s of training, %.2f s per epoch)\n",
              100 * result.accuracy, (long long)epochs, seconds, seconds / double(history.size()));
  train::save_model(out, *net, {{"model", model}, {"test_accuracy", std::to_string(result.accuracy)}});
  std::printf("wrote %s\n", out.c_str());
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
