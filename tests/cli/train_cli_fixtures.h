// What the `epalm train` / `eval` process tests share: the real binary, tiny
// frozen models with their own tokenizer (tests/cli/make_train_fixtures.py)
// and the datasets' fixtures in their real formats (tests/parity/make_data_fixtures.py).
#pragma once

#include <unistd.h>

#include <string>
#include <vector>

#include "epalm/build_config.h"
#include "process.h"

namespace epalm::testing {

inline ProcessResult epalm(std::vector<std::string> args, int timeout = 300) {
  args.insert(args.begin(), EPALM_EXECUTABLE);
  return run_process(args, timeout, {{"EPALM_LOG_LEVEL", "warn"}});
}

inline std::string models(const std::string& name) { return std::string(EPALM_TRAIN_FIXTURES) + "/" + name; }
inline std::string data_root() { return std::string(EPALM_DATA_FIXTURES) + "/root"; }

// A run's configuration file: tiny models, 2 levels into layers [1, 4).
inline std::string config(const TempDir& dir, const std::string& task, const std::string& split,
                          const std::string& extra = "") {
  return dir.write("run.ini", "task = " + task + "\ndata-root = " + data_root() + "\ntrain-split = " + split +
                                  "\ndecoder = " + models("opt") + "\nencoder = " + models("vit") +
                                  "\nlevels = 2\nstart-layer = 1\nend-layer = 4\nprompt-length = 3\n"
                                  "batch-size = 2\nlr = 1e-3\nprompt-lr = 1e-3\nwarmup-steps = 1\n"
                                  "loader-threads = 2\ndevice = cpu\noutput-dir = " +
                                  dir.path() + "/run\nresults = " + dir.path() + "/results.sqlite\n" + extra);
}

// `command` under `mpirun -np 2` (oversubscribed: tests run on small machines).
inline std::vector<std::string> mpirun_prefix(const std::vector<std::string>& command) {
  std::vector<std::string> argv{EPALM_MPIEXEC, "-np", "2", "--oversubscribe", "--bind-to", "none"};
  if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

}  // namespace epalm::testing
