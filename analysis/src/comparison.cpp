#include "epalm/analysis/comparison.h"

#include <algorithm>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include "epalm/analysis/query.h"
#include "epalm/analysis/statistics.h"
#include "epalm/core/error.h"
#include "epalm/registry/hashing.h"

namespace epalm::analysis {

namespace {

const std::string kUnset = "(unset)";

using Key = std::vector<std::string>;

// Settings' canonical values, each distinct text canonicalised once (ten
// thousand runs spell their settings in a handful of ways) and each value
// numbered once, so that runs group by comparing numbers, not texts.
class CanonicalValues {
 public:
  using Ids = std::vector<size_t>;
  size_t id_of(const RunRecord& run, const std::string& setting) {
    const auto it = run.params.find(setting);
    if (it == run.params.end()) return 0;  // kUnset
    auto known = by_text_.find(it->second);
    if (known == by_text_.end()) {
      auto value = registry::canonical_value(it->second);
      auto id = ids_.find(value);
      if (id == ids_.end()) {
        id = ids_.emplace(value, values_.size()).first;
        values_.push_back(std::move(value));
      }
      known = by_text_.emplace(it->second, id->second).first;
    }
    return known->second;
  }
  const std::string& of(const RunRecord& run, const std::string& setting) { return values_[id_of(run, setting)]; }
  Ids key_of(const RunRecord& run, const std::vector<std::string>& settings) {
    Ids k;
    k.reserve(settings.size());
    for (const auto& s : settings) k.push_back(id_of(run, s));
    return k;
  }
  Key text(const Ids& k) const {
    Key out;
    for (const size_t id : k) out.push_back(values_[id]);
    return out;
  }

 private:
  std::vector<std::string> values_{kUnset};
  std::unordered_map<std::string, size_t> ids_{{kUnset, 0}};  // canonical value -> its number
  std::unordered_map<std::string, size_t> by_text_;           // setting's text -> its value's number
};

std::optional<double> number(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

// Numbers in numeric order before text, text in byte order, "(unset)" last.
bool key_less(const Key& a, const Key& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    if ((a[i] == kUnset) != (b[i] == kUnset)) return b[i] == kUnset;
    const auto na = number(a[i]), nb = number(b[i]);
    if (na && nb && *na != *nb) return *na < *nb;
    if (na.has_value() != nb.has_value()) return na.has_value();
    return a[i] < b[i];
  }
  return false;
}

// One value per seed (the newest run's), sorted by seed; seedless runs each count.
ComparisonCell make_cell(const std::vector<const RunRecord*>& runs, const Field& field) {
  std::map<std::int64_t, std::pair<const RunRecord*, double>> by_seed;
  std::vector<std::pair<const RunRecord*, double>> seedless;
  for (const auto* r : runs) {
    const auto v = field.get(*r).as_number();
    if (!v) continue;
    if (!r->run.seed) {
      seedless.emplace_back(r, *v);
      continue;
    }
    auto [it, fresh] = by_seed.emplace(*r->run.seed, std::make_pair(r, *v));
    const auto* kept = it->second.first;
    if (!fresh && (r->run.started > kept->run.started || (r->run.started == kept->run.started && r->run.id > kept->run.id))) {
      it->second = {r, *v};
    }
  }
  std::sort(seedless.begin(), seedless.end(), [](const auto& x, const auto& y) { return x.first->run.id < y.first->run.id; });
  ComparisonCell c;
  for (const auto& [seed, rv] : by_seed) {
    c.seeds.emplace_back(seed);
    c.values.push_back(rv.second);
    c.run_ids.push_back(rv.first->run.id);
  }
  for (const auto& [r, v] : seedless) {
    c.seeds.emplace_back(std::nullopt);
    c.values.push_back(v);
    c.run_ids.push_back(r->run.id);
  }
  c.mean = mean(c.values);
  c.std = sample_std(c.values);
  return c;
}

void test_against(ComparisonCell& cell, const ComparisonCell& base, const ComparisonSpec& spec) {
  if (cell.n() == 0 || base.n() == 0) return;
  cell.is_baseline = cell.run_ids == base.run_ids;
  cell.diff = cell.mean - base.mean;
  if (cell.is_baseline) return;
  if (const auto w = welch_t_test(cell.values, base.values)) cell.p_welch = w->p;
  // Paired by seed over the seeds both cells have, when there are two or more.
  std::vector<double> a, b;
  for (size_t i = 0; i < cell.n(); ++i) {
    if (!cell.seeds[i]) continue;
    for (size_t j = 0; j < base.n(); ++j) {
      if (base.seeds[j] == cell.seeds[i]) {
        a.push_back(cell.values[i]);
        b.push_back(base.values[j]);
      }
    }
  }
  const bool paired = a.size() >= 2;
  const auto boot = paired ? bootstrap_test(a, b, true, spec.resamples, spec.seed)
                           : bootstrap_test(cell.values, base.values, false, spec.resamples, spec.seed);
  if (boot) {
    cell.p_bootstrap = boot->p;
    cell.paired = boot->paired;
  }
}

}  // namespace

std::map<std::string, std::string> parse_settings(const std::string& text, const std::string& option) {
  std::map<std::string, std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t"));
      s.erase(s.find_last_not_of(" \t") + 1);
      return s;
    };
    const auto eq = item.find('=');
    if (eq == std::string::npos || trim(item.substr(0, eq)).empty()) {
      throw UsageError(option, "expected setting=value[,setting=value...], not '" + text + "'");
    }
    out[trim(item.substr(0, eq))] = trim(item.substr(eq + 1));
  }
  if (out.empty()) throw UsageError(option, "names no setting");
  return out;
}

std::vector<std::string> comparison_settings(const ComparisonSpec& spec) {
  std::set<std::string> s(spec.rows.begin(), spec.rows.end());
  s.insert(spec.columns.begin(), spec.columns.end());
  for (const auto& [k, v] : spec.baseline) s.insert(k);
  return {s.begin(), s.end()};
}

Comparison compare_runs(const std::vector<RunRecord>& runs, const ComparisonSpec& spec) {
  if (spec.rows.empty()) throw UsageError("--by", "name at least one setting to compare by");
  if (spec.values.empty()) throw UsageError("--metric", "name at least one value (score.SPLIT.METRIC or metric.KEY.SUMMARY)");
  std::vector<Field> fields;
  for (const auto& v : spec.values) fields.push_back(Field::parse(v, "--metric"));
  Comparison c;
  c.spec = spec;
  // The runs by their exact (row, column) values first, compared as numbers
  // per run; then the few distinct values in key_less's order, which parses them.
  CanonicalValues canonical;
  std::map<std::pair<CanonicalValues::Ids, CanonicalValues::Ids>, std::vector<const RunRecord*>> exact;
  for (const auto& r : runs) exact[{canonical.key_of(r, spec.rows), canonical.key_of(r, spec.columns)}].push_back(&r);
  std::map<Key, std::map<Key, std::vector<const RunRecord*>>, decltype(&key_less)> groups(&key_less);
  std::vector<Key> column_keys;
  for (auto& [keys, members] : exact) {
    const auto rk = canonical.text(keys.first), ck = canonical.text(keys.second);
    auto& cell = groups[rk][ck];
    cell.insert(cell.end(), members.begin(), members.end());
    if (std::find(column_keys.begin(), column_keys.end(), ck) == column_keys.end()) column_keys.push_back(ck);
  }
  std::sort(column_keys.begin(), column_keys.end(), key_less);
  for (const auto& [rk, unused] : groups) c.rows.push_back(rk);
  for (size_t f = 0; f < fields.size(); ++f) {
    for (const auto& ck : column_keys) {
      ComparisonColumn col;
      col.field = spec.values[f];
      col.key = ck;
      col.label = spec.values[f];
      if (!spec.columns.empty()) {
        col.label += " [";
        for (size_t i = 0; i < ck.size(); ++i) col.label += (i ? " " : "") + spec.columns[i] + "=" + ck[i];
        col.label += "]";
      }
      if (spec.lower_is_better.count(spec.values[f])) col.lower_is_better = true;
      else if (fields[f].is_metric()) {
        for (const auto& r : runs) {
          if (r.metrics.count(fields[f].key())) {
            col.lower_is_better = fields[f].lower_is_better(r);
            break;
          }
        }
      }
      c.columns.push_back(col);
    }
  }
  const std::vector<const RunRecord*> none;
  auto runs_of = [&](const Key& rk, const Key& ck) -> const std::vector<const RunRecord*>& {
    const auto row = groups.find(rk);
    if (row == groups.end()) return none;
    const auto cell = row->second.find(ck);
    return cell == row->second.end() ? none : cell->second;
  };
  std::set<std::string> used;
  c.cells.assign(c.rows.size(), std::vector<ComparisonCell>(c.columns.size()));
  for (size_t r = 0; r < c.rows.size(); ++r) {
    for (size_t k = 0; k < c.columns.size(); ++k) {
      auto& cell = c.cells[r][k];
      cell = make_cell(runs_of(c.rows[r], c.columns[k].key), fields[k / column_keys.size()]);
      used.insert(cell.run_ids.begin(), cell.run_ids.end());
    }
  }
  c.runs_used = used.size();
  for (size_t k = 0; k < c.columns.size(); ++k) {
    std::optional<double> best;
    for (size_t r = 0; r < c.rows.size(); ++r) {
      const auto& cell = c.cells[r][k];
      if (cell.n() == 0) continue;
      if (!best || (c.columns[k].lower_is_better ? cell.mean < *best : cell.mean > *best)) best = cell.mean;
    }
    for (size_t r = 0; r < c.rows.size(); ++r) {
      auto& cell = c.cells[r][k];
      cell.best = best && cell.n() > 0 && cell.mean == *best;
    }
  }
  if (spec.baseline.empty()) return c;
  // The baseline's settings: those on an axis replace the cell's value there;
  // the others must hold for the baseline's runs.
  std::map<std::string, std::string> extra;
  for (const auto& [k, v] : spec.baseline) {
    const bool axis = std::count(spec.rows.begin(), spec.rows.end(), k) || std::count(spec.columns.begin(), spec.columns.end(), k);
    if (!axis) extra[k] = registry::canonical_value(v);
  }
  auto substitute = [&](Key key, const std::vector<std::string>& settings) {
    for (size_t i = 0; i < settings.size(); ++i) {
      const auto it = spec.baseline.find(settings[i]);
      if (it != spec.baseline.end()) key[i] = registry::canonical_value(it->second);
    }
    return key;
  };
  bool any = false;
  // Most cells share their baseline (every row of a column, when the
  // baseline names all row settings): each baseline cell is made once.
  std::map<std::tuple<Key, Key, size_t>, ComparisonCell> bases;
  for (size_t r = 0; r < c.rows.size(); ++r) {
    const auto base_row = substitute(c.rows[r], spec.rows);
    for (size_t k = 0; k < c.columns.size(); ++k) {
      const auto base_col = substitute(c.columns[k].key, spec.columns);
      const size_t field = k / column_keys.size();
      auto made = bases.find({base_row, base_col, field});
      if (made == bases.end()) {
        std::vector<const RunRecord*> base_runs;
        for (const auto* run : runs_of(base_row, base_col)) {
          bool ok = true;
          for (const auto& [s, v] : extra) ok = ok && canonical.of(*run, s) == v;
          if (ok) base_runs.push_back(run);
        }
        made = bases.emplace(std::make_tuple(base_row, base_col, field), make_cell(base_runs, fields[field])).first;
      }
      const auto& base = made->second;
      any = any || base.n() > 0;
      test_against(c.cells[r][k], base, spec);
    }
  }
  if (!any) {
    std::string text;
    for (const auto& [k, v] : spec.baseline) text += (text.empty() ? "" : ",") + k + "=" + v;
    throw UsageError("--baseline", "no compared run has " + text);
  }
  return c;
}

std::string Comparison::footer() const {
  std::ostringstream out;
  out << "mean ± sample standard deviation over seeds (n: runs, one per seed, the newest); * best per column (";
  bool lower = false, higher = false;
  for (const auto& col : columns) (col.lower_is_better ? lower : higher) = true;
  out << (lower && higher ? "lower or higher is better per column" : lower ? "lower is better" : "higher is better")
      << "); — no run. " << runs_used << " runs.";
  if (!spec.baseline.empty()) {
    std::string text;
    for (const auto& [k, v] : spec.baseline) text += (text.empty() ? "" : ",") + k + "=" + v;
    out << " Baseline " << text << ": Δ = mean − baseline mean; p(t): Welch's two-sided t-test "
        << "(Welch–Satterthwaite dof, Student's t from Boost.Math); p(boot): two-sided bootstrap of the mean "
        << "difference, " << spec.resamples << " resamples from SplitMix64 seed " << spec.seed
        << ", paired by seed where both cells share two or more seeds, else unpaired.";
  }
  return out.str();
}

}  // namespace epalm::analysis
