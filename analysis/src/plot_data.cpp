#include "epalm/analysis/plot_data.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <unordered_map>

#include "epalm/analysis/query.h"
#include "epalm/analysis/statistics.h"
#include "epalm/core/error.h"
#include "epalm/registry/hashing.h"
#include "epalm/registry/sqlite.h"

namespace epalm::analysis {

namespace {

std::string group_of(const RunRecord& r, const std::optional<std::string>& group_by) {
  if (!group_by) return "";
  const auto it = r.params.find(*group_by);
  return *group_by + "=" + (it == r.params.end() ? "(unset)" : registry::canonical_value(it->second));
}

// Groups in numeric order of their values where they are numbers.
bool group_less(const std::string& a, const std::string& b) {
  const auto va = a.substr(a.find('=') + 1), vb = b.substr(b.find('=') + 1);
  char* ea = nullptr;
  char* eb = nullptr;
  const double na = std::strtod(va.c_str(), &ea), nb = std::strtod(vb.c_str(), &eb);
  const bool num_a = !va.empty() && *ea == '\0', num_b = !vb.empty() && *eb == '\0';
  if (num_a && num_b && na != nb) return na < nb;
  return a < b;
}

// Points (x -> values over runs) into a series: mean line, ± std band.
PlotSeries mean_series(const std::string& label, const std::map<double, std::vector<double>>& points) {
  PlotSeries s;
  s.label = label;
  bool spread = false;
  for (const auto& [x, values] : points) {
    const double m = mean(values), sd = sample_std(values);
    s.x.push_back(x);
    s.y.push_back(m);
    s.low.push_back(m - sd);
    s.high.push_back(m + sd);
    spread = spread || values.size() > 1;
  }
  if (!spread) {
    s.low.clear();
    s.high.clear();
  }
  return s;
}

}  // namespace

std::optional<double> model_size(const std::string& name) {
  static const std::regex pattern("(?:^|[^0-9.])([0-9]+(?:\\.[0-9]+)?)([mMbB])$");
  std::smatch m;
  if (!std::regex_search(name, m, pattern)) return std::nullopt;
  const double v = std::stod(m[1]);
  return v * (m[2] == "m" || m[2] == "M" ? 1e6 : 1e9);
}

PlotSpec history_plot(const registry::ResultsStore& store, const std::vector<RunRecord>& runs, const std::string& key,
                      const std::optional<std::string>& group_by) {
  std::unordered_map<std::string, const RunRecord*> by_id;
  for (const auto& r : runs) by_id.emplace(r.run.id, &r);
  std::map<std::string, std::vector<std::pair<double, double>>> history;  // run -> (step, value)
  {
    registry::Statement s(store.database(), "SELECT m.run_id, m.step, m.value FROM metrics m "
                                            "JOIN metric_keys k ON k.id = m.key_id WHERE k.name = ? ORDER BY m.step");
    s.bind(1, key);
    while (s.step()) {
      auto id = s.text(0);
      if (by_id.count(id)) history[id].emplace_back(static_cast<double>(s.integer(1)), s.real(2));
    }
  }
  if (history.empty()) throw UsageError("--history", "no selected run logged metric '" + key + "'");
  PlotSpec spec;
  spec.title = key + (group_by ? " by " + *group_by + " (mean ± std over seeds)" : " per run");
  spec.x_label = "step";
  spec.y_label = key;
  if (!group_by) {
    for (const auto& r : runs) {
      const auto it = history.find(r.run.id);
      if (it == history.end()) continue;
      PlotSeries s;
      s.label = r.run.id.substr(0, 13) + (r.run.seed ? " seed " + std::to_string(*r.run.seed) : "");
      for (const auto& [step, value] : it->second) {
        s.x.push_back(step);
        s.y.push_back(value);
      }
      spec.series.push_back(std::move(s));
    }
    return spec;
  }
  std::map<std::string, std::map<double, std::vector<double>>> groups;
  for (const auto& [id, points] : history) {
    auto& g = groups[group_of(*by_id.at(id), group_by)];
    for (const auto& [step, value] : points) g[step].push_back(value);
  }
  std::vector<std::string> names;
  for (const auto& [name, unused] : groups) names.push_back(name);
  std::sort(names.begin(), names.end(), group_less);
  for (const auto& name : names) spec.series.push_back(mean_series(name, groups[name]));
  return spec;
}

PlotSpec xy_plot(const std::vector<RunRecord>& runs, const std::string& x, const std::string& y,
                 const std::optional<std::string>& group_by, bool log_x) {
  const auto fx = Field::parse(x, "--x"), fy = Field::parse(y, "--y");
  std::map<std::string, std::map<double, std::vector<double>>> groups;
  for (const auto& r : runs) {
    const auto vx = fx.get(r), vy = fy.get(r);
    auto nx = vx.as_number();
    if (!nx && vx.kind == Value::Kind::kText) nx = model_size(vx.text);
    const auto ny = vy.as_number();
    if (!nx || !ny) continue;
    groups[group_of(r, group_by)][*nx].push_back(*ny);
  }
  if (groups.empty()) throw UsageError("--x/--y", "no selected run has both " + x + " and " + y);
  PlotSpec spec;
  spec.title = y + " against " + x + (group_by ? " by " + *group_by : "") + " (mean ± std over seeds)";
  spec.x_label = x;
  spec.y_label = y;
  spec.log_x = log_x;
  std::vector<std::string> names;
  for (const auto& [name, unused] : groups) names.push_back(name);
  std::sort(names.begin(), names.end(), group_less);
  for (const auto& name : names) spec.series.push_back(mean_series(name, groups[name]));
  return spec;
}

}  // namespace epalm::analysis
