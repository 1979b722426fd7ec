#include "epalm/analysis/report.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>
#include <sstream>

#include "epalm/analysis/comparison.h"
#include "epalm/analysis/comparison_export.h"
#include "epalm/analysis/plot_data.h"
#include "epalm/analysis/query.h"
#include "epalm/analysis/run_records.h"
#include "epalm/core/error.h"
#include "epalm/registry/sqlite.h"
#include "epalm/registry/sweep_store.h"

namespace epalm::analysis {

namespace {

const char* kStyle = R"css(
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
table.sortable th { cursor: pointer; background: #f3f3f3; user-select: none; }
table.sortable th.asc::after { content: " \25B2"; } table.sortable th.desc::after { content: " \25BC"; }
td.best { font-weight: bold; background: #eaf5ea; }
td.missing { color: #999; }
.state-done { color: #1a7f37; } .state-failed { color: #c62828; } .state-running { color: #b26a00; }
p.footer { font-size: 12px; color: #555; max-width: 1000px; }
details { margin: 4px 0; } summary { cursor: pointer; font-family: monospace; }
.plots svg { margin: 8px 16px 8px 0; border: 1px solid #eee; }
)css";

// Click a header: rows sort by that column (numbers by data-sort or value, missing last); again: reverse.
const char* kScript = R"js(
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var descending = th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(descending ? 'desc' : 'asc');
      var key = function (row) {
        var cell = row.cells[column];
        var text = cell.hasAttribute('data-sort') ? cell.getAttribute('data-sort') : cell.textContent;
        var number = parseFloat(text);
        return { missing: text === '', number: number, text: text, numeric: !isNaN(number) && isFinite(text) };
      };
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x.missing !== y.missing) return x.missing ? 1 : -1;
        var order = x.numeric && y.numeric ? x.number - y.number : x.text.localeCompare(y.text);
        return descending ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
)js";

std::string utc(double seconds) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

std::string number(const char* pattern, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, v);
  return buffer;
}

// Cairo's SVG as an inline element: no XML prolog, ids unique to this plot
// (every plot defines glyphs under the same names).
std::string inline_svg(const std::string& svg, int index) {
  auto text = svg.substr(std::min(svg.find("<svg"), svg.size()));
  const std::string prefix = "p" + std::to_string(index) + "-";
  std::string out;
  for (size_t i = 0; i < text.size();) {
    bool replaced = false;
    for (const char* pattern : {"id=\"", "href=\"#", "url(#"}) {
      const std::string p = pattern;
      if (text.compare(i, p.size(), p) == 0) {
        out += p + prefix;
        i += p.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out += text[i++];
  }
  return out;
}

std::string comparison_html(const Comparison& c, const std::string& anchor) {
  std::ostringstream out;
  const bool baseline = !c.spec.baseline.empty();
  out << "<table class=\"sortable\" id=\"" << anchor << "comparison\"><thead><tr>";
  for (const auto& r : c.spec.rows) out << "<th>" << html_escape(r) << "</th>";
  for (const auto& col : c.columns) {
    out << "<th>" << html_escape(col.label) << "</th>";
    if (baseline) out << "<th>Δ</th><th>p(t)</th><th>p(boot)</th>";
  }
  out << "</tr></thead><tbody>\n";
  auto optional_cell = [](const std::optional<double>& v, const char* pattern) {
    return v ? "<td data-sort=\"" + number("%.17g", *v) + "\">" + number(pattern, *v) + "</td>"
             : std::string("<td class=\"missing\" data-sort=\"\">—</td>");
  };
  for (size_t r = 0; r < c.rows.size(); ++r) {
    out << "<tr>";
    for (const auto& v : c.rows[r]) out << "<td>" << html_escape(v) << "</td>";
    for (size_t k = 0; k < c.columns.size(); ++k) {
      const auto& cell = c.cells[r][k];
      if (cell.n() == 0) {
        out << "<td class=\"missing\" data-sort=\"\">—</td>";
      } else {
        out << "<td" << (cell.best ? " class=\"best\"" : "") << " data-sort=\"" << number("%.17g", cell.mean) << "\">"
            << number("%.4g", cell.mean) << " ± " << number("%.2g", cell.std) << " (" << cell.n() << ")</td>";
      }
      if (!baseline) continue;
      if (cell.is_baseline) {
        out << "<td data-sort=\"0\">baseline</td><td data-sort=\"\"></td><td data-sort=\"\"></td>";
        continue;
      }
      out << optional_cell(cell.diff, "%+.3g") << optional_cell(cell.p_welch, "%.3g") << optional_cell(cell.p_bootstrap, "%.3g");
    }
    out << "</tr>\n";
  }
  out << "</tbody></table>\n<p class=\"footer\">" << html_escape(c.footer()) << "</p>\n";
  return out.str();
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

namespace {

// A sweep's part of a page: its summary, comparison, plots, cells and runs,
// headings at `level` (h1 for a page of its own); `plots` numbers the inline
// SVGs across the page, `anchor` prefixes element ids.
std::string sweep_section(registry::ResultsStore& store, const std::string& sweep, const ReportOptions& options,
                          const std::string& heading, int level, int& plots, const std::string& anchor) {
  const auto spec = registry::load_sweep(store, sweep);
  std::int64_t sweep_id = 0;
  double created = 0;
  {
    registry::Statement s(store.database(), "SELECT id, created FROM sweeps WHERE name = ?");
    s.bind(1, sweep);
    if (s.step()) {
      sweep_id = s.integer(0);
      created = s.real(1);
    }
  }
  const auto cells = registry::sweep_status(store, sweep_id);
  RunSelection selection;
  selection.sweep = sweep;
  const auto runs = load_runs(store, selection);
  std::vector<RunRecord> finished;
  for (const auto& r : runs) {
    if (r.run.status == "finished") finished.push_back(r);
  }
  std::vector<std::string> axes;  // the settings that tell cells apart, seeds aside
  for (const auto& name : registry::sweep_dimensions(spec)) {
    if (name != "seed") axes.push_back(name);
  }

  const std::string h = "h" + std::to_string(level), sub = "h" + std::to_string(level + 1);
  std::ostringstream page;
  page << "<" << h << ">" << html_escape(heading) << "</" << h << ">\n<p>sweep " << html_escape(sweep) << ", experiment " << html_escape(spec.experiment) << ", planned "
       << utc(created) << " UTC; " << cells.size() << " cells, " << runs.size() << " runs (" << finished.size()
       << " finished). ";
  // What the cells cross: "6 variants × levels ∈ {1, 3} × 3 seeds".
  std::vector<std::string> factors;
  if (!spec.variants.empty()) factors.push_back(std::to_string(spec.variants.size()) + " variants");
  for (const auto& [name, values] : spec.axes) {
    std::string axis = html_escape(name) + " ∈ {";
    for (size_t i = 0; i < values.size(); ++i) axis += (i ? ", " : "") + html_escape(values[i]);
    factors.push_back(axis + "}");
  }
  if (!spec.seeds.empty()) factors.push_back(std::to_string(spec.seeds.size()) + " seeds");
  for (size_t i = 0; i < factors.size(); ++i) page << (i ? " × " : "Cells: ") << factors[i];
  page << (factors.empty() ? "</p>\n" : ".</p>\n");

  // The comparison.
  std::vector<std::string> values = options.values;
  if (values.empty()) {
    std::set<std::string> scores;
    bool loss = false;
    for (const auto& r : finished) {
      for (const auto& [k, v] : r.scores) scores.insert("score." + k);
      loss = loss || r.metrics.count("loss");
    }
    values.assign(scores.begin(), scores.end());
    if (loss) values.push_back("metric.loss.last");
  }
  page << "<" << sub << ">Comparison</" << sub << ">\n";
  if (axes.empty() || values.empty() || finished.empty()) {
    page << "<p>No finished run with values to compare yet.</p>\n";
  } else {
    ComparisonSpec c;
    c.rows = axes;
    c.values = values;
    c.baseline = options.baseline;
    c.resamples = options.resamples;
    c.seed = options.seed;
    page << comparison_html(compare_runs(finished, c), anchor);
  }

  // Plots.
  page << "<" << sub << ">Plots</" << sub << ">\n<div class=\"plots\">\n";
  const int plots_before = plots;
  const std::optional<std::string> first_axis = axes.empty() ? std::nullopt : std::optional<std::string>(axes[0]);
  try {
    page << inline_svg(plot_svg(history_plot(store, finished, options.history, first_axis)), plots++) << "\n";
  } catch (const UsageError&) {
    // no history of that metric: no plot
  }
  for (const auto& v : values) {
    if (axes.empty()) break;
    try {
      const std::optional<std::string> group = axes.size() > 1 ? std::optional<std::string>(axes[1]) : std::nullopt;
      page << inline_svg(plot_svg(xy_plot(finished, axes[0], v, group, false)), plots++) << "\n";
    } catch (const UsageError&) {
      // the axis is not numeric or no run has the value
    }
  }
  if (plots == plots_before) page << "<p>Nothing to plot yet.</p>\n";
  page << "</div>\n";

  // Cells.
  page << "<" << sub << ">Cells</" << sub << ">\n<table class=\"sortable\" id=\"" << anchor << "cells\"><thead><tr><th>cell</th><th>axes</th><th>state</th>"
          "<th>attempts</th><th>run</th><th>run status</th><th>note</th></tr></thead><tbody>\n";
  for (const auto& cell : cells) {
    page << "<tr><td>" << cell.index << "</td><td>" << html_escape(cell.axes) << "</td><td class=\"state-"
         << html_escape(cell.state) << "\">" << html_escape(cell.state) << "</td><td>" << cell.attempts << "</td><td>";
    if (cell.run_id) page << "<a href=\"#run-" << html_escape(*cell.run_id) << "\">" << html_escape(cell.run_id->substr(0, 13)) << "</a>";
    page << "</td><td>" << html_escape(cell.run_status.value_or("")) << "</td><td>" << html_escape(cell.note) << "</td></tr>\n";
  }
  page << "</tbody></table>\n";

  // Runs, their settings and provenance on demand.
  page << "<" << sub << ">Runs</" << sub << ">\n";
  for (const auto& r : runs) {
    const auto d = store.show_run(r.run.id);
    page << "<details id=\"run-" << html_escape(r.run.id) << "\"><summary>" << html_escape(r.run.id) << " — "
         << html_escape(r.run.status) << (r.run.cell_index ? ", cell " + std::to_string(*r.run.cell_index) : "")
         << (r.run.seed ? ", seed " + std::to_string(*r.run.seed) : "") << "</summary>\n<table><tbody>";
    page << "<tr><th>started (UTC)</th><td>" << utc(r.run.started) << "</td></tr>";
    for (const auto& [k, v] : d.provenance) {
      if (k == "git_diff") {
        page << "<tr><th>git_diff</th><td>" << v.size() << " bytes</td></tr>";
        continue;
      }
      page << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>";
    }
    for (const auto& [k, v] : d.params) page << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>";
    for (const auto& [split, metric, value] : d.scores) {
      page << "<tr><th>score." << html_escape(split + "." + metric) << "</th><td>" << number("%.6g", value) << "</td></tr>";
    }
    page << "</tbody></table></details>\n";
  }
  return page.str();
}

std::string page_start(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
         "</title><style>" + kStyle + "</style></head><body>\n";
}

std::string page_end() { return std::string("<script>") + kScript + "</script>\n</body></html>\n"; }

}  // namespace

std::string sweep_report_html(registry::ResultsStore& store, const std::string& sweep, const ReportOptions& options) {
  int plots = 0;
  const auto section = sweep_section(store, sweep, options, "Sweep " + sweep, 1, plots, "");
  return page_start("sweep " + sweep) + section + page_end();
}

std::string sweeps_report_html(registry::ResultsStore& store, const std::string& title,
                               const std::vector<std::string>& paragraphs, const std::vector<ReportSection>& sections) {
  std::string page = page_start(title) + "<h1>" + html_escape(title) + "</h1>\n";
  for (const auto& p : paragraphs) page += "<p>" + html_escape(p) + "</p>\n";
  int plots = 0;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    page += sweep_section(store, sections[i].sweep, sections[i].options, sections[i].heading, 2, plots,
                          "s" + std::to_string(i) + "-");
  }
  return page + page_end();
}

}  // namespace epalm::analysis
