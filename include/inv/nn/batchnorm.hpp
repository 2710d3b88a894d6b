// inv/nn/batchnorm.hpp: BatchNorm2d, as torch.nn.BatchNorm2d (see inv/ops/batch_norm.hpp).
#pragma once

#include "inv/nn/module.hpp"
#include "inv/ops/batch_norm.hpp"

namespace inv::nn {

/// BatchNorm2d(C, eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true):
/// (N, C, H, W) -> same shape. weight γ = 1, bias β = 0; buffers running_mean = 0,
/// running_var = 1. Batch statistics in training mode, running statistics in eval mode.
class BatchNorm2d : public Module {
 public:
  Tensor weight, bias, running_mean, running_var;

  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true)
      : eps_(eps), momentum_(momentum) {
    INV_CHECK(channels > 0, "BatchNorm2d: channels must be positive, got ", channels);
    if (affine) {
      weight = ones({channels});
      bias = zeros({channels});
      register_parameter("weight", &weight);
      register_parameter("bias", &bias);
    }
    if (track_running_stats) {
      running_mean = zeros({channels});
      running_var = ones({channels});
      register_buffer("running_mean", &running_mean);
      register_buffer("running_var", &running_var);
    }
  }
  Tensor forward(const Tensor& x) override {
    INV_CHECK(x.dim() == 4, "BatchNorm2d: expected 4-D (N,C,H,W) input, got ", to_string(x.shape()));
    const bool use_batch_stats = is_training() || !running_mean.defined();
    return batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, momentum_, eps_);
  }
  bool mode_dependent() const override { return true; }
  std::string type_name() const override { return "BatchNorm2d"; }
  std::string extra_repr() const override {
    std::ostringstream os;
    os << (weight.defined() ? weight.size(0) : running_mean.size(0)) << ", eps=" << eps_ << ", momentum=" << momentum_
       << ", affine=" << (weight.defined() ? "True" : "False");
    return os.str();
  }

 private:
  double eps_, momentum_;
};

}  // namespace inv::nn
