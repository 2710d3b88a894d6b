// inv/models/resnet.hpp: ResNets with torchvision's module names (torchvision 0.14,
// torchvision/models/resnet.py), so that their state_dicts load unchanged.
//
//   resnet18   torchvision's resnet18, input (N, 3, H, W), ImageNet at 224x224 by default:
//              conv1 bn1 relu maxpool layer1 layer2 layer3 layer4 avgpool flatten fc
//   resnet20   the CIFAR-10 ResNet-20 of He et al. 2016 (§4.2), input (N, 3, 32, 32):
//              conv1 bn1 relu layer1 layer2 layer3 avgpool flatten fc
// Each layerK is a Sequential of BasicBlocks "0", "1", ... (inv/nn/residual.hpp). The split
// points enter the stages: resnet18's are conv1 bn1 relu maxpool layer1.0 layer1 layer2.0
// layer2 layer3.0 layer3 layer4.0 layer4 avgpool fc (inv/nn/sequential.hpp: split_points).
// torchvision flattens with torch.flatten in forward(); here a Flatten layer "flatten"
// does it, which holds no state, so the state_dict names are torchvision's.
//
// Initialisation as torchvision's ResNet.__init__: every Conv2d weight ~ kaiming_normal_
// (mode fan_out, nonlinearity relu), BatchNorm2d weight 1 and bias 0, fc PyTorch's default
// Linear initialisation (zero_init_residual false). The draws come from inv's Generator.
#pragma once

#include "inv/models/zoo.hpp"
#include "inv/nn/residual.hpp"

namespace inv::models {

/// A ResNet stage as torchvision's ResNet._make_layer(block, planes, blocks, stride): a
/// Sequential of `blocks` blocks "0".."blocks-1"; block "0" takes `inplanes` channels with
/// `stride` (and a downsample when the shape changes, nn::make_downsample), the others
/// planes·expansion channels with stride 1. Updates `inplanes` to planes·expansion.
template <class Block>
SequentialPtr make_layer(int64_t& inplanes, int64_t planes, int64_t blocks, int64_t stride,
                         Generator& gen = default_generator()) {
  INV_CHECK(blocks >= 1, "make_layer: a stage needs at least one block, got ", blocks);
  auto layer = std::make_shared<Sequential>();
  const int64_t out = planes * Block::expansion;
  layer->emplace<Block>("0", inplanes, planes, stride, nn::make_downsample(inplanes, out, stride, gen), gen);
  inplanes = out;
  for (int64_t b = 1; b < blocks; ++b) layer->emplace<Block>(std::to_string(b), inplanes, planes, 1, nullptr, gen);
  return layer;
}

namespace detail {
/// torchvision's ResNet and VGG initialisation of the convolutions and BatchNorms of `m`:
/// Conv2d weight ~ kaiming_normal_(fan_out, relu), its bias (if any) 0; BatchNorm2d weight
/// 1, bias 0 (already so from its constructor). Linear layers keep their initialisation.
inline void init_torchvision_convs(nn::Module& m, Generator& gen) {
  m.visit_mut([&](nn::Module& mod) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(&mod)) {
      nn::init::kaiming_normal_fan_out_relu_(conv->weight, gen);
      if (conv->bias.defined()) conv->bias.fill_(0.0);
    }
  });
}
}  // namespace detail

/// torchvision's resnet18: (N, 3, H, W) normalised -> (N, num_classes) logits. 11,689,512
/// parameters for 1000 classes. conv1 7x7 stride 2 padding 3 (no bias), bn1, relu, maxpool
/// 3x3 stride 2 padding 1, layer1..layer4 of two BasicBlocks each (64, 128, 256, 512
/// channels; stride 2 from layer2 on), avgpool AdaptiveAvgPool2d(1), flatten, fc. Any input
/// size works (32x32 gives 1x1 maps after layer4); ImageNet's is 224x224.
inline SequentialPtr resnet18(int64_t num_classes = 1000, Generator& gen = default_generator()) {
  INV_CHECK(num_classes > 0, "resnet18: num_classes must be positive, got ", num_classes);
  auto m = std::make_shared<Sequential>();
  m->emplace<nn::Conv2d>("conv1", 3, 64, 7, Conv2dOptions().stride(2).padding(3), false, gen);
  m->emplace<nn::BatchNorm2d>("bn1", 64);
  m->emplace<nn::ReLU>("relu");
  m->emplace<nn::MaxPool2d>("maxpool", Pool2dOptions(3).stride(2).padding(1));
  int64_t inplanes = 64;
  m->add("layer1", make_layer<nn::BasicBlock>(inplanes, 64, 2, 1, gen));
  m->add("layer2", make_layer<nn::BasicBlock>(inplanes, 128, 2, 2, gen));
  m->add("layer3", make_layer<nn::BasicBlock>(inplanes, 256, 2, 2, gen));
  m->add("layer4", make_layer<nn::BasicBlock>(inplanes, 512, 2, 2, gen));
  m->emplace<nn::AdaptiveAvgPool2d>("avgpool", 1);
  m->emplace<nn::Flatten>("flatten");
  m->emplace<nn::Linear>("fc", 512, num_classes, true, gen);
  detail::init_torchvision_convs(*m, gen);
  return m;
}

/// The CIFAR-10 ResNet-20 of He, Zhang, Ren & Sun, "Deep Residual Learning for Image
/// Recognition" (CVPR 2016), §4.2 with n = 3: (N, 3, 32, 32) normalised -> (N, num_classes)
/// logits. conv1 3x3 16 (padding 1, no bias), bn1, relu, layer1..layer3 of three
/// BasicBlocks each (16, 32, 64 channels; stride 2 at the first block of layer2 and
/// layer3), avgpool (global), flatten, fc 64 -> num_classes. 272,474 parameters for 10
/// classes.
///
/// The shortcut where the shape changes is torchvision's projection ("option B" of the
/// paper: 1x1 convolution with stride 2, then BatchNorm2d, as `downsample`), not the
/// paper's choice for its CIFAR networks, "option A" (the identity, subsampled, with zero
/// channels appended: no parameters). Option B is used so that the blocks are exactly
/// torchvision's BasicBlock and a state_dict of this architecture written by PyTorch with
/// torchvision's blocks loads unchanged; it adds 2,560 convolution weights and two
/// BatchNorm2d layers (192 parameters) to option A's 269,722 parameters.
inline SequentialPtr resnet20(int64_t num_classes = 10, Generator& gen = default_generator()) {
  INV_CHECK(num_classes > 0, "resnet20: num_classes must be positive, got ", num_classes);
  auto m = std::make_shared<Sequential>();
  m->emplace<nn::Conv2d>("conv1", 3, 16, 3, Conv2dOptions().padding(1), false, gen);
  m->emplace<nn::BatchNorm2d>("bn1", 16);
  m->emplace<nn::ReLU>("relu");
  int64_t inplanes = 16;
  m->add("layer1", make_layer<nn::BasicBlock>(inplanes, 16, 3, 1, gen));
  m->add("layer2", make_layer<nn::BasicBlock>(inplanes, 32, 3, 2, gen));
  m->add("layer3", make_layer<nn::BasicBlock>(inplanes, 64, 3, 2, gen));
  m->emplace<nn::AdaptiveAvgPool2d>("avgpool", 1);
  m->emplace<nn::Flatten>("flatten");
  m->emplace<nn::Linear>("fc", 64, num_classes, true, gen);
  detail::init_torchvision_convs(*m, gen);
  return m;
}

/// ImageNet's normalisation (torchvision's ImageNet transforms: mean (0.485, 0.456, 0.406),
/// std (0.229, 0.224, 0.225)) at `size` x `size`, 224 by default.
inline ModelSpec resnet18_spec(int64_t size = 224) {
  INV_CHECK(size > 0, "resnet18_spec: size must be positive, got ", size);
  return {"resnet18", {3, size, size}, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
}

/// CIFAR-10's normalisation at 32x32: the per-channel mean (0.4914, 0.4822, 0.4465) and
/// standard deviation (0.2470, 0.2435, 0.2616) of the pixels (in [0, 1]) of the 50,000
/// training images, the values CIFAR training recipes commonly use. (The JPEG q75 copy of
/// the training set in shared/data gives 0.4913, 0.4821, 0.4465 and 0.2452, 0.2428, 0.2606:
/// the compression smooths the images a little.)
inline ModelSpec cifar10_spec(const std::string& name) {
  return {name, {3, 32, 32}, {0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616}};
}
inline ModelSpec resnet20_spec() { return cifar10_spec("resnet20"); }

}  // namespace inv::models
