// inv/protocol/rmle_settings.hpp: the papers' rMLE settings per model and split
// (docs/protocol.md §3 and §5), read from the model's table (protocol/model_protocol.hpp).
//
// Every split point of a model belongs to one block of layers, and a block shares one
// setting: the one the reference code uses at the block's split in P1 (LeNet conv1, ReLU2
// and fc3; the CIFAR CNN's conv11, ReLU22, ReLU32 and fc1). The query-free attack's
// inversion has settings of its own at CIFAR conv11 and ReLU22 (§5). The models of no
// paper (resnet20, resnet18, vgg11-bn) have blocks by resolution with a source of their
// own (protocol §10).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "inv/protocol/model_protocol.hpp"

namespace inv::protocol {

/// The rMLE blocks of `model` (protocol §3), in layer order. Throws inv::Error for a
/// model without a protocol.
inline const std::vector<RmleBlock>& rmle_blocks(const std::string& model) {
  const ModelProtocol* m = find_model_protocol(model);
  if (!m || m->rmle_blocks.empty())
    inv::detail::fail("rmle_blocks: no rMLE settings for model '", model, "' (the table has ",
                      [] {
                        std::string k;
                        for (const std::string& n : protocol_model_names()) k += (k.empty() ? "" : " and ") + n;
                        return k;
                      }(),
                      ")");
  return m->rmle_blocks;
}

/// The white-box rMLE setting of `split` in `model` (protocol §3): its block's, 5000
/// iterations, λ_l2 0; source "protocol §3" at a paper split, "per block (protocol §3)"
/// elsewhere, the block's own source for a model of no paper. Throws inv::Error for an unknown model or a layer that is not one
/// of its split points (naming them).
inline RmleSetting white_box_rmle(const std::string& model, const std::string& split) {
  std::string known;
  for (const RmleBlock& b : rmle_blocks(model))
    for (const std::string& layer : b.layers) {
      if (layer == split) {
        RmleSetting s;
        s.lr = b.lr;
        s.lambda_tv = b.lambda_tv;
        s.source = !b.source.empty()       ? b.source
                   : split == b.paper_split ? "protocol §3"
                                            : "per block (protocol §3)";
        return s;
      }
      known += (known.empty() ? "" : ", ") + layer;
    }
  inv::detail::fail("white_box_rmle: '", split, "' is not a split point of ", model, " (", known, ")");
}

/// The query-free attack's inversion setting where the reference code has its own
/// (protocol §5: CIFAR CNN conv11 and ReLU22, 500 iterations), else nullopt: then the
/// white-box setting applies. Throws inv::Error as white_box_rmle.
inline std::optional<RmleSetting> query_free_rmle(const std::string& model, const std::string& split) {
  white_box_rmle(model, split);  // validates the model and the split
  for (const QueryFreeRmle& q : model_protocol(model).query_free_rmle)
    if (q.split == split) return q.setting;
  return std::nullopt;
}

/// The rMLE setting of `split` in `model` for an attack: the query-free inversion's own
/// (query_free_rmle) when `query_free_inversion` and the protocol has one, else the
/// white-box setting. Throws inv::Error as white_box_rmle.
inline RmleSetting rmle_setting(const std::string& model, const std::string& split, bool query_free_inversion) {
  if (query_free_inversion)
    if (const auto q = query_free_rmle(model, split)) return *q;
  return white_box_rmle(model, split);
}

}  // namespace inv::protocol
