// attacks.cpp: the three attacks of He, Zhang & Lee at one split (see attacks.hpp).
#include "attacks.hpp"

#include <chrono>
#include <cstdio>
#include <sstream>

#include <inv/attack.hpp>
#include <inv/data/loader.hpp>
#include <inv/train/progress.hpp>

namespace cli {

using inv::Tensor;

std::vector<std::pair<std::string, std::string>> AttackJob::settings(const std::string& architecture) const {
  const bool rmle_used = attack != Attack::BlackBox, trained = attack != Attack::WhiteBox;
  const auto& a = attacker;
  return {
      {"iterations", rmle_used ? std::to_string(rmle.iterations) : ""},
      {"lr", rmle_used ? fmt(rmle.lr) : ""},
      {"lambda_tv", rmle_used ? fmt(rmle.lambda_tv) : ""},
      {"lambda_l2", rmle_used ? fmt(rmle.lambda_l2) : ""},
      {"epochs", trained ? std::to_string(attack == Attack::BlackBox ? a.decoder_epochs : a.shadow_epochs) : ""},
      {"attacker_set", trained ? a.set : ""},
      {"attacker_images", trained ? (a.images > 0 ? std::to_string(a.images) : "all") : ""},
      {"architecture", architecture},
  };
}

std::string AttackJob::fingerprint() const {
  std::ostringstream os;
  os << attack_name(attack) << ";split=" << split << ";seed=" << seed;
  if (attack != Attack::BlackBox)
    os << ";it=" << rmle.iterations << ";lr=" << fmt(rmle.lr) << ";tv=" << fmt(rmle.lambda_tv)
       << ";l2=" << fmt(rmle.lambda_l2);
  if (attack != Attack::WhiteBox) {
    const auto& a = attacker;
    os << ";set=" << a.set << ";n=" << a.images << ";dec=" << a.decoder_epochs << ";sh=" << a.shadow_epochs
       << ";alr=" << fmt(a.lr) << ";halve=" << a.halve_every << ";batch=" << a.batch_size << ";shadow=" << a.shadow;
  }
  return os.str();
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// rMLE with progress lines ("rMLE conv1 (white-box) 300/600  objective 0.0123").
inv::attack::RmleResult invert(inv::nn::Module& model, const Tensor& features, const inv::Shape& input_shape,
                               const AttackJob& job) {
  inv::attack::RmleConfig c;
  c.iterations = job.rmle.iterations;
  c.lr = job.rmle.lr;
  c.lambda_tv = job.rmle.lambda_tv;
  c.lambda_l2 = job.rmle.lambda_l2;
  c.trace_every = job.rmle.iterations;  // the trace is not used
  inv::train::Progress progress(job.quiet);
  progress.start("rMLE " + job.split + " (" + attack_name(job.attack) + ")", c.iterations);
  c.progress_every = 10;
  c.on_progress = [&](int64_t it, double objective) {
    char stats[48];
    std::snprintf(stats, sizeof stats, "objective %.5g", objective);
    progress.update(it, stats, it, "it/s");
  };
  return inv::attack::rmle(model, features, input_shape, c);
}

inv::attack::TrainConfig train_config(const AttackJob& job, int64_t epochs, uint64_t stream) {
  inv::attack::TrainConfig tc;
  tc.epochs = epochs;
  tc.batch_size = job.attacker.batch_size;
  tc.lr = job.attacker.lr;
  tc.halve_every = job.attacker.halve_every;
  tc.seed = inv::data::data_detail::mix_seed(job.seed, stream);
  tc.quiet = job.quiet;
  return tc;
}

/// A seed stream per (split, attack), so that every attack's initialisation is its own.
uint64_t stream_of(const AttackJob& job, uint64_t salt) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the split name
  for (char ch : job.split) h = (h ^ uint8_t(ch)) * 1099511628211ull;
  return h ^ (uint64_t(job.attack) << 56) ^ salt;
}

}  // namespace

inv::Tensor to_pixels(const Target& target, const Tensor& reconstruction) {
  return inv::attack::to_image(reconstruction, target.spec.mean, target.spec.std);
}

inv::metrics::ImageQuality score_reconstruction(const Target& target, const Tensor& originals,
                                                const Tensor& reconstruction) {
  return inv::attack::score(originals, reconstruction, target.spec.mean, target.spec.std);
}

AttackJob make_job(const Settings& s, const std::string& split, Attack attack) {
  AttackJob job;
  job.attack = attack;
  job.split = split;
  job.rmle = rmle_for(s, split, attack);
  job.attacker = s.attacker;
  job.seed = s.seed;
  job.quiet = s.quiet;
  return job;
}

AttackResult run_attack(Target& target, const AttackJob& job, const Tensor& features, const AttackerData* attacker) {
  const auto t0 = std::chrono::steady_clock::now();
  const inv::Shape& input_shape = target.spec.input_shape;
  auto [edge, cloud] = target.net->split(job.split);
  AttackResult r;
  inv::Generator init(inv::data::data_detail::mix_seed(job.seed, stream_of(job, 1)));
  const std::string& model = target.spec.name;
  switch (job.attack) {
    case Attack::WhiteBox: {
      r.reconstruction = invert(*edge, features, input_shape, job).reconstruction;
      break;
    }
    case Attack::BlackBox: {
      INV_CHECK(attacker && attacker->normalised.defined(), "black-box attack: no attacker images");
      inv::Shape fs(features.shape().begin() + 1, features.shape().end());
      auto decoder = inv::attack::decoder_for(model, job.split, fs, input_shape, init);
      r.architecture = inv::models::paper_decoder(model, job.split) ? "paper decoder (P1 §5)" : "auto decoder";
      inv::attack::EdgeOracle oracle(edge);  // the attacker sees only this
      inv::attack::InverseNetwork net(decoder, train_config(job, job.attacker.decoder_epochs, stream_of(job, 2)));
      r.train_loss = net.fit(oracle, attacker->normalised);
      r.queries = oracle.queries();
      r.reconstruction = net.invert(features);
      break;
    }
    case Attack::QueryFree: {
      INV_CHECK(attacker && attacker->labelled.size() > 0,
                "query-free attack: the attacker needs labelled images (--attacker-set train or disjoint, not noise)");
      std::shared_ptr<inv::nn::Module> shadow;
      if (job.attacker.shadow == "paper") shadow = inv::models::paper_shadow(model, job.split, init);
      r.architecture = shadow ? "P1 Table 5 shadow (different structure)" : "copy of the edge (same structure)";
      if (!shadow) shadow = inv::models::by_name(model, init)->split(job.split).first;
      inv::attack::ShadowModel sm(shadow, train_config(job, job.attacker.shadow_epochs, stream_of(job, 3)));
      r.train_loss = sm.fit(*cloud, attacker->labelled, target.spec.mean, target.spec.std);
      r.reconstruction = invert(sm.shadow(), features, input_shape, job).reconstruction;
      break;
    }
  }
  // A decoder's MSE or a shadow's cross-entropy is of order 1 when its training works.
  if (!r.train_loss.empty() && !(r.train_loss.back() <= kDivergedLoss)) {
    char loss[32];
    std::snprintf(loss, sizeof loss, "%.3g", r.train_loss.back());
    std::fprintf(stderr, "inv: warning: the %s at %s ended its training with loss %s (diverged?); its "
                 "reconstruction is likely meaningless: try a lower --attacker-lr\n",
                 job.attack == Attack::BlackBox ? "black-box decoder" : "query-free shadow model", job.split.c_str(),
                 loss);
  }
  r.seconds = seconds_since(t0);
  return r;
}

}  // namespace cli
