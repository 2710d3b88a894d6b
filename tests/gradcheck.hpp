// tests/gradcheck.hpp: the one gradient checker every op is tested with.
//
// For an op f and float64 inputs x_1..x_k it takes L = <f(x), r> with a random
// upstream gradient r and checks, for every element of every input, that the
// analytic dL/dx from backward() matches the central difference
// (L(x + h) - L(x - h)) / 2h. Before backward, each input's .grad is pre-filled
// with random values; the check subtracts them, so an op whose gradient is
// assigned instead of accumulated fails.
#pragma once

#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include <inv/inv.hpp>

namespace inv::testing {

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-6;  // |analytic - numeric| <= atol + rtol·|numeric|
  double rtol = 1e-5;
  uint64_t seed = 1234;
};

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

inline double dot(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

/// Checks the gradients of f at `inputs` (all float64). Returns true when all match;
/// on a mismatch, a Catch2 failure names the op, input, element and both values.
inline bool gradcheck(const std::string& name, const Op& f, std::vector<Tensor> inputs,
                      GradcheckOptions opt = {}) {
  Generator gen(opt.seed);
  for (Tensor& x : inputs) {
    REQUIRE(x.dtype() == kFloat64);
    x = copy_data(x).requires_grad_();
  }
  const Tensor y = f(inputs);
  const Tensor r = randn(y.shape(), gen, kFloat64);
  std::vector<Tensor> prefill;
  for (Tensor& x : inputs) {
    prefill.push_back(randn(x.shape(), gen, kFloat64));
    x.set_grad(copy_data(prefill.back()));
  }
  y.backward(r);

  bool ok = true;
  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor& x = inputs[i];
    REQUIRE(x.grad().defined());
    const auto analytic = sub(x.grad(), prefill[i]).to_vector<double>();
    double* p = x.data<double>();
    for (int64_t k = 0; k < x.numel(); ++k) {
      const double v = p[k];
      p[k] = v + opt.eps;
      const double up = dot(f(inputs), r);
      p[k] = v - opt.eps;
      const double down = dot(f(inputs), r);
      p[k] = v;
      const double numeric = (up - down) / (2 * opt.eps);
      const double a = analytic[static_cast<size_t>(k)];
      if (!(std::fabs(a - numeric) <= opt.atol + opt.rtol * std::fabs(numeric))) {
        FAIL_CHECK(name << ": input " << i << " " << to_string(x.shape()) << " element " << k << ": analytic " << a
                        << ", numeric " << numeric);
        ok = false;
      }
    }
  }
  return ok;
}

}  // namespace inv::testing
