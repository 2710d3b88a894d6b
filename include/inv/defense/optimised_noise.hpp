// inv/defense/optimised_noise.hpp: the optimised-noise defense of the authors' code
// (docs/protocol.md §9; `noise_generation_opt.py`, not in the papers).
//
// One fixed tensor n, of the split layer's output shape, is added to every edge output:
// v = f1(x) + n. It is learned so that the next layer t (the cloud's first) barely
// notices it while n stays near a large random reference n_ref ~ N(0, level²), drawn once:
// per batch,  mean((t(f1(x) + n) − t(f1(x)))²) + λ_s·mean((n − n_ref)²),
// from n = 1 with Adam(lr 0.1, eps 1e-3, AMSGrad), λ_s 1e-3, one epoch at batch 32,
// through the one training loop (train/loop.hpp). n is saved as a .npy file.
#pragma once

#include <string>

#include "inv/data/dataset.hpp"
#include "inv/io/npy.hpp"
#include "inv/ops/loss.hpp"
#include "inv/ops/reduce.hpp"
#include "inv/optim/adam.hpp"
#include "inv/random.hpp"
#include "inv/train/loop.hpp"

namespace inv::defense {

struct OptimisedNoiseOptions {
  double level = 100;        // scale of the random reference n_ref
  double lambda = 1e-3;      // λ_s
  double lr = 0.1;
  int64_t epochs = 1;
  int64_t batch_size = 32;
  uint64_t seed = 0;         // n_ref and the shuffling
  bool quiet = true;
};

namespace detail {

/// n as a module, so that the training loop can train it.
class NoiseOffset : public nn::Module {
 public:
  explicit NoiseOffset(const Shape& shape) : n(full(shape, 1.0)) { register_parameter("n", &n); }
  Tensor forward(const Tensor& x) override { return add(x, n); }
  std::string type_name() const override { return "NoiseOffset"; }
  Tensor n;
};

}  // namespace detail

/// Learns n (see the header) for the edge `edge` and the cloud's first layer `next` on
/// the images `x` (N, C, H, W), normalised. Returns n, of one sample's feature shape.
/// Leaves both modules unchanged (they are frozen while n trains). Throws inv::Error for
/// invalid options or when `next` cannot take the edge's output.
inline Tensor learn_optimised_noise(nn::Module& edge, nn::Module& next, const Tensor& x,
                                    const OptimisedNoiseOptions& o = {}) {
  INV_CHECK(o.level >= 0 && std::isfinite(o.level), "learn_optimised_noise: level must be finite and >= 0, got ",
            o.level);
  INV_CHECK(o.lambda >= 0 && o.lr > 0, "learn_optimised_noise: lambda must be >= 0 and lr > 0");
  INV_CHECK(x.dim() == 4 && x.size(0) >= 1, "learn_optimised_noise: expected images (N, C, H, W), got ",
            to_string(x.shape()));
  nn::ModeGuard edge_mode(edge, false), next_mode(next, false);
  Tensor features;
  {
    NoGradGuard no_grad;
    features = edge.forward(x);
  }
  const Shape per(features.shape().begin() + 1, features.shape().end());
  Generator gen(o.seed);
  const Tensor reference = mul(randn(per, gen), o.level);
  detail::NoiseOffset offset(per);
  optim::Adam adam(offset.parameters(), optim::AdamOptions::paper(o.lr));
  train::LoopOptions lo;
  lo.epochs = o.epochs;
  lo.batch_size = o.batch_size;
  lo.seed = mix_seed(o.seed, 1);
  lo.what = "optimised noise";
  lo.quiet = o.quiet;
  // The frozen modules: no parameter gradients, so only n moves.
  std::vector<std::pair<Tensor, bool>> frozen;
  for (nn::Module* m : {&edge, &next})
    for (auto& [name, p] : m->named_parameters()) frozen.emplace_back(p, p.requires_grad()), p.impl().requires_grad = false;
  try {
    train::train_epochs(offset, adam, nullptr, x.size(0), lo, [&](const train::BatchIndices& b) {
      const Tensor v = data::gather_rows(features, b.indices);
      Tensor clean;
      {
        NoGradGuard no_grad;
        clean = next.forward(v);
      }
      const Tensor moved = next.forward(offset.forward(v));
      return train::BatchLoss{add(mse_loss(moved, clean), mul(mse_loss(offset.n, reference), o.lambda))};
    });
  } catch (...) {
    for (auto& [p, flag] : frozen) p.impl().requires_grad = flag;
    throw;
  }
  for (auto& [p, flag] : frozen) p.impl().requires_grad = flag;
  return copy_data(offset.n.detach());
}

/// Saves n as a .npy file (atomically).
inline void save_optimised_noise(const std::string& path, const Tensor& n) { io::save_npy(path, n); }

/// Loads n from a .npy file and checks it against the edge's output shape per sample.
/// Throws inv::Error naming the file for a missing or invalid file, a shape other than
/// `feature_shape`, or a non-finite value.
inline Tensor load_optimised_noise(const std::string& path, const Shape& feature_shape) {
  Tensor n = io::load_npy(path);
  if (n.dtype() != kFloat32) n = from_vector(n.to_vector<double>(), n.shape());
  INV_CHECK(n.shape() == feature_shape, "'", path, "': expected optimised noise of shape ", to_string(feature_shape),
            " (the split's output per sample), found ", to_string(n.shape()));
  for (float v : n.to_vector<float>()) INV_CHECK(std::isfinite(v), "'", path, "': the noise holds a non-finite value");
  return n;
}

}  // namespace inv::defense
