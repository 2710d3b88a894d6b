// inv/protocol/model_protocol.hpp: the papers' protocol per target network, as one
// table per model (docs/protocol.md §2-§5).
//
// A ModelProtocol says everything the attacks and the command need to know about a
// target architecture: how to build it and normalise its input, how the paper trains it
// (§2), the rMLE setting of each block of split points (§3), the paper's decoders (§4)
// and shadows (§6's Table 5 in P1, protocol §5) where it defines them. A new model brings
// its own entry in model_protocols(); nothing else keys on its name.
#pragma once

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "inv/error.hpp"
#include "inv/models/resnet.hpp"
#include "inv/models/vgg.hpp"
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
  std::string paper_split;          // the one P1 attacks (the setting's source); "" for a model of no paper
  double lr, lambda_tv;
  std::string source = "";          // where the setting comes from when no paper gives it ("" = the paper split's)
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
  int64_t classes = 10;         // the outputs of the network `build` makes
  std::string classifier_weight;  // the state_dict entry (classes, features) of the last Linear: "fc3.weight"
  /// Builds the network with `classes` outputs (torchvision's num_classes), or nullptr when
  /// the architecture fixes them (the papers' networks: 10).
  std::function<models::SequentialPtr(int64_t classes, Generator&)> build_classes;
  /// Whether the network takes any square input size (it pools globally before its
  /// classifier): spec.input_shape's H = W is then the default, not a requirement.
  bool any_input_size = false;
};

namespace detail {
/// The settings of a model of no paper: its rMLE blocks by the resolution of their feature
/// maps relative to the input, as the CIFAR CNN's blocks (protocol §10): the layers
/// computing at full resolution λ_TV 0, at half 10, at a quarter or less 1e3 (lr 1e-2);
/// the pooled features and the classifier λ_TV 1e4 with lr 1e-3. `full`, `half`, `coarse`
/// and `head` list the split points of each (any may be empty).
inline std::vector<RmleBlock> blocks_by_resolution(const std::vector<std::string>& full,
                                                   const std::vector<std::string>& half,
                                                   const std::vector<std::string>& coarse,
                                                   const std::vector<std::string>& head) {
  const std::string source = "by resolution, after the CIFAR CNN's blocks (protocol §10)";
  std::vector<RmleBlock> out;
  if (!full.empty()) out.push_back({full, "", 1e-2, 0, source});
  if (!half.empty()) out.push_back({half, "", 1e-2, 10, source});
  if (!coarse.empty()) out.push_back({coarse, "", 1e-2, 1e3, source});
  if (!head.empty()) out.push_back({head, "", 1e-3, 1e4, source});
  return out;
}

/// "<prefix>0", ..., "<prefix><last>".
inline std::vector<std::string> numbered(const std::string& prefix, int first, int last) {
  std::vector<std::string> out;
  for (int i = first; i <= last; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

/// The lists concatenated.
inline std::vector<std::string> concat(std::initializer_list<std::vector<std::string>> lists) {
  std::vector<std::string> out;
  for (const auto& l : lists) out.insert(out.end(), l.begin(), l.end());
  return out;
}
}  // namespace detail

/// The protocols of the models, in a fixed order: lenet, cifar-cnn (the papers'), then
/// resnet20, resnet18, vgg11-bn (torchvision's architectures; settings by analogy, §10).
inline const std::vector<ModelProtocol>& model_protocols() {
  static const std::vector<ModelProtocol> table = [] {
    ModelProtocol lenet;
    lenet.spec = models::lenet_spec();
    lenet.display = "LeNet";
    lenet.build = [](Generator& g) { return models::lenet(g); };
    lenet.classifier_weight = "fc3.weight";
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
    cifar.classifier_weight = "fc2.weight";
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

    // The torchvision-style networks: no paper trains or attacks them. Their recipe is the
    // CIFAR CNN's (§2: Adam 1e-3, batch 32, 50 epochs halving every 20, flip + affine), their
    // defense attacker the CIFAR CNN's 5000 iterations (§7), their rMLE blocks by resolution.
    using detail::concat;
    using detail::numbered;
    ModelProtocol resnet20;
    resnet20.spec = models::resnet20_spec();
    resnet20.display = "ResNet-20";
    resnet20.build = [](Generator& g) { return models::resnet20(10, g); };
    resnet20.build_classes = [](int64_t classes, Generator& g) { return models::resnet20(classes, g); };
    resnet20.classifier_weight = "fc.weight";
    resnet20.any_input_size = true;
    resnet20.recipe = cifar.recipe;
    resnet20.defense_rmle_iterations = 5000;
    resnet20.rmle_blocks = detail::blocks_by_resolution(  // 32x32, 16x16, 8x8, pooled
        concat({{"conv1", "bn1", "relu"}, numbered("layer1.", 0, 1), {"layer1"}}),
        concat({numbered("layer2.", 0, 1), {"layer2"}}), concat({numbered("layer3.", 0, 1), {"layer3"}}),
        {"avgpool", "fc"});

    ModelProtocol resnet18;
    resnet18.spec = models::resnet18_spec();
    resnet18.display = "ResNet-18";
    resnet18.build = [](Generator& g) { return models::resnet18(1000, g); };
    resnet18.build_classes = [](int64_t classes, Generator& g) { return models::resnet18(classes, g); };
    resnet18.classes = 1000;
    resnet18.classifier_weight = "fc.weight";
    resnet18.any_input_size = true;
    resnet18.recipe = cifar.recipe;
    resnet18.defense_rmle_iterations = 5000;
    resnet18.rmle_blocks = detail::blocks_by_resolution(  // none at full resolution: conv1 has stride 2
        {}, {"conv1", "bn1", "relu"},
        {"maxpool", "layer1.0", "layer1", "layer2.0", "layer2", "layer3.0", "layer3", "layer4.0", "layer4"},
        {"avgpool", "fc"});

    ModelProtocol vgg;
    vgg.spec = models::vgg11_bn_spec();
    vgg.display = "VGG-11 (BN)";
    vgg.build = [](Generator& g) { return models::vgg11_bn(10, g); };
    vgg.build_classes = [](int64_t classes, Generator& g) { return models::vgg11_bn(classes, g); };
    vgg.classifier_weight = "classifier.weight";
    vgg.recipe = cifar.recipe;
    vgg.defense_rmle_iterations = 5000;
    vgg.rmle_blocks = detail::blocks_by_resolution(  // each block closes with its max pooling, as the CIFAR CNN's
        numbered("features.", 0, 3), numbered("features.", 4, 7),
        concat({numbered("features.", 8, 27), {"features"}}), {"classifier"});
    return std::vector<ModelProtocol>{lenet, cifar, resnet20, resnet18, vgg};
  }();
  return table;
}

/// The names of the models with a protocol ("lenet", "cifar-cnn", "resnet20", "resnet18", "vgg11-bn").
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

/// The protocol of `m` for one target: its input `spec` (shape (C, H, W) and per-channel
/// normalisation; the name stays m's) and `classes` outputs; `build` then makes that
/// network. The attacks build their shadows with it (attack/registry.hpp). Throws
/// inv::Error, naming the model and what it takes, when the spec is not (C, H, W) with m's
/// C, its H and W differ from m's where the architecture fixes them (!any_input_size) or
/// are not equal and positive, mean or std do not hold one value per channel (or one for
/// all), a std is not positive or a value not finite, or `classes` differs from m.classes
/// where the architecture fixes it (no build_classes) or is not positive.
inline ModelProtocol adapted_protocol(const ModelProtocol& m, const models::ModelSpec& spec, int64_t classes) {
  const Shape& want = m.spec.input_shape;
  const Shape& got = spec.input_shape;
  INV_CHECK(got.size() == 3 && got[0] == want[0], m.spec.name, " takes images (", want[0], ", H, W), not ",
            to_string(got));
  if (m.any_input_size)
    INV_CHECK(got[1] == got[2] && got[1] > 0, m.spec.name, " takes square images (", want[0],
              ", S, S) with S > 0, not ", to_string(got));
  else
    INV_CHECK(got == want, m.spec.name, "'s architecture fixes its input at ", to_string(want), ", not ",
              to_string(got));
  for (const auto* v : {&spec.mean, &spec.std}) {
    const char* which = v == &spec.mean ? "mean" : "std";
    INV_CHECK(v->size() == 1 || int64_t(v->size()) == want[0], m.spec.name, ": the ", which, " needs ", want[0],
              " values (one per channel), got ", v->size());
    for (double x : *v)
      INV_CHECK(std::isfinite(x) && (v == &spec.mean || x > 0), m.spec.name, ": a ", which, " value must be ",
                v == &spec.mean ? "finite" : "positive and finite", ", got ", x);
  }
  INV_CHECK(classes > 0, m.spec.name, ": the number of classes must be positive, got ", classes);
  INV_CHECK(classes == m.classes || m.build_classes, m.spec.name, " has ", m.classes, " classes, not ", classes);
  ModelProtocol out = m;
  out.spec.input_shape = got;
  out.spec.mean = spec.mean;
  out.spec.std = spec.std;
  out.classes = classes;
  if (classes != m.classes) {
    const auto build = m.build_classes;
    out.build = [build, classes](Generator& g) { return build(classes, g); };
  }
  return out;
}

}  // namespace inv::protocol
