// attacks.cpp: one attack of the catalogue at one split (see attacks.hpp).
#include "attacks.hpp"

#include <cstdio>
#include <sstream>

#include <inv/attack/evaluate.hpp>

namespace cli {

using inv::Tensor;
using inv::attack::Trains;

std::vector<std::pair<std::string, std::string>> AttackJob::settings(const std::string& architecture) const {
  const bool rmle_used = attack->uses_rmle, trained = attack->trains != Trains::Nothing;
  const auto& a = attacker;
  return {
      {"iterations", rmle_used ? std::to_string(rmle.iterations) : ""},
      {"lr", rmle_used ? fmt(rmle.lr) : ""},
      {"lambda_tv", rmle_used ? fmt(rmle.lambda_tv) : ""},
      {"lambda_l2", rmle_used ? fmt(rmle.lambda_l2) : ""},
      {"epochs", trained ? std::to_string(attack->trains == Trains::Decoder ? a.decoder_epochs : a.shadow_epochs) : ""},
      {"attacker_set", attack->uses_attacker_data ? a.set : ""},
      {"attacker_images", attack->uses_attacker_data ? (a.images > 0 ? std::to_string(a.images) : "all") : ""},
      {"architecture", architecture},
  };
}

std::string AttackJob::fingerprint() const {
  std::ostringstream os;
  os << attack->name << ";split=" << split << ";seed=" << seed;
  if (attack->uses_rmle)
    os << ";it=" << rmle.iterations << ";lr=" << fmt(rmle.lr) << ";tv=" << fmt(rmle.lambda_tv)
       << ";l2=" << fmt(rmle.lambda_l2);
  if (attack->uses_attacker_data) {
    const auto& a = attacker;
    os << ";set=" << a.set << ";n=" << a.images << ";dec=" << a.decoder_epochs << ";sh=" << a.shadow_epochs
       << ";alr=" << fmt(a.lr) << ";halve=" << a.halve_every << ";batch=" << a.batch_size << ";shadow=" << a.shadow;
  }
  return os.str();
}

inv::Tensor to_pixels(const Target& target, const Tensor& reconstruction) {
  return inv::attack::to_image(reconstruction, target.spec.mean, target.spec.std);
}

inv::metrics::ImageQuality score_reconstruction(const Target& target, const Tensor& originals,
                                                const Tensor& reconstruction) {
  return inv::attack::score(originals, reconstruction, target.spec.mean, target.spec.std);
}

AttackJob make_job(const Settings& s, const std::string& split, const AttackInfo& attack) {
  AttackJob job;
  job.attack = &attack;
  job.split = split;
  job.rmle = rmle_for(s, split, attack);
  job.attacker = s.attacker;
  job.seed = s.seed;
  job.quiet = s.quiet;
  return job;
}

namespace {

inv::attack::TrainConfig train_config(const AttackerSettings& a, int64_t epochs) {
  inv::attack::TrainConfig tc;
  tc.epochs = epochs;
  tc.batch_size = a.batch_size;
  tc.lr = a.lr;
  tc.halve_every = a.halve_every;
  return tc;
}

}  // namespace

inv::attack::Reconstruction run_attack(Target& target, const AttackJob& job, const Tensor& features,
                                       const inv::protocol::AttackerData* attacker,
                                       const inv::attack::Deployment* deployment) {
  inv::attack::AttackSettings s;
  s.rmle.iterations = job.rmle.iterations;
  s.rmle.lr = job.rmle.lr;
  s.rmle.lambda_tv = job.rmle.lambda_tv;
  s.rmle.lambda_l2 = job.rmle.lambda_l2;
  s.rmle.trace_every = job.rmle.iterations;  // the trace is not used
  s.decoder = train_config(job.attacker, job.attacker.decoder_epochs);
  s.shadow = train_config(job.attacker, job.attacker.shadow_epochs);
  s.paper_shadow = job.attacker.shadow == "paper";
  s.seed = job.seed;
  s.quiet = job.quiet;
  // The model's protocol for this target's input and classes (the query-free shadow is built from it).
  const inv::attack::SplitTarget split{&target.protocol, target.net, job.split};
  inv::attack::Reconstruction r = inv::attack::run_attack(*job.attack, split, features, attacker, s, deployment);
  // A decoder's MSE or a shadow's cross-entropy is of order 1 when its training works.
  if (!r.train_loss.empty() && !(r.train_loss.back() <= kDivergedLoss)) {
    char loss[32];
    std::snprintf(loss, sizeof loss, "%.3g", r.train_loss.back());
    std::fprintf(stderr, "inv: warning: the %s of the %s attack at %s ended its training with loss %s (diverged?); "
                 "its reconstruction is likely meaningless: try a lower --attacker-lr\n",
                 job.attack->trains == Trains::Decoder ? "decoder" : "shadow model", job.attack->name.c_str(),
                 job.split.c_str(), loss);
  }
  if (!r.stopped.empty()) std::fprintf(stderr, "inv: warning: %s at %s: %s\n", job.attack->name.c_str(),
                                       job.split.c_str(), r.stopped.c_str());
  return r;
}

}  // namespace cli
