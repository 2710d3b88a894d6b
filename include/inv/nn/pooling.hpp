// inv/nn/pooling.hpp: MaxPool2d, AvgPool2d and Upsample layers.
#pragma once

#include "inv/nn/module.hpp"
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
