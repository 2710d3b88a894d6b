// inv/optim/adam.hpp: Adam (with AMSGrad) and AdamW, as torch.optim.Adam / AdamW.
//
// At step t (counted once per optimiser step), for each parameter p with gradient g:
//   g = g + weight_decay·p                      (Adam; AdamW instead does p = p·(1 - lr·weight_decay))
//   m = β1·m + (1 - β1)·g,   v = β2·v + (1 - β2)·g²
//   v̂ = max(v̂, v) with AMSGrad (the maximum is kept as a buffer), else v̂ = v
//   EpsPlacement::PyTorch (current PyTorch, the default):
//       p = p - lr/(1 - β1^t) · m / (sqrt(v̂)/sqrt(1 - β2^t) + eps)
//   EpsPlacement::PyTorch10 (PyTorch 1.0, which produced the published attack numbers):
//       p = p - lr·sqrt(1 - β2^t)/(1 - β1^t) · m / (sqrt(v̂) + eps)
// The two differ only in where eps enters; with eps = 1e-3 (the paper's setting) the
// 1.0 form takes smaller steps during the first hundreds of iterations.
#pragma once

#include <type_traits>

#include "inv/kernels/simd.hpp"
#include "inv/optim/optimizer.hpp"

namespace inv::optim {

enum class EpsPlacement { PyTorch, PyTorch10 };

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool amsgrad = false;
  EpsPlacement eps_placement = EpsPlacement::PyTorch;

  /// The reference code's Adam, which every network and attack of the papers trains
  /// with (protocol §2-§5): betas (0.9, 0.999), eps 1e-3, AMSGrad, no weight decay.
  static AdamOptions paper(double lr) {
    AdamOptions o;
    o.lr = lr;
    o.eps = 1e-3;
    o.amsgrad = true;
    return o;
  }
  // Named setters, for options beyond the paper's: AdamOptions::paper(1e-2).with_eps(1e-8).
  AdamOptions& with_lr(double v) { return lr = v, *this; }
  AdamOptions& with_betas(double b1, double b2) { return beta1 = b1, beta2 = b2, *this; }
  AdamOptions& with_eps(double v) { return eps = v, *this; }
  AdamOptions& with_weight_decay(double v) { return weight_decay = v, *this; }
  AdamOptions& with_amsgrad(bool v) { return amsgrad = v, *this; }
  AdamOptions& with_eps_placement(EpsPlacement v) { return eps_placement = v, *this; }
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& opt) : Adam(std::move(params), opt, false) {}

 protected:
  Adam(std::vector<Tensor> params, const AdamOptions& opt, bool decoupled)
      : Optimizer(std::move(params), opt.lr), opt_(opt), decoupled_(decoupled) {
    INV_CHECK(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1, "Adam: betas must be in [0, 1), got ",
              opt.beta1, ", ", opt.beta2);
    INV_CHECK(opt.eps >= 0, "Adam: eps must be >= 0, got ", opt.eps);
    INV_CHECK(opt.weight_decay >= 0, "Adam: weight_decay must be >= 0, got ", opt.weight_decay);
  }
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }

  void update(size_t i, Tensor& p, const Tensor& g) override {
    Tensor m = buffer(i, "exp_avg"), v = buffer(i, "exp_avg_sq");
    Tensor vmax = opt_.amsgrad ? buffer(i, "max_exp_avg_sq") : Tensor();
    const double t = static_cast<double>(steps());
    const double bc1 = 1 - std::pow(opt_.beta1, t), bc2 = 1 - std::pow(opt_.beta2, t);
    const bool legacy = opt_.eps_placement == EpsPlacement::PyTorch10;
    const double step_size = legacy ? lr() * std::sqrt(bc2) / bc1 : lr() / bc1;
    const double bc2_sqrt = legacy ? 1.0 : std::sqrt(bc2);
    dispatch(p.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T *pp = p.data<T>(), *pm = m.data<T>(), *pv = v.data<T>(), *px = vmax.defined() ? vmax.data<T>() : nullptr;
      const T* pg = g.data<T>();
      const T b1 = T(opt_.beta1), b2 = T(opt_.beta2), eps = T(opt_.eps), ss = T(step_size), bcs = T(bc2_sqrt);
      // 1 − β is formed in double and then rounded, as PyTorch passes alpha = 1 - beta1 from
      // Python: in float32, T(1) − T(0.9) is 0.100000024, not float(0.1) = 0.1 (a 2.4e-7
      // relative error in every moment update).
      const T omb1 = T(1 - opt_.beta1), omb2 = T(1 - opt_.beta2);
      // Weight decay is either folded into the gradient (Adam) or applied to p first (AdamW).
      const T wd = decoupled_ ? T(0) : T(opt_.weight_decay);
      const T decay = decoupled_ ? T(1 - lr() * opt_.weight_decay) : T(1);
      // One update of lanes X at element k (X = T, or a vector of T: same operations).
      auto kernel = [&](auto amsgrad) {
        parallel_for_each(p.numel(), 4, [&](int64_t begin, int64_t end) {
          kernels::for_lanes<T>(begin, end, [&](auto x, int64_t k) {
            using X = decltype(x);
            using kernels::load_as, kernels::store_as;
            const X grad = load_as<X>(pg + k) + wd * load_as<X>(pp + k);
            const X m1 = b1 * load_as<X>(pm + k) + omb1 * grad;
            const X v1 = b2 * load_as<X>(pv + k) + omb2 * grad * grad;
            X second = v1;
            if constexpr (decltype(amsgrad)::value) {
              const X old = load_as<X>(px + k);
              second = old < v1 ? v1 : old;  // std::max(old, v1)
              store_as(px + k, second);
            }
            store_as(pm + k, m1);
            store_as(pv + k, v1);
            store_as(pp + k, load_as<X>(pp + k) * decay - ss * m1 / (kernels::sqrt_lanes(second) / bcs + eps));
          });
        }, kElementAlign);
      };
      if (px)
        kernel(std::true_type{});
      else
        kernel(std::false_type{});
    });
  }

 private:
  AdamOptions opt_;
  bool decoupled_;
};

/// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch default weight_decay 1e-2.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamOptions opt) : Adam(std::move(params), opt, true) {}
};

}  // namespace inv::optim
