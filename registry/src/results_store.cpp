#include "epalm/registry/results_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>

#include "epalm/core/error.h"
#include "epalm/core/home.h"
#include "epalm/registry/hashing.h"
#include "epalm/registry/sqlite.h"
#include "epalm/registry/store_integrity.h"
#include "results_schema.h"

namespace epalm::registry {

namespace fs = std::filesystem;

namespace {

std::optional<double> as_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> as_integer(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

// Losses, errors and times are minimised; everything else (accuracy, CIDEr,
// throughput) maximised.
std::string goal_of(const std::string& metric) {
  for (const char* rate : {"per_s", "/s", "throughput", "accuracy", "acc"}) {
    if (metric.find(rate) != std::string::npos) return "max";
  }
  for (const char* word : {"loss", "error", "err", "perplexity", "ppl", "time", "_ms", "_s", "memory", "mem"}) {
    if (metric.find(word) != std::string::npos) return "min";
  }
  return "max";
}

bool writable_mode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return true;
  return (st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) != 0 && access(path.c_str(), W_OK) == 0;
}

// Refuses what SQLite would open anyway but the user did not mean to write:
// a file marked read-only (even for root), a folder that cannot hold the WAL
// files. Never opens the file itself: closing any descriptor of a database
// drops every POSIX lock this process holds on it, those of other
// connections included, and that corrupts it under concurrent writers.
void check_file(const std::string& path, ResultsStore::Access access) {
  const bool exists = fs::exists(path);
  if (access == ResultsStore::Access::kReadOnly && !exists) throw Error(path, "no results database here");
  if (exists) {
    if (!fs::is_regular_file(path)) throw Error(path, "not a file, so not a results database");
  }
  if (access == ResultsStore::Access::kReadWrite) {
    if (exists && !writable_mode(path)) {
      throw Error(path, "the results database is read-only (no write permission); make it writable "
                        "(chmod u+w) or point --results at another file; nothing was changed");
    }
    const auto dir = fs::absolute(path).parent_path();
    if (!exists) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) throw Error(path, "cannot create its folder " + dir.string() + ": " + ec.message());
    }
    if (!writable_mode(dir.string())) {
      throw Error(path, "its folder " + dir.string() + " is read-only; the results database needs to write "
                        "its -wal and -shm files beside it");
    }
  }
}

int pragma_int(Database& db, const std::string& name) {
  Statement s(db, "PRAGMA " + name);
  return s.step() ? static_cast<int>(s.integer(0)) : 0;
}

std::string summary_column(Summary summary) {
  switch (summary) {
    case Summary::kLast: return "last";
    case Summary::kMin: return "min";
    case Summary::kMax: return "max";
    case Summary::kBest: return "best";
  }
  return "best";
}

}  // namespace

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string default_results_path() {
  if (const char* p = std::getenv("EPALM_RESULTS"); p && *p) return p;
  return epalm_home() + "/results.sqlite";
}

std::string to_string(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning: return "running";
    case RunStatus::kFinished: return "finished";
    case RunStatus::kFailed: return "failed";
    case RunStatus::kKilled: return "killed";
    case RunStatus::kStale: return "stale";
  }
  return "failed";
}

RunStatus parse_run_status(const std::string& text) {
  for (auto s : {RunStatus::kRunning, RunStatus::kFinished, RunStatus::kFailed, RunStatus::kKilled, RunStatus::kStale}) {
    if (to_string(s) == text) return s;
  }
  throw UsageError("status", "unknown run status '" + text + "' (running, finished, failed, killed, stale)");
}

Summary parse_summary(const std::string& text) {
  if (text == "last") return Summary::kLast;
  if (text == "min") return Summary::kMin;
  if (text == "max") return Summary::kMax;
  if (text == "best") return Summary::kBest;
  throw UsageError("summary", "unknown summary '" + text + "' (last, min, max, best)");
}

std::string new_run_id() {
  thread_local std::mt19937_64 random(std::random_device{}() ^
                                      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const std::uint64_t a = random(), b = random();
  char text[64];
  std::snprintf(text, sizeof text, "%08llx-%04llx-7%03llx-%04llx-%012llx",
                static_cast<unsigned long long>((ms >> 16) & 0xffffffffULL), static_cast<unsigned long long>(ms & 0xffff),
                static_cast<unsigned long long>(a & 0xfff), static_cast<unsigned long long>(0x8000 | ((a >> 12) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return text;
}

// --- opening and migrating ------------------------------------------------------------

ResultsStore::ResultsStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
ResultsStore::ResultsStore(ResultsStore&&) noexcept = default;
ResultsStore& ResultsStore::operator=(ResultsStore&&) noexcept = default;
ResultsStore::~ResultsStore() = default;

const std::string& ResultsStore::path() const { return db_->path(); }

ResultsStore ResultsStore::open(const std::string& path, Access access) {
  check_file(path, access);
  std::unique_ptr<Database> db;
  int version = 0;
  try {
    db = std::make_unique<Database>(path, access == Access::kReadOnly ? Database::Mode::kReadOnly
                                                                      : Database::Mode::kReadWrite);
    // A damaged file is refused before anything reads or writes it: results
    // from it could be silently wrong, and writing spreads the damage.
    require_sound(*db);
    const int application = pragma_int(*db, "application_id");
    version = pragma_int(*db, "user_version");
    if (application != 0 && application != kResultsApplicationId) {
      throw Error(path, "not an epalm results database (application_id " + std::to_string(application) + ")");
    }
    if (application == 0 && version == 0) {
      Statement tables(*db, "SELECT count(*) FROM sqlite_schema");
      if (tables.step() && tables.integer(0) > 0) {
        throw Error(path, "an SQLite database of another application (it has tables but no epalm schema "
                          "version); nothing was changed");
      }
    }
  } catch (const SqliteError& e) {
    if ((e.code() & 0xff) == SQLITE_NOTADB) {
      throw Error(path, "not an SQLite database (corrupt, or another kind of file); nothing was changed");
    }
    throw Error(path, "cannot read it as a results database: " + e.reason());
  }
  if (version > kResultsSchemaVersion) {
    throw Error(path, "its schema version " + std::to_string(version) + " is newer than this epalm build's (" +
                          std::to_string(kResultsSchemaVersion) + "); use a newer epalm; nothing was changed");
  }
  if (version < kResultsSchemaVersion) {
    if (access == Access::kReadOnly) {
      throw Error(path, "its schema version " + std::to_string(version) + " is older than this build's (" +
                            std::to_string(kResultsSchemaVersion) + "); open it once read-write to migrate it");
    }
    // WAL is a property of the file: set once, outside any transaction.
    db->execute("PRAGMA journal_mode = WAL");
    db->write_exclusive([&] {
      // Another process may have migrated while we waited for the lock.
      const int current = pragma_int(*db, "user_version");
      if (current > kResultsSchemaVersion) throw Error(path, "migrated to a newer schema by another epalm meanwhile");
      const auto& steps = results_migrations();
      for (int step = current; step < kResultsSchemaVersion; ++step) db->execute(steps[static_cast<size_t>(step)]);
      db->execute("PRAGMA application_id = " + std::to_string(kResultsApplicationId));
      db->execute("PRAGMA user_version = " + std::to_string(kResultsSchemaVersion));
    });
  }
  return ResultsStore(std::move(db));
}

// --- writing ------------------------------------------------------------------------

namespace {

std::int64_t experiment_id(Database& db, const std::string& name, const std::string& description) {
  Statement insert(db, "INSERT INTO experiments(name, description, created) VALUES (?, ?, ?) "
                       "ON CONFLICT(name) DO NOTHING");
  insert.bind(1, name).bind(2, description).bind(3, now_seconds()).run();
  Statement select(db, "SELECT id FROM experiments WHERE name = ?");
  select.bind(1, name);
  if (!select.step()) throw Error(db.path(), "experiment '" + name + "' vanished");
  return select.integer(0);
}

}  // namespace

std::int64_t ResultsStore::ensure_experiment(const std::string& name, const std::string& description) {
  std::int64_t id = 0;
  db_->write([&] { id = experiment_id(*db_, name, description); });
  return id;
}

void ResultsStore::start_run(const RunStart& start) {
  if (start.run_id.empty()) throw Error(path(), "a run needs an id");
  const auto hash = config_hash(start.params);
  const auto config_json = canonical_config_json(start.params);
  std::optional<std::int64_t> seed;
  if (auto it = start.params.find("seed"); it != start.params.end()) seed = as_integer(it->second);
  const auto& p = start.provenance;
  db_->write([&] {
    const auto experiment = experiment_id(*db_, start.experiment, "");
    std::optional<std::int64_t> sweep_id;
    if (start.sweep) {
      Statement s(*db_, "SELECT id FROM sweeps WHERE name = ?");
      s.bind(1, *start.sweep);
      if (s.step()) sweep_id = s.integer(0);
    }
    Statement run(*db_,
                  "INSERT INTO runs(id, experiment_id, sweep_id, cell_index, config_hash, config_json, seed, status, "
                  "started, heartbeat, host, world_size, git_commit, git_dirty, command_line) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING");
    run.bind(1, start.run_id).bind(2, experiment).bind(3, sweep_id).bind(4, start.cell_index).bind(5, hash);
    run.bind(6, config_json).bind(7, seed).bind(8, start.started).bind(9, start.started).bind(10, p.host);
    run.bind(11, p.world_size).bind(12, p.git_commit).bind(13, p.git_dirty ? 1 : 0).bind(14, p.command_line).run();

    Statement param(*db_, "INSERT INTO params(run_id, key, value_text, value_num) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT(run_id, key) DO UPDATE SET value_text = excluded.value_text, "
                          "value_num = excluded.value_num");
    for (const auto& [key, value] : start.params) {
      param.bind(1, start.run_id).bind(2, key).bind(3, value).bind(4, as_number(value)).run();
    }
    Statement prov(*db_, "INSERT INTO provenance(run_id, key, value) VALUES (?, ?, ?) "
                         "ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value");
    auto put = [&](const std::string& key, const std::string& value) {
      prov.bind(1, start.run_id).bind(2, key).bind(3, value).run();
    };
    if (p.git_dirty) put("git_diff", p.git_diff);
    if (start.sweep) put("sweep", *start.sweep);
    if (start.cell_index) put("cell_index", std::to_string(*start.cell_index));
    for (const auto& [key, value] : p.extra) put(key, value);
    if (sweep_id && start.cell_index) {
      Statement cell(*db_, "UPDATE sweep_cells SET run_id = ? WHERE sweep_id = ? AND cell_index = ?");
      cell.bind(1, start.run_id).bind(2, *sweep_id).bind(3, *start.cell_index).run();
    }
  });
}

void ResultsStore::append_metrics(const std::string& run_id, const std::vector<MetricPoint>& points) {
  if (points.empty()) return;
  db_->write([&] {
    Statement key_insert(*db_, "INSERT INTO metric_keys(name, goal) VALUES (?, ?) ON CONFLICT(name) DO NOTHING");
    Statement key_select(*db_, "SELECT id, goal FROM metric_keys WHERE name = ?");
    std::map<std::string, std::pair<std::int64_t, std::string>> keys;  // resolved inside this transaction
    Statement insert(*db_, "INSERT INTO metrics(run_id, key_id, step, value, wall) VALUES (?, ?, ?, ?, ?) "
                           "ON CONFLICT(run_id, key_id, step) DO UPDATE SET value = excluded.value, wall = excluded.wall");
    for (const auto& point : points) {
      auto it = keys.find(point.key);
      if (it == keys.end()) {
        key_insert.bind(1, point.key).bind(2, goal_of(point.key)).run();
        key_select.bind(1, point.key);
        if (!key_select.step()) throw Error(path(), "metric key '" + point.key + "' vanished");
        it = keys.emplace(point.key, std::make_pair(key_select.integer(0), key_select.text(1))).first;
        key_select.reset();
      }
      insert.bind(1, run_id).bind(2, it->second.first).bind(3, point.step).bind(4, point.value).bind(5, point.wall);
      insert.run();
    }
    // Summaries from the history itself, so they stay exact under re-logged steps.
    Statement summary(*db_, R"sql(
INSERT INTO run_summary(run_id, key_id, last, last_step, min, max, best, best_step, n)
SELECT ?1, ?2,
  (SELECT value FROM metrics WHERE run_id = ?1 AND key_id = ?2 ORDER BY step DESC LIMIT 1),
  max(step), min(value), max(value),
  CASE WHEN ?3 = 'max' THEN max(value) ELSE min(value) END,
  (SELECT step FROM metrics WHERE run_id = ?1 AND key_id = ?2
     ORDER BY CASE WHEN ?3 = 'max' THEN -value ELSE value END, step LIMIT 1),
  count(*)
FROM metrics WHERE run_id = ?1 AND key_id = ?2
ON CONFLICT(run_id, key_id) DO UPDATE SET last = excluded.last, last_step = excluded.last_step,
  min = excluded.min, max = excluded.max, best = excluded.best, best_step = excluded.best_step, n = excluded.n
)sql");
    for (const auto& [name, key] : keys) summary.bind(1, run_id).bind(2, key.first).bind(3, key.second).run();
    // Metrics are a sign of life too: a run killed between heartbeats ends,
    // when reaped as stale, at its last metric rather than at its last beat.
    double last_wall = 0;
    for (const auto& point : points) last_wall = std::max(last_wall, point.wall);
    Statement alive(*db_, "UPDATE runs SET heartbeat = max(heartbeat, ?1) WHERE id = ?2 AND status = 'running'");
    alive.bind(1, last_wall).bind(2, run_id).run();
  });
}

void ResultsStore::heartbeat(const std::string& run_id, double time) {
  db_->write([&] {
    // A run reaped as stale that beats again was only slow: it is running.
    Statement s(*db_, "UPDATE runs SET heartbeat = max(heartbeat, ?1), "
                      "status = CASE WHEN status = 'stale' AND ?1 > heartbeat THEN 'running' ELSE status END, "
                      "ended = CASE WHEN status = 'stale' AND ?1 > heartbeat THEN NULL ELSE ended END WHERE id = ?2");
    s.bind(1, time).bind(2, run_id).run();
  });
}

void ResultsStore::record_scores(const std::string& run_id, const std::string& split, const Values& scores,
                                 double time) {
  db_->write([&] {
    Statement s(*db_, "INSERT INTO scores(run_id, split, metric, value, recorded) VALUES (?, ?, ?, ?, ?) "
                      "ON CONFLICT(run_id, split, metric) DO UPDATE SET value = excluded.value, "
                      "recorded = excluded.recorded");
    for (const auto& [metric, value] : scores) s.bind(1, run_id).bind(2, split).bind(3, metric).bind(4, value).bind(5, time).run();
  });
}

void ResultsStore::record_artifact(const std::string& run_id, const Artifact& a) {
  db_->write([&] {
    Statement s(*db_, "INSERT INTO artifacts(run_id, kind, path, bytes, sha256, created) VALUES (?, ?, ?, ?, ?, ?) "
                      "ON CONFLICT(run_id, kind, path) DO UPDATE SET bytes = excluded.bytes, "
                      "sha256 = excluded.sha256, created = excluded.created");
    s.bind(1, run_id).bind(2, a.kind).bind(3, a.path).bind(4, a.bytes).bind(5, a.sha256).bind(6, a.created).run();
  });
}

void ResultsStore::finish_run(const std::string& run_id, RunStatus status, std::optional<int> exit_code,
                              const std::string& error, double ended) {
  db_->write([&] {
    Statement s(*db_, "UPDATE runs SET status = ?, exit_code = ?, error = ?, ended = ?, "
                      "heartbeat = max(heartbeat, ?) WHERE id = ?");
    s.bind(1, to_string(status));
    if (exit_code) s.bind(2, *exit_code);
    else s.bind_null(2);
    s.bind(3, error).bind(4, ended).bind(5, ended).bind(6, run_id).run();
  });
}

int ResultsStore::reap_stale(double grace_s) {
  int reaped = 0;
  db_->write([&] {
    Statement s(*db_, "UPDATE runs SET status = 'stale', ended = heartbeat, "
                      "error = 'no heartbeat since ' || datetime(heartbeat, 'unixepoch') "
                      "WHERE status = 'running' AND heartbeat < ?");
    s.bind(1, now_seconds() - grace_s).run();
    reaped = static_cast<int>(db_->changes());
  });
  return reaped;
}

// --- reading ------------------------------------------------------------------------

const char* const kRunRowColumns =
    "r.id, e.name, s.name, r.cell_index, r.status, r.started, r.ended, r.heartbeat, r.host, r.seed, r.config_hash, "
    "r.exit_code, r.error";
const char* const kRunRowFrom =
    " FROM runs r JOIN experiments e ON e.id = r.experiment_id LEFT JOIN sweeps s ON s.id = r.sweep_id";

RunRow read_run_row(const Statement& s) {
  RunRow r;
  r.id = s.text(0);
  r.experiment = s.text(1);
  r.sweep = s.optional_text(2);
  r.cell_index = s.optional_integer(3);
  r.status = s.text(4);
  r.started = s.real(5);
  r.ended = s.optional_real(6);
  r.heartbeat = s.real(7);
  r.host = s.text(8);
  r.seed = s.optional_integer(9);
  r.config_hash = s.text(10);
  if (!s.is_null(11)) r.exit_code = static_cast<int>(s.integer(11));
  r.error = s.text(12);
  return r;
}

namespace {

const std::string kRunColumns = std::string("SELECT ") + kRunRowColumns + kRunRowFrom + " ";

}  // namespace

std::vector<RunRow> ResultsStore::list_runs(const RunFilter& f) const {
  std::string sql = std::string(kRunColumns) + "WHERE 1";
  std::vector<std::string> binds;
  if (f.experiment) { sql += " AND e.name = ?"; binds.push_back(*f.experiment); }
  if (f.sweep) { sql += " AND s.name = ?"; binds.push_back(*f.sweep); }
  if (f.status) { sql += " AND r.status = ?"; binds.push_back(*f.status); }
  std::vector<std::pair<size_t, double>> numbers;  // bind position -> numeric value
  for (const auto& [key, value] : f.params) {
    if (auto n = as_number(value)) {
      sql += " AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.key = ? AND p.value_num = ?)";
      binds.push_back(key);
      binds.push_back(value);
      numbers.emplace_back(binds.size(), *n);
    } else {
      sql += " AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.key = ? AND p.value_text = ?)";
      binds.push_back(key);
      binds.push_back(value);
    }
  }
  if (f.tag) {
    const auto eq = f.tag->find('=');
    if (eq == std::string::npos) {
      sql += " AND EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.key = ?)";
      binds.push_back(*f.tag);
    } else {
      sql += " AND EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.key = ? AND t.value = ?)";
      binds.push_back(f.tag->substr(0, eq));
      binds.push_back(f.tag->substr(eq + 1));
    }
  }
  sql += " ORDER BY r.started DESC, r.id DESC";
  if (f.limit > 0) sql += " LIMIT " + std::to_string(f.limit);
  Statement s(*db_, sql);
  for (size_t i = 0; i < binds.size(); ++i) s.bind(static_cast<int>(i + 1), binds[i]);
  for (const auto& [position, value] : numbers) s.bind(static_cast<int>(position), value);
  std::vector<RunRow> rows;
  while (s.step()) rows.push_back(read_run_row(s));
  return rows;
}

std::string ResultsStore::resolve_run_id(const std::string& id_or_prefix) const {
  if (id_or_prefix.empty()) throw UsageError("run", "give a run id (or a unique prefix of one)");
  Statement s(*db_, "SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT 2");
  s.bind(1, id_or_prefix).bind(2, id_or_prefix + "\xff");
  std::vector<std::string> found;
  while (s.step()) found.push_back(s.text(0));
  if (found.empty()) throw Error(path(), "no run '" + id_or_prefix + "'");
  if (found.size() > 1) throw Error(path(), "run prefix '" + id_or_prefix + "' is ambiguous (" + found[0] + ", " +
                                                 found[1] + ", ...)");
  return found[0];
}

RunDetails ResultsStore::show_run(const std::string& run_id) const {
  RunDetails d;
  {
    Statement s(*db_, std::string(kRunColumns) + "WHERE r.id = ?");
    s.bind(1, run_id);
    if (!s.step()) throw Error(path(), "no run '" + run_id + "'");
    d.run = read_run_row(s);
  }
  {
    Statement s(*db_, "SELECT key, value_text FROM params WHERE run_id = ? ORDER BY key");
    s.bind(1, run_id);
    while (s.step()) d.params[s.text(0)] = s.text(1);
  }
  {
    Statement s(*db_, "SELECT git_commit, git_dirty, world_size, command_line, host FROM runs WHERE id = ?");
    s.bind(1, run_id);
    if (s.step()) {
      d.provenance["host"] = s.text(4);
      d.provenance["git_commit"] = s.text(0);
      d.provenance["git_dirty"] = s.integer(1) ? "true" : "false";
      d.provenance["world_size"] = std::to_string(s.integer(2));
      d.provenance["command_line"] = s.text(3);
    }
    Statement p(*db_, "SELECT key, value FROM provenance WHERE run_id = ? ORDER BY key");
    p.bind(1, run_id);
    while (p.step()) d.provenance[p.text(0)] = p.text(1);
  }
  {
    Statement s(*db_, "SELECT k.name, r.last, r.last_step, r.min, r.max, r.best, r.best_step, r.n, k.goal "
                      "FROM run_summary r JOIN metric_keys k ON k.id = r.key_id WHERE r.run_id = ? ORDER BY k.name");
    s.bind(1, run_id);
    while (s.step()) {
      RunSummaryRow r;
      r.key = s.text(0);
      r.last = s.real(1);
      r.last_step = s.integer(2);
      r.min = s.real(3);
      r.max = s.real(4);
      r.best = s.real(5);
      r.best_step = s.integer(6);
      r.n = s.integer(7);
      r.goal = s.text(8);
      d.summaries.push_back(r);
    }
  }
  {
    Statement s(*db_, "SELECT split, metric, value FROM scores WHERE run_id = ? ORDER BY split, metric");
    s.bind(1, run_id);
    while (s.step()) d.scores.emplace_back(s.text(0), s.text(1), s.real(2));
  }
  {
    Statement s(*db_, "SELECT kind, path, bytes, sha256, created FROM artifacts WHERE run_id = ? ORDER BY created");
    s.bind(1, run_id);
    while (s.step()) d.artifacts.push_back({s.text(0), s.text(1), s.integer(2), s.text(3), s.real(4)});
  }
  {
    Statement s(*db_, "SELECT key, value FROM tags WHERE run_id = ? ORDER BY key");
    s.bind(1, run_id);
    while (s.step()) d.tags[s.text(0)] = s.text(1);
  }
  {
    Statement s(*db_, "SELECT created, text FROM notes WHERE run_id = ? ORDER BY created, id");
    s.bind(1, run_id);
    while (s.step()) d.notes.emplace_back(s.real(0), s.text(1));
  }
  return d;
}

void ResultsStore::tag_run(const std::string& run_id, const std::string& key, const std::string& value) {
  if (key.empty()) throw UsageError("tag", "a tag needs a key (key or key=value)");
  db_->write([&] {
    Statement s(*db_, "INSERT INTO tags(run_id, key, value) VALUES (?, ?, ?) "
                      "ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value");
    s.bind(1, run_id).bind(2, key).bind(3, value).run();
  });
}

void ResultsStore::note_run(const std::string& run_id, const std::string& text) {
  if (text.empty()) throw UsageError("note", "the note is empty");
  const char* user = std::getenv("USER");
  db_->write([&] {
    Statement s(*db_, "INSERT INTO notes(run_id, created, author, text) VALUES (?, ?, ?, ?)");
    s.bind(1, run_id).bind(2, now_seconds()).bind(3, user ? user : "").bind(4, text).run();
  });
}

std::vector<ComparisonRow> ResultsStore::compare(const std::string& experiment, const std::string& param,
                                                 const std::string& metric, Summary summary) const {
  const auto column = summary_column(summary);
  Statement s(*db_, "SELECT p.value_text, count(*), avg(m." + column + "), min(m." + column + "), max(m." + column +
                        ") FROM runs r "
                        "JOIN experiments e ON e.id = r.experiment_id AND e.name = ?1 "
                        "JOIN params p ON p.run_id = r.id AND p.key = ?2 "
                        "JOIN run_summary m ON m.run_id = r.id "
                        "AND m.key_id = (SELECT id FROM metric_keys WHERE name = ?3) "
                        "WHERE r.status = 'finished' GROUP BY p.value_text ORDER BY min(p.value_num), p.value_text");
  s.bind(1, experiment).bind(2, param).bind(3, metric);
  std::vector<ComparisonRow> rows;
  while (s.step()) rows.push_back({s.text(0), s.integer(1), s.real(2), s.real(3), s.real(4)});
  return rows;
}

}  // namespace epalm::registry
