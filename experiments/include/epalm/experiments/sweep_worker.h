// Runs a sweep's cells: claims them from the results store (one at a time,
// or a group a fused job trains) and runs each claim as a child process (its
// command, optionally under a launcher such as mpirun), renewing the cells'
// leases while the child lives.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "epalm/registry/sweep.h"

namespace epalm::experiments {

// A cell starting or ending in this worker, for progress displays.
struct CellEvent {
  std::int64_t index = 0;
  int attempt = 0;
  bool ended = false;  // false: starting
  bool ok = false;     // when ended
  std::string note;    // when ended
  double seconds = 0;  // when ended: how long it ran (a fused job's cells: each its share of the job)
  std::string log;     // the attempt's output (its processes' stdout and stderr)
};

struct SweepWorkerOptions {
  std::string results;    // the database
  std::string epalm;      // what {epalm} stands for (this executable)
  int workers = 1;        // cells run at the same time by this process
  int max_cells = 0;      // stop after claiming this many (0: until none is left)
  bool force = false;     // rerun cells whose configuration already finished
  // Cells trained together as one fused job (`epalm train --fuse`): up to
  // this many pending cells that differ only in what trains
  // (registry::fusion_conflict) share one process, its frozen models, data
  // and encoder passes; each stays its own cell and run. 1: one cell a job.
  int fuse = 1;
  std::function<void(const CellEvent&)> on_cell;  // called from the worker threads, one at a time
};

struct SweepWorkerReport {
  int done = 0;
  int failed = 0;
};

// The folder holding a sweep's cell folders.
std::string sweep_output_root(const registry::SweepSpec& spec, const std::string& results);
// A cell's folder, <root>/<index>-<first 8 hex digits of its configuration hash>.
std::string cell_directory(const registry::SweepSpec& spec, const std::string& results, std::int64_t index,
                           const registry::Config& config);
// The output of a cell's attempt k: <cell folder>/attempt-<k>.log.
std::string attempt_log(const std::string& cell_directory, int attempt);

SweepWorkerReport run_sweep_cells(const registry::SweepSpec& spec, std::int64_t sweep_id,
                                  const SweepWorkerOptions& options);

}  // namespace epalm::experiments
