// What `epalm train`/`epalm eval` use to record one run: into the results
// database directly, or into a spool file (JSON lines) that `epalm results
// ingest` loads later where the database cannot live on shared storage. Same
// API either way. Only rank 0 records: on other ranks every call is a no-op.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "epalm/registry/results_store.h"

namespace epalm::registry {

struct RecorderOptions {
  int rank = 0;                   // only rank 0 writes
  size_t flush_rows = 1000;       // buffered metric rows before a flush
  double flush_seconds = 10;      // ... or this long since the last flush
  double heartbeat_seconds = 30;  // a background thread beats this often (0: only heartbeat() calls)
};

// The sweep cell a run executes, as `epalm sweep run` tells its child
// (EPALM_SWEEP, EPALM_SWEEP_CELL, EPALM_EXPERIMENT); nullopt outside a sweep.
// A fused job trains several cells: EPALM_SWEEP_CELL lists them in the
// order of its variants, and `variant` picks one.
struct SweepCellRef {
  std::string sweep;
  std::int64_t cell_index = 0;
  std::string experiment;  // the sweep's registered experiment
};
std::optional<SweepCellRef> sweep_cell_from_environment(std::size_t variant = 0);

class RunRecorder {
 public:
  // Records into the database at `db_path` (opened read-write, migrated).
  static RunRecorder to_store(const std::string& db_path, RunStart start, RecorderOptions options = {});
  // Appends to the spool file at `spool_path` (created; one JSON object a line).
  static RunRecorder to_spool(const std::string& spool_path, RunStart start, RecorderOptions options = {});
  // A recorder that records nothing (ranks other than 0).
  static RunRecorder disabled();
  // What `epalm train`/`eval` use: the spool file named by EPALM_SPOOL when
  // it is set (a sweep cell running away from the database's host), else
  // the database at `db_path`.
  static RunRecorder for_run(const std::string& db_path, RunStart start, RecorderOptions options = {});

  RunRecorder(RunRecorder&&) noexcept;
  RunRecorder& operator=(RunRecorder&&) noexcept;
  // Flushes; a run never finished is recorded as failed ("ended without finish").
  ~RunRecorder();

  const std::string& run_id() const;
  bool enabled() const;

  void log_metrics(std::int64_t step, const Values& values);
  void flush();
  void heartbeat();
  void log_scores(const std::string& split, const Values& scores);
  // Hashes the file (SHA-256) and records kind, path, size and hash.
  void add_artifact(const std::string& kind, const std::string& path);
  void finish(RunStatus status, std::optional<int> exit_code = std::nullopt, const std::string& error = "");

  class Sink;

 private:
  RunRecorder(std::unique_ptr<Sink> sink, RunStart start, RecorderOptions options);
  struct State;
  std::unique_ptr<State> state_;
};

struct IngestReport {
  int runs = 0;
  std::int64_t metric_rows = 0;
  bool truncated_tail = false;  // the last line was cut short (a run killed mid-write)
};

// Loads a spool file into the store. Idempotent: loading it again (or a
// longer version of it) changes nothing already there. Throws epalm::Error
// naming file:line for a malformed record.
IngestReport ingest_spool(ResultsStore& store, const std::string& spool_path);

}  // namespace epalm::registry
