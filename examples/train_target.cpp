// train_target: train one of the paper's target networks with the paper's recipe.
//
//   train_target lenet     MNIST_DIR   [EPOCHS=20] [CHECKPOINT]   (MNIST or Fashion-MNIST IDX files)
//   train_target cifar-cnn CIFAR_FILES [EPOCHS=50] [CHECKPOINT]   (train,test CIFAR binary files)
//
// The recipe is the library's (protocol::model_protocol(model).recipe, docs/protocol.md §2;
// He, Zhang & Lee 2019, reference code): Adam(lr 1e-3, eps 1e-3, AMSGrad), batch 32,
// cross-entropy, learning rate halved every 20 epochs. LeNet: inputs (x - 0.5)/0.5, no
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
  const protocol::ModelProtocol& p = protocol::model_protocol(model);
  const bool cifar = model == "cifar-cnn";
  protocol::TargetRecipe recipe = p.recipe;
  if (argc > 3) recipe.epochs = std::stoll(argv[3]);
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
  auto net = p.build(gen);
  Shape one{1};
  one.insert(one.end(), p.spec.input_shape.begin(), p.spec.input_shape.end());
  std::printf("%s", net->summary(one).c_str());

  train::FitOptions o;
  o.validation = &test;
  o.checkpoint = out + ".train";
  o.csv_log = out + ".csv";
  const auto history = protocol::train_target(*net, p.spec, recipe, train, o);

  const auto result = train::evaluate(*net, test, p.spec.mean, p.spec.std);
  double seconds = 0;
  for (const auto& h : history) seconds += h.seconds;
  std::printf("test accuracy %.2f%% after %lld epochs (%.1f s of training, %.2f s per epoch)\n",
              100 * result.accuracy, (long long)recipe.epochs, seconds, seconds / double(history.size()));
  train::save_model(out, *net, {{"model", model}, {"test_accuracy", std::to_string(result.accuracy)}});
  std::printf("wrote %s\n", out.c_str());
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
