// inv's ops against PyTorch 1.13: the reference values in tests/fixtures/torch_*.txt were
// computed by scripts/fixtures/make_torch_fixtures.py in float64. For every case the test
// makes the stored inputs leaves, runs the same op through inv, backpropagates the stored
// upstream gradient gy and compares the output and every input gradient (and, for
// batch_norm, the updated running statistics) with PyTorch's:
//   float64: |inv - torch| <= 1e-10 · max(1, |torch|) for every element;
//   float32 (conv cases): max |inv - torch| <= 1e-4 · max |torch| per tensor.
// The cases, their shapes and options are all in the fixture files; each runs in its own
// section named "<op>/<case>". The last test case prints the worst error per family.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <inv/ops/batch_norm.hpp>
#include <inv/ops/conv.hpp>
#include <inv/ops/linalg.hpp>
#include <inv/ops/linear.hpp>
#include <inv/ops/loss.hpp>
#include <inv/ops/pool.hpp>
#include <inv/ops/reduce.hpp>
#include <inv/ops/total_variation.hpp>
#include <inv/ops/upsample.hpp>

#include "fixture.hpp"

using namespace inv;

namespace {

using Fixture = std::map<std::string, Tensor>;

constexpr double kTol64 = 1e-10;  // per element, absolute below 1 and relative above
constexpr double kTol32 = 1e-4;   // per tensor, relative to its largest magnitude

// ---------------------------------------------------------------------------
// Fixtures, loaded once per program.
// ---------------------------------------------------------------------------
const Fixture& fixture(const std::string& file) {
  static std::map<std::string, Fixture> cache;
  auto it = cache.find(file);
  if (it == cache.end()) it = cache.emplace(file, inv::testing::load_fixture(file)).first;
  return it->second;
}

/// The case names of `op` in a fixture: every "<op>/<case>/y".
std::vector<std::string> case_names(const Fixture& fx, const std::string& op) {
  std::vector<std::string> names;
  const std::string head = op + "/", tail = "/y";
  for (const auto& kv : fx) {
    const std::string& k = kv.first;
    if (k.size() > head.size() + tail.size() && k.compare(0, head.size(), head) == 0 &&
        k.compare(k.size() - tail.size(), tail.size(), tail) == 0)
      names.push_back(k.substr(head.size(), k.size() - head.size() - tail.size()));
  }
  return names;
}

Tensor convert(const Tensor& t, Dtype dtype) {
  Tensor out = empty(t.shape(), dtype);
  out.copy_(t);
  return out;
}

// ---------------------------------------------------------------------------
// Worst errors seen, per family (fixture file) and dtype, for the summary.
// ---------------------------------------------------------------------------
struct Worst {
  double abs = 0, scaled = 0;  // max |inv - torch| and the error measure the tolerance applies to
  std::string abs_at, scaled_at;
  int tensors = 0;
};

std::map<std::string, Worst>& worst_errors() {
  static std::map<std::string, Worst> w;
  return w;
}

/// Compares inv's `actual` with PyTorch's float64 `expected` and records the error.
void check_close(const Tensor& actual, const Tensor& expected, const std::string& what, const std::string& family) {
  INFO(what);
  REQUIRE(actual.defined());
  INFO("inv shape " << to_string(actual.shape()) << ", torch shape " << to_string(expected.shape()));
  REQUIRE(actual.shape() == expected.shape());
  const bool f64 = actual.dtype() == kFloat64;
  const auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double max_abs = 0, max_mag = 0, max_rel = 0;
  size_t at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::isnan(a[i]) ? INFINITY : std::abs(a[i] - e[i]);
    const double rel = d / std::max(1.0, std::abs(e[i]));
    if (d > max_abs) max_abs = d, at = i;
    max_rel = std::max(max_rel, rel);
    max_mag = std::max(max_mag, std::abs(e[i]));
  }
  const double scaled = f64 ? max_rel : max_abs / std::max(max_mag, 1e-300);
  Worst& w = worst_errors()[family + (f64 ? " float64" : " float32")];
  if (max_abs >= w.abs) w.abs = max_abs, w.abs_at = what;
  if (scaled >= w.scaled) w.scaled = scaled, w.scaled_at = what;
  ++w.tensors;
  INFO(std::setprecision(17) << "max |inv - torch| = " << max_abs << " at element " << at << ": inv "
                             << (a.empty() ? 0.0 : a[at]) << ", torch " << (e.empty() ? 0.0 : e[at]));
  if (f64)
    CHECK(max_rel <= kTol64);
  else
    CHECK(scaled <= kTol32);
}

// ---------------------------------------------------------------------------
// One case: the stored inputs, an op and the comparison.
// ---------------------------------------------------------------------------
struct Case {
  const Fixture& fx;
  std::string prefix;  // "<op>/<case>/"
  Dtype dtype;
  std::map<std::string, Tensor> leaves;  // differentiable inputs present in the fixture
  std::map<std::string, Tensor> after;   // tensors to compare after the call (running stats)

  bool has(const std::string& name) const { return fx.count(prefix + name) > 0; }
  /// A differentiable input, or an undefined tensor when the case has none (no bias).
  Tensor in(const std::string& name) const {
    const auto it = leaves.find(name);
    return it == leaves.end() ? Tensor() : it->second;
  }
  /// A non-differentiable tensor of the case, in the case's dtype.
  Tensor fixed(const std::string& name) const { return convert(inv::testing::get(fx, prefix + name), dtype); }
  std::vector<double> params() const { return inv::testing::get(fx, prefix + "params").to_vector<double>(); }
  int64_t param(size_t i) const {
    const auto p = params();
    REQUIRE(i < p.size());
    return static_cast<int64_t>(p[i]);
  }
  std::vector<int64_t> labels() const {
    std::vector<int64_t> out;
    for (double v : inv::testing::get(fx, prefix + "labels").to_vector<double>()) out.push_back(int64_t(v));
    return out;
  }
  Reduction reduction() const {
    const int64_t r = param(0);
    REQUIRE((r >= 0 && r <= 2));
    return r == 0 ? Reduction::None : r == 1 ? Reduction::Mean : Reduction::Sum;
  }
};

struct OpSpec {
  std::vector<std::string> inputs;  // differentiable inputs; optional ones may be absent
  std::function<Tensor(Case&)> forward;
};

// Names a case may hold besides its inputs, their gradients and the `after` tensors.
const std::set<std::string> kCaseData = {"params", "labels", "rm", "rv", "gy", "y"};

void run_case(const std::string& file, const std::string& family, const std::string& op, const std::string& name,
              const OpSpec& spec, Dtype dtype) {
  const Fixture& fx = fixture(file);
  Case c{fx, op + "/" + name + "/", dtype, {}, {}};
  for (const std::string& in : spec.inputs)
    if (c.has(in)) c.leaves[in] = c.fixed(in).requires_grad_();
  REQUIRE(!c.leaves.empty());

  const Tensor y = spec.forward(c);
  check_close(y, inv::testing::get(fx, c.prefix + "y"), c.prefix + "y", family);
  y.backward(c.fixed("gy"));
  for (const auto& [in, leaf] : c.leaves) {
    const std::string key = c.prefix + "d" + in;
    check_close(leaf.grad(), inv::testing::get(fx, key), key, family);
  }
  for (const auto& [key, t] : c.after) check_close(t, inv::testing::get(fx, c.prefix + key), c.prefix + key, family);

  // Every tensor the fixture holds for this case was used: nothing goes unchecked.
  for (const auto& kv : fx) {
    if (kv.first.compare(0, c.prefix.size(), c.prefix) != 0) continue;
    const std::string key = kv.first.substr(c.prefix.size());
    const bool known = kCaseData.count(key) || c.leaves.count(key) || c.after.count(key) ||
                       (key.size() > 1 && key[0] == 'd' && c.leaves.count(key.substr(1)));
    INFO("fixture tensor " << kv.first << " is not used by the test");
    CHECK(known);
  }
}

/// Runs every case of `op` in `file`, each in its own section.
void run_op(const std::string& file, const std::string& family, const std::string& op, const OpSpec& spec,
            Dtype dtype = kFloat64) {
  const std::vector<std::string> names = case_names(fixture(file), op);
  INFO("cases of " << op << " in " << file);
  REQUIRE(!names.empty());
  for (const std::string& name : names) {
    DYNAMIC_SECTION(op << "/" << name << " " << dtype_name(dtype)) { run_case(file, family, op, name, spec, dtype); }
  }
}

// ---------------------------------------------------------------------------
// The ops, with their options decoded from "params" (see make_torch_fixtures.py).
// ---------------------------------------------------------------------------
/// params: [stride_h, stride_w, pad_top, pad_bottom, pad_left, pad_right, dilation_h, dilation_w, groups]
Tensor run_conv2d(Case& c) {
  const auto p = c.params();
  REQUIRE(p.size() == 9);
  auto i = [&](size_t k) { return static_cast<int64_t>(p[k]); };
  const auto opt = Conv2dOptions().stride(i(0), i(1)).padding(i(2), i(3), i(4), i(5)).dilation(i(6), i(7)).groups(i(8));
  return conv2d(c.in("x"), c.in("w"), c.in("b"), opt);
}
const OpSpec kConv2d{{"x", "w", "b"}, run_conv2d};

/// params: [stride_h, stride_w, pad_h, pad_w, output_pad_h, output_pad_w, dilation_h, dilation_w, groups]
Tensor run_conv_transpose2d(Case& c) {
  const auto p = c.params();
  REQUIRE(p.size() == 9);
  auto i = [&](size_t k) { return static_cast<int64_t>(p[k]); };
  const auto opt = ConvTranspose2dOptions()
                       .stride(i(0), i(1))
                       .padding(i(2), i(3))
                       .output_padding(i(4), i(5))
                       .dilation(i(6), i(7))
                       .groups(i(8));
  return conv_transpose2d(c.in("x"), c.in("w"), c.in("b"), opt);
}
const OpSpec kConvTranspose2d{{"x", "w", "b"}, run_conv_transpose2d};

/// params: [kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation, count_include_pad]
Pool2dOptions pool_options(const Case& c) {
  const auto p = c.params();
  REQUIRE(p.size() == 8);
  auto i = [&](size_t k) { return static_cast<int64_t>(p[k]); };
  return Pool2dOptions(i(0), i(1)).stride(i(2), i(3)).padding(i(4), i(5)).dilation(i(6)).count_include_pad(i(7) != 0);
}

const OpSpec kMaxPool2d{{"x"}, [](Case& c) { return max_pool2d(c.in("x"), pool_options(c)); }};
const OpSpec kAvgPool2d{{"x"}, [](Case& c) { return avg_pool2d(c.in("x"), pool_options(c)); }};

/// params: [mode (0 nearest, 1 bilinear), align_corners, out_h, out_w, scale_h, scale_w]
Tensor run_upsample(Case& c) {
  const auto p = c.params();
  REQUIRE(p.size() == 6);
  UpsampleOptions opt;
  opt.mode(p[0] != 0 ? UpsampleMode::Bilinear : UpsampleMode::Nearest).align_corners(p[1] != 0);
  if (p[2] > 0)
    opt.size(static_cast<int64_t>(p[2]), static_cast<int64_t>(p[3]));
  else
    opt.scale_factor(p[4], p[5]);
  return upsample(c.in("x"), opt);
}
const OpSpec kUpsample{{"x"}, run_upsample};

const OpSpec kLinear{{"x", "w", "b"}, [](Case& c) { return linear(c.in("x"), c.in("w"), c.in("b")); }};

/// params: [training, momentum, eps]; the running statistics are compared after the call.
Tensor run_batch_norm(Case& c) {
  const auto p = c.params();
  REQUIRE(p.size() == 3);
  Tensor rm = c.fixed("rm"), rv = c.fixed("rv");
  c.after["rm_out"] = rm;  // updated in place in training
  c.after["rv_out"] = rv;
  return batch_norm(c.in("x"), rm, rv, c.in("w"), c.in("b"), p[0] != 0, p[1], p[2]);
}
const OpSpec kBatchNorm{{"x", "w", "b"}, run_batch_norm};

const OpSpec kSoftmax{{"x"}, [](Case& c) { return softmax(c.in("x"), c.param(0)); }};
const OpSpec kLogSoftmax{{"x"}, [](Case& c) { return log_softmax(c.in("x"), c.param(0)); }};
const OpSpec kCrossEntropy{{"x"}, [](Case& c) { return cross_entropy(c.in("x"), c.labels(), c.reduction()); }};
const OpSpec kNllLoss{{"x"}, [](Case& c) { return nll_loss(c.in("x"), c.labels(), c.reduction()); }};
const OpSpec kMseLoss{{"x", "t"}, [](Case& c) { return mse_loss(c.in("x"), c.in("t"), c.reduction()); }};

OpSpec binary(Tensor (*f)(const Tensor&, const Tensor&)) {
  return {{"a", "b"}, [f](Case& c) { return f(c.in("a"), c.in("b")); }};
}

OpSpec reduction(Tensor (*f)(const Tensor&, const std::vector<int64_t>&, bool)) {
  return {{"x"}, [f](Case& c) {
            const auto p = c.params();
            REQUIRE(!p.empty());
            const std::vector<int64_t> dims(p.begin() + 1, p.end());
            return f(c.in("x"), dims, p[0] != 0);
          }};
}

OpSpec unary(std::function<Tensor(const Tensor&, const Case&)> f) {
  return {{"x"}, [f](Case& c) { return f(c.in("x"), c); }};
}

double param_value(const Case& c, size_t i) {
  const auto p = c.params();
  REQUIRE(i < p.size());
  return p[i];
}

}  // namespace

// ---------------------------------------------------------------------------
// torch_conv.txt
// ---------------------------------------------------------------------------
TEST_CASE("conv2d agrees with PyTorch", "[torch][conv]") { run_op("torch_conv.txt", "conv", "conv2d", kConv2d); }

TEST_CASE("conv_transpose2d agrees with PyTorch", "[torch][conv]") {
  run_op("torch_conv.txt", "conv", "conv_transpose2d", kConvTranspose2d);
}

TEST_CASE("conv2d agrees with PyTorch in float32", "[torch][conv][float32]") {
  run_op("torch_conv.txt", "conv", "conv2d", kConv2d, kFloat32);
}

TEST_CASE("conv_transpose2d agrees with PyTorch in float32", "[torch][conv][float32]") {
  run_op("torch_conv.txt", "conv", "conv_transpose2d", kConvTranspose2d, kFloat32);
}

// ---------------------------------------------------------------------------
// torch_pool.txt
// ---------------------------------------------------------------------------
TEST_CASE("max_pool2d agrees with PyTorch", "[torch][pool]") {
  run_op("torch_pool.txt", "pool", "max_pool2d", kMaxPool2d);
}

TEST_CASE("avg_pool2d agrees with PyTorch", "[torch][pool]") {
  run_op("torch_pool.txt", "pool", "avg_pool2d", kAvgPool2d);
}

// ---------------------------------------------------------------------------
// torch_nn.txt
// ---------------------------------------------------------------------------
TEST_CASE("linear agrees with PyTorch", "[torch][nn]") { run_op("torch_nn.txt", "nn", "linear", kLinear); }

TEST_CASE("batch_norm agrees with PyTorch, running statistics included", "[torch][nn]") {
  run_op("torch_nn.txt", "nn", "batch_norm", kBatchNorm);
}

TEST_CASE("upsample agrees with PyTorch", "[torch][nn]") { run_op("torch_nn.txt", "nn", "upsample", kUpsample); }

// ---------------------------------------------------------------------------
// torch_loss.txt
// ---------------------------------------------------------------------------
TEST_CASE("softmax and log_softmax agree with PyTorch", "[torch][loss]") {
  run_op("torch_loss.txt", "loss", "softmax", kSoftmax);
  run_op("torch_loss.txt", "loss", "log_softmax", kLogSoftmax);
}

TEST_CASE("cross_entropy, nll_loss and mse_loss agree with PyTorch", "[torch][loss]") {
  run_op("torch_loss.txt", "loss", "cross_entropy", kCrossEntropy);
  run_op("torch_loss.txt", "loss", "nll_loss", kNllLoss);
  run_op("torch_loss.txt", "loss", "mse_loss", kMseLoss);
}

TEST_CASE("broadcasting binary ops, matmul and reductions agree with PyTorch", "[torch][loss]") {
  run_op("torch_loss.txt", "loss", "add", binary([](const Tensor& a, const Tensor& b) { return add(a, b); }));
  run_op("torch_loss.txt", "loss", "sub", binary([](const Tensor& a, const Tensor& b) { return sub(a, b); }));
  run_op("torch_loss.txt", "loss", "mul", binary([](const Tensor& a, const Tensor& b) { return mul(a, b); }));
  run_op("torch_loss.txt", "loss", "div", binary([](const Tensor& a, const Tensor& b) { return div(a, b); }));
  run_op("torch_loss.txt", "loss", "matmul", binary([](const Tensor& a, const Tensor& b) { return matmul(a, b); }));
  run_op("torch_loss.txt", "loss", "sum",
         reduction([](const Tensor& x, const std::vector<int64_t>& d, bool k) { return sum(x, d, k); }));
  run_op("torch_loss.txt", "loss", "mean",
         reduction([](const Tensor& x, const std::vector<int64_t>& d, bool k) { return mean(x, d, k); }));
}

TEST_CASE("elementwise functions and total variation agree with PyTorch", "[torch][loss]") {
  const std::string f = "torch_loss.txt";
  run_op(f, "loss", "relu", unary([](const Tensor& x, const Case&) { return relu(x); }));
  run_op(f, "loss", "leaky_relu",
         unary([](const Tensor& x, const Case& c) { return leaky_relu(x, param_value(c, 0)); }));
  run_op(f, "loss", "sigmoid", unary([](const Tensor& x, const Case&) { return sigmoid(x); }));
  run_op(f, "loss", "tanh", unary([](const Tensor& x, const Case&) { return inv::tanh(x); }));
  run_op(f, "loss", "exp", unary([](const Tensor& x, const Case&) { return inv::exp(x); }));
  run_op(f, "loss", "log", unary([](const Tensor& x, const Case&) { return inv::log(x); }));
  run_op(f, "loss", "sqrt", unary([](const Tensor& x, const Case&) { return inv::sqrt(x); }));
  run_op(f, "loss", "pow", unary([](const Tensor& x, const Case& c) { return inv::pow(x, param_value(c, 0)); }));
  run_op(f, "loss", "abs", unary([](const Tensor& x, const Case&) { return inv::abs(x); }));
  run_op(f, "loss", "clamp",
         unary([](const Tensor& x, const Case& c) { return clamp(x, param_value(c, 0), param_value(c, 1)); }));
  run_op(f, "loss", "tv_reference", unary([](const Tensor& x, const Case&) { return tv_reference(x); }));
  run_op(f, "loss", "tv_beta", unary([](const Tensor& x, const Case& c) { return tv_beta(x, param_value(c, 0)); }));
}

// ---------------------------------------------------------------------------
// The cases pin the conventions down: running them with the other choice of
// each convention disagrees with PyTorch by far more than any tolerance.
// ---------------------------------------------------------------------------
namespace {
/// max |f(case inputs) - torch's y| (forward only), infinite when the shapes differ.
double forward_disagreement(const std::string& file, const std::string& prefix,
                            const std::function<Tensor(const Case&)>& f) {
  const Fixture& fx = fixture(file);
  Case c{fx, prefix, kFloat64, {}, {}};
  c.leaves["x"] = c.fixed("x");
  const Tensor y = f(c), expected = inv::testing::get(fx, prefix + "y");
  return y.shape() == expected.shape() ? max_abs_diff(y, expected) : INFINITY;
}
}  // namespace

TEST_CASE("the fixtures tell the conventions apart", "[torch]") {
  // avg_pool2d: dividing by the whole window instead of the valid part of it.
  CHECK(forward_disagreement("torch_pool.txt", "avg_pool2d/k3_s2_p1_exclude_pad/", [](const Case& c) {
          return avg_pool2d(c.in("x"), pool_options(c).count_include_pad(true));
        }) > 1e-3);
  // bilinear upsampling: align_corners flipped.
  CHECK(forward_disagreement("torch_nn.txt", "upsample/bilinear_size_5x7_to_7x5/", [](const Case& c) {
          return upsample(c.in("x"), UpsampleOptions().size(7, 5).mode(UpsampleMode::Bilinear).align_corners(true));
        }) > 1e-3);
  // scale_factor 1.5 on 5 pixels maps source = (dst + 0.5) / 1.5 - 0.5, not (dst + 0.5)·5/7 - 0.5.
  CHECK(forward_disagreement("torch_nn.txt", "upsample/bilinear_scale1.5/", [](const Case& c) {
          return upsample(c.in("x"), UpsampleOptions().size(7, 6).mode(UpsampleMode::Bilinear));
        }) > 1e-3);
  // conv2d: padding (top 1, bottom 0, left 2, right 1) with the sides swapped.
  CHECK(forward_disagreement("torch_conv.txt", "conv2d/pad_asym/", [](const Case& c) {
          return conv2d(c.in("x"), c.fixed("w"), c.fixed("b"), Conv2dOptions().padding(0, 1, 1, 2));
        }) > 1e-3);
  // batch_norm in evaluation mode on a training case.
  CHECK(forward_disagreement("torch_nn.txt", "batch_norm/train_4d/", [](const Case& c) {
          return batch_norm(c.in("x"), c.fixed("rm"), c.fixed("rv"), c.fixed("w"), c.fixed("b"), false);
        }) > 1e-3);
}

TEST_CASE("worst errors against PyTorch, per family", "[torch][summary]") {
  std::cout << "\nWorst disagreement with PyTorch per family (float64: max |inv - torch|, and the\n"
               "per-element measure |inv - torch| / max(1, |torch|); float32: the per-tensor\n"
               "max |inv - torch| / max |torch|):\n";
  for (const auto& [family, w] : worst_errors())
    std::cout << "  " << std::left << std::setw(14) << family << " " << std::setw(4) << w.tensors
              << " tensors  max abs " << std::scientific << std::setprecision(2) << w.abs << " (" << w.abs_at
              << ")  measure " << w.scaled << " (" << w.scaled_at << ")\n"
              << std::defaultfloat;
  SUCCEED();
}
