// inv/nn/pooling.hpp: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (global) and Upsample layers.
#pragma once

#include "inv/nn/module.hpp"
#include "inv/ops/reduce.hpp"
#include "inv/ops/upsample.hpp"

namespace inv::nn {

/// MaxPool2d(kernel) or MaxPool2d(Pool2dOptions): (N, C, H, W) -> (N, C, OH, OW).
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel) : opt_(kernel) {}
  explicit MaxPool2d(const Pool2dOptions& opt) : opt_(opt) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, opt_); }
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override {
    return "kernel_size=" + std::to_string(opt_.kernel_h) + ", stride=" + std::to_string(opt_.stride_h) +
           ", padding=" + std::to_string(opt_.pad_h);
  }

 private:
  Pool2dOptions opt_;
};

/// AvgPool2d(kernel) or AvgPool2d(Pool2dOptions): (N, C, H, W) -> (N, C, OH, OW).
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel) : opt_(kernel) {}
  explicit AvgPool2d(const Pool2dOptions& opt) : opt_(opt) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, opt_); }
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override {
    return "kernel_size=" + std::to_string(opt_.kernel_h) + ", stride=" + std::to_string(opt_.stride_h) +
           ", padding=" + std::to_string(opt_.pad_h);
  }

 private:
  Pool2dOptions opt_;
};

/// AdaptiveAvgPool2d((1, 1)), global average pooling as torchvision's ResNet ends with:
/// (N, C, H, W) -> (N, C, 1, 1), each output the mean of its channel's H·W values (any
/// H, W >= 1). Computed as mean(x, {2, 3}, keepdim), which sums in double, so the result
/// is PyTorch's to float32 rounding. Only output size (1, 1) is implemented: other sizes
/// throw inv::Error at construction.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(int64_t output_size = 1) : AdaptiveAvgPool2d(output_size, output_size) {}
  AdaptiveAvgPool2d(int64_t out_h, int64_t out_w) {
    INV_CHECK(out_h == 1 && out_w == 1,
              "AdaptiveAvgPool2d: only output size (1, 1) (global average pooling) is implemented, got (", out_h,
              ", ", out_w, ")");
  }
  Tensor forward(const Tensor& x) override {
    INV_CHECK(x.dim() == 4, "AdaptiveAvgPool2d: expected 4-D (N,C,H,W) input, got ", to_string(x.shape()));
    return mean(x, {2, 3}, true);
  }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override { return "output_size=(1, 1)"; }
};

/// Upsample(UpsampleOptions): (N, C, H, W) -> (N, C, OH, OW), nearest or bilinear.
class Upsample : public Module {
 public:
  explicit Upsample(const UpsampleOptions& opt) : opt_(opt) {}
  Tensor forward(const Tensor& x) override { return upsample(x, opt_); }
  std::string type_name() const override { return "Upsample"; }
  std::string extra_repr() const override {
    std::ostringstream os;
    if (opt_.out_h > 0)
      os << "size=(" << opt_.out_h << ", " << opt_.out_w << ")";
    else
      os << "scale_factor=" << opt_.scale_h;
    os << ", mode=" << (opt_.mode_ == UpsampleMode::Nearest ? "nearest" : "bilinear");
    return os.str();
  }

 private:
  UpsampleOptions opt_;
};

}  // namespace inv::nn
