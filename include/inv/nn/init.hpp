// inv/nn/init.hpp: PyTorch's default initialisation of Conv and Linear layers.
//
// torch.nn.Conv2d/ConvTranspose2d/Linear.reset_parameters() draw
//   weight ~ U(-b, b) with b = gain·sqrt(3 / fan_in), gain = sqrt(2 / (1 + a²)), a = √5
//          = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//   bias   ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
// where fan_in = weight.size(1) · kH · kW (for ConvTranspose2d that is out_channels/groups,
// because PyTorch reads fan_in from dimension 1 of the weight).
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

}  // namespace inv::nn::init
