// inv/models/zoo.hpp: the networks of He, Zhang & Lee (ACSAC 2019), with the paper's layer names.
//
// Targets (no BatchNorm, no dropout; PyTorch default initialisation):
//   lenet      MNIST / Fashion-MNIST, input (N, 1, 28, 28):
//              conv1 ReLU1 pool1 conv2 ReLU2 pool2 flatten fc1 fc1act fc2 fc2act fc3
//   cifar_cnn  CIFAR-10, input (N, 3, 32, 32), 1,609,546 parameters:
//              conv11 ReLU11 conv12 ReLU12 pool1 conv21 ReLU21 conv22 ReLU22 pool2
//              conv31 ReLU31 conv32 ReLU32 pool3 flatten fc1 fc1act(Sigmoid) fc2
// "Split at L" means the edge computes every layer up to and including L. The flatten
// layer makes the reshape before the first fully connected layer explicit.
// Also: the paper's inverse-network decoders (§5 of P1, per split) and the shadow
// architectures of its Table 5 (query-free attack with a different structure).
// Inputs are normalised: MNIST (x - 0.5)/0.5, CIFAR with ImageNet statistics.
#pragma once

#include "inv/nn/activation.hpp"
#include "inv/nn/conv.hpp"
#include "inv/nn/linear.hpp"
#include "inv/nn/pooling.hpp"
#include "inv/nn/sequential.hpp"

namespace inv::models {

using nn::Sequential;
using SequentialPtr = std::shared_ptr<Sequential>;

/// What a zoo model expects: its input shape (C, H, W) and per-channel normalisation.
struct ModelSpec {
  std::string name;
  Shape input_shape;  // (C, H, W)
  std::vector<double> mean, std;
};

inline ModelSpec lenet_spec() { return {"lenet", {1, 28, 28}, {0.5}, {0.5}}; }
inline ModelSpec cifar_cnn_spec() {
  return {"cifar-cnn", {3, 32, 32}, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
}

/// The paper's MNIST LeNet: (N, 1, 28, 28) normalised -> (N, 10) logits.
inline SequentialPtr lenet(Generator& gen = default_generator()) {
  auto m = std::make_shared<Sequential>();
  m->emplace<nn::Conv2d>("conv1", 1, 8, 5, Conv2dOptions(), true, gen);
  m->emplace<nn::ReLU>("ReLU1");
  m->emplace<nn::MaxPool2d>("pool1", 2);
  m->emplace<nn::Conv2d>("conv2", 8, 16, 5, Conv2dOptions(), true, gen);
  m->emplace<nn::ReLU>("ReLU2");
  m->emplace<nn::MaxPool2d>("pool2", 2);
  m->emplace<nn::Flatten>("flatten");
  m->emplace<nn::Linear>("fc1", 256, 120, true, gen);
  m->emplace<nn::ReLU>("fc1act");
  m->emplace<nn::Linear>("fc2", 120, 84, true, gen);
  m->emplace<nn::ReLU>("fc2act");
  m->emplace<nn::Linear>("fc3", 84, 10, true, gen);
  return m;
}

/// The paper's CIFAR-10 CNN: (N, 3, 32, 32) normalised -> (N, 10) logits.
inline SequentialPtr cifar_cnn(Generator& gen = default_generator()) {
  auto m = std::make_shared<Sequential>();
  const auto pad1 = Conv2dOptions().padding(1);
  int64_t in = 3;
  for (const auto& [block, out] : std::vector<std::pair<std::string, int64_t>>{{"1", 64}, {"2", 128}, {"3", 128}}) {
    m->emplace<nn::Conv2d>("conv" + block + "1", in, out, 3, pad1, true, gen);
    m->emplace<nn::ReLU>("ReLU" + block + "1");
    m->emplace<nn::Conv2d>("conv" + block + "2", out, out, 3, pad1, true, gen);
    m->emplace<nn::ReLU>("ReLU" + block + "2");
    m->emplace<nn::MaxPool2d>("pool" + block, 2);
    in = out;
  }
  m->emplace<nn::Flatten>("flatten");
  m->emplace<nn::Linear>("fc1", 2048, 512, true, gen);
  m->emplace<nn::Sigmoid>("fc1act");
  m->emplace<nn::Linear>("fc2", 512, 10, true, gen);
  return m;
}

/// A zoo model by name ("lenet" or "cifar-cnn"). Throws inv::Error listing the names.
inline SequentialPtr by_name(const std::string& name, Generator& gen = default_generator()) {
  if (name == "lenet") return lenet(gen);
  if (name == "cifar-cnn") return cifar_cnn(gen);
  inv::detail::fail("unknown model '", name, "' (models: lenet, cifar-cnn)");
}
inline ModelSpec spec_by_name(const std::string& name) {
  if (name == "lenet") return lenet_spec();
  if (name == "cifar-cnn") return cifar_cnn_spec();
  inv::detail::fail("unknown model '", name, "' (models: lenet, cifar-cnn)");
}

/// The paper's inverse-network decoder for (model, split) (P1 §5; protocol §4), or nullptr
/// when the paper defines none for that split.
///   lenet conv1:      Conv2d(8→1, 5×5, padding 4)                    8×24×24 → 1×28×28
///   lenet ReLU2:      ConvT(16→8, 5×5) ReLU ConvT(8→1, 5×5, s2, op1)  16×8×8 → 1×28×28
///   cifar conv11:     ConvT(64→3, 3×3, p1)
///   cifar ReLU22:     ConvT(128→64, 3×3, s2, p1, op1) ReLU ConvT(64→3, 3×3, p1)
///   cifar ReLU32:     ConvT(128→128, s2) ReLU ConvT(128→64, s2) ReLU ConvT(64→3, p1)
inline SequentialPtr paper_decoder(const std::string& model, const std::string& split,
                                   Generator& gen = default_generator()) {
  auto d = std::make_shared<Sequential>();
  const auto up2 = ConvTranspose2dOptions().stride(2).padding(1).output_padding(1);
  const auto same = ConvTranspose2dOptions().padding(1);
  if (model == "lenet" && split == "conv1") {
    d->emplace<nn::Conv2d>("conv1", 8, 1, 5, Conv2dOptions().padding(4), true, gen);
  } else if (model == "lenet" && split == "ReLU2") {
    d->emplace<nn::ConvTranspose2d>("deconv1", 16, 8, 5, ConvTranspose2dOptions(), true, gen);
    d->emplace<nn::ReLU>("relu1");
    d->emplace<nn::ConvTranspose2d>("deconv2", 8, 1, 5, ConvTranspose2dOptions().stride(2).output_padding(1), true, gen);
  } else if (model == "cifar-cnn" && split == "conv11") {
    d->emplace<nn::ConvTranspose2d>("deconv1", 64, 3, 3, same, true, gen);
  } else if (model == "cifar-cnn" && split == "ReLU22") {
    d->emplace<nn::ConvTranspose2d>("deconv1", 128, 64, 3, up2, true, gen);
    d->emplace<nn::ReLU>("relu1");
    d->emplace<nn::ConvTranspose2d>("deconv2", 64, 3, 3, same, true, gen);
  } else if (model == "cifar-cnn" && split == "ReLU32") {
    d->emplace<nn::ConvTranspose2d>("deconv1", 128, 128, 3, up2, true, gen);
    d->emplace<nn::ReLU>("relu1");
    d->emplace<nn::ConvTranspose2d>("deconv2", 128, 64, 3, up2, true, gen);
    d->emplace<nn::ReLU>("relu2");
    d->emplace<nn::ConvTranspose2d>("deconv3", 64, 3, 3, same, true, gen);
  } else {
    return nullptr;
  }
  return d;
}

/// The paper's Table 5 shadow edge of a *different* structure for (model, split), or nullptr.
///   lenet conv1:   Conv(1→8, 3×3) Conv(8→8, 3×3)                                   → 8×24×24
///   lenet ReLU2:   Conv(1→8, 3×3) Conv(8→16, 3×3) MaxPool 2 Conv(16→16, 3×3) Conv(16→16, 3×3) ReLU → 16×8×8
///   cifar conv11:  Conv(3→16, 3×3, p1) Conv(16→64, 3×3, p1)                         → 64×32×32
///   cifar ReLU22:  Conv(3→64, 5×5, p2) ReLU MaxPool 2 Conv(64→128, 5×5, p2) ReLU     → 128×16×16
inline SequentialPtr paper_shadow(const std::string& model, const std::string& split,
                                  Generator& gen = default_generator()) {
  auto s = std::make_shared<Sequential>();
  if (model == "lenet" && split == "conv1") {
    s->emplace<nn::Conv2d>("conv1", 1, 8, 3, Conv2dOptions(), true, gen);
    s->emplace<nn::Conv2d>("conv2", 8, 8, 3, Conv2dOptions(), true, gen);
  } else if (model == "lenet" && split == "ReLU2") {
    s->emplace<nn::Conv2d>("conv1", 1, 8, 3, Conv2dOptions(), true, gen);
    s->emplace<nn::Conv2d>("conv2", 8, 16, 3, Conv2dOptions(), true, gen);
    s->emplace<nn::MaxPool2d>("pool1", 2);
    s->emplace<nn::Conv2d>("conv3", 16, 16, 3, Conv2dOptions(), true, gen);
    s->emplace<nn::Conv2d>("conv4", 16, 16, 3, Conv2dOptions(), true, gen);
    s->emplace<nn::ReLU>("relu4");
  } else if (model == "cifar-cnn" && split == "conv11") {
    s->emplace<nn::Conv2d>("conv1", 3, 16, 3, Conv2dOptions().padding(1), true, gen);
    s->emplace<nn::Conv2d>("conv2", 16, 64, 3, Conv2dOptions().padding(1), true, gen);
  } else if (model == "cifar-cnn" && split == "ReLU22") {
    s->emplace<nn::Conv2d>("conv1", 3, 64, 5, Conv2dOptions().padding(2), true, gen);
    s->emplace<nn::ReLU>("relu1");
    s->emplace<nn::MaxPool2d>("pool1", 2);
    s->emplace<nn::Conv2d>("conv2", 64, 128, 5, Conv2dOptions().padding(2), true, gen);
    s->emplace<nn::ReLU>("relu2");
  } else {
    return nullptr;
  }
  return s;
}

}  // namespace inv::models
