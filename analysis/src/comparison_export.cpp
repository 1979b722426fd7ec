#include "epalm/analysis/comparison_export.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>

namespace epalm::analysis {

namespace {

std::string format(const char* pattern, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, v);
  return buffer;
}

std::string exact(double v) { return format("%.17g", v); }

std::string shown(const ComparisonCell& c) {
  if (c.n() == 0) return "—";
  return format("%.4g", c.mean) + " ± " + format("%.2g", c.std) + " (" + std::to_string(c.n()) + ")";
}

std::string signed_diff(double d) { return (d >= 0 ? "+" : "−") + format("%.3g", d < 0 ? -d : d); }

nlohmann::ordered_json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

Table comparison_table(const Comparison& c) {
  const bool baseline = !c.spec.baseline.empty();
  std::vector<std::string> header = c.spec.rows;
  for (const auto& col : c.columns) {
    header.push_back(col.label);
    if (baseline) {
      header.push_back("Δ");
      header.push_back("p(t)");
      header.push_back("p(boot)");
    }
  }
  Table t(header);
  for (size_t r = 0; r < c.rows.size(); ++r) {
    std::vector<std::string> row = c.rows[r];
    std::vector<size_t> best_columns;
    for (size_t k = 0; k < c.columns.size(); ++k) {
      const auto& cell = c.cells[r][k];
      if (cell.best) best_columns.push_back(row.size());
      row.push_back(shown(cell));
      if (!baseline) continue;
      if (cell.is_baseline) {
        row.insert(row.end(), {"baseline", "", ""});
        continue;
      }
      row.push_back(cell.diff ? signed_diff(*cell.diff) : "—");
      row.push_back(cell.p_welch ? format("%.3g", *cell.p_welch) : "—");
      row.push_back(cell.p_bootstrap ? format("%.3g", *cell.p_bootstrap) + (cell.paired ? "" : " (u)") : "—");
    }
    t.add_row(row);
    for (size_t column : best_columns) t.emphasize(r, column);
  }
  auto footer = c.footer();
  if (baseline) footer += " (u): unpaired.";
  t.set_footer(footer);
  return t;
}

std::string export_comparison(const Comparison& c, TableFormat format) {
  if (format == TableFormat::kText || format == TableFormat::kMarkdown || format == TableFormat::kLatex) {
    return comparison_table(c).render(format);
  }
  if (format == TableFormat::kCsv) {
    std::vector<std::string> header = c.spec.rows;
    header.insert(header.end(), c.spec.columns.begin(), c.spec.columns.end());
    for (const char* name : {"value", "n", "mean", "std", "best", "baseline", "diff", "p_welch", "p_bootstrap", "paired"}) {
      header.push_back(name);
    }
    Table t(header);
    auto maybe = [](const std::optional<double>& v) { return v ? exact(*v) : std::string(); };
    for (size_t r = 0; r < c.rows.size(); ++r) {
      for (size_t k = 0; k < c.columns.size(); ++k) {
        const auto& cell = c.cells[r][k];
        std::vector<std::string> row = c.rows[r];
        row.insert(row.end(), c.columns[k].key.begin(), c.columns[k].key.end());
        row.push_back(c.columns[k].field);
        row.push_back(std::to_string(cell.n()));
        row.push_back(cell.n() ? exact(cell.mean) : "");
        row.push_back(cell.n() ? exact(cell.std) : "");
        row.push_back(cell.best ? "1" : "0");
        row.push_back(cell.is_baseline ? "1" : "0");
        row.push_back(maybe(cell.diff));
        row.push_back(maybe(cell.p_welch));
        row.push_back(maybe(cell.p_bootstrap));
        row.push_back(cell.p_bootstrap ? (cell.paired ? "1" : "0") : "");
        t.add_row(row);
      }
    }
    return t.render(TableFormat::kCsv);
  }
  nlohmann::ordered_json j;
  j["rows"] = c.spec.rows;
  j["columns"] = c.spec.columns;
  j["values"] = c.spec.values;
  j["baseline"] = c.spec.baseline;
  j["bootstrap"] = {{"resamples", c.spec.resamples}, {"seed", c.spec.seed}, {"generator", "splitmix64"}};
  j["cells"] = nlohmann::ordered_json::array();
  for (size_t r = 0; r < c.rows.size(); ++r) {
    for (size_t k = 0; k < c.columns.size(); ++k) {
      const auto& cell = c.cells[r][k];
      nlohmann::ordered_json x;
      for (size_t i = 0; i < c.spec.rows.size(); ++i) x["row"][c.spec.rows[i]] = c.rows[r][i];
      x["column"] = nlohmann::ordered_json::object();
      for (size_t i = 0; i < c.spec.columns.size(); ++i) x["column"][c.spec.columns[i]] = c.columns[k].key[i];
      x["value"] = c.columns[k].field;
      x["n"] = cell.n();
      x["mean"] = cell.n() ? nlohmann::ordered_json(cell.mean) : nlohmann::ordered_json(nullptr);
      x["std"] = cell.n() ? nlohmann::ordered_json(cell.std) : nlohmann::ordered_json(nullptr);
      x["best"] = cell.best;
      x["lower_is_better"] = c.columns[k].lower_is_better;
      x["baseline"] = cell.is_baseline;
      x["diff"] = optional_number(cell.diff);
      x["p_welch"] = optional_number(cell.p_welch);
      x["p_bootstrap"] = optional_number(cell.p_bootstrap);
      x["paired"] = cell.paired;
      x["runs"] = cell.run_ids;
      x["seeds"] = nlohmann::ordered_json::array();
      for (const auto& s : cell.seeds) x["seeds"].push_back(s ? nlohmann::ordered_json(*s) : nlohmann::ordered_json(nullptr));
      x["samples"] = cell.values;
      j["cells"].push_back(x);
    }
  }
  j["footer"] = c.footer();
  return j.dump(2) + "\n";
}

}  // namespace epalm::analysis
