// inv/attack/registry.hpp: the catalogue of attacks, and the one way to run any of them.
//
// Every attack is an entry of attacks(): a name, the access its threat model grants
// (docs/protocol.md §1), what it spends (rMLE iterations, a trained decoder or shadow),
// and a run function. run_attack() is the harness: it splits the target, hands the
// attack only what its access grants (a Granted), times it and returns its
// Reconstruction. The command, its report and its plots iterate over attacks(), so an
// attack is added by writing its header (the algorithm) and one entry here.
//
//   const attack::AttackInfo& a = *attack::find_attack("black-box");
//   attack::SplitTarget t{&protocol::model_protocol("lenet"), net, "ReLU2"};
//   attack::AttackSettings s = attack::protocol_settings(a, t);  // the papers' budgets
//   s.decoder.epochs = 5;                                         // or your own
//   attack::Reconstruction r = attack::run_attack(a, t, v, &attacker_data, s);
//
// Inputs and outputs are in normalised space: the features v (N, ...) of the split, the
// attacker's images (protocol::AttackerData), and Reconstruction::images (N, C, H, W).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "inv/attack/access.hpp"
#include "inv/attack/decoder.hpp"
#include "inv/attack/inverse_network.hpp"
#include "inv/attack/reconstruction.hpp"
#include "inv/attack/rmle.hpp"
#include "inv/attack/shadow.hpp"
#include "inv/defense/defended_edge.hpp"
#include "inv/protocol/attacker_data.hpp"
#include "inv/protocol/model_protocol.hpp"
#include "inv/protocol/rmle_settings.hpp"
#include "inv/train/progress.hpp"

namespace inv::attack {

/// What the attacker may use (protocol §1). The threat models are a closed set; attacks are not.
enum class Access {
  WhiteBox,   // the edge f1 (structure and weights)
  BlackBox,   // queries to f1 (an EdgeOracle) and its own images
  QueryFree,  // the cloud f2 and its own labelled images; nothing of f1 but its architecture
};

/// "white-box", "black-box", "query-free".
inline const char* access_name(Access a) {
  switch (a) {
    case Access::WhiteBox: return "white-box";
    case Access::BlackBox: return "black-box";
    case Access::QueryFree: return "query-free";
  }
  return "?";
}

/// A trained target cut at a split point, as the harness holds it (no attack sees it whole).
struct SplitTarget {
  const protocol::ModelProtocol* model = nullptr;  // the architecture and its protocol tables
  std::shared_ptr<nn::Sequential> net;             // the whole trained network
  std::string split;                               // the edge computes every layer up to this one
};

/// What is deployed and what the cloud sees besides the features it attacks (protocol §7).
struct Deployment {
  /// The deployed edge, e.g. a defense::DefendedEdge: the black-box oracle queries it.
  /// Null: the clean edge of the target.
  std::shared_ptr<nn::Module> edge;
  /// The defense it applies. Attackers that know the defense learn its kind, position and
  /// level, never its random draws or its secret tensor.
  defense::Defense defense;
  /// Other features (M, ...) the cloud has received from the deployment, unlabelled; may
  /// be undefined.
  Tensor observed;
};

/// The model an attack trains, if any.
enum class Trains { Nothing, Decoder, Shadow };

/// Everything an attack may be configured with. Each attack reads its own part.
struct AttackSettings {
  RmleConfig rmle;       // rMLE: white-box, and the inversion step of query-free
  TrainConfig decoder;   // the black-box inverse network (its seed is set per split by the harness)
  TrainConfig shadow;    // the query-free shadow (likewise)
  bool paper_shadow = false;  // query-free: P1 Table 5's shadow where defined, else a copy of the edge's architecture
  uint64_t seed = 0;     // the root of the initialisation and shuffling seeds
  bool quiet = true;     // no progress output
};

/// What the harness grants an attack. Only the part its access allows is set; asking for
/// another part throws inv::Error. The architecture (the model's protocol), the split,
/// the input shape and the seeds are public knowledge in every threat model.
class Granted {
 public:
  /// White-box: the edge f1.
  nn::Module& edge() const { return *need(edge_, "the edge model (white-box access)"); }
  /// Black-box: query access to f1.
  EdgeOracle& oracle() const { return *need(oracle_, "queries to the edge (black-box access)"); }
  /// Query-free: the cloud f2.
  nn::Module& cloud() const { return *need(cloud_, "the cloud model (query-free access)"); }
  /// The defense's public part (kind, position, level; no secret tensor): known to
  /// defense-aware attackers. Kind None when nothing is deployed.
  const defense::Defense& defense() const { return defense_; }
  /// The other features the cloud has received from the deployment (M, ...).
  const Tensor& observed() const {
    INV_CHECK(observed_.defined() && observed_.size(0) >= 1, attack_,
              ": needs features observed from the deployment (Deployment::observed), none were given");
    return observed_;
  }
  /// The attacker's own images, normalised (attacks with uses_attacker_data).
  const protocol::AttackerData& data() const {
    INV_CHECK(data_ && data_->images.defined(), attack_, ": needs the attacker's own images, which it was not given");
    return *data_;
  }
  const protocol::ModelProtocol& model() const { return *model_; }
  const std::string& split() const { return split_; }
  const Shape& input_shape() const { return model_->spec.input_shape; }
  /// The seed of stream `salt` of this (split, attack): 1 initialisation, 2 and 3 training.
  uint64_t seed(uint64_t salt) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a of the split name
    for (char ch : split_) h = (h ^ uint8_t(ch)) * 1099511628211ull;
    return mix_seed(root_seed_, h ^ (stream_id_ << 56) ^ salt);
  }
  const std::string& attack_name() const { return attack_; }

 private:
  template <class Pointer>
  typename Pointer::element_type* need(const Pointer& p, const char* what) const {
    INV_CHECK(p != nullptr, attack_, ": its access does not grant ", what);
    return p.get();
  }

  std::shared_ptr<nn::Module> edge_, cloud_;
  std::unique_ptr<EdgeOracle> oracle_;
  const protocol::AttackerData* data_ = nullptr;
  defense::Defense defense_;
  Tensor observed_;
  const protocol::ModelProtocol* model_ = nullptr;
  std::string split_, attack_;
  uint64_t root_seed_ = 0, stream_id_ = 0;

  friend Reconstruction run_attack(const struct AttackInfo&, const SplitTarget&, const Tensor&,
                                   const protocol::AttackerData*, const AttackSettings&, const Deployment*);
};

/// One attack of the catalogue.
struct AttackInfo {
  std::string name;                  // "white-box", as the command and the reports call it
  Access access = Access::WhiteBox;  // what it is granted
  uint64_t stream_id = 0;            // a stable number in its seed streams (Granted::seed); never reused
  std::string summary;               // one line for --help and the report
  bool uses_rmle = false;            // it runs rMLE (its settings: iterations, lr, λ_TV, λ_l2)
  Trains trains = Trains::Nothing;   // the model it trains, if any
  bool needs_labels = false;         // its own images must be labelled
  bool uses_attacker_data = false;   // it is given the attacker's own images
  bool defense_aware = false;        // it models the deployed defense (run where a defense is deployed)
  /// The attack: features v (N, ...) of the split, normalised -> reconstruction.
  std::function<Reconstruction(const Granted&, const Tensor& v, const AttackSettings&)> run;

};

namespace detail {

/// rMLE with progress lines ("rMLE ReLU2 (white-box) 300/1000  objective 0.0123"), unless
/// the settings bring their own on_progress callback.
inline Reconstruction rmle_with_progress(nn::Module& model, const Tensor& v, const Granted& g, const AttackSettings& s) {
  if (s.rmle.on_progress) return rmle(model, v, g.input_shape(), s.rmle);
  RmleConfig c = s.rmle;
  train::Progress progress(s.quiet);
  progress.start("rMLE " + g.split() + " (" + g.attack_name() + ")", c.iterations);
  c.progress_every = 10;
  c.on_progress = [&](int64_t it, double objective) {
    char stats[48];
    std::snprintf(stats, sizeof stats, "objective %.5g", objective);
    progress.update(it, stats, it, "it/s");
  };
  return rmle(model, v, g.input_shape(), c);
}

inline TrainConfig seeded(TrainConfig c, uint64_t seed, bool quiet) {
  c.seed = seed;
  c.quiet = quiet;
  return c;
}

/// The white-box attack: rMLE through the edge (attack/rmle.hpp, protocol §3).
inline Reconstruction white_box(const Granted& g, const Tensor& v, const AttackSettings& s) {
  return rmle_with_progress(g.edge(), v, g, s);
}

/// The black-box attack: an inverse network trained through the oracle (attack/inverse_network.hpp,
/// protocol §4): the paper's decoder at its splits, else auto_decoder.
inline Reconstruction black_box(const Granted& g, const Tensor& v, const AttackSettings& s) {
  const protocol::AttackerData& data = g.data();
  Generator init(g.seed(1));
  std::shared_ptr<nn::Module> decoder;
  if (g.model().paper_decoder) decoder = g.model().paper_decoder(g.split(), init);
  const bool paper = decoder != nullptr;
  if (!paper) decoder = auto_decoder(Shape(v.shape().begin() + 1, v.shape().end()), g.input_shape(), init);
  InverseNetwork net(decoder, seeded(s.decoder, g.seed(2), s.quiet));
  EdgeOracle& oracle = g.oracle();
  const std::vector<double> loss = net.fit(oracle, data.images);
  Reconstruction r = net.invert(v);
  r.train_loss = loss;
  r.architecture = paper ? "paper decoder (protocol §4)" : "auto decoder";
  r.cost.epochs = s.decoder.epochs;
  r.cost.training_images = data.images.size(0);
  r.cost.queries = oracle.queries();
  return r;
}

/// The query-free attack: a shadow edge trained through the frozen cloud, then rMLE
/// against it (attack/shadow.hpp, protocol §5).
inline Reconstruction query_free(const Granted& g, const Tensor& v, const AttackSettings& s) {
  const protocol::AttackerData& data = g.data();
  INV_CHECK(data.labelled(), g.attack_name(), ": the attacker needs labelled images (the train or disjoint set, ",
            "not noise)");
  Generator init(g.seed(1));
  std::shared_ptr<nn::Module> shadow;
  if (s.paper_shadow && g.model().paper_shadow) shadow = g.model().paper_shadow(g.split(), init);
  const bool paper = shadow != nullptr;
  if (!paper) shadow = g.model().build(init)->split(g.split()).first;
  ShadowModel sm(shadow, seeded(s.shadow, g.seed(3), s.quiet));
  const std::vector<double> loss = sm.fit(g.cloud(), data.labelled_set());
  // Inverted as it would be deployed: in evaluation mode (BatchNorm with its running statistics).
  nn::ModeGuard deployed(sm.shadow(), false);
  Reconstruction r = rmle_with_progress(sm.shadow(), v, g, s);
  r.train_loss = loss;
  r.architecture = paper ? "P1 Table 5 shadow (different structure)" : "copy of the edge (same structure)";
  r.cost.epochs = s.shadow.epochs;
  r.cost.training_images = data.images.size(0);
  return r;
}

/// The defense-aware white-box attack: rMLE through the edge with a feature distance that
/// fits the deployed defense it knows (kind, position, level), not its draws:
///   dropout on the features    only the coordinates where v ≠ 0 count (a zero may be dropped)
///   laplace on the features    the absolute distance (the MLE under Laplace noise)
///   optimised on the features  the fixed offset n is estimated as mean(observed features) −
///                              mean(f1(own images)), and v − n̂ is inverted (needs both)
///   gaussian, or any defense on the input: the squared distance, as the paper's attacker
/// Assumes the observed features come from images of the attacker's distribution.
inline Reconstruction white_box_aware(const Granted& g, const Tensor& v, const AttackSettings& s) {
  const defense::Defense& d = g.defense();
  AttackSettings a = s;
  Tensor target = v;
  std::string how = "squared distance (as the paper's attacker)";
  if (d.position == defense::Position::Features) {
    switch (d.kind) {
      case defense::DefenseKind::Dropout:
        a.rmle.skip_zero_features = true;
        how = "zero features skipped";
        break;
      case defense::DefenseKind::Laplace:
        a.rmle.distance = FeatureDistance::Absolute;
        how = "absolute distance";
        break;
      case defense::DefenseKind::Optimised: {
        const Tensor& observed = g.observed();
        const Tensor& own = g.data().images;
        Tensor clean;
        {
          NoGradGuard no_grad;
          nn::ModeGuard mode(g.edge(), false);
          clean = data::map_batches(own, 500, [&](const Tensor& b) { return g.edge().forward(b); });
        }
        const Tensor offset = sub(mean(observed, {0}), mean(clean, {0}));  // n̂, one sample's shape
        target = copy_data(sub(v, offset));
        how = "offset estimated from " + std::to_string(observed.size(0)) + " observed features";
        break;
      }
      default: break;
    }
  }
  Reconstruction r = rmle_with_progress(g.edge(), target, g, a);
  r.architecture = how;
  return r;
}

/// The label-only baseline: the mean of the attacker's own images of the class that the
/// cloud predicts from v. It learns nothing of the input beyond its label, so an attack
/// that does not beat it has not shown leakage of the input. Classes the attacker has no
/// image of fall back to the mean of all its images.
inline Reconstruction label_only(const Granted& g, const Tensor& v, const AttackSettings&) {
  const protocol::AttackerData& data = g.data();
  INV_CHECK(data.labelled(), g.attack_name(), ": the attacker needs labelled images (the train or disjoint set, ",
            "not noise)");
  std::vector<int64_t> predicted;
  {
    NoGradGuard no_grad;
    nn::ModeGuard mode(g.cloud(), false);
    predicted = argmax(g.cloud().forward(v), 1);
  }
  const int64_t n = data.images.size(0), row = data.images.numel() / n;
  int64_t classes = 0;
  for (int64_t y : data.labels) classes = std::max(classes, y + 1);
  for (int64_t y : predicted) classes = std::max(classes, y + 1);
  std::vector<double> sums(size_t(classes * row), 0.0), all(size_t(row), 0.0);
  std::vector<int64_t> counts(size_t(classes), 0);
  const float* p = data.images.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = data.labels[size_t(i)];
    ++counts[size_t(y)];
    for (int64_t k = 0; k < row; ++k) sums[size_t(y * row + k)] += p[i * row + k], all[size_t(k)] += p[i * row + k];
  }
  Shape shape = data.images.shape();
  shape[0] = v.size(0);
  Reconstruction r;
  r.images = empty(shape);
  float* q = r.images.data<float>();
  for (int64_t i = 0; i < v.size(0); ++i) {
    const int64_t y = predicted[size_t(i)];
    for (int64_t k = 0; k < row; ++k)
      q[i * row + k] = counts[size_t(y)] > 0 ? float(sums[size_t(y * row + k)] / double(counts[size_t(y)]))
                                             : float(all[size_t(k)] / double(n));
  }
  r.architecture = "class mean of the attacker's images";
  r.cost.training_images = n;
  return r;
}

}  // namespace detail

/// The catalogue, in a fixed order (the order of reports and plots).
inline const std::vector<AttackInfo>& attacks() {
  static const std::vector<AttackInfo> table = [] {
    AttackInfo white_box;
    white_box.name = "white-box";
    white_box.access = Access::WhiteBox;
    white_box.stream_id = 0;
    white_box.summary = "rMLE through the known edge f1 (protocol §3)";
    white_box.uses_rmle = true;
    white_box.run = detail::white_box;

    AttackInfo white_box_aware;
    white_box_aware.name = "white-box-aware";
    white_box_aware.access = Access::WhiteBox;
    white_box_aware.stream_id = 3;
    white_box_aware.summary = "rMLE through f1 with a feature distance that fits the known defense";
    white_box_aware.uses_rmle = true;
    white_box_aware.uses_attacker_data = true;  // against optimised noise
    white_box_aware.defense_aware = true;
    white_box_aware.run = detail::white_box_aware;

    AttackInfo black_box;
    black_box.name = "black-box";
    black_box.access = Access::BlackBox;
    black_box.stream_id = 1;
    black_box.summary = "an inverse network trained on queries to f1 (protocol §4)";
    black_box.trains = Trains::Decoder;
    black_box.uses_attacker_data = true;
    black_box.run = detail::black_box;

    AttackInfo query_free;
    query_free.name = "query-free";
    query_free.access = Access::QueryFree;
    query_free.stream_id = 2;
    query_free.summary = "a shadow f1 trained through the known cloud f2, then rMLE (protocol §5)";
    query_free.uses_rmle = true;
    query_free.trains = Trains::Shadow;
    query_free.needs_labels = true;
    query_free.uses_attacker_data = true;
    query_free.run = detail::query_free;

    AttackInfo label_only;
    label_only.name = "label-only";
    label_only.access = Access::QueryFree;
    label_only.stream_id = 4;
    label_only.summary = "a baseline, not an attack: the attacker's mean image of the class the cloud predicts";
    label_only.needs_labels = true;
    label_only.uses_attacker_data = true;
    label_only.run = detail::label_only;
    return std::vector<AttackInfo>{white_box, black_box, query_free, label_only, white_box_aware};
  }();
  return table;
}

/// The names of the catalogue's attacks, in its order.
inline std::vector<std::string> attack_names() {
  std::vector<std::string> out;
  for (const AttackInfo& a : attacks()) out.push_back(a.name);
  return out;
}

/// The names of the attacks that do not model a defense (defense_aware false): what a
/// leakage sweep without a defense runs.
inline std::vector<std::string> undefended_attack_names() {
  std::vector<std::string> out;
  for (const AttackInfo& a : attacks())
    if (!a.defense_aware) out.push_back(a.name);
  return out;
}

/// The attack named `name`, or nullptr.
inline const AttackInfo* find_attack(const std::string& name) {
  for (const AttackInfo& a : attacks())
    if (a.name == name) return &a;
  return nullptr;
}

/// The papers' settings of `attack` at the target's split (docs/protocol.md §3-§5): for
/// rMLE the split's block setting (the query-free inversion's own where the protocol has
/// one), for the decoder and the shadow the AttackerRecipe (50 epochs, batch 32, lr 1e-3
/// halved every 10). Change any field before run_attack to spend less. Throws inv::Error
/// when the model's table has no setting for the split.
inline AttackSettings protocol_settings(const AttackInfo& attack, const SplitTarget& target) {
  INV_CHECK(target.model != nullptr, "protocol_settings: the target has no model protocol");
  const protocol::RmleSetting r =
      protocol::rmle_setting(target.model->spec.name, target.split, attack.access == Access::QueryFree);
  AttackSettings s;
  s.rmle.iterations = r.iterations;
  s.rmle.lr = r.lr;
  s.rmle.lambda_tv = r.lambda_tv;
  s.rmle.lambda_l2 = r.lambda_l2;
  const protocol::AttackerRecipe a;
  for (TrainConfig* c : {&s.decoder, &s.shadow}) {
    c->epochs = a.epochs;
    c->batch_size = a.batch_size;
    c->lr = a.lr;
    c->halve_every = a.halve_every;
  }
  return s;
}

/// The harness (see the header): runs `attack` against `target` on the observed features
/// v (N, ...) of its split, normalised. `data` is the attacker's own images, given when
/// attack.uses_attacker_data (else ignored). `deployment` says what is deployed (a
/// defended edge, which the black-box oracle then queries) and what else the cloud has
/// observed; null means the clean edge, no defense. Returns the reconstruction with its cost
/// (seconds measured here). Throws inv::Error, before the attack starts, for a target
/// without model or network, a split that is not one of the network's split points, a
/// network that does not take the model's input shape, and features v that are not the
/// edge's output at the split (N, ...); then for missing attacker data and whatever the
/// attack throws.
inline Reconstruction run_attack(const AttackInfo& attack, const SplitTarget& target, const Tensor& v,
                                 const protocol::AttackerData* data, const AttackSettings& s,
                                 const Deployment* deployment = nullptr) {
  INV_CHECK(target.model != nullptr, "run_attack: the target has no model protocol (SplitTarget::model is null)");
  INV_CHECK(target.net != nullptr, "run_attack: the target has no network (SplitTarget::net is null)");
  const std::vector<std::string> points = target.net->split_points();
  if (std::find(points.begin(), points.end(), target.split) == points.end()) {
    std::string known;
    for (const std::string& p : points) known += (known.empty() ? "" : ", ") + p;
    inv::detail::fail("run_attack: '", target.split, "' is not a split point of the network (", known, ")");
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto [edge, cloud] = target.net->split(target.split);
  {  // the features must be what this edge sends
    INV_CHECK(v.defined() && v.dim() >= 2 && v.size(0) >= 1,
              "run_attack: expected features v (N, ...) with N >= 1, got ",
              v.defined() ? to_string(v.shape()) : std::string("an undefined tensor"));
    Shape one{1};
    one.insert(one.end(), target.model->spec.input_shape.begin(), target.model->spec.input_shape.end());
    Shape sent;
    try {
      NoGradGuard no_grad;
      nn::ModeGuard mode(*edge, false);
      sent = edge->forward(zeros(one)).shape();
    } catch (const inv::Error& e) {
      inv::detail::fail("run_attack: the network does not take ", target.model->spec.name, "'s input ",
                        to_string(target.model->spec.input_shape), " (is it a ", target.model->spec.name, "?): ",
                        e.what());
    }
    sent[0] = v.size(0);
    INV_CHECK(v.shape() == sent, "run_attack: the features are ", to_string(v.shape()), " but the edge at ",
              target.split, " sends ", to_string(sent));
  }
  Granted g;
  g.model_ = target.model;
  g.split_ = target.split;
  g.attack_ = attack.name;
  g.root_seed_ = s.seed;
  g.stream_id_ = attack.stream_id;
  std::shared_ptr<nn::Module> deployed = edge;
  if (deployment) {
    if (deployment->edge) deployed = deployment->edge;
    g.defense_ = deployment->defense;
    g.defense_.offset = Tensor();  // the secret stays with the deployment
    g.observed_ = deployment->observed;
  }
  switch (attack.access) {
    case Access::WhiteBox: g.edge_ = edge; break;
    case Access::BlackBox: g.oracle_ = std::make_unique<EdgeOracle>(deployed); break;
    case Access::QueryFree: g.cloud_ = cloud; break;
  }
  if (attack.uses_attacker_data) g.data_ = data;
  Reconstruction r = attack.run(g, v, s);
  r.cost.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace inv::attack
