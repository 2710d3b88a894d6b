// inv/attack/rmle.hpp: the white-box attack, regularised maximum likelihood estimation (rMLE).
//
// He, Zhang & Lee, "Model inversion attacks against collaborative inference", ACSAC 2019,
// §4: given the edge model f1 and observed features v, find
//
//   x* = argmin_x  ||f1(x) - v||² + λ_TV·TV(x) + λ_l2·||x||²
//
// by gradient descent on x. As the authors' code computes it (the published numbers),
// per image i the objective is
//
//   mean_elements (f1(x_i) - v_i)²  +  λ_TV·TV(x_i)  +  λ_l2·mean(x_i²)
//
// with TV the reference code's count-normalised squared TV (TvVariant::Reference; the
// paper's TV_β is selectable), minimised with Adam(lr, eps 1e-3, AMSGrad) from x = 0 in
// normalised space, x not clipped during the optimisation. A batch of images is attacked
// at once with the per-image objectives *summed*, so images do not interact: attacking
// them one at a time gives the same reconstructions.
//
// The result is, per image, the best point evaluated (the lowest objective among the
// iterates x_0 ... x_T, the final one included) with its own objective: Adam need not
// descend at every step, and the last iterate can be worse than an earlier one. A
// non-finite objective stops the run; each image then keeps its best finite iterate and
// the result says why it stopped.
//
// The edge runs in evaluation mode, as a deployed edge does. An edge with a module whose
// forward depends on the mode (Dropout, BatchNorm2d) left in training mode is refused
// rather than silently switched: call edge.eval() first.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <functional>
#include <string>
#include <vector>

#include "inv/attack/access.hpp"
#include "inv/attack/reconstruction.hpp"
#include "inv/denormal.hpp"
#include "inv/kernels/sum.hpp"
#include "inv/ops/loss.hpp"
#include "inv/ops/total_variation.hpp"
#include "inv/optim/adam.hpp"

namespace inv::attack {

/// Where rMLE starts.
enum class RmleStart {
  Zero,    // x = 0 in normalised space (mid-grey for MNIST, the mean colour for CIFAR): the paper's choice
  Random,  // x ~ N(0, 1) in normalised space, from RmleConfig::seed
  Given,   // RmleConfig::initial
};

/// How rMLE measures the distance between f1(x) and the observed features v.
enum class FeatureDistance {
  Squared,   // mean (f1(x) − v)²: the paper's; the MLE under Gaussian feature noise
  Absolute,  // mean |f1(x) − v|: the MLE under Laplace feature noise
};

struct RmleConfig {
  int64_t iterations = 5000;
  double lr = 1e-2;
  double lambda_tv = 0;
  double lambda_l2 = 0;
  TvVariant tv = TvVariant::Reference;
  double eps = 1e-3;  // Adam's eps (the reference code's value)
  bool amsgrad = true;
  optim::EpsPlacement eps_placement = optim::EpsPlacement::PyTorch;
  RmleStart start = RmleStart::Zero;
  Tensor initial;      // for RmleStart::Given: (N, C, H, W) in normalised space
  uint64_t seed = 0;   // for RmleStart::Random
  // Optional projection of x into the valid pixel box after every step: per channel
  // [(0 - mean)/std, (1 - mean)/std]. Off by default (the paper clips only at the end).
  bool project = false;
  std::vector<double> mean, std;  // the normalisation, needed only when project is set
  int64_t trace_every = 1;        // record the objective every this many iterations
  /// Called every `progress_every` iterations with (iteration, objective); may be empty.
  std::function<void(int64_t, double)> on_progress;
  int64_t progress_every = 100;
  bool flush_denormal = true;  // subnormals as zero while optimising (inv/denormal.hpp)
  FeatureDistance distance = FeatureDistance::Squared;
  /// Count only the coordinates where v is not zero, and average the distance over them:
  /// against the dropout defense, a zero in v may be a dropped value rather than f1(x)'s, so
  /// it says nothing about x.
  bool skip_zero_features = false;

  /// Throws inv::Error with one clear message for the first invalid setting.
  void validate() const {
    INV_CHECK(iterations >= 1, "rMLE: iterations must be >= 1, got ", iterations);
    INV_CHECK(lr > 0 && std::isfinite(lr), "rMLE: lr must be positive, got ", lr);
    INV_CHECK(lambda_tv >= 0 && std::isfinite(lambda_tv), "rMLE: lambda_tv must be >= 0, got ", lambda_tv);
    INV_CHECK(lambda_l2 >= 0 && std::isfinite(lambda_l2), "rMLE: lambda_l2 must be >= 0, got ", lambda_l2);
    INV_CHECK(eps >= 0, "rMLE: eps must be >= 0, got ", eps);
    INV_CHECK(start != RmleStart::Given || initial.defined(), "rMLE: start = Given needs an initial tensor");
    INV_CHECK(!project || (!mean.empty() && mean.size() == std.size()),
              "rMLE: project needs the normalisation mean and std (same number of channels)");
    INV_CHECK(trace_every >= 1 && progress_every >= 1, "rMLE: trace_every and progress_every must be >= 1");
  }
};

namespace detail {

/// The weight of each feature coordinate (see skip_zero_features): 0 where v is zero, else
/// per / count_i for image i's `count_i` non-zero coordinates of `per`, so that the mean of
/// the weighted distance over the image is the mean over the coordinates that count.
inline Tensor feature_weights(const Tensor& v) {
  Tensor w = empty_like(v);
  const int64_t n = v.size(0), per = v.numel() / std::max<int64_t>(n, 1);
  const float* pv = v.data<float>();
  float* pw = w.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t count = 0;
    for (int64_t k = 0; k < per; ++k) count += pv[i * per + k] != 0.0f;
    const float scale = count > 0 ? float(double(per) / double(count)) : 0.0f;
    for (int64_t k = 0; k < per; ++k) pw[i * per + k] = pv[i * per + k] != 0.0f ? scale : 0.0f;
  }
  return w;
}

/// Σ over images of the per-image objective (see the header), from the edge's output y = f1(x).
/// `weights` is feature_weights(v) when zero features are skipped, else undefined.
inline Tensor rmle_objective_from(const Tensor& y, const Tensor& x, const Tensor& v, const RmleConfig& c,
                                  const Tensor& weights = Tensor()) {
  const double n = static_cast<double>(x.size(0));
  Tensor obj;  // Σ_i mean over image i's features
  if (c.distance == FeatureDistance::Squared && !weights.defined()) {
    obj = mul(mse_loss(y, v), n);
  } else {
    Tensor d = c.distance == FeatureDistance::Squared ? square(sub(y, v)) : abs(sub(y, v));
    if (weights.defined()) d = mul(d, weights);
    obj = mul(mean(d), n);
  }
  if (c.lambda_tv > 0) {
    const Tensor tv = total_variation(x, c.tv);  // reference: already ÷N; TV_β: a plain sum
    obj = add(obj, mul(tv, c.lambda_tv * (c.tv == TvVariant::Reference ? n : 1.0)));
  }
  if (c.lambda_l2 > 0) obj = add(obj, mul(mean(square(x)), c.lambda_l2 * n));
  return obj;
}

/// The objective of each image at x, from the edge's output y = f1(x) (see the header):
/// mean over image i's features of (y_i − v_i)² (or |y_i − v_i|, and only where v_i ≠ 0:
/// RmleConfig::distance, skip_zero_features), plus λ_TV·TV(x_i) and λ_l2·mean(x_i²).
/// Their sum is the value of rmle_objective_from, up to rounding.
inline std::vector<double> per_image_objective(const Tensor& y, const Tensor& v, const Tensor& x,
                                               const RmleConfig& c) {
  const bool absolute = c.distance == FeatureDistance::Absolute, skip = c.skip_zero_features;
  const int64_t n = x.size(0), per = y.numel() / std::max<int64_t>(n, 1), row = x.numel() / std::max<int64_t>(n, 1);
  const float *py = y.data<float>(), *pv = v.data<float>(), *px = x.data<float>();
  // Per image, the number of coordinates that count (all, or the non-zero ones of v).
  std::vector<int64_t> counted(static_cast<size_t>(n), per);
  if (skip)
    for (int64_t i = 0; i < n; ++i) {
      counted[size_t(i)] = 0;
      for (int64_t k = 0; k < per; ++k) counted[size_t(i)] += pv[i * per + k] != 0.0f;
    }
  const std::vector<double> tv = c.lambda_tv > 0 ? total_variation_per_image(x, c.tv) : std::vector<double>();
  std::vector<double> out(static_cast<size_t>(n));
  // One image per chunk; the sums run in 8 lanes (kernels::lane_sum), so they vectorise.
  parallel_for(n, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float *yi = py + i * per, *vi = pv + i * per, *xi = px + i * row;
      double value = kernels::lane_sum(per, [&](int64_t k) {
                       if (skip && vi[k] == 0.0f) return 0.0;
                       const double d = double(yi[k]) - double(vi[k]);
                       return absolute ? std::fabs(d) : d * d;
                     }) /
                     static_cast<double>(std::max<int64_t>(counted[static_cast<size_t>(i)], 1));
      if (c.lambda_tv > 0) value += c.lambda_tv * tv[static_cast<size_t>(i)];
      if (c.lambda_l2 > 0)
        value += c.lambda_l2 * kernels::lane_sum(row, [&](int64_t k) { return double(xi[k]) * double(xi[k]); }) /
                 static_cast<double>(row);
      out[static_cast<size_t>(i)] = value;
    }
  });
  return out;
}

/// The name of the first module in `m` that is in training mode and whose forward
/// depends on the mode ("" when there is none).
inline std::string training_mode_module(const nn::Module& m) {
  std::string found;
  m.visit("", [&](const std::string& prefix, const nn::Module& mod) {
    if (found.empty() && mod.is_training() && mod.mode_dependent())
      found = (prefix.empty() ? std::string("(root)") : prefix.substr(0, prefix.size() - 1)) + " (" + mod.type_name() + ")";
  });
  return found;
}

inline void project_box(Tensor& x, const std::vector<double>& mean, const std::vector<double>& std) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2) * x.size(3);
  INV_CHECK(mean.size() == 1 || int64_t(mean.size()) == C, "rMLE: the normalisation has ", mean.size(),
            " channels, the images ", C);
  float* p = x.data<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const size_t k = mean.size() == 1 ? 0 : size_t(c);
      const float lo = float((0 - mean[k]) / std[k]), hi = float((1 - mean[k]) / std[k]);
      float* q = p + (n * C + c) * L;
      for (int64_t l = 0; l < L; ++l) q[l] = std::min(hi, std::max(lo, q[l]));
    }
}

}  // namespace detail

/// The white-box attack: reconstructs x from features v = f1(x) with the edge model f1.
/// `input_shape` is one image's (C, H, W). Returns each image's best iterate (see the
/// header) in Reconstruction::images, with its objective, best_iteration, the trace and
/// cost.iterations (steps taken; fewer than asked when stopped early). Leaves the edge's parameters, buffers, gradients and modes unchanged.
/// Throws inv::Error for an invalid config, an edge with a Dropout or BatchNorm2d module
/// in training mode (naming it), features the edge cannot produce (shape mismatch), a
/// non-finite objective at the start (there is no finite iterate to return), or an
/// all-zero first gradient at a start whose objective is not zero (from an exact-zero start
/// through a ReLU edge with zero biases every gradient is zero, and the attack would
/// silently return its start). A start whose objective is exactly zero is returned at once.
inline Reconstruction rmle(nn::Module& edge, const Tensor& features, const Shape& input_shape, const RmleConfig& config) {
  config.validate();
  INV_CHECK(input_shape.size() == 3, "rMLE: input_shape must be (C, H, W), got ", to_string(input_shape));
  INV_CHECK(features.dim() >= 2 && features.dtype() == kFloat32, "rMLE: expected float32 features (N, ...), got ",
            to_string(features.shape()), " ", dtype_name(features.dtype()));
  const int64_t n = features.size(0);
  Shape xs{n};
  xs.insert(xs.end(), input_shape.begin(), input_shape.end());
  const std::string training = detail::training_mode_module(edge);
  INV_CHECK(training.empty(), "rMLE: the edge's module ", training,
            " is in training mode, where its output differs from the deployed edge's; call edge.eval() first");
  FrozenGuard frozen(edge);
  {
    NoGradGuard no_grad;
    const Shape produced = edge.forward(zeros(xs)).shape();
    INV_CHECK(produced == features.shape(), "rMLE: the edge maps ", to_string(xs), " to ", to_string(produced),
              ", but the features are ", to_string(features.shape()));
  }
  Tensor x;
  switch (config.start) {
    case RmleStart::Zero: x = zeros(xs); break;
    case RmleStart::Random: {
      Generator gen(config.seed);
      x = randn(xs, gen);
      break;
    }
    case RmleStart::Given:
      INV_CHECK(config.initial.shape() == xs, "rMLE: initial must be ", to_string(xs), ", got ",
                to_string(config.initial.shape()));
      x = copy_data(config.initial);
      break;
  }
  x.requires_grad_();
  const Tensor v = features.detach();
  const Tensor weights = config.skip_zero_features ? detail::feature_weights(v) : Tensor();
  optim::Adam adam({x}, optim::AdamOptions::paper(config.lr)
                              .with_eps(config.eps)
                              .with_amsgrad(config.amsgrad)
                              .with_eps_placement(config.eps_placement));
  FlushDenormalGuard flush(config.flush_denormal);
  Reconstruction r;
  // best holds each image's best iterate so far; an image's row is copied when it improves.
  Tensor best = copy_data(x.detach());
  std::vector<double> best_value(static_cast<size_t>(n), std::numeric_limits<double>::infinity());
  r.best_iteration.assign(static_cast<size_t>(n), 0);
  const int64_t row = best.numel() / std::max<int64_t>(n, 1);
  // Records the objectives of the iterate after `step` steps; returns the first one that
  // is not finite, or 0 when all are.
  auto record = [&](const Tensor& y, int64_t step) {
    const std::vector<double> values = detail::per_image_objective(y, v, x, config);
    for (int64_t i = 0; i < n; ++i) {
      const double value = values[static_cast<size_t>(i)];
      if (!std::isfinite(value)) return value;
      if (value < best_value[static_cast<size_t>(i)]) {
        best_value[static_cast<size_t>(i)] = value;
        r.best_iteration[static_cast<size_t>(i)] = step;
        std::copy_n(x.data<float>() + i * row, row, best.data<float>() + i * row);
      }
    }
    return 0.0;
  };
  auto stop = [&](double value, int64_t step) {
    const char* what = std::isnan(value) ? "nan" : "inf";
    INV_CHECK(step > 0, "rMLE: the objective is ", what, " at the start: the features or the start image are not ",
              "finite, or too large for float32");
    r.stopped = "the objective became " + std::string(what) + " at iteration " + std::to_string(step + 1) +
                " (lower the learning rate?); each image's best finite iterate is returned";
  };
  int64_t it = 0;
  for (; it < config.iterations; ++it) {
    adam.zero_grad();
    const Tensor y = edge.forward(x);
    Tensor obj = detail::rmle_objective_from(y, x, v, config, weights);
    const double value = obj.item();
    const double bad = std::isfinite(value) ? record(y, it) : value;
    if (bad != 0) {
      stop(bad, it);
      break;
    }
    if (it == 0 && value == 0) break;  // the start reproduces v exactly (and has no prior cost): it is the answer
    obj.backward();
    if (it == 0) {
      bool all_zero = true;
      for (float gv : x.grad().to_vector<float>()) all_zero = all_zero && gv == 0.0f;
      INV_CHECK(!all_zero, "rMLE: the first gradient is exactly zero, so the attack cannot move from its start "
                           "(e.g. an exact-zero start through a ReLU edge with zero biases); start from random "
                           "noise (RmleStart::Random) or another initial image");
    }
    adam.step();
    if (config.project) detail::project_box(x, config.mean, config.std);
    if (it % config.trace_every == 0) r.trace.push_back(value);
    if (config.on_progress && ((it + 1) % config.progress_every == 0 || it + 1 == config.iterations))
      config.on_progress(it + 1, value);
  }
  if (r.stopped.empty()) {  // the final iterate, x_T, is a candidate too
    NoGradGuard no_grad;
    if (const double bad = record(edge.forward(x), it); bad != 0) stop(bad, it);
  }
  r.images = best;
  r.objective = best_value;
  r.cost.iterations = it;
  return r;
}

}  // namespace inv::attack
