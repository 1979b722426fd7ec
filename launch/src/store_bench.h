// `epalm bench store`: throughput and query latency of the results store
// (no LibTorch, no peer).
#pragma once

#include <string>
#include <vector>

#include "command.h"

namespace epalm::cli {

struct StoreBenchSettings {
  int runs = 10000;
  int points = 1000;
  int repetitions = 20;
  std::string work_dir;  // where the throw-away database goes
  std::string results;   // where the benchmark's own run is recorded ("" : nowhere)
  std::string format = "text";
  bool progress = false;
  std::vector<std::string> argv;
};

int run_store_bench(const Invocation& in, const StoreBenchSettings& settings);

}  // namespace epalm::cli
