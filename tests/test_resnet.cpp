// Residual blocks, global average pooling, dotted split points and the torchvision-style
// models (resnet18, resnet20, vgg11-bn): gradients, worked examples, split execution,
// state_dict names, and agreement with PyTorch (fixtures of
// scripts/fixtures/make_resnet_fixtures.py).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <inv/io/npy.hpp>
#include <inv/io/safetensors.hpp>
#include <inv/models/resnet.hpp>
#include <inv/models/vgg.hpp>

#include "fixture.hpp"
#include "gradcheck.hpp"

using namespace inv;
using namespace inv::nn;
using Catch::Contains;

namespace {

std::vector<std::string> names_of(const NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& [n, t] : named) out.push_back(n);
  return out;
}

/// Gradient check of `m` with respect to its input and every tensor in `params` (members
/// of m, which the check's copies replace before each forward), in float64.
void gradcheck_module(const std::string& what, Module& m, const std::vector<Tensor*>& params, const Tensor& x) {
  std::vector<Tensor> inputs{x};
  for (Tensor* p : params) inputs.push_back(copy_data(*p));
  inv::testing::gradcheck(
      what,
      [&](const std::vector<Tensor>& v) {
        for (size_t i = 0; i < params.size(); ++i) *params[i] = v[i + 1];
        return m.forward(v[0]);
      },
      inputs);
}

/// Every parameter member of a block, in state_dict order.
std::vector<Tensor*> block_params(BasicBlock& b) {
  std::vector<Tensor*> p{&b.conv1->weight, &b.bn1->weight, &b.bn1->bias, &b.conv2->weight, &b.bn2->weight,
                         &b.bn2->bias};
  if (b.downsample) {
    auto& conv = static_cast<Conv2d&>(b.downsample->at("0"));
    auto& bn = static_cast<BatchNorm2d&>(b.downsample->at("1"));
    for (Tensor* t : {&conv.weight, &bn.weight, &bn.bias}) p.push_back(t);
  }
  return p;
}
std::vector<Tensor*> block_params(Bottleneck& b) {
  std::vector<Tensor*> p{&b.conv1->weight, &b.bn1->weight, &b.bn1->bias, &b.conv2->weight, &b.bn2->weight,
                         &b.bn2->bias,     &b.conv3->weight, &b.bn3->weight, &b.bn3->bias};
  if (b.downsample) {
    auto& conv = static_cast<Conv2d&>(b.downsample->at("0"));
    auto& bn = static_cast<BatchNorm2d&>(b.downsample->at("1"));
    for (Tensor* t : {&conv.weight, &bn.weight, &bn.bias}) p.push_back(t);
  }
  return p;
}

/// Random BatchNorm affine parameters and running statistics (variance in [0.5, 1.5]),
/// so that evaluation mode is not the identity.
void randomise_batchnorms(Module& m, Generator& gen) {
  m.visit_mut([&](Module& mod) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(&mod)) {
      const Dtype d = bn->weight.dtype();
      bn->weight.copy_(uniform(bn->weight.shape(), 0.5, 1.5, gen, d));
      bn->bias.copy_(uniform(bn->bias.shape(), -0.5, 0.5, gen, d));
      bn->running_mean.copy_(uniform(bn->running_mean.shape(), -0.5, 0.5, gen, d));
      bn->running_var.copy_(uniform(bn->running_var.shape(), 0.5, 1.5, gen, d));
    }
  });
}

template <class Block>
void check_block_gradients(const std::string& what, Block& block, const Shape& input_shape, Generator& gen) {
  block.to(kFloat64);
  randomise_batchnorms(block, gen);
  for (const bool training : {true, false}) {
    INFO(what << (training ? " (train)" : " (eval)"));
    block.train(training);
    gradcheck_module(what, block, block_params(block), randn(input_shape, gen, kFloat64));
  }
}

// ---- HASH FILL of scripts/fixtures/make_resnet_fixtures.py, bit for bit ----
uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
double hash_uniform(uint64_t stream, uint64_t i) {
  return static_cast<double>(splitmix64((stream << 32) + i) >> 11) * 0x1.0p-53;
}
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
/// Fills every state_dict tensor of `m` (float32) as the script's hash_fill does.
void hash_fill(Module& m) {
  uint64_t stream = 0;
  for (auto& [name, t] : m.state_dict()) {
    REQUIRE(t.dtype() == kFloat32);
    float* p = t.data<float>();
    const int64_t n = t.numel();
    const double bound = t.dim() >= 2 ? std::sqrt(6.0 / static_cast<double>(n / t.size(0))) : 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double u = hash_uniform(stream, static_cast<uint64_t>(i));
      const double centred = 2.0 * u - 1.0;  // exact
      double v;
      if (t.dim() >= 2)
        v = centred * bound;
      else if (ends_with(name, "running_var") || ends_with(name, "weight"))
        v = 0.5 + u;
      else
        v = 0.2 * centred;
      p[i] = static_cast<float>(v);
    }
    ++stream;
  }
}
Tensor hash_input(const Shape& shape) {
  Tensor x = empty(shape);
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i)
    p[i] = static_cast<float>(2.0 * hash_uniform(uint64_t{1} << 20, static_cast<uint64_t>(i)) - 1.0);
  return x;
}

/// max |a - b| <= rel · max |b|: agreement relative to the logits' scale.
void check_logits(const Tensor& got, const Tensor& want, double rel) {
  REQUIRE(got.shape() == want.shape());
  const double diff = max_abs_diff(got, want);
  const double scale = max_abs_diff(want, zeros_like(want));
  INFO("max |difference| " << diff << ", max |logit| " << scale);
  CHECK(scale > 0.1);
  CHECK(diff <= rel * scale);
}

/// The "<name> <dims...>" lines of a state_dict name list written by the fixture script.
std::vector<std::pair<std::string, Shape>> read_name_list(const std::string& file) {
  std::ifstream in(inv::testing::fixture_path(file));
  REQUIRE(in.good());
  std::vector<std::pair<std::string, Shape>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string name;
    s >> name;
    Shape shape;
    for (int64_t d; s >> d;) shape.push_back(d);
    out.emplace_back(name, shape);
  }
  return out;
}

/// The fixture's list without num_batches_tracked (inv's BatchNorm2d keeps no counter)
/// equals the model's state_dict, names and shapes, in order.
void check_state_dict_against(const Module& m, const std::string& file, size_t entries, size_t counters) {
  const auto torch_list = read_name_list(file);
  CHECK(torch_list.size() == entries);
  std::vector<std::pair<std::string, Shape>> expected;
  size_t skipped = 0;
  for (const auto& e : torch_list) {
    if (ends_with(e.first, ".num_batches_tracked")) {
      CHECK(e.second.empty());
      ++skipped;
      continue;
    }
    expected.push_back(e);
  }
  CHECK(skipped == counters);
  std::vector<std::pair<std::string, Shape>> got;
  for (const auto& [name, t] : m.state_dict()) got.emplace_back(name, t.shape());
  CHECK(got.size() == expected.size());
  for (size_t i = 0; i < std::min(got.size(), expected.size()); ++i) {
    INFO("entry " << i);
    CHECK(got[i].first == expected[i].first);
    CHECK(got[i].second == expected[i].second);
  }
}

/// Split at every split point: cloud(edge(x)) equals the whole bitwise, the edge's output
/// is not modified by the cloud, and the halves' state_dicts partition the whole's, in order,
/// sharing its tensors.
void check_every_split(Sequential& net, const Tensor& x) {
  NoGradGuard no_grad;
  ModeGuard eval(net, false);
  const Tensor full = net.forward(x);
  const auto whole = net.state_dict();
  for (const std::string& point : net.split_points()) {
    INFO("split at " << point);
    const auto [edge, cloud] = net.split(point);
    const Tensor v = edge->forward(x);
    const Tensor v_before = copy_data(v);
    CHECK(equal(cloud->forward(v), full));
    CHECK(equal(v, v_before));
    auto parts = edge->state_dict();
    for (auto& e : cloud->state_dict()) parts.push_back(e);
    REQUIRE(parts.size() == whole.size());
    for (size_t i = 0; i < whole.size(); ++i) {
      CHECK(parts[i].first == whole[i].first);
      CHECK(parts[i].second.is_same(whole[i].second));
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Blocks and pooling
// ---------------------------------------------------------------------------

TEST_CASE("BasicBlock and Bottleneck pass the gradient check in training and evaluation mode", "[resnet][gradcheck]") {
  Generator gen(11);
  {
    BasicBlock identity(3, 3, 1, nullptr, gen);
    check_block_gradients("BasicBlock identity", identity, {2, 3, 5, 5}, gen);
  }
  {
    BasicBlock down(2, 4, 2, make_downsample(2, 4, 2, gen), gen);
    check_block_gradients("BasicBlock downsample", down, {2, 2, 5, 5}, gen);
  }
  {
    Bottleneck identity(8, 2, 1, nullptr, gen);
    check_block_gradients("Bottleneck identity", identity, {2, 8, 5, 5}, gen);
  }
  {
    Bottleneck down(3, 2, 2, make_downsample(3, 8, 2, gen), gen);
    check_block_gradients("Bottleneck downsample", down, {2, 3, 5, 5}, gen);
  }
}

TEST_CASE("BasicBlock's shortcut, worked by hand", "[resnet]") {
  NoGradGuard no_grad;
  // Zero convolutions: bn2 of zeros in evaluation mode (running mean 0, variance 1,
  // gamma 1, beta 0) is 0/sqrt(1 + eps) = 0, so out = relu(x + 0) = relu(x) exactly.
  BasicBlock block(2, 2);
  block.eval();
  block.conv1->weight.fill_(0);
  block.conv2->weight.fill_(0);
  const Tensor x = tensor({-1, 2, 0.5, -3, 4, -0.25, 0, 7}, {1, 2, 2, 2});
  CHECK(equal(block.forward(x), tensor({0, 2, 0.5, 0, 4, 0, 0, 7}, {1, 2, 2, 2})));
  // beta 0.5 on bn2: relu(x + 0.5).
  block.bn2->bias.fill_(0.5);
  CHECK(equal(block.forward(x), tensor({0, 2.5, 1, 0, 4.5, 0.25, 0.5, 7.5}, {1, 2, 2, 2})));

  // The projection shortcut: 1 -> 2 channels, stride 2, 1x1 weights (1, -1), so on a 3x3
  // input it reads x at (0,0), (0,2), (2,0), (2,2): out = relu(±x_sub / sqrt(1 + 1e-5)).
  BasicBlock down(1, 2, 2, make_downsample(1, 2, 2));
  down.eval();
  down.conv1->weight.fill_(0);
  down.conv2->weight.fill_(0);
  auto& proj = static_cast<Conv2d&>(down.downsample->at("0"));
  proj.weight.copy_(tensor({1, -1}, {2, 1, 1, 1}));
  const Tensor x3 = tensor({1, 9, -2, 9, 9, 9, 3, 9, -4}, {1, 1, 3, 3});
  const double s = 1 / std::sqrt(1 + 1e-5);
  const Tensor want = tensor({s, 0, 3 * s, 0, 0, 2 * s, 0, 4 * s}, {1, 2, 2, 2});
  const Tensor got = down.forward(x3);
  CHECK(got.shape() == Shape{1, 2, 2, 2});
  CHECK(allclose(got, want, 1e-6, 0));
}

TEST_CASE("blocks refuse an identity shortcut that does not fit, and name their state as torchvision", "[resnet]") {
  CHECK_THROWS_WITH(BasicBlock(2, 4, 1), Contains("BasicBlock: the identity shortcut needs stride 1") &&
                                             Contains("inplanes 2, planes 4") && Contains("make_downsample"));
  CHECK_THROWS_WITH(BasicBlock(4, 4, 2), Contains("got stride 2"));
  CHECK_THROWS_WITH(Bottleneck(4, 4, 1), Contains("inplanes == planes·4"));
  CHECK_THROWS_WITH(BasicBlock(0, 4, 1), Contains("channels must be positive"));
  CHECK(make_downsample(4, 4, 1) == nullptr);
  CHECK(make_downsample(4, 8, 1) != nullptr);
  CHECK(make_downsample(4, 4, 2) != nullptr);

  // torchvision's order (PyTorch's state_dict without num_batches_tracked).
  const std::vector<std::string> bn = {"weight", "bias", "running_mean", "running_var"};
  auto expect = [&](const std::vector<std::string>& convs, const std::vector<std::string>& bns) {
    std::vector<std::string> out;
    for (size_t i = 0; i < convs.size(); ++i) {
      out.push_back(convs[i] + ".weight");
      for (const auto& b : bn) out.push_back(bns[i] + "." + b);
    }
    return out;
  };
  CHECK(names_of(BasicBlock(2, 4, 2, make_downsample(2, 4, 2)).state_dict()) ==
        expect({"conv1", "conv2", "downsample.0"}, {"bn1", "bn2", "downsample.1"}));
  CHECK(names_of(Bottleneck(3, 2, 2, make_downsample(3, 8, 2)).state_dict()) ==
        expect({"conv1", "conv2", "conv3", "downsample.0"}, {"bn1", "bn2", "bn3", "downsample.1"}));
  CHECK(names_of(BasicBlock(4, 4).state_dict()) == expect({"conv1", "conv2"}, {"bn1", "bn2"}));
  CHECK(BasicBlock(4, 4).repr() == "BasicBlock(4, 4, stride=1, downsample=False)");
  Bottleneck b(3, 2, 2, make_downsample(3, 8, 2));
  CHECK(b.forward(zeros({1, 3, 5, 5})).shape() == Shape{1, 8, 3, 3});
}

TEST_CASE("AdaptiveAvgPool2d(1): the mean of each channel, by hand and by the gradient check", "[resnet][pool]") {
  AdaptiveAvgPool2d pool(1);
  const Tensor x = tensor({1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, 5}, {1, 2, 2, 3});
  CHECK(equal(pool.forward(x), tensor({3.5, 0}, {1, 2, 1, 1})));
  CHECK(pool.repr() == "AdaptiveAvgPool2d(output_size=(1, 1))");
  CHECK_THROWS_WITH(AdaptiveAvgPool2d(7), Contains("only output size (1, 1)") && Contains("got (7, 7)"));
  CHECK_THROWS_WITH(pool.forward(zeros({2, 3})), Contains("expected 4-D"));
  Generator gen(3);
  inv::testing::gradcheck("adaptive_avg_pool2d", [&](const std::vector<Tensor>& v) { return pool.forward(v[0]); },
                          {randn({2, 3, 4, 5}, gen, kFloat64)});
}

// ---------------------------------------------------------------------------
// Dotted split points
// ---------------------------------------------------------------------------

TEST_CASE("split points enter nested Sequentials at any depth; split() cuts there", "[resnet][split]") {
  // a { b { c, d { e, f } }, g }
  auto d = std::make_shared<Sequential>();
  d->emplace<Tanh>("e");
  d->emplace<Sigmoid>("f");
  auto b = std::make_shared<Sequential>();
  b->emplace<ReLU>("c");
  b->add("d", d);
  Sequential a;
  a.add("b", b);
  a.emplace<Tanh>("g");
  CHECK(a.split_points() == std::vector<std::string>{"b.c", "b.d.e", "b", "g"});
  Generator gen(6);
  const Tensor x = randn({2, 3}, gen);
  const Tensor full = a.forward(x);
  for (const std::string point : {"b.c", "b.d.e", "b.d.f", "b.d", "b", "g"}) {
    INFO(point);
    const auto [edge, cloud] = a.split(point);
    CHECK(equal(cloud->forward(edge->forward(x)), full));
  }
  const auto [edge, cloud] = a.split("b.d.e");
  CHECK(edge->names() == std::vector<std::string>{"b"});
  CHECK(static_cast<Sequential&>(edge->at("b")).names() == std::vector<std::string>{"c", "d"});
  CHECK(static_cast<Sequential&>(static_cast<Sequential&>(edge->at("b")).at("d")).names() ==
        std::vector<std::string>{"e"});
  CHECK(cloud->names() == std::vector<std::string>{"b", "g"});
  CHECK(&static_cast<Sequential&>(static_cast<Sequential&>(cloud->at("b")).at("d")).at("f") == &d->at("f"));
  // The last layer of a nested Sequential cuts where the Sequential ends.
  CHECK(a.split("b.d").second->names() == std::vector<std::string>{"g"});
  CHECK(a.split("b.d").first->names() == a.split("b").first->names());
  CHECK(a.split("g").second->size() == 0);
  // Top-level members see top-level names only.
  CHECK(a.index_of("g") == 1);
  CHECK_THROWS_WITH(a.index_of("b.c"), Contains("no layer named 'b.c' (layers: b, g)"));
  CHECK_THROWS_WITH(a.register_forward_hook("b.c", nullptr), Contains("no layer named 'b.c'"));
  CHECK_THROWS_WITH(a.split("b.x"), Contains("no layer named 'b.x' (layers of b: c, d)"));
  CHECK_THROWS_WITH(a.split("b.d.x"), Contains("no layer named 'b.d.x' (layers of b.d: e, f)"));
  CHECK_THROWS_WITH(a.split("b."), Contains("no layer named 'b.' (layers of b: c, d)"));
  CHECK_THROWS_WITH(a.split("g.0"), Contains("'g' is a Tanh") && Contains("only nested Sequentials"));
  CHECK_THROWS_WITH(a.split("x.0"), Contains("no layer named 'x' (layers: b, g)"));
}

TEST_CASE("flat models keep their split points", "[resnet][split]") {
  Generator gen(0);
  CHECK(models::lenet(gen)->split_points() ==
        std::vector<std::string>{"conv1", "ReLU1", "pool1", "conv2", "ReLU2", "pool2", "fc1", "fc1act", "fc2", "fc2act",
                                 "fc3"});
  CHECK(models::cifar_cnn(gen)->split_points() ==
        std::vector<std::string>{"conv11", "ReLU11", "conv12", "ReLU12", "pool1", "conv21", "ReLU21", "conv22",
                                 "ReLU22", "pool2", "conv31", "ReLU31", "conv32", "ReLU32", "pool3", "fc1", "fc1act",
                                 "fc2"});
}

// ---------------------------------------------------------------------------
// The models
// ---------------------------------------------------------------------------

TEST_CASE("resnet18, resnet20 and vgg11-bn: split points, shapes at split points, parameter counts", "[resnet]") {
  Generator gen(1);
  auto r18 = models::resnet18(1000, gen);
  auto r20 = models::resnet20(10, gen);
  auto vgg = models::vgg11_bn(10, gen);
  CHECK(r18->parameter_count() == 11689512);  // torchvision's resnet18
  CHECK(r20->parameter_count() == 272474);
  CHECK(vgg->parameter_count() == 9231114);
  CHECK(r18->split_points() == std::vector<std::string>{"conv1", "bn1", "relu", "maxpool", "layer1.0", "layer1",
                                                        "layer2.0", "layer2", "layer3.0", "layer3", "layer4.0",
                                                        "layer4", "avgpool", "fc"});
  CHECK(r20->split_points() == std::vector<std::string>{"conv1", "bn1", "relu", "layer1.0", "layer1.1", "layer1",
                                                        "layer2.0", "layer2.1", "layer2", "layer3.0", "layer3.1",
                                                        "layer3", "avgpool", "fc"});
  std::vector<std::string> vgg_points;
  for (int i = 0; i < 28; ++i) vgg_points.push_back("features." + std::to_string(i));
  vgg_points.push_back("features");
  vgg_points.push_back("classifier");
  CHECK(vgg->split_points() == vgg_points);
  CHECK(static_cast<Sequential&>(vgg->at("features")).at("28").type_name() == "MaxPool2d");

  NoGradGuard no_grad;
  ModeGuard e18(*r18, false), e20(*r20, false), ev(*vgg, false);
  const Tensor x = zeros({2, 3, 32, 32});
  for (auto [net, point, shape] : std::vector<std::tuple<models::SequentialPtr, std::string, Shape>>{
           {r18, "conv1", {2, 64, 16, 16}},
           {r18, "maxpool", {2, 64, 8, 8}},
           {r18, "layer1.0", {2, 64, 8, 8}},
           {r18, "layer2.0", {2, 128, 4, 4}},
           {r18, "layer3", {2, 256, 2, 2}},
           {r18, "layer4", {2, 512, 1, 1}},
           {r18, "avgpool", {2, 512, 1, 1}},
           {r18, "fc", {2, 1000}},
           {r20, "relu", {2, 16, 32, 32}},
           {r20, "layer1.1", {2, 16, 32, 32}},
           {r20, "layer2.0", {2, 32, 16, 16}},
           {r20, "layer3", {2, 64, 8, 8}},
           {r20, "avgpool", {2, 64, 1, 1}},
           {r20, "fc", {2, 10}},
           {vgg, "features.0", {2, 64, 32, 32}},
           {vgg, "features.3", {2, 64, 16, 16}},
           {vgg, "features.27", {2, 512, 2, 2}},
           {vgg, "features", {2, 512, 1, 1}},
           {vgg, "classifier", {2, 10}}}) {
    INFO(point);
    CHECK(net->split(point).first->forward(x).shape() == shape);
  }
  CHECK(r18->forward(zeros({1, 3, 64, 48})).shape() == Shape{1, 1000});  // any input size

  const auto s18 = models::resnet18_spec();
  CHECK(s18.input_shape == Shape{3, 224, 224});
  CHECK(s18.mean == std::vector<double>{0.485, 0.456, 0.406});
  CHECK(models::resnet18_spec(64).input_shape == Shape{3, 64, 64});
  for (const auto& s : {models::resnet20_spec(), models::vgg11_bn_spec()}) {
    CHECK(s.input_shape == Shape{3, 32, 32});
    CHECK(s.mean == std::vector<double>{0.4914, 0.4822, 0.4465});
    CHECK(s.std == std::vector<double>{0.2470, 0.2435, 0.2616});
  }
  CHECK(models::resnet20_spec().name == "resnet20");
  CHECK(models::vgg11_bn_spec().name == "vgg11-bn");
}

TEST_CASE("split at every split point equals the whole bitwise; the halves partition the state_dict",
          "[resnet][split]") {
  Generator gen(2);
  const Tensor x = randn({2, 3, 32, 32}, gen);
  for (const std::string name : {"resnet20", "resnet18", "vgg11-bn"}) {
    INFO(name);
    auto net = name == "resnet20"   ? models::resnet20(10, gen)
               : name == "resnet18" ? models::resnet18(1000, gen)
                                    : models::vgg11_bn(10, gen);
    randomise_batchnorms(*net, gen);
    check_every_split(*net, x);
  }
  // A cut at a stage's last block is the cut at the stage: no empty "layer2" in the cloud.
  auto r18 = models::resnet18(10, gen);
  const auto [edge, cloud] = r18->split("layer2.1");
  CHECK(edge->names() == r18->split("layer2").first->names());
  CHECK(cloud->names() == std::vector<std::string>{"layer3", "layer4", "avgpool", "flatten", "fc"});
  const auto [e0, c0] = r18->split("layer2.0");
  CHECK(names_of(e0->state_dict()).back() == "layer2.0.downsample.1.running_var");
  CHECK(names_of(c0->state_dict()).front() == "layer2.1.conv1.weight");
  CHECK_THROWS_WITH(r18->split("layer2.0.conv1"), Contains("'layer2.0' is a BasicBlock"));
  CHECK_THROWS_WITH(r18->split("layer2.2"), Contains("no layer named 'layer2.2' (layers of layer2: 0, 1)"));
}

TEST_CASE("the models' modes reach the blocks; initialisation as torchvision", "[resnet][init]") {
  Generator gen(3);
  auto r18 = models::resnet18(1000, gen);
  auto& block = static_cast<BasicBlock&>(static_cast<Sequential&>(r18->at("layer3")).at("0"));
  auto& ds_bn = static_cast<BatchNorm2d&>(block.downsample->at("1"));
  CHECK(ds_bn.is_training());
  {
    ModeGuard eval(*r18, false);
    CHECK_FALSE(ds_bn.is_training());
    CHECK_FALSE(block.bn2->is_training());
  }
  CHECK(ds_bn.is_training());
  // A forward in training mode moves the nested running statistics; in eval mode it does not.
  const Tensor x = randn({2, 3, 32, 32}, gen);
  r18->forward(x);
  CHECK(ds_bn.running_mean.to_vector<double>() != std::vector<double>(256, 0.0));
  const Tensor rm = copy_data(ds_bn.running_mean);
  r18->eval();
  r18->forward(x);
  CHECK(equal(ds_bn.running_mean, rm));

  // kaiming_normal_(fan_out, relu): std sqrt(2 / (512·3·3)) for layer4's 3x3 convolutions.
  auto std_of = [](const Tensor& t) {
    const auto v = t.to_vector<double>();
    double s = 0, q = 0;
    for (double a : v) s += a, q += a * a;
    const double m = s / static_cast<double>(v.size());
    return std::sqrt(q / static_cast<double>(v.size()) - m * m);
  };
  auto& l4 = static_cast<BasicBlock&>(static_cast<Sequential&>(r18->at("layer4")).at("1"));
  CHECK(std_of(l4.conv2->weight) == Approx(std::sqrt(2.0 / (512 * 9))).epsilon(0.01));
  CHECK(std_of(static_cast<Conv2d&>(r18->at("conv1")).weight) == Approx(std::sqrt(2.0 / (64 * 49))).epsilon(0.02));
  CHECK(equal(l4.bn1->weight, ones({512})));
  CHECK(equal(l4.bn1->bias, zeros({512})));
  const auto& fc = static_cast<Linear&>(r18->at("fc"));
  const auto fw = fc.weight.to_vector<double>();
  CHECK(*std::max_element(fw.begin(), fw.end()) <= 1 / std::sqrt(512.0));  // PyTorch's default Linear
  CHECK(*std::max_element(fw.begin(), fw.end()) > 0.9 / std::sqrt(512.0));

  auto vgg = models::vgg11_bn(10, gen);
  auto& conv0 = static_cast<Conv2d&>(static_cast<Sequential&>(vgg->at("features")).at("0"));
  CHECK(equal(conv0.bias, zeros({64})));
  CHECK(std_of(conv0.weight) == Approx(std::sqrt(2.0 / (64 * 9))).epsilon(0.1));
  const auto& cls = static_cast<Linear&>(vgg->at("classifier"));
  CHECK(std_of(cls.weight) == Approx(0.01).epsilon(0.1));
  CHECK(equal(cls.bias, zeros({10})));
  // Seeded.
  Generator g1(9), g2(9);
  CHECK(equal(models::resnet20(10, g1)->state_dict()[0].second, models::resnet20(10, g2)->state_dict()[0].second));
}

// ---------------------------------------------------------------------------
// Agreement with PyTorch and torchvision
// ---------------------------------------------------------------------------

TEST_CASE("state_dict names and shapes are torchvision's", "[resnet][torch]") {
  Generator gen(4);
  // 122 entries of which 20 are BatchNorm counters (bn1, 2 per block, 3 downsamples).
  check_state_dict_against(*models::resnet18(1000, gen), "resnet18_state_dict.txt", 122, 20);
  check_state_dict_against(*models::vgg11_bn(10, gen), "vgg11_bn_state_dict.txt", 58, 8);
}

TEST_CASE("resnet20 loads a PyTorch state_dict and computes PyTorch's logits", "[resnet][torch]") {
  const io::SafeTensors st = io::load_safetensors(inv::testing::fixture_path("resnet20_torch.safetensors"));
  CHECK(st.tensors.size() == 128);  // inv's 107 and 21 num_batches_tracked
  auto net = models::resnet20(10);
  io::load_state_dict(*net, st);  // strict: every name and shape matches
  net->eval();
  NoGradGuard no_grad;
  const Tensor x = io::load_npy(inv::testing::fixture_path("resnet20_torch_x.npy"));
  const Tensor want = io::load_npy(inv::testing::fixture_path("resnet20_torch_logits.npy"));
  CHECK(x.shape() == Shape{2, 3, 32, 32});
  check_logits(net->forward(x), want, 1e-4);
}

TEST_CASE("full-size resnet18 and vgg11-bn compute torchvision's logits from the same hashed weights",
          "[resnet][torch]") {
  NoGradGuard no_grad;
  for (const auto& [name, input] : std::vector<std::pair<std::string, Shape>>{{"resnet18", {2, 3, 64, 64}},
                                                                             {"vgg11_bn", {2, 3, 32, 32}}}) {
    INFO(name);
    auto net = name == "resnet18" ? models::resnet18(1000) : models::vgg11_bn(10);
    hash_fill(*net);
    net->eval();
    check_logits(net->forward(hash_input(input)),
                 io::load_npy(inv::testing::fixture_path(name + "_hash_logits.npy")), 1e-4);
  }
}
