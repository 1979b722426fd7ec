#include "epalm/analysis/run_records.h"

#include <unordered_map>

#include "epalm/registry/sqlite.h"

namespace epalm::analysis {

namespace {

using registry::Statement;

// The runs' own filter, shared by every per-table query as a subquery.
struct RunWhere {
  std::string sql;  // " WHERE ..." over runs r / experiments e / sweeps s
  std::vector<std::string> binds;
};

RunWhere run_where(const RunSelection& selection) {
  RunWhere w{" WHERE 1", {}};
  if (selection.experiment) {
    w.sql += " AND e.name = ?";
    w.binds.push_back(*selection.experiment);
  }
  if (selection.sweep) {
    // The sweep's own runs, and the runs its cells took as done before (the
    // same configuration finished in another sweep or by hand).
    w.sql += " AND (s.name = ? OR r.id IN (SELECT c.run_id FROM sweep_cells c JOIN sweeps cs ON cs.id = c.sweep_id "
             "WHERE cs.name = ? AND c.run_id IS NOT NULL))";
    w.binds.push_back(*selection.sweep);
    w.binds.push_back(*selection.sweep);
  }
  return w;
}


// "(?, ?, ...)" for `n` keys.
std::string placeholders(size_t n) {
  std::string out = "(";
  for (size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out + ")";
}

// Binds the run filter, then `keys`, from position 1.
void bind_all(Statement& s, const RunWhere& w, const std::vector<std::string>& keys) {
  int i = 1;
  for (const auto& b : w.binds) s.bind(i++, b);
  for (const auto& k : keys) s.bind(i++, k);
}

// Named keys: every row with those keys, through the key's index, the rows
// of runs outside the selection dropped while reading (a scan of one or two
// keys beats ten thousand primary-key lookups). All keys: only the selected
// runs' rows, through the run-id subquery.
std::string restricted(const RunWhere& w, const std::optional<std::vector<std::string>>& keys, const std::string& column) {
  if (keys) return " WHERE " + column + " IN " + placeholders(keys->size());
  return " WHERE run_id IN (SELECT r.id" + std::string(registry::kRunRowFrom) + w.sql + ")";
}

// Binds what restricted() put in: the run filter or the keys.
void bind_restricted(Statement& s, const RunWhere& w, const std::optional<std::vector<std::string>>& keys) {
  int i = 1;
  if (keys) {
    for (const auto& k : *keys) s.bind(i++, k);
  } else {
    for (const auto& b : w.binds) s.bind(i++, b);
  }
}

}  // namespace

std::vector<RunRecord> load_runs(const registry::ResultsStore& store, const RunSelection& selection) {
  auto& db = store.database();
  const auto w = run_where(selection);
  std::vector<RunRecord> records;
  std::unordered_map<std::string, size_t> index;
  {
    Statement s(db, std::string("SELECT ") + registry::kRunRowColumns + ", r.world_size" + registry::kRunRowFrom +
                        w.sql + " ORDER BY r.started DESC, r.id DESC");
    bind_all(s, w, {});
    while (s.step()) {
      RunRecord rec;
      rec.run = registry::read_run_row(s);
      rec.world_size = static_cast<int>(s.integer(13));  // after the RunRow's 13 columns
      index.emplace(rec.run.id, records.size());
      records.push_back(std::move(rec));
    }
  }
  if (records.empty()) return records;
  auto find = [&](const std::string& id) -> RunRecord* {
    const auto it = index.find(id);
    return it == index.end() ? nullptr : &records[it->second];
  };
  if (!selection.params || !selection.params->empty()) {
    Statement s(db, "SELECT run_id, key, value_text FROM params" + restricted(w, selection.params, "key"));
    bind_restricted(s, w, selection.params);
    while (s.step()) {
      if (auto* r = find(s.text(0))) r->params[s.text(1)] = s.text(2);
    }
  }
  if (!selection.metrics || !selection.metrics->empty()) {
    Statement s(db, "SELECT m.run_id, k.name, m.last, m.last_step, m.min, m.max, m.best, m.best_step, m.n, k.goal "
                    "FROM run_summary m JOIN metric_keys k ON k.id = m.key_id" +
                        restricted(w, selection.metrics, "k.name"));
    bind_restricted(s, w, selection.metrics);
    while (s.step()) {
      auto* r = find(s.text(0));
      if (r == nullptr) continue;
      MetricSummary m;
      m.last = s.real(2);
      m.last_step = s.integer(3);
      m.min = s.real(4);
      m.max = s.real(5);
      m.best = s.real(6);
      m.best_step = s.integer(7);
      m.n = s.integer(8);
      m.lower_is_better = s.text(9) == "min";
      r->metrics[s.text(1)] = m;
    }
  }
  if (!selection.scores || !selection.scores->empty()) {
    Statement s(db, "SELECT run_id, split || '.' || metric, value FROM scores" +
                        restricted(w, selection.scores, "split || '.' || metric"));
    bind_restricted(s, w, selection.scores);
    while (s.step()) {
      if (auto* r = find(s.text(0))) r->scores[s.text(1)] = s.real(2);
    }
  }
  if (selection.tags) {
    Statement s(db, "SELECT run_id, key, value FROM tags" + restricted(w, std::nullopt, ""));
    bind_restricted(s, w, std::nullopt);
    while (s.step()) {
      if (auto* r = find(s.text(0))) r->tags[s.text(1)] = s.text(2);
    }
  }
  return records;
}

}  // namespace epalm::analysis
