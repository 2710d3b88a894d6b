// inv/protocol/rmle_settings.hpp: the papers' rMLE settings per model and split
// (docs/protocol.md §3 and §5), as data keyed by layer name.
//
// Every split point of the zoo's networks belongs to one block of layers, and a block
// shares one setting: the one the reference code uses at the block's split in P1 (LeNet
// conv1, ReLU2 and fc3; the CIFAR CNN's conv11, ReLU22, ReLU32 and fc1). The query-free
// attack's inversion has settings of its own at CIFAR conv11 and ReLU22 (§5). A model
// brings its own table: add its blocks to rmle_blocks().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "inv/error.hpp"

namespace inv::protocol {

/// An rMLE setting and where it comes from.
struct RmleSetting {
  int64_t iterations = 5000;
  double lr = 1e-2, lambda_tv = 0, lambda_l2 = 0;
  std::string source;  // "protocol §3" at a paper split, "per block (protocol §3)" elsewhere, ...
};

/// Layers that share the white-box setting of their paper split.
struct RmleBlock {
  std::vector<std::string> layers;  // the split points of the block, in order
  std::string paper_split;          // the one P1 attacks (the setting's source)
  double lr, lambda_tv;
};

/// The blocks of the zoo's `model` ("lenet" or "cifar-cnn"), in layer order (protocol §3).
/// Throws inv::Error for another model.
inline const std::vector<RmleBlock>& rmle_blocks(const std::string& model) {
  static const std::vector<RmleBlock> lenet = {
      {{"conv1", "ReLU1", "pool1"}, "conv1", 1e-2, 0},
      {{"conv2", "ReLU2", "pool2"}, "ReLU2", 1e-2, 1},
      {{"fc1", "fc1act", "fc2", "fc2act", "fc3"}, "fc3", 1e-2, 1e3},
  };
  static const std::vector<RmleBlock> cifar = {
      {{"conv11", "ReLU11", "conv12", "ReLU12", "pool1"}, "conv11", 1e-2, 0},
      {{"conv21", "ReLU21", "conv22", "ReLU22", "pool2"}, "ReLU22", 1e-2, 10},
      {{"conv31", "ReLU31", "conv32", "ReLU32", "pool3"}, "ReLU32", 1e-2, 1e3},
      {{"fc1", "fc1act", "fc2"}, "fc1", 1e-3, 1e4},
  };
  if (model == "lenet") return lenet;
  if (model == "cifar-cnn") return cifar;
  inv::detail::fail("rmle_blocks: no rMLE settings for model '", model, "' (the table has lenet and cifar-cnn)");
}

/// The white-box rMLE setting of `split` in `model` (protocol §3): its block's, 5000
/// iterations, λ_l2 0. Throws inv::Error for an unknown model or a layer that is not one
/// of its split points (naming them).
inline RmleSetting white_box_rmle(const std::string& model, const std::string& split) {
  std::string known;
  for (const RmleBlock& b : rmle_blocks(model))
    for (const std::string& layer : b.layers) {
      if (layer == split) {
        RmleSetting s;
        s.lr = b.lr;
        s.lambda_tv = b.lambda_tv;
        s.source = split == b.paper_split ? "protocol §3" : "per block (protocol §3)";
        return s;
      }
      known += (known.empty() ? "" : ", ") + layer;
    }
  inv::detail::fail("white_box_rmle: '", split, "' is not a split point of ", model, " (", known, ")");
}

/// The query-free attack's inversion setting where the reference code has its own
/// (protocol §5: CIFAR CNN conv11 and ReLU22, 500 iterations), else nullopt: then the
/// white-box setting applies.
inline std::optional<RmleSetting> query_free_rmle(const std::string& model, const std::string& split) {
  if (model != "cifar-cnn" || (split != "conv11" && split != "ReLU22")) return std::nullopt;
  RmleSetting s = white_box_rmle(model, split);
  s.iterations = 500;
  if (split == "ReLU22") s.lr = 0.1, s.lambda_tv = 2;
  s.source = "protocol §5 (query-free)";
  return s;
}

}  // namespace inv::protocol
