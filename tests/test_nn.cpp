// Modules: names, initialisation, modes, split execution, hooks, summaries, the zoo.
#include <catch2/catch.hpp>

#include <algorithm>

#include <inv/models/zoo.hpp>
#include <inv/nn/batchnorm.hpp>
#include <inv/nn/dropout.hpp>

#include <thread>

#include "gradcheck.hpp"

using namespace inv;
using namespace inv::nn;

TEST_CASE("named parameters have dotted names and PyTorch's shapes", "[nn]") {
  Generator gen(0);
  auto net = models::lenet(gen);
  const auto named = net->named_parameters();
  std::vector<std::string> names;
  for (const auto& [n, t] : named) names.push_back(n);
  CHECK(names == std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                                          "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"});
  CHECK(named[0].second.shape() == Shape{8, 1, 5, 5});
  CHECK(named[4].second.shape() == Shape{120, 256});
  CHECK(net->parameter_count() == 45278);
  CHECK(models::cifar_cnn(gen)->parameter_count() == 1609546);  // as the protocol states
  auto outer = std::make_shared<Sequential>();
  outer->add("features", net);
  CHECK(outer->named_parameters()[0].first == "features.conv1.weight");
  BatchNorm2d bn(3);
  const auto sd = bn.state_dict();
  REQUIRE(sd.size() == 4);
  CHECK(sd[2].first == "running_mean");
  CHECK(bn.named_buffers().size() == 2);
  CHECK(bn.parameters().size() == 2);
}

TEST_CASE("default initialisation is PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and seeded", "[nn][init]") {
  Generator g1(7), g2(7);
  Conv2d a(4, 6, 3, Conv2dOptions(), true, g1), b(4, 6, 3, Conv2dOptions(), true, g2);
  CHECK(equal(a.weight, b.weight));
  const double bound = 1 / std::sqrt(4.0 * 9);
  const auto w = a.weight.to_vector<double>();
  CHECK(*std::max_element(w.begin(), w.end()) <= bound);
  CHECK(*std::min_element(w.begin(), w.end()) >= -bound);
  CHECK(*std::max_element(w.begin(), w.end()) > 0.8 * bound);  // spread over the whole range
  ConvTranspose2d t(16, 8, 5, ConvTranspose2dOptions(), true, g1);
  const auto tw = t.weight.to_vector<double>();  // fan_in read from dim 1: 8·5·5
  CHECK(*std::max_element(tw.begin(), tw.end()) <= 1 / std::sqrt(200.0));
  CHECK(*std::max_element(tw.begin(), tw.end()) > 0.8 / std::sqrt(200.0));
  Linear l(256, 120, true, g1);
  const auto lb = l.bias.to_vector<double>();
  CHECK(*std::max_element(lb.begin(), lb.end()) <= 1 / 16.0);
  CHECK(a.weight.requires_grad());
  CHECK(a.weight.is_leaf());
}

TEST_CASE("train/eval propagate; ModeGuard restores every module, also through exceptions", "[nn][mode]") {
  auto net = models::lenet();
  CHECK(net->is_training());
  net->at("conv1").eval();  // a mixed state must be restored exactly
  try {
    ModeGuard guard(*net, false);
    CHECK_FALSE(net->is_training());
    CHECK_FALSE(net->at("fc1").is_training());
    throw Error("boom");
  } catch (const Error&) {
  }
  CHECK(net->is_training());
  CHECK_FALSE(net->at("conv1").is_training());
  CHECK(net->at("fc1").is_training());
  net->eval();
  CHECK_FALSE(net->at("fc3").is_training());
}

TEST_CASE("split: cloud(edge(x)) equals the full forward bitwise at every split point", "[nn][split]") {
  Generator gen(1);
  for (const std::string name : {"lenet", "cifar-cnn"}) {
    auto net = models::by_name(name, gen);
    const auto spec = models::spec_by_name(name);
    Shape in{2};
    in.insert(in.end(), spec.input_shape.begin(), spec.input_shape.end());
    const Tensor x = randn(in, gen);
    NoGradGuard no_grad;
    const Tensor full = net->forward(x);
    for (size_t i = 0; i < net->size(); ++i) {
      const auto [edge, cloud] = net->split(net->name(i));
      CHECK(edge->size() == i + 1);
      CHECK(edge->size() + cloud->size() == net->size());
      const Tensor v = edge->forward(x);
      const Tensor v_before = copy_data(v);
      const Tensor y = cloud->forward(v);
      INFO(name << " split at " << net->name(i));
      CHECK(equal(y, full));
      CHECK(equal(v, v_before));  // the cloud never modifies what the edge sent
    }
  }
}

TEST_CASE("split_points: every layer but Flatten, in order", "[nn][split]") {
  Generator gen(0);
  CHECK(models::lenet(gen)->split_points() ==
        std::vector<std::string>{"conv1", "ReLU1", "pool1", "conv2", "ReLU2", "pool2", "fc1", "fc1act", "fc2", "fc2act",
                                 "fc3"});
  const auto cifar = models::cifar_cnn(gen)->split_points();
  CHECK(cifar.size() == 18);
  CHECK(cifar.front() == "conv11");
  CHECK(cifar.back() == "fc2");
  CHECK(std::find(cifar.begin(), cifar.end(), "flatten") == cifar.end());
}

TEST_CASE("split parts share the whole model's parameters", "[nn][split]") {
  auto net = models::lenet();
  auto [edge, cloud] = net->split("ReLU2");
  CHECK(edge->names() == std::vector<std::string>{"conv1", "ReLU1", "pool1", "conv2", "ReLU2"});
  CHECK(cloud->name(0) == "pool2");
  CHECK(edge->named_parameters()[0].second.is_same(net->named_parameters()[0].second));
  static_cast<Conv2d&>(edge->at("conv1")).weight.fill_(0.25);
  CHECK(static_cast<Conv2d&>(net->at("conv1")).weight.at<float>({0, 0, 0, 0}) == 0.25f);
  CHECK_THROWS_WITH(net->split("relu2"), Catch::Contains("no layer named 'relu2'") && Catch::Contains("ReLU2"));
  CHECK(net->index_of("fc3") == 11);
  CHECK(&net->at(0) == &net->at("conv1"));
}

TEST_CASE("forward hooks observe and replace a named layer's output", "[nn][hooks]") {
  Generator gen(2);
  auto net = models::lenet(gen);
  const Tensor x = randn({3, 1, 28, 28}, gen);
  NoGradGuard no_grad;
  Tensor seen;
  const int64_t h = net->register_forward_hook("ReLU2", [&](const std::string& layer, const Tensor& out) {
    CHECK(layer == "ReLU2");
    seen = out;
    return Tensor();
  });
  const Tensor y = net->forward(x);
  CHECK(seen.shape() == Shape{3, 16, 8, 8});
  CHECK(equal(seen, net->split("ReLU2").first->forward(x)));
  net->remove_hook(h);
  // Replacing the features with zeros: the rest of the network sees zeros.
  net->register_forward_hook("ReLU2", [](const std::string&, const Tensor& out) { return zeros_like(out); });
  const Tensor z = net->forward(x);
  CHECK(equal(z, net->split("ReLU2").second->forward(zeros({3, 16, 8, 8}))));
  CHECK_FALSE(equal(z, y));
  CHECK_THROWS_WITH(net->register_forward_hook("nope", nullptr), Catch::Contains("no layer named"));
  CHECK_THROWS_AS(net->remove_hook(12345), Error);
}

TEST_CASE("summary lists layers, output shapes and parameter counts", "[nn]") {
  auto net = models::lenet();
  const auto rows = net->layer_info({1, 1, 28, 28});
  REQUIRE(rows.size() == 12);
  CHECK(rows[0].name == "conv1");
  CHECK(rows[0].op == "Conv2d(1, 8, kernel_size=(5, 5))");
  CHECK(rows[0].output_shape == Shape{1, 8, 24, 24});
  CHECK(rows[0].parameters == 208);
  CHECK(rows[2].output_shape == Shape{1, 8, 12, 12});
  CHECK(rows[4].output_shape == Shape{1, 16, 8, 8});
  CHECK(rows[6].output_shape == Shape{1, 256});
  CHECK(rows[11].output_shape == Shape{1, 10});
  const std::string s = net->summary({1, 1, 28, 28});
  CHECK_THAT(s, Catch::Contains("pool2") && Catch::Contains("(1,16,4,4)") && Catch::Contains("total parameters: 45278"));
  const auto crows = models::cifar_cnn()->layer_info({1, 3, 32, 32});
  CHECK(crows[8].name == "ReLU22");
  CHECK(crows[8].output_shape == Shape{1, 128, 16, 16});
}

TEST_CASE("the paper's decoders and shadows map to the right shapes", "[nn][zoo]") {
  NoGradGuard no_grad;
  for (auto [model, split, edge_out] : std::vector<std::tuple<std::string, std::string, Shape>>{
           {"lenet", "conv1", {2, 8, 24, 24}},
           {"lenet", "ReLU2", {2, 16, 8, 8}},
           {"cifar-cnn", "conv11", {2, 64, 32, 32}},
           {"cifar-cnn", "ReLU22", {2, 128, 16, 16}},
           {"cifar-cnn", "ReLU32", {2, 128, 8, 8}}}) {
    INFO(model << " " << split);
    const auto spec = models::spec_by_name(model);
    Shape in{2};
    in.insert(in.end(), spec.input_shape.begin(), spec.input_shape.end());
    CHECK(models::by_name(model)->split(split).first->forward(zeros(in)).shape() == edge_out);
    CHECK(models::paper_decoder(model, split)->forward(zeros(edge_out)).shape() == in);
    if (auto shadow = models::paper_shadow(model, split)) CHECK(shadow->forward(zeros(in)).shape() == edge_out);
  }
  CHECK(models::paper_decoder("lenet", "fc1") == nullptr);
  CHECK_THROWS_WITH(models::by_name("resnet"), Catch::Contains("lenet, cifar-cnn"));
}

TEST_CASE("modules convert to float64 and pass the gradient check as a whole", "[nn][gradcheck]") {
  Generator gen(4);
  auto net = std::make_shared<Sequential>();
  net->emplace<Conv2d>("conv", 2, 3, 3, Conv2dOptions().padding(1), true, gen);
  net->emplace<BatchNorm2d>("bn", 3);
  net->emplace<LeakyReLU>("act", 0.1);
  net->emplace<MaxPool2d>("pool", 2);
  net->emplace<Flatten>("flatten");
  net->emplace<Linear>("fc", 12, 2, true, gen);
  net->to(kFloat64);
  CHECK(net->named_parameters()[0].second.dtype() == kFloat64);
  CHECK(net->named_buffers()[0].second.dtype() == kFloat64);
  // Through the whole chain in training mode (BatchNorm uses batch statistics); each
  // layer's parameter gradients are checked op by op in test_conv/test_nn_ops.
  inv::testing::gradcheck("conv-bn-act-pool-fc", [&](const std::vector<Tensor>& v) { return net->forward(v[0]); },
                          {randn({3, 2, 4, 4}, gen, kFloat64)});
  // Parameter gradients reach the module's own leaves.
  Tensor loss = sum(net->forward(randn({3, 2, 4, 4}, gen, kFloat64)));
  loss.backward();
  for (const auto& [name, p] : net->named_parameters()) {
    INFO(name);
    CHECK(p.grad().defined());
  }
}

TEST_CASE("BatchNorm2d and Dropout modules follow the mode", "[nn]") {
  BatchNorm2d bn(2);
  Generator gen(5);
  const Tensor x = randn({4, 2, 3, 3}, gen);
  bn.forward(x);  // training: updates the running statistics
  CHECK(bn.running_mean.to_vector<double>() != std::vector<double>{0, 0});
  const Tensor rm = copy_data(bn.running_mean);
  bn.eval();
  bn.forward(x);
  CHECK(equal(bn.running_mean, rm));
  Dropout d(0.5, gen);
  d.eval();
  CHECK(d.forward(x).is_same(x));
  d.train();
  CHECK_FALSE(equal(d.forward(x), x));
}

TEST_CASE("forward on one model from 8 threads at once equals the serial forward bitwise", "[nn][threads]") {
  // The contract of nn/module.hpp: concurrent forward calls on one model are safe while no
  // thread changes the model, in evaluation mode or with modules that draw no random numbers.
  Generator gen(5);
  auto net = models::lenet(gen);
  net->eval();
  std::vector<Tensor> inputs, serial(8), parallel(8), with_graph(8);
  for (int k = 0; k < 8; ++k) inputs.push_back(randn({3, 1, 28, 28}, gen));
  {
    NoGradGuard no_grad;
    for (int k = 0; k < 8; ++k) serial[size_t(k)] = net->forward(inputs[size_t(k)]);
  }
  std::vector<std::thread> threads;
  for (int k = 0; k < 8; ++k)
    threads.emplace_back([&, k] {
      {
        NoGradGuard no_grad;  // grad mode is per thread
        parallel[size_t(k)] = net->forward(inputs[size_t(k)]);
      }
      with_graph[size_t(k)] = net->forward(inputs[size_t(k)]);  // each thread records its own graph
    });
  for (auto& t : threads) t.join();
  for (int k = 0; k < 8; ++k) {
    CHECK(equal(parallel[size_t(k)], serial[size_t(k)]));
    CHECK(equal(with_graph[size_t(k)].detach(), serial[size_t(k)]));
    CHECK(with_graph[size_t(k)].requires_grad());
  }
}
