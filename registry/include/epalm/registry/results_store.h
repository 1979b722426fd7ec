// The SQLite results store: experiments, sweeps, runs and everything a run
// records. The file is the interface (schema in docs/results-store.md): any
// SQL tool reads it. Writes are short BEGIN IMMEDIATE transactions with retry,
// and every write is idempotent on natural keys, so a retried batch or a
// re-ingested spool never duplicates a row.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "epalm/registry/provenance.h"

namespace epalm::registry {

class Database;

// The schema version this build writes (PRAGMA user_version).
inline constexpr int kResultsSchemaVersion = 1;
// PRAGMA application_id of an epalm results database ("EPAL").
inline constexpr std::int32_t kResultsApplicationId = 0x4550414c;

// $EPALM_RESULTS, else $EPALM_HOME/results.sqlite, else ~/.cache/epalm/results.sqlite.
std::string default_results_path();

enum class RunStatus { kRunning, kFinished, kFailed, kKilled, kStale };
std::string to_string(RunStatus status);
// Throws UsageError naming the accepted values.
RunStatus parse_run_status(const std::string& text);

using Params = std::map<std::string, std::string>;
using Values = std::map<std::string, double>;

double now_seconds();  // Unix time, fractional

struct RunStart {
  std::string run_id;  // new_run_id()
  std::string experiment;
  std::optional<std::string> sweep;  // with cell_index: the sweep cell this run executes
  std::optional<std::int64_t> cell_index;
  Params params;  // the resolved configuration
  Provenance provenance;
  double started = 0;
};

struct MetricPoint {
  std::string key;
  std::int64_t step = 0;
  double value = 0;
  double wall = 0;  // Unix time it was logged
};

struct Artifact {
  std::string kind;  // checkpoint, eval_predictions, config, log, ...
  std::string path;
  std::int64_t bytes = 0;
  std::string sha256;
  double created = 0;
};

struct RunSummaryRow {
  std::string key;
  double last = 0, min = 0, max = 0, best = 0;
  std::int64_t last_step = 0, best_step = 0, n = 0;
  std::string goal;
};

struct RunRow {
  std::string id;
  std::string experiment;
  std::optional<std::string> sweep;
  std::optional<std::int64_t> cell_index;
  std::string status;
  double started = 0;
  std::optional<double> ended;
  double heartbeat = 0;
  std::string host;
  std::optional<std::int64_t> seed;
  std::string config_hash;
  std::optional<int> exit_code;
  std::string error;
};

class Statement;
// A RunRow's columns in the order read_run_row reads them, to follow SELECT
// (the runs table as r, experiments as e, sweeps as s: kRunRowFrom joins them).
extern const char* const kRunRowColumns;
extern const char* const kRunRowFrom;
// The RunRow in a statement's first columns (selected as kRunRowColumns).
RunRow read_run_row(const Statement& s);

struct RunDetails {
  RunRow run;
  Params params;
  std::map<std::string, std::string> provenance;
  std::vector<RunSummaryRow> summaries;
  std::vector<std::tuple<std::string, std::string, double>> scores;  // split, metric, value
  std::vector<Artifact> artifacts;
  std::map<std::string, std::string> tags;
  std::vector<std::pair<double, std::string>> notes;  // time, text
};

struct RunFilter {
  std::optional<std::string> experiment;
  std::optional<std::string> sweep;
  std::optional<std::string> status;
  Params params;  // param key = value text, all must hold
  std::optional<std::string> tag;  // key or key=value
  int limit = 0;  // 0: all
};

// One row of a comparison: a parameter's value and a metric's summary over
// the finished runs that have it.
struct ComparisonRow {
  std::string value;
  std::int64_t runs = 0;
  double mean = 0, min = 0, max = 0;
};

enum class Summary { kLast, kMin, kMax, kBest };
Summary parse_summary(const std::string& text);  // last, min, max, best

class ResultsStore {
 public:
  enum class Access { kReadWrite, kReadOnly };
  // Opens the database, creating it and migrating it to this build's schema in
  // read-write mode. Throws epalm::Error naming the file when it is not an
  // SQLite database (or is corrupt), belongs to another application, has a
  // schema newer than this build's, or is read-only while writing is asked for.
  static ResultsStore open(const std::string& path, Access access = Access::kReadWrite);
  ResultsStore(ResultsStore&&) noexcept;
  ResultsStore& operator=(ResultsStore&&) noexcept;
  ~ResultsStore();

  const std::string& path() const;
  Database& database() const { return *db_; }

  // Idempotent: creates the experiment unless it exists; returns its id.
  std::int64_t ensure_experiment(const std::string& name, const std::string& description = "");

  // --- what a run records (RunRecorder and `results ingest` call these) ---------
  void start_run(const RunStart& start);
  // Upserts the points (a repeated (run, key, step) replaces its value) and
  // recomputes the touched summaries, in one transaction.
  void append_metrics(const std::string& run_id, const std::vector<MetricPoint>& points);
  void heartbeat(const std::string& run_id, double time);
  void record_scores(const std::string& run_id, const std::string& split, const Values& scores, double time);
  void record_artifact(const std::string& run_id, const Artifact& artifact);
  void finish_run(const std::string& run_id, RunStatus status, std::optional<int> exit_code, const std::string& error,
                  double ended);

  // Runs still `running` whose heartbeat is older than grace_s become `stale`.
  // Returns how many.
  int reap_stale(double grace_s);

  // --- reading and annotating -----------------------------------------------------
  std::vector<RunRow> list_runs(const RunFilter& filter) const;
  // A run by its id or a unique prefix of it; throws epalm::Error otherwise.
  std::string resolve_run_id(const std::string& id_or_prefix) const;
  RunDetails show_run(const std::string& run_id) const;
  void tag_run(const std::string& run_id, const std::string& key, const std::string& value);
  void note_run(const std::string& run_id, const std::string& text);
  std::vector<ComparisonRow> compare(const std::string& experiment, const std::string& param,
                                     const std::string& metric, Summary summary) const;

 private:
  explicit ResultsStore(std::unique_ptr<Database> db);
  std::unique_ptr<Database> db_;
};

// A time-sortable UUIDv7 text.
std::string new_run_id();

}  // namespace epalm::registry
