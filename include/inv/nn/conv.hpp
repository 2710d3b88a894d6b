// inv/nn/conv.hpp: Conv2d and ConvTranspose2d layers (PyTorch names, layouts and initialisation).
#pragma once

#include "inv/nn/init.hpp"
#include "inv/nn/module.hpp"
#include "inv/ops/conv.hpp"

namespace inv::nn {

namespace detail {
inline std::string pair_str(int64_t a, int64_t b) { return "(" + std::to_string(a) + ", " + std::to_string(b) + ")"; }
}  // namespace detail

/// Conv2d(in, out, kernel): x (N, in, H, W) -> (N, out, OH, OW); weight (out, in/groups, kH, kW),
/// bias (out). Options (stride, padding, dilation, groups) as inv::conv2d.
class Conv2d : public Module {
 public:
  Tensor weight, bias;

  Conv2d(int64_t in, int64_t out, int64_t kernel, const Conv2dOptions& opt = Conv2dOptions(), bool with_bias = true,
         Generator& gen = default_generator())
      : Conv2d(in, out, kernel, kernel, opt, with_bias, gen) {}
  Conv2d(int64_t in, int64_t out, int64_t kernel_h, int64_t kernel_w, const Conv2dOptions& opt, bool with_bias,
         Generator& gen)
      : in_(in), out_(out), opt_(opt) {
    INV_CHECK(in > 0 && out > 0 && kernel_h > 0 && kernel_w > 0, "Conv2d: channels and kernel must be positive, got ",
              in, ", ", out, ", ", kernel_h, "x", kernel_w);
    INV_CHECK(opt.groups_ >= 1 && in % opt.groups_ == 0 && out % opt.groups_ == 0, "Conv2d: channels ", in, " -> ",
              out, " are not divisible by groups ", opt.groups_);
    const Shape ws{out, in / opt.groups_, kernel_h, kernel_w};
    weight = init::default_uniform(ws, init::fan_in(ws), gen);
    register_parameter("weight", &weight);
    if (with_bias) {
      bias = init::default_uniform({out}, init::fan_in(ws), gen);
      register_parameter("bias", &bias);
    }
  }
  Tensor forward(const Tensor& x) override { return conv2d(x, weight, bias, opt_); }
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override {
    std::ostringstream os;
    os << in_ << ", " << out_ << ", kernel_size=" << detail::pair_str(weight.size(2), weight.size(3));
    if (opt_.stride_h != 1 || opt_.stride_w != 1) os << ", stride=" << detail::pair_str(opt_.stride_h, opt_.stride_w);
    if (opt_.pad_top || opt_.pad_bottom || opt_.pad_left || opt_.pad_right) {
      if (opt_.pad_top == opt_.pad_bottom && opt_.pad_left == opt_.pad_right)
        os << ", padding=" << detail::pair_str(opt_.pad_top, opt_.pad_left);
      else
        os << ", padding=(" << opt_.pad_top << ", " << opt_.pad_bottom << ", " << opt_.pad_left << ", "
           << opt_.pad_right << ")";
    }
    if (opt_.dilation_h != 1 || opt_.dilation_w != 1)
      os << ", dilation=" << detail::pair_str(opt_.dilation_h, opt_.dilation_w);
    if (opt_.groups_ != 1) os << ", groups=" << opt_.groups_;
    if (!bias.defined()) os << ", bias=False";
    return os.str();
  }
  const Conv2dOptions& options() const { return opt_; }

 private:
  int64_t in_, out_;
  Conv2dOptions opt_;
};

/// ConvTranspose2d(in, out, kernel): x (N, in, H, W) -> (N, out, OH, OW),
/// OH = (H - 1)·stride - 2·padding + dilation·(kH - 1) + output_padding + 1;
/// weight (in, out/groups, kH, kW), bias (out).
class ConvTranspose2d : public Module {
 public:
  Tensor weight, bias;

  ConvTranspose2d(int64_t in, int64_t out, int64_t kernel,
                  const ConvTranspose2dOptions& opt = ConvTranspose2dOptions(), bool with_bias = true,
                  Generator& gen = default_generator())
      : in_(in), out_(out), opt_(opt) {
    INV_CHECK(in > 0 && out > 0 && kernel > 0, "ConvTranspose2d: channels and kernel must be positive, got ", in,
              ", ", out, ", ", kernel);
    INV_CHECK(opt.groups_ >= 1 && in % opt.groups_ == 0 && out % opt.groups_ == 0, "ConvTranspose2d: channels ", in,
              " -> ", out, " are not divisible by groups ", opt.groups_);
    const Shape ws{in, out / opt.groups_, kernel, kernel};
    weight = init::default_uniform(ws, init::fan_in(ws), gen);
    register_parameter("weight", &weight);
    if (with_bias) {
      bias = init::default_uniform({out}, init::fan_in(ws), gen);
      register_parameter("bias", &bias);
    }
  }
  Tensor forward(const Tensor& x) override { return conv_transpose2d(x, weight, bias, opt_); }
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override {
    std::ostringstream os;
    os << in_ << ", " << out_ << ", kernel_size=" << detail::pair_str(weight.size(2), weight.size(3));
    if (opt_.stride_h != 1 || opt_.stride_w != 1) os << ", stride=" << detail::pair_str(opt_.stride_h, opt_.stride_w);
    if (opt_.pad_h || opt_.pad_w) os << ", padding=" << detail::pair_str(opt_.pad_h, opt_.pad_w);
    if (opt_.out_pad_h || opt_.out_pad_w) os << ", output_padding=" << detail::pair_str(opt_.out_pad_h, opt_.out_pad_w);
    if (opt_.dilation_h != 1 || opt_.dilation_w != 1)
      os << ", dilation=" << detail::pair_str(opt_.dilation_h, opt_.dilation_w);
    if (opt_.groups_ != 1) os << ", groups=" << opt_.groups_;
    if (!bias.defined()) os << ", bias=False";
    return os.str();
  }

 private:
  int64_t in_, out_;
  ConvTranspose2dOptions opt_;
};

}  // namespace inv::nn
