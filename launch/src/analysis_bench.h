// `epalm bench analysis`: how fast the analysis answers on a large store:
// `runs compare` (two axes, three values, a baseline) over --analysis-runs
// runs, and (once the report exists) a sweep's report; recorded in the
// results store like any run.
#pragma once

#include <string>
#include <vector>

#include "command.h"

namespace epalm::cli {

struct AnalysisBenchSettings {
  int runs = 10000;
  int repetitions = 20;
  std::string work_dir;  // where the throw-away database goes
  std::string results;   // where the benchmark's own run is recorded ("" : nowhere)
  std::string format = "text";
  bool progress = false;
  std::vector<std::string> argv;
};

int run_analysis_bench(const Invocation& in, const AnalysisBenchSettings& settings);

}  // namespace epalm::cli
