// inv/nn/residual.hpp: the residual blocks of torchvision's ResNets (torchvision 0.14,
// torchvision/models/resnet.py), BasicBlock and Bottleneck, with its child names, so that
// a torchvision state_dict loads unchanged.
//
//   BasicBlock(inplanes, planes, stride, downsample)     expansion 1
//     children, in registration order: conv1 (3x3, stride, padding 1), bn1, relu,
//     conv2 (3x3, padding 1), bn2, downsample
//     out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
//   Bottleneck(inplanes, planes, stride, downsample)     expansion 4, width = planes
//     children: conv1 (1x1), bn1, conv2 (3x3, stride, padding 1), bn2, conv3 (1x1, to
//     planes·4), bn3, relu, downsample
//     out = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))
//
// Every convolution has no bias. shortcut(x) is x itself (the identity), or downsample(x)
// when the block changes the shape: a Sequential of "0" Conv2d 1x1 (stride, no bias) and
// "1" BatchNorm2d, as torchvision's ResNet._make_layer builds it (make_downsample below:
// present exactly when stride != 1 or inplanes != planes·expansion). A block without the
// downsample it needs is refused at construction. "relu" holds no state; torchvision uses
// the one ReLU module at every place in forward(), and so does this.
//
// state_dict order. PyTorch's Module.state_dict() writes a module's own parameters, then
// its own buffers, then recurses into its children in registration order; Module::visit
// in inv/nn/module.hpp walks the tree the same way, and the children here are registered
// in torchvision's order, so the names come out in PyTorch's order too, e.g.
//   conv1.weight, bn1.weight, bn1.bias, bn1.running_mean, bn1.running_var, conv2.weight,
//   ..., downsample.0.weight, downsample.1.weight, ...
// except that PyTorch's BatchNorm2d also has num_batches_tracked after running_var, which
// inv's has not (io::load_state_dict skips it). The blocks are mode dependent through
// their BatchNorm2d children: train()/eval()/ModeGuard reach them by the tree walk, and a
// walk that looks for train-mode BatchNorm (attack/rmle.hpp) finds them there.
#pragma once

#include "inv/nn/activation.hpp"
#include "inv/nn/batchnorm.hpp"
#include "inv/nn/conv.hpp"
#include "inv/nn/sequential.hpp"

namespace inv::nn {

/// The projection shortcut torchvision's ResNet._make_layer builds for a block taking
/// `inplanes` channels to `outplanes` (= planes · expansion) with `stride`: Sequential
/// {"0": Conv2d(inplanes, outplanes, 1, stride, bias=False), "1": BatchNorm2d(outplanes)},
/// or nullptr when the identity fits (stride 1 and inplanes == outplanes).
inline std::shared_ptr<Sequential> make_downsample(int64_t inplanes, int64_t outplanes, int64_t stride,
                                                   Generator& gen = default_generator()) {
  if (stride == 1 && inplanes == outplanes) return nullptr;
  auto d = std::make_shared<Sequential>();
  d->emplace<Conv2d>("0", inplanes, outplanes, 1, Conv2dOptions().stride(stride), false, gen);
  d->emplace<BatchNorm2d>("1", outplanes);
  return d;
}

namespace detail {

/// A residual block's summary arguments: "64, 128, stride=2, downsample=True".
inline std::string block_repr(int64_t inplanes, int64_t planes, int64_t stride, bool downsample) {
  std::ostringstream os;
  os << inplanes << ", " << planes << ", stride=" << stride << ", downsample=" << (downsample ? "True" : "False");
  return os.str();
}
inline void check_block(const char* type, int64_t inplanes, int64_t planes, int64_t expansion, int64_t stride,
                        const std::shared_ptr<Sequential>& downsample) {
  INV_CHECK(inplanes > 0 && planes > 0, type, ": channels must be positive, got inplanes ", inplanes, ", planes ",
            planes);
  INV_CHECK(stride > 0, type, ": stride must be positive, got ", stride);
  INV_CHECK(downsample != nullptr || (stride == 1 && inplanes == planes * expansion), type,
            ": the identity shortcut needs stride 1 and inplanes == planes·", expansion, ", got stride ", stride,
            ", inplanes ", inplanes, ", planes ", planes, "; pass a downsample (make_downsample)");
}
}  // namespace detail

/// torchvision's BasicBlock: (N, inplanes, H, W) -> (N, planes, OH, OW), OH = (H - 1)/stride + 1
/// (integer division), as its 3x3 convolution with padding 1 computes it.
class BasicBlock : public Module {
 public:
  static constexpr int64_t expansion = 1;
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<ReLU> relu;
  std::shared_ptr<Sequential> downsample;  // nullptr: the identity shortcut

  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride = 1, std::shared_ptr<Sequential> downsample_ = nullptr,
             Generator& gen = default_generator())
      : downsample(std::move(downsample_)), inplanes_(inplanes), planes_(planes), stride_(stride) {
    detail::check_block("BasicBlock", inplanes, planes, expansion, stride, downsample);
    const auto opt = Conv2dOptions().stride(stride).padding(1);
    conv1 = std::make_shared<Conv2d>(inplanes, planes, 3, opt, false, gen);
    bn1 = std::make_shared<BatchNorm2d>(planes);
    relu = std::make_shared<ReLU>();
    conv2 = std::make_shared<Conv2d>(planes, planes, 3, Conv2dOptions().padding(1), false, gen);
    bn2 = std::make_shared<BatchNorm2d>(planes);
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("relu", relu);
    register_module("conv2", conv2);
    register_module("bn2", bn2);
    if (downsample) register_module("downsample", downsample);
  }

  Tensor forward(const Tensor& x) override {
    Tensor out = relu->forward(bn1->forward(conv1->forward(x)));
    out = bn2->forward(conv2->forward(out));
    const Tensor identity = downsample ? downsample->forward(x) : x;
    return relu->forward(add(out, identity));
  }
  std::string type_name() const override { return "BasicBlock"; }
  std::string extra_repr() const override {
    return detail::block_repr(inplanes_, planes_, stride_, downsample != nullptr);
  }

 private:
  int64_t inplanes_, planes_, stride_;
};

/// torchvision's Bottleneck (ResNet-50 and deeper; the stride on the 3x3 convolution, "ResNet
/// V1.5"): (N, inplanes, H, W) -> (N, planes·4, OH, OW), OH = (H - 1)/stride + 1. Its width
/// is planes (torchvision's groups 1, base_width 64).
class Bottleneck : public Module {
 public:
  static constexpr int64_t expansion = 4;
  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<ReLU> relu;
  std::shared_ptr<Sequential> downsample;  // nullptr: the identity shortcut

  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride = 1, std::shared_ptr<Sequential> downsample_ = nullptr,
             Generator& gen = default_generator())
      : downsample(std::move(downsample_)), inplanes_(inplanes), planes_(planes), stride_(stride) {
    detail::check_block("Bottleneck", inplanes, planes, expansion, stride, downsample);
    conv1 = std::make_shared<Conv2d>(inplanes, planes, 1, Conv2dOptions(), false, gen);
    bn1 = std::make_shared<BatchNorm2d>(planes);
    conv2 = std::make_shared<Conv2d>(planes, planes, 3, Conv2dOptions().stride(stride).padding(1), false, gen);
    bn2 = std::make_shared<BatchNorm2d>(planes);
    conv3 = std::make_shared<Conv2d>(planes, planes * expansion, 1, Conv2dOptions(), false, gen);
    bn3 = std::make_shared<BatchNorm2d>(planes * expansion);
    relu = std::make_shared<ReLU>();
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("conv2", conv2);
    register_module("bn2", bn2);
    register_module("conv3", conv3);
    register_module("bn3", bn3);
    register_module("relu", relu);
    if (downsample) register_module("downsample", downsample);
  }

  Tensor forward(const Tensor& x) override {
    Tensor out = relu->forward(bn1->forward(conv1->forward(x)));
    out = relu->forward(bn2->forward(conv2->forward(out)));
    out = bn3->forward(conv3->forward(out));
    const Tensor identity = downsample ? downsample->forward(x) : x;
    return relu->forward(add(out, identity));
  }
  std::string type_name() const override { return "Bottleneck"; }
  std::string extra_repr() const override {
    return detail::block_repr(inplanes_, planes_, stride_, downsample != nullptr);
  }

 private:
  int64_t inplanes_, planes_, stride_;
};

}  // namespace inv::nn
