// The toy worlds the tests share: the default-size world and a small one,
// each generated once per test run into the build's cache (the ctest fixture
// toy_world_cache empties it first) and read back by every test process.
#pragma once

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "epalm/experiments/toy_world.h"

namespace epalm::testing {

inline std::string toy_world_home() { return EPALM_TOY_WORLD_HOME; }

inline experiments::toy::WorldSpec small_world_spec(std::uint64_t seed = 11) {
  experiments::toy::WorldSpec spec;
  spec.seed = seed;
  spec.sizes = experiments::toy::parse_sizes(
      "train-images=60,val-images=12,test-images=12,train-videos=12,val-videos=4,test-videos=4,"
      "train-audio=12,val-audio=4,test-audio=4,pretrain-images=24,pretrain-videos=6,pretrain-audio=6");
  return spec;
}

// The default sizes: the world `epalm toy world` makes.
inline const experiments::toy::WorldInfo& default_world() {
  static const auto info = experiments::toy::ensure_world(experiments::toy::WorldSpec{}, toy_world_home());
  return info;
}

inline nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  return nlohmann::json::parse(in);
}

}  // namespace epalm::testing
