#include "run_recording.h"

#include "epalm/distributed/world.h"
#include "epalm/registry/provenance.h"

namespace epalm::cli {

registry::RunRecorder record_run(const std::string& command, const std::string& experiment,
                                 std::map<std::string, std::string> params, const std::string& results,
                                 const std::vector<std::string>& arguments, const distributed::World& world,
                                 std::size_t variant) {
  registry::RunStart start;
  start.run_id = registry::new_run_id();
  start.experiment = experiment.empty() ? "adhoc" : experiment;
  if (const auto cell = registry::sweep_cell_from_environment(variant)) {
    if (!cell->experiment.empty()) start.experiment = cell->experiment;
    start.sweep = cell->sweep;
    start.cell_index = cell->cell_index;
  }
  start.params = std::move(params);
  std::vector<std::string> argv{"epalm", command};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  start.provenance = registry::collect_provenance(argv, world.size());
  start.started = registry::now_seconds();
  registry::RecorderOptions options;
  options.rank = world.rank();
  return registry::RunRecorder::for_run(results, start, options);
}

}  // namespace epalm::cli
