// inv/protocol/model_protocol.hpp: the papers' protocol per target network, as one
// table per model (docs/protocol.md §2-§5).
//
// A ModelProtocol says everything the attacks and the command need to know about a
// target architecture: how to build it and normalise its input, how the paper trains it
// (§2), the rMLE setting of each block of split points (§3), the paper's decoders (§4)
// and shadows (§6's Table 5 in P1, protocol §5) where it defines them. A new model brings
// its own entry in model_protocols(); nothing else keys on its name.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "inv/error.hpp"
#include "inv/models/zoo.hpp"

namespace inv::protocol {

/// How a target is trained (protocol §2): Adam(lr, eps 1e-3, AMSGrad) on cross-entropy,
/// mini-batches of batch_size, the learning rate halved every halve_every epochs (0 =
/// never), with the paper's augmentation (random horizontal flip + random affine ±10°,
/// translation 0.1, scale 0.9-1.1) when augment is set.
struct TargetRecipe {
  int64_t epochs = 20;
  int64_t batch_size = 32;
  double lr = 1e-3;
  int64_t halve_every = 20;
  bool augment = false;
};

/// How the black-box decoder and the query-free shadow are trained (protocol §4, §5):
/// Adam(lr, eps 1e-3, AMSGrad), batch 32, the learning rate halved every halve_every epochs.
struct AttackerRecipe {
  int64_t epochs = 50;
  int64_t batch_size = 32;
  double lr = 1e-3;
  int64_t halve_every = 10;
};

/// An rMLE setting and where it comes from.
struct RmleSetting {
  int64_t iterations = 5000;
  double lr = 1e-2, lambda_tv = 0, lambda_l2 = 0;
  std::string source;  // "protocol §3" at a paper split, "per block (protocol §3)" elsewhere, ...
};

/// Split points that share the white-box setting of their paper split (protocol §3).
struct RmleBlock {
  std::vector<std::string> layers;  // the split points of the block, in order
  std::string paper_split;          // the one P1 attacks (the setting's source)
  double lr, lambda_tv;
};

/// A split point where the query-free attack's inversion has a setting of its own (§5).
struct QueryFreeRmle {
  std::string split;
  RmleSetting setting;
};

using ModuleAtSplit = std::function<models::SequentialPtr(const std::string& split, Generator& gen)>;

/// The protocol of one target architecture (see the header).
struct ModelProtocol {
  models::ModelSpec spec;   // name ("lenet"), input shape (C, H, W), normalisation
  std::string display;      // "LeNet"
  std::function<models::SequentialPtr(Generator&)> build;  // fresh weights (PyTorch's default init)
  TargetRecipe recipe;      // §2: the paper's training
  std::vector<RmleBlock> rmle_blocks;           // §3, in layer order
  std::vector<QueryFreeRmle> query_free_rmle;   // §5
  int64_t defense_rmle_iterations = 500;        // §7: the paper's attacker of the defenses
  ModuleAtSplit paper_decoder;  // §4: the paper's decoder at a split, or nullptr when it has none
  ModuleAtSplit paper_shadow;   // §5: P1 Table 5's shadow of a different structure, or nullptr
};

/// The protocols of the zoo's models, in a fixed order: lenet, cifar-cnn.
inline const std::vector<ModelProtocol>& model_protocols() {
  static const std::vector<ModelProtocol> table = [] {
    ModelProtocol lenet;
    lenet.spec = models::lenet_spec();
    lenet.display = "LeNet";
    lenet.build = [](Generator& g) { return models::lenet(g); };
    lenet.recipe.epochs = 20;  // the other values are TargetRecipe's defaults (§2)
    lenet.rmle_blocks = {  // {layers}, paper split, lr, λ_TV
        {{"conv1", "ReLU1", "pool1"}, "conv1", 1e-2, 0},
        {{"conv2", "ReLU2", "pool2"}, "ReLU2", 1e-2, 1},
        {{"fc1", "fc1act", "fc2", "fc2act", "fc3"}, "fc3", 1e-2, 1e3},
    };
    lenet.paper_decoder = [](const std::string& split, Generator& g) { return models::paper_decoder("lenet", split, g); };
    lenet.paper_shadow = [](const std::string& split, Generator& g) { return models::paper_shadow("lenet", split, g); };

    ModelProtocol cifar;
    cifar.spec = models::cifar_cnn_spec();
    cifar.display = "CIFAR-10 CNN";
    cifar.build = [](Generator& g) { return models::cifar_cnn(g); };
    cifar.recipe.epochs = 50;
    cifar.recipe.augment = true;
    cifar.defense_rmle_iterations = 5000;
    cifar.rmle_blocks = {  // {layers}, paper split, lr, λ_TV
        {{"conv11", "ReLU11", "conv12", "ReLU12", "pool1"}, "conv11", 1e-2, 0},
        {{"conv21", "ReLU21", "conv22", "ReLU22", "pool2"}, "ReLU22", 1e-2, 10},
        {{"conv31", "ReLU31", "conv32", "ReLU32", "pool3"}, "ReLU32", 1e-2, 1e3},
        {{"fc1", "fc1act", "fc2"}, "fc1", 1e-3, 1e4},
    };
    RmleSetting qf;  // the query-free inversion at conv11 and ReLU22 (§5)
    qf.iterations = 500;
    qf.lr = 1e-2;
    qf.lambda_tv = 0;
    qf.source = "protocol §5 (query-free)";
    RmleSetting qf22 = qf;
    qf22.lr = 0.1;
    qf22.lambda_tv = 2;
    cifar.query_free_rmle = {{"conv11", qf}, {"ReLU22", qf22}};
    cifar.paper_decoder = [](const std::string& split, Generator& g) {
      return models::paper_decoder("cifar-cnn", split, g);
    };
    cifar.paper_shadow = [](const std::string& split, Generator& g) {
      return models::paper_shadow("cifar-cnn", split, g);
    };
    return std::vector<ModelProtocol>{lenet, cifar};
  }();
  return table;
}

/// The names of the models with a protocol ("lenet", "cifar-cnn").
inline std::vector<std::string> protocol_model_names() {
  std::vector<std::string> out;
  for (const ModelProtocol& m : model_protocols()) out.push_back(m.spec.name);
  return out;
}

/// The protocol of the model `name`, or nullptr.
inline const ModelProtocol* find_model_protocol(const std::string& name) {
  for (const ModelProtocol& m : model_protocols())
    if (m.spec.name == name) return &m;
  return nullptr;
}

/// The protocol of the model `name`. Throws inv::Error naming the known models.
inline const ModelProtocol& model_protocol(const std::string& name) {
  if (const ModelProtocol* m = find_model_protocol(name)) return *m;
  std::string known;
  for (const std::string& n : protocol_model_names()) known += (known.empty() ? "" : ", ") + n;
  inv::detail::fail("unknown model '", name, "' (models: ", known, ")");
}

}  // namespace inv::protocol
