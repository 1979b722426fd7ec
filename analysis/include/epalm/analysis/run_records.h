// Runs as the analysis sees them: one record per run with its settings,
// metric summaries, evaluation scores and tags, loaded from the results store
// in one query per table (not one per run), so ten thousand runs load fast.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "epalm/registry/results_store.h"

namespace epalm::analysis {

struct MetricSummary {
  double last = 0, min = 0, max = 0, best = 0;
  std::int64_t last_step = 0, best_step = 0, n = 0;
  bool lower_is_better = true;  // the metric key's goal
};

struct RunRecord {
  registry::RunRow run;
  int world_size = 1;                             // processes the run had
  std::map<std::string, std::string> params;      // setting -> value text
  std::map<std::string, MetricSummary> metrics;   // metric key -> summary
  std::map<std::string, double> scores;           // "split.metric" -> value
  std::map<std::string, std::string> tags;
};

// What to load. Unset lists load everything of their kind; a set (possibly
// empty) list loads only those keys, which is what keeps a comparison over
// many runs cheap.
struct RunSelection {
  std::optional<std::string> experiment;
  std::optional<std::string> sweep;
  std::optional<std::vector<std::string>> params;
  std::optional<std::vector<std::string>> metrics;
  std::optional<std::vector<std::string>> scores;  // "split.metric"
  bool tags = true;
  // false: of the run itself only what a comparison reads (run.id,
  // run.status, run.started, run.seed); the other RunRow fields and
  // world_size keep their defaults. Ten fewer columns per run.
  bool run_details = true;
};

// Newest first (started, then id, descending), as `epalm runs list` shows them.
std::vector<RunRecord> load_runs(const registry::ResultsStore& store, const RunSelection& selection);

}  // namespace epalm::analysis
