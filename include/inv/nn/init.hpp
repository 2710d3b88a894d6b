// inv/nn/init.hpp: PyTorch's default initialisation of Conv and Linear layers.
//
// torch.nn.Conv2d/ConvTranspose2d/Linear.reset_parameters() draw
//   weight ~ U(-b, b) with b = gain·sqrt(3 / fan_in), gain = sqrt(2 / (1 + a²)), a = √5
//          = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//   bias   ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
// where fan_in = weight.size(1) · kH · kW (for ConvTranspose2d that is out_channels/groups,
// because PyTorch reads fan_in from dimension 1 of the weight).
//
// Models that initialise differently (torchvision's ResNet and VGG) overwrite those draws
// in place with the functions at the end (kaiming_normal_fan_out_relu_, normal_). They draw
// from inv's Generator, so the values are not PyTorch's, only their distribution is.
#pragma once

#include <cmath>

#include "inv/tensor.hpp"

namespace inv::nn::init {

/// fan_in of a weight as PyTorch computes it: size(1) times the receptive field.
inline int64_t fan_in(const Shape& weight_shape) {
  int64_t f = weight_shape.size() > 1 ? weight_shape[1] : 1;
  for (size_t d = 2; d < weight_shape.size(); ++d) f *= weight_shape[d];
  return f;
}

/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for weights (kaiming_uniform, a = √5) and biases.
inline Tensor default_uniform(const Shape& shape, int64_t fan, Generator& gen, Dtype dtype = kFloat32) {
  const double bound = fan > 0 ? 1.0 / std::sqrt(static_cast<double>(fan)) : 0.0;
  return uniform(shape, -bound, bound, gen, dtype);
}

/// fan_out as PyTorch computes it: size(0) times the receptive field.
inline int64_t fan_out(const Shape& weight_shape) {
  int64_t f = weight_shape.empty() ? 1 : weight_shape[0];
  for (size_t d = 2; d < weight_shape.size(); ++d) f *= weight_shape[d];
  return f;
}

/// Overwrites t in place with N(mean, std²) draws from gen (no autograd: for initialisation),
/// as torch.nn.init.normal_.
inline void normal_(Tensor& t, double mean, double std, Generator& gen) {
  dispatch(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(mean + std * gen.normal());
  });
}

/// torch.nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"): w ~ N(0, 2 / fan_out)
/// in place, fan_out = size(0) · kH · kW. torchvision's ResNet and VGG initialise every Conv2d so.
inline void kaiming_normal_fan_out_relu_(Tensor& w, Generator& gen) {
  const int64_t fan = fan_out(w.shape());
  INV_CHECK(fan > 0, "kaiming_normal_: fan_out of ", to_string(w.shape()), " is 0");
  normal_(w, 0.0, std::sqrt(2.0 / static_cast<double>(fan)), gen);
}

}  // namespace inv::nn::init
