// Every `epalm bench` result is a run in the results store like any
// experiment (experiment "bench-<case>"): its settings as parameters, its
// medians, throughput, memory and the ratio against the peer as scores.
#pragma once

#include <string>
#include <vector>

#include "epalm/experiments/bench/bench.h"

namespace epalm::distributed {
class World;
}

namespace epalm::cli {

// Records `result` (`arguments`: the command line after "epalm bench") into the database at `results` ("" records nothing);
// returns the run id or "".
std::string record_bench_run(const std::string& results, const std::string& name, const experiments::BenchResult& result,
                             const std::vector<std::string>& arguments, const distributed::World& world);

}  // namespace epalm::cli
