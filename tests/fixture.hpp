// tests/fixture.hpp: reading the reference-value files in tests/fixtures/.
//
// Format (text, written by the scripts in scripts/fixtures/): one tensor per two lines,
//   <name> <rank> <dim_0> ... <dim_rank-1>
//   <value> <value> ...          (row-major, %.17g, so doubles round-trip exactly)
// Lines starting with '#' are comments. Names are paths like "conv2d/stride2/x".
#pragma once

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <inv/tensor.hpp>

namespace inv::testing {

inline std::string fixture_path(const std::string& file) { return std::string(INV_FIXTURES_DIR) + "/" + file; }

/// All tensors of a fixture file, as float64, by name. Fails the test if the file is missing or malformed.
inline std::map<std::string, Tensor> load_fixture(const std::string& file) {
  std::ifstream in(fixture_path(file));
  REQUIRE(in.good());
  std::map<std::string, Tensor> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream head(line);
    std::string name;
    int64_t rank = -1;
    head >> name >> rank;
    REQUIRE(rank >= 0);
    Shape shape(static_cast<size_t>(rank));
    for (auto& d : shape) head >> d;
    std::vector<double> values(static_cast<size_t>(inv::numel(shape)));
    REQUIRE(std::getline(in, line));
    std::istringstream body(line);
    for (double& v : values) REQUIRE(static_cast<bool>(body >> v));
    out[name] = from_vector(values, shape, kFloat64);
  }
  return out;
}

/// The tensor `name` of a loaded fixture; fails the test if it is absent.
inline const Tensor& get(const std::map<std::string, Tensor>& f, const std::string& name) {
  INFO("fixture tensor " << name);
  const auto it = f.find(name);
  REQUIRE(it != f.end());
  return it->second;
}

}  // namespace inv::testing
