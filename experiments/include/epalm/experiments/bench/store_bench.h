// `epalm bench store` and `epalm bench analysis` (no LibTorch, no peer): the
// results store's write throughput and query latency on a large ablation,
// and how fast the analysis answers on one (`runs compare` over two axes
// with a baseline, a sweep's report). Each is recorded in the results store
// like any run.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "epalm/analysis/table.h"

namespace epalm::distributed {
class World;
}

namespace epalm::experiments {

struct StoreBenchSettings {
  int runs = 10000;
  int points = 1000;  // metric points per run (the store case)
  int repetitions = 20;
  std::string work_dir;           // where the throw-away database goes
  std::string results;            // where the benchmark's own run is recorded ("": nowhere)
  bool progress = false;          // a progress line on stderr while the database fills
  std::vector<std::string> argv;  // the command line, for the recorded run's provenance
};

struct StoreBenchReport {
  analysis::Table table;  // measure, value, target
  std::string run_id;     // the recorded run; "" when not recorded
};

StoreBenchReport run_store_bench(const StoreBenchSettings& settings, const distributed::World& world);
StoreBenchReport run_analysis_bench(const StoreBenchSettings& settings, const distributed::World& world);

// The median and the slowest of `repetitions` timed calls, in milliseconds.
struct Latency {
  double median_ms = 0;
  double max_ms = 0;
};
Latency measure_latency(int repetitions, const std::function<void()>& body);

}  // namespace epalm::experiments
