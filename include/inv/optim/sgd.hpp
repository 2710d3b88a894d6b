// inv/optim/sgd.hpp: stochastic gradient descent, as torch.optim.SGD.
//
//   d = g + weight_decay·p
//   momentum > 0:  buf = d on the first step, then buf = momentum·buf + (1 - dampening)·d
//                  d = d + momentum·buf (nesterov) or d = buf
//   p = p - lr·d
#pragma once

#include "inv/optim/optimizer.hpp"

namespace inv::optim {

struct SGDOptions {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& opt) : Optimizer(std::move(params), opt.lr), opt_(opt) {
    INV_CHECK(opt.momentum >= 0 && opt.weight_decay >= 0, "SGD: momentum and weight_decay must be >= 0");
    INV_CHECK(!opt.nesterov || (opt.momentum > 0 && opt.dampening == 0),
              "SGD: Nesterov momentum requires momentum > 0 and dampening 0");
  }

 protected:
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }
  void update(size_t i, Tensor& p, const Tensor& g) override {
    bool first = false;
    Tensor buf = opt_.momentum > 0 ? buffer(i, "momentum_buffer", &first) : Tensor();
    dispatch(p.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* pp = p.data<T>();
      const T* pg = g.data<T>();
      T* pb = buf.defined() ? buf.data<T>() : nullptr;
      const T lr = T(this->lr()), wd = T(opt_.weight_decay), mom = T(opt_.momentum), damp = T(1 - opt_.dampening);
      detail::for_each_element(p.numel(), [&](int64_t k) {
        T d = pg[k] + wd * pp[k];
        if (pb) {
          pb[k] = first ? d : mom * pb[k] + damp * d;
          d = opt_.nesterov ? d + mom * pb[k] : pb[k];
        }
        pp[k] -= lr * d;
      });
    });
  }

 private:
  SGDOptions opt_;
};

}  // namespace inv::optim
