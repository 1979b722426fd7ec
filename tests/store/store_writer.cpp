// A small real program that records runs through the results-store API, as
// `epalm train` does: the stand-in for a training run in the store's stress,
// crash and sweep tests. It can be told to fail or to hang on given configs.
//
//   store_writer (--results DB | --spool FILE) [--experiment E] [--runs R] [--steps S]
//                [--keys K] [--config cell.ini] [--fail-if key=value] [--hang-if key=value]
//                [--fail-first MARKER_DIR] [--hang-first MARKER_DIR] [--heartbeat SECONDS]
//                [--flush-rows N] [--relog]
// --fail-first / --hang-first: fail or hang (with --hang-if) only the first time a configuration runs.
//
// Metric k of run r at step s is sin(0.1 s + k) + r; the tests recompute the
// summaries from the history independently.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "epalm/registry/hashing.h"
#include "epalm/registry/run_recorder.h"

using namespace epalm::registry;

namespace {

Params read_ini(const std::string& path) {
  Params params;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string line;
  while (std::getline(in, line)) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t"));
      s.erase(s.find_last_not_of(" \t") + 1);
      return s;
    };
    params[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return params;
}

bool matches(const Params& params, const std::string& condition) {
  if (condition.empty()) return false;
  const auto eq = condition.find('=');
  const auto it = params.find(condition.substr(0, eq));
  return it != params.end() && canonical_value(it->second) == canonical_value(condition.substr(eq + 1));
}

// True the first time it is asked for `name` in `marker_dir` (always without a folder).
bool first_time(const std::string& marker_dir, const std::string& name) {
  if (marker_dir.empty()) return true;
  const auto marker = std::filesystem::path(marker_dir) / name;
  if (std::filesystem::exists(marker)) return false;
  std::ofstream(marker) << "seen";
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string results, spool, experiment = "writer-test", config, fail_if, hang_if, fail_first, hang_first;
  int runs = 1, steps = 10, keys = 2;
  bool relog = false;
  RecorderOptions options;
  options.heartbeat_seconds = 1;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--results") results = next();
      else if (arg == "--spool") spool = next();
      else if (arg == "--experiment") experiment = next();
      else if (arg == "--runs") runs = std::stoi(next());
      else if (arg == "--steps") steps = std::stoi(next());
      else if (arg == "--keys") keys = std::stoi(next());
      else if (arg == "--config") config = next();
      else if (arg == "--fail-if") fail_if = next();
      else if (arg == "--hang-if") hang_if = next();
      else if (arg == "--fail-first") fail_first = next();
      else if (arg == "--hang-first") hang_first = next();
      else if (arg == "--heartbeat") options.heartbeat_seconds = std::stod(next());
      else if (arg == "--flush-rows") options.flush_rows = static_cast<size_t>(std::stoul(next()));
      else if (arg == "--relog") relog = true;
      else throw std::runtime_error("unknown argument " + arg);
    }
    if (results.empty() == spool.empty()) throw std::runtime_error("give one of --results and --spool");
    // Under mpirun every rank runs this; only rank 0 records, as in `epalm train`.
    if (const char* rank = std::getenv("OMPI_COMM_WORLD_RANK")) options.rank = std::atoi(rank);
    const Params base = config.empty() ? Params{} : read_ini(config);
    const auto cell = sweep_cell_from_environment();
    for (int r = 0; r < runs; ++r) {
      RunStart start;
      start.experiment = experiment;
      start.params = base;
      if (base.empty()) start.params = {{"seed", std::to_string(r)}, {"writer-pid", std::to_string(getpid())}};
      if (cell) {
        if (!cell->experiment.empty()) start.experiment = cell->experiment;
        start.sweep = cell->sweep;
        start.cell_index = cell->cell_index;
      }
      start.provenance = collect_provenance({argv, argv + argc}, 1);
      auto recorder = spool.empty() ? RunRecorder::for_run(results, start, options)
                                    : RunRecorder::to_spool(spool, start, options);
      std::cout << recorder.run_id() << std::endl;
      for (int s = 0; s < steps; ++s) {
        Values values;
        for (int k = 0; k < keys; ++k) values["metric_" + std::to_string(k)] = std::sin(0.1 * s + k) + r;
        values["loss"] = 1.0 / (1.0 + s) + r;
        recorder.log_metrics(s, values);
        // A retried batch: the same steps again must not add rows.
        if (relog && s % 7 == 0) {
          recorder.flush();
          recorder.log_metrics(s, values);
        }
        if (s == steps / 2 && matches(base, hang_if) && first_time(hang_first, "hang-" + config_hash(base))) {
          recorder.flush();
          std::cout << "hanging" << std::endl;
          for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
        }
      }
      recorder.log_scores("val", {{"accuracy", 0.5 + 0.01 * r}, {"cider", 1.0 + r}});
      const auto artifact = std::filesystem::temp_directory_path() / ("store-writer-" + recorder.run_id() + ".bin");
      std::ofstream(artifact) << "checkpoint of " << recorder.run_id();
      recorder.add_artifact("checkpoint", artifact.string());
      std::filesystem::remove(artifact);
      bool fail = matches(base, fail_if);
      if (!fail_first.empty() && first_time(fail_first, "fail-" + config_hash(base))) fail = true;
      if (fail) {
        recorder.finish(RunStatus::kFailed, 3, "told to fail");
        return 3;
      }
      recorder.finish(RunStatus::kFinished, 0);
    }
  } catch (const std::exception& e) {
    std::cerr << "store_writer: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
