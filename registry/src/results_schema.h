// The results store's schema, as numbered migrations. Step i (1-based) takes
// a database from user_version i-1 to i; docs/results-store.md describes the
// result. Never edit a released step: append a new one.
#pragma once

#include <vector>

namespace epalm::registry {

inline const std::vector<const char*>& results_migrations() {
  static const std::vector<const char*> steps = {
      // 1: the first schema.
      R"sql(
CREATE TABLE experiments (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  created     REAL NOT NULL
);
CREATE TABLE sweeps (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  spec_json     TEXT NOT NULL,
  spec_hash     TEXT NOT NULL,
  max_retries   INTEGER NOT NULL,
  created       REAL NOT NULL
);
CREATE TABLE sweep_cells (
  sweep_id    INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
  cell_index  INTEGER NOT NULL,
  config_hash TEXT NOT NULL,
  seed        INTEGER,
  config_json TEXT NOT NULL,
  axes        TEXT NOT NULL DEFAULT '',
  state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  owner       TEXT,
  lease_until REAL,
  run_id      TEXT,
  note        TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (sweep_id, cell_index),
  UNIQUE (sweep_id, config_hash)
);
CREATE INDEX sweep_cells_by_state ON sweep_cells(sweep_id, state, cell_index);
CREATE TABLE runs (
  id            TEXT PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  sweep_id      INTEGER REFERENCES sweeps(id),
  cell_index    INTEGER,
  config_hash   TEXT NOT NULL,
  config_json   TEXT NOT NULL,
  seed          INTEGER,
  status        TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'killed', 'stale')),
  exit_code     INTEGER,
  error         TEXT NOT NULL DEFAULT '',
  started       REAL NOT NULL,
  ended         REAL,
  heartbeat     REAL NOT NULL,
  host          TEXT NOT NULL DEFAULT '',
  world_size    INTEGER NOT NULL DEFAULT 1,
  git_commit    TEXT NOT NULL DEFAULT '',
  git_dirty     INTEGER NOT NULL DEFAULT 0,
  command_line  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_experiment ON runs(experiment_id, status);
CREATE INDEX runs_by_id_covering ON runs(id, experiment_id, status);
CREATE INDEX runs_by_config ON runs(config_hash, status);
CREATE INDEX runs_by_sweep ON runs(sweep_id, cell_index);
CREATE INDEX runs_by_heartbeat ON runs(status, heartbeat);
CREATE TABLE params (
  run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  value_text TEXT NOT NULL,
  value_num  REAL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_by_text ON params(key, value_text);
CREATE INDEX params_by_number ON params(key, value_num);
CREATE TABLE metric_keys (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  goal TEXT NOT NULL CHECK (goal IN ('min', 'max'))
);
CREATE TABLE metrics (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key_id INTEGER NOT NULL REFERENCES metric_keys(id),
  step   INTEGER NOT NULL,
  value  REAL NOT NULL,
  wall   REAL NOT NULL,
  PRIMARY KEY (run_id, key_id, step)
) WITHOUT ROWID;
CREATE TABLE run_summary (
  run_id    TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key_id    INTEGER NOT NULL REFERENCES metric_keys(id),
  last      REAL NOT NULL,
  last_step INTEGER NOT NULL,
  min       REAL NOT NULL,
  max       REAL NOT NULL,
  best      REAL NOT NULL,
  best_step INTEGER NOT NULL,
  n         INTEGER NOT NULL,
  PRIMARY KEY (run_id, key_id)
) WITHOUT ROWID;
CREATE INDEX run_summary_by_key ON run_summary(key_id, best);
CREATE TABLE scores (
  run_id   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  split    TEXT NOT NULL,
  metric   TEXT NOT NULL,
  value    REAL NOT NULL,
  recorded REAL NOT NULL,
  PRIMARY KEY (run_id, split, metric)
) WITHOUT ROWID;
CREATE TABLE artifacts (
  run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind    TEXT NOT NULL,
  path    TEXT NOT NULL,
  bytes   INTEGER NOT NULL,
  sha256  TEXT NOT NULL,
  created REAL NOT NULL,
  PRIMARY KEY (run_id, kind, path)
) WITHOUT ROWID;
CREATE TABLE provenance (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE tags (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE notes (
  id      INTEGER PRIMARY KEY,
  run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  created REAL NOT NULL,
  author  TEXT NOT NULL DEFAULT '',
  text    TEXT NOT NULL
);
CREATE INDEX notes_by_run ON notes(run_id);
)sql",
  };
  return steps;
}

}  // namespace epalm::registry
