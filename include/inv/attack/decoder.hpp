// inv/attack/decoder.hpp: inverse networks (decoders) for the black-box attack.
//
// The paper gives a decoder for each of its split points (models::paper_decoder). For
// any other split, auto_decoder builds one from the edge's output shape alone:
//
//   features (C, H, W):  [ConvT(c -> max(c/2, 16), 4×4, stride 2, padding 1), ReLU] while 2H <= H_in
//                        Upsample(bilinear) to (H_in, W_in) when the size still differs
//                        Conv2d(c -> C_in, 3×3, padding 1)
//   features (D):        Linear(D -> 32·(H_in/4)·(W_in/4)), ReLU, Unflatten(32, H_in/4, W_in/4),
//                        then the spatial decoder above from (32, H_in/4, W_in/4)
//
// No output activation: decoders are trained with MSE in normalised space, as the paper.
#pragma once

#include "inv/models/zoo.hpp"
#include "inv/nn/linear.hpp"
#include "inv/nn/pooling.hpp"

namespace inv::attack {

/// A decoder from features of shape `feature_shape` (one sample: (C, H, W) or (D)) to
/// images of shape `input_shape` (C, H, W). Throws inv::Error for other ranks.
inline std::shared_ptr<nn::Sequential> auto_decoder(const Shape& feature_shape, const Shape& input_shape,
                                                    Generator& gen = default_generator()) {
  INV_CHECK(input_shape.size() == 3, "auto_decoder: input shape must be (C, H, W), got ", to_string(input_shape));
  INV_CHECK(feature_shape.size() == 3 || feature_shape.size() == 1,
            "auto_decoder: features must be (C, H, W) or (D), got ", to_string(feature_shape));
  const int64_t Cin = input_shape[0], Hin = input_shape[1], Win = input_shape[2];
  auto d = std::make_shared<nn::Sequential>();
  int64_t c, h, w;
  if (feature_shape.size() == 1) {
    h = std::max<int64_t>(1, Hin / 4), w = std::max<int64_t>(1, Win / 4), c = 32;
    d->emplace<nn::Linear>("fc", feature_shape[0], c * h * w, true, gen);
    d->emplace<nn::ReLU>("fcact");
    d->emplace<nn::Unflatten>("unflatten", Shape{c, h, w});
  } else {
    c = feature_shape[0], h = feature_shape[1], w = feature_shape[2];
  }
  for (int k = 1; 2 * h <= Hin && 2 * w <= Win; ++k) {
    const int64_t out = std::max<int64_t>(c / 2, 16);
    d->emplace<nn::ConvTranspose2d>("deconv" + std::to_string(k), c, out, 4,
                                    ConvTranspose2dOptions().stride(2).padding(1), true, gen);
    d->emplace<nn::ReLU>("relu" + std::to_string(k));
    c = out, h *= 2, w *= 2;
  }
  if (h != Hin || w != Win)
    d->emplace<nn::Upsample>("resize", UpsampleOptions().size(Hin, Win).mode(UpsampleMode::Bilinear));
  d->emplace<nn::Conv2d>("out", c, Cin, 3, Conv2dOptions().padding(1), true, gen);
  return d;
}

/// The paper's decoder for (model, split) when it defines one, else auto_decoder.
inline std::shared_ptr<nn::Sequential> decoder_for(const std::string& model, const std::string& split,
                                                   const Shape& feature_shape, const Shape& input_shape,
                                                   Generator& gen = default_generator()) {
  if (auto d = models::paper_decoder(model, split, gen)) return d;
  return auto_decoder(feature_shape, input_shape, gen);
}

}  // namespace inv::attack
