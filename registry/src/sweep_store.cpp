#include "epalm/registry/sweep_store.h"

#include <nlohmann/json.hpp>

#include "epalm/core/error.h"
#include "epalm/registry/sqlite.h"

namespace epalm::registry {

namespace {

std::string axes_text(const Config& axes) {
  std::string out;
  for (const auto& [k, v] : axes) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

}  // namespace

std::int64_t plan_sweep(ResultsStore& store, const SweepSpec& spec, const std::vector<SweepCell>& cells) {
  auto& db = store.database();
  const auto experiment = store.ensure_experiment(spec.experiment, find_experiment(spec.experiment).description);
  std::int64_t sweep_id = 0;
  db.write([&] {
    Statement existing(db, "SELECT id, spec_hash FROM sweeps WHERE name = ?");
    existing.bind(1, spec.name);
    if (existing.step()) {
      if (existing.text(1) != spec.spec_hash) {
        throw Error(spec.source, "sweep '" + spec.name + "' was planned in " + store.path() +
                                     " from a different sweep file; give this one another name (or resume the "
                                     "planned one with `epalm sweep resume " + spec.name + "`)");
      }
      sweep_id = existing.integer(0);
      return;
    }
    Statement insert(db, "INSERT INTO sweeps(name, experiment_id, spec_json, spec_hash, max_retries, created) "
                         "VALUES (?, ?, ?, ?, ?, ?)");
    insert.bind(1, spec.name).bind(2, experiment).bind(3, spec.spec_json).bind(4, spec.spec_hash);
    insert.bind(5, spec.max_retries).bind(6, now_seconds()).run();
    sweep_id = db.last_insert_rowid();
    Statement cell(db, "INSERT INTO sweep_cells(sweep_id, cell_index, config_hash, seed, config_json, axes) "
                       "VALUES (?, ?, ?, ?, ?, ?)");
    for (const auto& c : cells) {
      std::optional<std::int64_t> seed;
      if (auto it = c.config.find("seed"); it != c.config.end()) seed = std::stoll(it->second);
      const nlohmann::json config(c.config);
      cell.bind(1, sweep_id).bind(2, c.index).bind(3, c.hash).bind(4, seed).bind(5, config.dump());
      cell.bind(6, axes_text(c.axes)).run();
    }
  });
  return sweep_id;
}

SweepSpec load_sweep(ResultsStore& store, const std::string& name) {
  Statement s(store.database(), "SELECT spec_json FROM sweeps WHERE name = ?");
  s.bind(1, name);
  if (!s.step()) {
    Statement all(store.database(), "SELECT name FROM sweeps ORDER BY id");
    std::string names;
    while (all.step()) names += (names.empty() ? "" : ", ") + all.text(0);
    throw Error(store.path(), "no sweep '" + name + "' (planned: " + (names.empty() ? "none" : names) + ")");
  }
  auto spec = parse_sweep_json(s.text(0), store.path() + ": sweep '" + name + "'");
  return spec;
}

std::optional<ClaimedCell> claim_cell(ResultsStore& store, std::int64_t sweep_id, const std::string& owner,
                                      double lease_seconds, bool force, const std::function<bool(const Config&)>& accept) {
  auto& db = store.database();
  std::optional<ClaimedCell> claimed;
  db.write([&] {
    claimed.reset();
    // The runnable cells after `after`, in order (one at a time: marking a
    // cell done before changes what comes next).
    Statement next(db, "SELECT c.cell_index, c.config_hash, c.config_json, c.attempts FROM sweep_cells c "
                       "JOIN sweeps s ON s.id = c.sweep_id WHERE c.sweep_id = ? AND c.cell_index > ? AND "
                       "(c.state = 'pending' OR (c.state = 'failed' AND c.attempts <= s.max_retries)) "
                       "ORDER BY c.cell_index LIMIT 1");
    std::int64_t after = -1;
    // A finished run of this configuration: its own settings hash to it (a
    // command recording just the cell's settings), or it ran a cell of
    // another sweep that had this configuration (`epalm train` records every
    // resolved setting, defaults included, so its own hash differs).
    Statement done_before(db, "SELECT id, started FROM runs WHERE config_hash = ?1 AND status = 'finished' "
                              "UNION ALL SELECT r.id, r.started FROM sweep_cells c JOIN runs r ON r.sweep_id = c.sweep_id "
                              "AND r.cell_index = c.cell_index WHERE c.config_hash = ?1 AND r.status = 'finished' "
                              "ORDER BY started LIMIT 1");
    Statement mark_done(db, "UPDATE sweep_cells SET state = 'done', run_id = ?, "
                            "note = 'done before by run ' || ? WHERE sweep_id = ? AND cell_index = ?");
    for (;;) {
      next.bind(1, sweep_id).bind(2, after);
      if (!next.step()) return;
      const auto index = next.integer(0);
      const auto hash = next.text(1);
      const auto config_json = next.text(2);
      const auto attempts = static_cast<int>(next.integer(3));
      next.reset();
      after = index;
      auto config = nlohmann::json::parse(config_json).get<Config>();
      if (accept && !accept(config)) continue;
      if (!force) {
        done_before.bind(1, hash);
        if (done_before.step()) {
          const auto run = done_before.text(0);
          done_before.reset();
          mark_done.bind(1, run).bind(2, run).bind(3, sweep_id).bind(4, index).run();
          continue;
        }
        done_before.reset();
      }
      Statement take(db, "UPDATE sweep_cells SET state = 'running', owner = ?, attempts = attempts + 1, "
                         "lease_until = ?, run_id = NULL WHERE sweep_id = ? AND cell_index = ?");
      take.bind(1, owner).bind(2, now_seconds() + lease_seconds).bind(3, sweep_id).bind(4, index).run();
      ClaimedCell c;
      c.sweep_id = sweep_id;
      c.index = index;
      c.attempt = attempts + 1;
      c.config = std::move(config);
      claimed = c;
      return;
    }
  });
  return claimed;
}

bool renew_lease(ResultsStore& store, std::int64_t sweep_id, std::int64_t index, const std::string& owner,
                 double lease_seconds) {
  bool mine = false;
  store.database().write([&] {
    Statement s(store.database(), "UPDATE sweep_cells SET lease_until = ? WHERE sweep_id = ? AND cell_index = ? "
                                  "AND owner = ? AND state = 'running'");
    s.bind(1, now_seconds() + lease_seconds).bind(2, sweep_id).bind(3, index).bind(4, owner).run();
    mine = store.database().changes() == 1;
  });
  return mine;
}

void complete_cell(ResultsStore& store, std::int64_t sweep_id, std::int64_t index, const std::string& owner, bool ok,
                   const std::string& note, RunStatus dead_run_status) {
  auto& db = store.database();
  db.write([&] {
    // Compare-and-set: only the owner of the claim finishes it.
    Statement s(db, "UPDATE sweep_cells SET state = ?, lease_until = NULL, note = ? "
                    "WHERE sweep_id = ? AND cell_index = ? AND owner = ? AND state = 'running'");
    s.bind(1, ok ? "done" : "failed").bind(2, note).bind(3, sweep_id).bind(4, index).bind(5, owner).run();
    if (!ok) {
      Statement run(db, "UPDATE runs SET status = ?, ended = ?, error = ? WHERE status IN ('running', 'stale') AND "
                        "id = (SELECT run_id FROM sweep_cells WHERE sweep_id = ? AND cell_index = ?)");
      run.bind(1, to_string(dead_run_status)).bind(2, now_seconds()).bind(3, note).bind(4, sweep_id).bind(5, index).run();
    }
  });
}

std::optional<RunStatus> cell_run_status(ResultsStore& store, std::int64_t sweep_id, std::int64_t index) {
  Statement s(store.database(), "SELECT r.status FROM sweep_cells c JOIN runs r ON r.id = c.run_id "
                                "WHERE c.sweep_id = ? AND c.cell_index = ?");
  s.bind(1, sweep_id).bind(2, index);
  if (!s.step()) return std::nullopt;
  return parse_run_status(s.text(0));
}

int expire_leases(ResultsStore& store, std::int64_t sweep_id) {
  auto& db = store.database();
  int expired = 0;
  db.write([&] {
    const double now = now_seconds();
    // The run finished but its worker died before saying so: the cell is done.
    Statement finished(db, "UPDATE sweep_cells SET state = 'done', note = 'finished; its worker stopped before "
                           "closing the cell' WHERE sweep_id = ? AND state = 'running' AND lease_until < ? AND "
                           "run_id IN (SELECT id FROM runs WHERE status = 'finished')");
    finished.bind(1, sweep_id).bind(2, now).run();
    Statement runs(db, "UPDATE runs SET status = 'stale', ended = heartbeat, error = 'its sweep worker stopped' "
                       "WHERE status = 'running' AND id IN (SELECT run_id FROM sweep_cells WHERE sweep_id = ? AND "
                       "state = 'running' AND lease_until < ?)");
    runs.bind(1, sweep_id).bind(2, now).run();
    Statement cells(db, "UPDATE sweep_cells SET state = 'failed', note = 'worker ' || owner || "
                        "' stopped renewing its lease' WHERE sweep_id = ? AND state = 'running' AND lease_until < ?");
    cells.bind(1, sweep_id).bind(2, now).run();
    expired = static_cast<int>(db.changes());
  });
  return expired;
}

std::optional<double> next_lease_end(ResultsStore& store, std::int64_t sweep_id) {
  Statement s(store.database(), "SELECT min(lease_until) FROM sweep_cells WHERE sweep_id = ? AND state = 'running'");
  s.bind(1, sweep_id);
  if (!s.step() || s.is_null(0)) return std::nullopt;
  return s.real(0);
}

std::vector<CellStatus> sweep_status(ResultsStore& store, std::int64_t sweep_id) {
  Statement s(store.database(), "SELECT c.cell_index, c.state, c.attempts, c.config_hash, c.note, c.run_id, "
                                "r.status, c.axes "
                                "FROM sweep_cells c LEFT JOIN runs r ON r.id = c.run_id WHERE c.sweep_id = ? "
                                "ORDER BY c.cell_index");
  s.bind(1, sweep_id);
  std::vector<CellStatus> out;
  while (s.step()) {
    CellStatus c;
    c.index = s.integer(0);
    c.state = s.text(1);
    c.attempts = static_cast<int>(s.integer(2));
    c.hash = s.text(3);
    c.note = s.text(4);
    c.axes = s.text(7);
    c.run_id = s.optional_text(5);
    c.run_status = s.optional_text(6);
    out.push_back(c);
  }
  return out;
}

}  // namespace epalm::registry
