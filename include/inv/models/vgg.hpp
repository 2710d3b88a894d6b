// inv/models/vgg.hpp: VGG-11 with BatchNorm for CIFAR-10, with torchvision's module names
// for its convolutional part (torchvision 0.14, torchvision/models/vgg.py).
//
//   vgg11_bn   input (N, 3, 32, 32):  features flatten classifier
// `features` is torchvision's vgg11_bn().features exactly: configuration "A" with
// BatchNorm, [64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M], each number a
// Conv2d 3x3 padding 1 (with bias, as torchvision) + BatchNorm2d + ReLU, each M a
// MaxPool2d(2, 2): a Sequential of 29 layers "0".."28", so a torchvision vgg11_bn
// state_dict's "features.*" entries load unchanged. The CIFAR variant then differs from
// torchvision's ImageNet head: a 32x32 input leaves 512x1x1 after the five poolings, so
// there is no avgpool (torchvision's AdaptiveAvgPool2d((7, 7))) and `classifier` is a
// single Linear(512, num_classes) instead of torchvision's three Linear layers with
// Dropout (the head of the common CIFAR VGG implementations). The split points enter
// `features`: features.0 .. features.27, features, classifier.
//
// Initialisation as torchvision's VGG.__init__: Conv2d weight ~ kaiming_normal_(fan_out,
// relu) and bias 0, BatchNorm2d weight 1 and bias 0, Linear weight ~ N(0, 0.01²) and bias 0.
#pragma once

#include "inv/models/resnet.hpp"

namespace inv::models {

/// VGG-11 with BatchNorm for CIFAR-10 (see the header comment): (N, 3, 32, 32) normalised
/// -> (N, num_classes) logits. 9,231,114 parameters for 10 classes.
inline SequentialPtr vgg11_bn(int64_t num_classes = 10, Generator& gen = default_generator()) {
  INV_CHECK(num_classes > 0, "vgg11_bn: num_classes must be positive, got ", num_classes);
  constexpr int64_t M = 0;  // a max pooling in the configuration
  auto features = std::make_shared<Sequential>();
  int64_t in = 3, index = 0;
  for (const int64_t v : {int64_t{64}, M, int64_t{128}, M, int64_t{256}, int64_t{256}, M, int64_t{512}, int64_t{512},
                          M, int64_t{512}, int64_t{512}, M}) {
    if (v == M) {
      features->emplace<nn::MaxPool2d>(std::to_string(index++), Pool2dOptions(2).stride(2));
      continue;
    }
    features->emplace<nn::Conv2d>(std::to_string(index++), in, v, 3, Conv2dOptions().padding(1), true, gen);
    features->emplace<nn::BatchNorm2d>(std::to_string(index++), v);
    features->emplace<nn::ReLU>(std::to_string(index++));
    in = v;
  }
  auto m = std::make_shared<Sequential>();
  m->add("features", features);
  m->emplace<nn::Flatten>("flatten");
  auto fc = m->emplace<nn::Linear>("classifier", 512, num_classes, true, gen);
  detail::init_torchvision_convs(*m, gen);
  nn::init::normal_(fc->weight, 0.0, 0.01, gen);
  fc->bias.fill_(0.0);
  return m;
}

/// CIFAR-10's normalisation at 32x32 (see cifar10_spec in inv/models/resnet.hpp).
inline ModelSpec vgg11_bn_spec() { return cifar10_spec("vgg11-bn"); }

}  // namespace inv::models
