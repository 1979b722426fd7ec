// Opening a command's record in the results store, shared by train, eval and
// bench.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "epalm/registry/run_recorder.h"

namespace epalm::distributed {
class World;
}

namespace epalm::cli {

// The record of one `epalm <command>` run in the results store at `results`
// (rank 0 records; EPALM_SPOOL: a spool file): a new id, the experiment ("" ->
// "adhoc"; a sweep cell's from the environment wins), `params`, provenance.
// `variant`: which of a fused job's runs this is (its sweep cell).
registry::RunRecorder record_run(const std::string& command, const std::string& experiment,
                                 std::map<std::string, std::string> params, const std::string& results,
                                 const std::vector<std::string>& arguments, const distributed::World& world,
                                 std::size_t variant = 0);

}  // namespace epalm::cli
