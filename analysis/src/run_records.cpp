#include "epalm/analysis/run_records.h"

#include <algorithm>
#include <deque>
#include <numeric>
#include <string_view>
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

// Only the selected runs' rows, through the run-id subquery (for a kind
// loaded whole). Named keys go through the key's index instead, the rows of
// runs outside the selection dropped while reading: a scan of one or two
// keys beats ten thousand primary-key lookups.
std::string of_selected_runs(const RunWhere& w) {
  return " WHERE run_id IN (SELECT r.id" + std::string(registry::kRunRowFrom) + w.sql + ")";
}

// Binds `values` from position 1.
template <typename T>
void bind_all(Statement& s, const std::vector<T>& values) {
  int i = 1;
  for (const auto& v : values) s.bind(i++, v);
}

// The loaded runs by id, without a copy of the id per row read: the keys
// view the records' own ids, so the records must not move afterwards.
class RunIndex {
 public:
  explicit RunIndex(std::vector<RunRecord>& records) {
    by_id_.reserve(records.size());
    for (auto& r : records) by_id_.emplace(r.run.id, &r);
  }
  RunRecord* find(std::string_view id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
  }

 private:
  std::unordered_map<std::string_view, RunRecord*> by_id_;
};

// The runs themselves, newest first (started, then id, descending). Sorted
// here rather than by SQL's ORDER BY, which copies every whole row into a
// temporary B-tree first; read into a deque, which never moves what it holds.
std::vector<RunRecord> read_runs(registry::Database& db, const RunWhere& w, bool details) {
  std::deque<RunRecord> loaded;
  if (details) {
    Statement s(db, std::string("SELECT ") + registry::kRunRowColumns + ", r.world_size" + registry::kRunRowFrom + w.sql);
    bind_all(s, w.binds);
    while (s.step()) {
      RunRecord rec;
      rec.run = registry::read_run_row(s);
      rec.world_size = static_cast<int>(s.integer(13));  // after the RunRow's 13 columns
      loaded.push_back(std::move(rec));
    }
  } else {
    Statement s(db, "SELECT r.id, r.status, r.started, r.seed" + std::string(registry::kRunRowFrom) + w.sql);
    bind_all(s, w.binds);
    while (s.step()) {
      RunRecord rec;
      rec.run.id = s.text(0);
      rec.run.status = s.text(1);
      rec.run.started = s.real(2);
      rec.run.seed = s.optional_integer(3);
      loaded.push_back(std::move(rec));
    }
  }
  std::vector<size_t> order(loaded.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto &x = loaded[a].run, &y = loaded[b].run;
    if (x.started != y.started) return x.started > y.started;
    return x.id > y.id;  // byte order, as SQLite's BINARY collation
  });
  std::vector<RunRecord> records;
  records.reserve(loaded.size());
  for (const size_t i : order) records.push_back(std::move(loaded[i]));
  return records;
}

void read_params(registry::Database& db, const RunWhere& w, const RunSelection& selection, const RunIndex& index) {
  const auto& keys = selection.params;
  Statement s(db, "SELECT run_id, key, value_text FROM params" +
                      (keys ? " WHERE key IN " + placeholders(keys->size()) : of_selected_runs(w)));
  bind_all(s, keys ? *keys : w.binds);
  while (s.step()) {
    if (auto* r = index.find(s.text_view(0))) r->params.insert_or_assign(s.text(1), s.text(2));
  }
}

void read_metrics(registry::Database& db, const RunWhere& w, const RunSelection& selection, const RunIndex& index) {
  // The few metric keys first, so the many summary rows carry only the key's id.
  struct Key {
    std::string name;
    bool lower_is_better;
  };
  std::unordered_map<std::int64_t, Key> keys;
  std::vector<std::int64_t> ids;
  {
    const auto& names = selection.metrics;
    Statement s(db, "SELECT id, name, goal FROM metric_keys" +
                        (names ? " WHERE name IN " + placeholders(names->size()) : std::string()));
    if (names) bind_all(s, *names);
    while (s.step()) {
      keys.emplace(s.integer(0), Key{s.text(1), s.text_view(2) == "min"});
      ids.push_back(s.integer(0));
    }
  }
  if (ids.empty()) return;
  Statement s(db, "SELECT run_id, key_id, last, last_step, min, max, best, best_step, n FROM run_summary" +
                      (selection.metrics ? " WHERE key_id IN " + placeholders(ids.size()) : of_selected_runs(w)));
  if (selection.metrics) bind_all(s, ids);
  else bind_all(s, w.binds);
  while (s.step()) {
    auto* r = index.find(s.text_view(0));
    if (r == nullptr) continue;
    const auto key = keys.find(s.integer(1));
    if (key == keys.end()) continue;  // a key written after the keys were read
    MetricSummary m;
    m.last = s.real(2);
    m.last_step = s.integer(3);
    m.min = s.real(4);
    m.max = s.real(5);
    m.best = s.real(6);
    m.best_step = s.integer(7);
    m.n = s.integer(8);
    m.lower_is_better = key->second.lower_is_better;
    r->metrics.insert_or_assign(key->second.name, m);
  }
}

void read_scores(registry::Database& db, const RunWhere& w, const RunSelection& selection, const RunIndex& index) {
  // A score's key is "split.metric". A named key matches the (split, metric)
  // pairs it splits into at any of its dots, so the table's own columns are
  // compared, not a text built for every row (a list of ORs: faster than
  // `(split, metric) IN (VALUES ...)` for the few keys a comparison names).
  std::vector<std::string> binds;
  std::string sql = "SELECT run_id, split, metric, value FROM scores";
  if (selection.scores) {
    std::string pairs;
    for (const auto& key : *selection.scores) {
      for (auto dot = key.find('.'); dot != std::string::npos; dot = key.find('.', dot + 1)) {
        pairs += pairs.empty() ? "(split = ? AND metric = ?)" : " OR (split = ? AND metric = ?)";
        binds.push_back(key.substr(0, dot));
        binds.push_back(key.substr(dot + 1));
      }
    }
    if (binds.empty()) return;  // no key with a dot: none can match
    sql += " WHERE " + pairs;
  } else {
    sql += of_selected_runs(w);
    binds = w.binds;
  }
  Statement s(db, sql);
  bind_all(s, binds);
  std::string key;
  while (s.step()) {
    auto* r = index.find(s.text_view(0));
    if (r == nullptr) continue;
    const auto split = s.text_view(1), metric = s.text_view(2);
    key.assign(split).append(1, '.').append(metric);
    // Rows come in primary-key order: of two pairs that spell the same key, the later one wins, as it always has.
    r->scores.insert_or_assign(key, s.real(3));
  }
}

void read_tags(registry::Database& db, const RunWhere& w, const RunIndex& index) {
  Statement s(db, "SELECT run_id, key, value FROM tags" + of_selected_runs(w));
  bind_all(s, w.binds);
  while (s.step()) {
    if (auto* r = index.find(s.text_view(0))) r->tags.insert_or_assign(s.text(1), s.text(2));
  }
}

}  // namespace

std::vector<RunRecord> load_runs(const registry::ResultsStore& store, const RunSelection& selection) {
  auto& db = store.database();
  const auto w = run_where(selection);
  auto records = read_runs(db, w, selection.run_details);
  if (records.empty()) return records;
  const RunIndex index(records);
  if (!selection.params || !selection.params->empty()) read_params(db, w, selection, index);
  if (!selection.metrics || !selection.metrics->empty()) read_metrics(db, w, selection, index);
  if (!selection.scores || !selection.scores->empty()) read_scores(db, w, selection, index);
  if (selection.tags) read_tags(db, w, index);
  return records;
}

}  // namespace epalm::analysis
