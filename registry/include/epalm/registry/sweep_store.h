// A sweep's plan and progress in the results store: its cells and their
// states (pending -> running -> done | failed). Workers claim cells with one
// BEGIN IMMEDIATE transaction each, so every cell runs exactly once however
// many workers (local or SLURM array tasks) share the database; a worker that
// dies stops renewing its lease and its cell is failed, then retried.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "epalm/registry/results_store.h"
#include "epalm/registry/sweep.h"

namespace epalm::registry {

// Records the sweep and its cells; planning the same spec again is a no-op.
// Throws epalm::Error when a sweep of that name was planned from another spec.
std::int64_t plan_sweep(ResultsStore& store, const SweepSpec& spec, const std::vector<SweepCell>& cells);

// The stored spec of a planned sweep (for `sweep resume <name>`); throws
// epalm::Error naming the known sweeps when there is none by that name.
SweepSpec load_sweep(ResultsStore& store, const std::string& name);

struct ClaimedCell {
  std::int64_t sweep_id = 0;
  std::int64_t index = 0;
  int attempt = 0;
  Config config;
};

// Claims the next runnable cell for `owner`: pending, or failed with attempts
// left. A cell whose configuration already has a finished run (in any sweep)
// is marked done without running, unless `force`. nullopt when none is left.
// With `accept`, only a cell whose configuration it accepts is claimed (the
// cells a fused job can train with one it holds).
std::optional<ClaimedCell> claim_cell(ResultsStore& store, std::int64_t sweep_id, const std::string& owner,
                                      double lease_seconds, bool force,
                                      const std::function<bool(const Config&)>& accept = {});
// Extends the lease; false if the cell is no longer this owner's.
bool renew_lease(ResultsStore& store, std::int64_t sweep_id, std::int64_t index, const std::string& owner,
                 double lease_seconds);
// Marks the claimed cell done or failed (with a note); the cell's run, if it
// still says running, is closed as failed/killed.
void complete_cell(ResultsStore& store, std::int64_t sweep_id, std::int64_t index, const std::string& owner, bool ok,
                   const std::string& note, RunStatus dead_run_status = RunStatus::kFailed);
// The status of the run a cell's latest attempt recorded; nullopt when it
// recorded none.
std::optional<RunStatus> cell_run_status(ResultsStore& store, std::int64_t sweep_id, std::int64_t index);
// Running cells whose lease ran out (their worker died): failed, and their
// runs marked stale. Returns how many.
int expire_leases(ResultsStore& store, std::int64_t sweep_id);

// When the earliest lease of the sweep's running cells ends (Unix time);
// nullopt when no cell runs. A worker with nothing left to claim waits for it:
// the cell either completes or, its worker dead, is expired and retried.
std::optional<double> next_lease_end(ResultsStore& store, std::int64_t sweep_id);

struct CellStatus {
  std::int64_t index = 0;
  std::string state;
  int attempts = 0;
  std::string hash;
  std::string axes;  // "decoder=opt-125m seed=0"
  std::optional<std::string> run_id;
  std::optional<std::string> run_status;
  std::string note;
};
std::vector<CellStatus> sweep_status(ResultsStore& store, std::int64_t sweep_id);

}  // namespace epalm::registry
