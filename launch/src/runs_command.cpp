// `epalm runs list|show|compare`: what the results store holds.
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "command.h"
#include "epalm/distributed/world.h"
#include "epalm/analysis/comparison.h"
#include "epalm/analysis/comparison_export.h"
#include "epalm/analysis/plot.h"
#include "epalm/analysis/plot_data.h"
#include "epalm/analysis/query.h"
#include "epalm/analysis/report.h"
#include "epalm/analysis/run_records.h"
#include "epalm/core/error.h"
#include "epalm/registry/results_store.h"
#include "results_settings.h"

namespace epalm::cli {

namespace {

std::string utc(double seconds) {
  if (seconds <= 0) return "";
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream s;
  s << std::put_time(&tm, "%Y-%m-%d %H:%M:%S");
  return s.str();
}

std::string number(double v) {
  std::ostringstream s;
  s << std::setprecision(6) << v;
  return s.str();
}

std::string duration(const registry::RunRow& r) {
  const double end = r.ended ? *r.ended : r.heartbeat;
  const double s = end - r.started;
  std::ostringstream out;
  out << std::fixed << std::setprecision(s < 100 ? 1 : 0) << s << " s";
  return out.str();
}

// Opens for reading; first turns runs without a heartbeat for `stale_after`
// seconds into `stale` when the database is writable.
registry::ResultsStore open_reaped(const po::variables_map& o) {
  const auto path = results_path(o);
  // Reading runs creates nothing: a mistyped path must not leave an empty database behind.
  if (!std::filesystem::exists(path)) {
    throw Error(path, "no results database here (runs are recorded by epalm train and eval; --results or "
                      "EPALM_RESULTS names another)");
  }
  const double stale_after = o["stale-after"].as<double>();
  try {
    auto store = registry::ResultsStore::open(path);
    if (stale_after > 0) store.reap_stale(stale_after);
    return store;
  } catch (const Error& e) {
    if (e.reason().find("read-only") == std::string::npos) throw;
  }
  return registry::ResultsStore::open(path, registry::ResultsStore::Access::kReadOnly);
}

// A list of split values: repeated options and commas both separate.
std::vector<std::string> items(const po::variables_map& o, const char* name) {
  std::vector<std::string> out;
  if (!o.count(name)) return out;
  for (const auto& v : o[name].as<std::vector<std::string>>()) {
    std::stringstream in(v);
    for (std::string item; std::getline(in, item, ',');) {
      if (!item.empty()) out.push_back(item);
    }
  }
  return out;
}

// --metric M is the metric's --summary; a full field (score.*, metric.*) stays.
std::string value_field(const std::string& metric, const po::variables_map& o) {
  if (metric.rfind("metric.", 0) == 0 || metric.rfind("score.", 0) == 0) return metric;
  registry::parse_summary(o["summary"].as<std::string>());
  return "metric." + metric + "." + o["summary"].as<std::string>();
}

// The --where expressions (and-ed), --status and --tag as one query.
analysis::Query where_query(const po::variables_map& o, const std::string& default_status) {
  std::string text;
  for (const auto& w : o.count("where") ? o["where"].as<std::vector<std::string>>() : std::vector<std::string>{}) {
    analysis::Query::parse(w);  // each alone, so an error's caret points into what the user wrote
    text += (text.empty() ? "(" : " and (") + w + ")";
  }
  auto quoted = [](const std::string& v) { return "'" + v + "'"; };
  std::string status = o.count("status") ? o["status"].as<std::string>() : default_status;
  if (!status.empty() && status != "any") {
    status = registry::to_string(registry::parse_run_status(status));
    text += (text.empty() ? "" : " and ") + std::string("status = ") + quoted(status);
  }
  if (o.count("tag")) {
    const auto tag = o["tag"].as<std::string>();
    const auto eq = tag.find('=');
    if (tag.find('\'') != std::string::npos || tag.empty()) throw UsageError("--tag", "expected key or key=value");
    text += (text.empty() ? "" : " and ") +
            (eq == std::string::npos ? "tag." + tag : "tag." + tag.substr(0, eq) + " = " + quoted(tag.substr(eq + 1)));
  }
  return analysis::Query::parse(text);
}

analysis::RunSelection selection(const po::variables_map& o) {
  analysis::RunSelection s;
  if (o.count("experiment")) s.experiment = o["experiment"].as<std::string>();
  if (o.count("sweep")) s.sweep = o["sweep"].as<std::string>();
  return s;
}

// --output FILE (its extension picks the format unless --format is given) or stdout.
analysis::TableFormat output_format(const po::variables_map& o) {
  const auto output = o.count("output") ? o["output"].as<std::string>() : "";
  if (!output.empty() && output != "-" && o["format"].defaulted()) return analysis::table_format_for_file(output, "--output");
  return table_format(o);
}

std::string output_path(const po::variables_map& o) { return o.count("output") ? o["output"].as<std::string>() : ""; }

int list(const Invocation& in) {
  const auto& o = in.options;
  auto store = open_reaped(o);
  const auto query = where_query(o, "");
  std::vector<analysis::Field> extra;
  std::vector<std::string> extra_names;
  if (o.count("metric")) {
    for (const auto& m : items(o, "metric")) {
      extra.push_back(analysis::Field::parse(value_field(m, o), "--metric"));
      extra_names.push_back(m.rfind("metric.", 0) == 0 || m.rfind("score.", 0) == 0 ? m : m + " (" + o["summary"].as<std::string>() + ")");
    }
  }
  for (const auto& c : items(o, "show")) {
    extra.push_back(analysis::Field::parse(c, "--show"));
    extra_names.push_back(c);
  }
  const auto sort = analysis::parse_sort(items(o, "sort"));
  analysis::FieldNeeds needs;
  query.add_needs(needs);
  for (const auto& f : extra) f.add_needs(needs);
  for (const auto& k : sort) k.field.add_needs(needs);
  auto sel = selection(o);
  needs.apply(sel);
  auto kept = analysis::load_runs(store, sel);
  analysis::keep_matching(kept, query);
  analysis::sort_runs(kept, sort);
  const int limit = o["limit"].as<int>();
  if (limit > 0 && kept.size() > static_cast<size_t>(limit)) kept.resize(static_cast<size_t>(limit));
  std::vector<std::string> columns = {"run", "experiment", "sweep/cell", "status", "started (UTC)", "duration", "seed", "host"};
  columns.insert(columns.end(), extra_names.begin(), extra_names.end());
  analysis::Table t(columns);
  for (const auto& rec : kept) {
    const auto& r = rec.run;
    std::vector<std::string> row = {r.id, r.experiment,
                                    r.sweep ? *r.sweep + "/" + std::to_string(r.cell_index.value_or(-1)) : "",
                                    r.status, utc(r.started), duration(r), r.seed ? std::to_string(*r.seed) : "", r.host};
    for (const auto& f : extra) row.push_back(f.get(rec).display());
    t.add_row(row);
  }
  analysis::write_output(output_path(o), t.render(output_format(o)));
  return kExitOk;
}

int show(const Invocation& in) {
  const auto& o = in.options;
  auto store = open_reaped(o);
  const auto id = store.resolve_run_id(required(o, "run", "epalm runs show <run id or prefix>"));
  const auto d = store.show_run(id);
  const auto format = table_format(o);
  if (format == analysis::TableFormat::kJson) {
    nlohmann::ordered_json j;
    j["id"] = d.run.id;
    j["experiment"] = d.run.experiment;
    j["status"] = d.run.status;
    j["started"] = d.run.started;
    j["ended"] = d.run.ended ? nlohmann::ordered_json(*d.run.ended) : nullptr;
    j["config_hash"] = d.run.config_hash;
    j["params"] = d.params;
    j["provenance"] = d.provenance;
    for (const auto& s : d.summaries) {
      j["metrics"][s.key] = {{"last", s.last}, {"last_step", s.last_step}, {"min", s.min}, {"max", s.max},
                             {"best", s.best}, {"best_step", s.best_step}, {"n", s.n}, {"goal", s.goal}};
    }
    for (const auto& [split, metric, value] : d.scores) j["scores"][split][metric] = value;
    for (const auto& a : d.artifacts) j["artifacts"].push_back({{"kind", a.kind}, {"path", a.path}, {"bytes", a.bytes}, {"sha256", a.sha256}});
    j["tags"] = d.tags;
    for (const auto& [when, text] : d.notes) j["notes"].push_back({{"time", when}, {"text", text}});
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  const auto& r = d.run;
  std::cout << "run " << r.id << "\n"
            << "  experiment  " << r.experiment << "\n"
            << "  sweep/cell  " << (r.sweep ? *r.sweep + "/" + std::to_string(r.cell_index.value_or(-1)) : "-") << "\n"
            << "  status      " << r.status << (r.exit_code ? " (exit " + std::to_string(*r.exit_code) + ")" : "")
            << (r.error.empty() ? "" : ": " + r.error) << "\n"
            << "  started     " << utc(r.started) << " UTC, " << duration(r) << "\n"
            << "  config hash " << r.config_hash << "\n\n";
  analysis::Table params({"param", "value"});
  for (const auto& [k, v] : d.params) params.add_row({k, v});
  std::cout << params.render(format) << "\n";
  if (!d.summaries.empty()) {
    analysis::Table m({"metric", "last", "last step", "min", "max", "best", "best step", "points", "goal"});
    for (const auto& s : d.summaries) {
      m.add_row({s.key, number(s.last), std::to_string(s.last_step), number(s.min), number(s.max), number(s.best),
                 std::to_string(s.best_step), std::to_string(s.n), s.goal});
    }
    std::cout << m.render(format) << "\n";
  }
  if (!d.scores.empty()) {
    analysis::Table s({"split", "score", "value"});
    for (const auto& [split, metric, value] : d.scores) s.add_row({split, metric, number(value)});
    std::cout << s.render(format) << "\n";
  }
  if (!d.artifacts.empty()) {
    analysis::Table a({"artifact", "path", "bytes", "sha256"});
    for (const auto& x : d.artifacts) a.add_row({x.kind, x.path, std::to_string(x.bytes), x.sha256});
    std::cout << a.render(format) << "\n";
  }
  analysis::Table p({"provenance", "value"});
  for (const auto& [k, v] : d.provenance) {
    if (k == "git_diff" && !o["diff"].as<bool>()) {
      p.add_row({k, std::to_string(v.size()) + " bytes (--diff prints it)"});
    } else if (k != "git_diff") {
      p.add_row({k, v});
    }
  }
  std::cout << p.render(format);
  if (o["diff"].as<bool>() && d.provenance.count("git_diff")) std::cout << "\n" << d.provenance.at("git_diff");
  for (const auto& [k, v] : d.tags) std::cout << "tag " << k << (v.empty() ? "" : "=" + v) << "\n";
  for (const auto& [when, text] : d.notes) std::cout << "note " << utc(when) << ": " << text << "\n";
  return kExitOk;
}

analysis::ComparisonSpec comparison_spec(const po::variables_map& o) {
  analysis::ComparisonSpec spec;
  spec.rows = items(o, "by");
  spec.columns = items(o, "columns");
  for (const auto& m : items(o, "metric")) spec.values.push_back(value_field(m, o));
  if (o.count("baseline")) spec.baseline = analysis::parse_settings(o["baseline"].as<std::string>(), "--baseline");
  for (const auto& f : items(o, "lower-is-better")) spec.lower_is_better.insert(f);
  spec.resamples = o["bootstrap"].as<int>();
  if (spec.resamples < 1) throw UsageError("--bootstrap", "needs at least one resample");
  spec.seed = o["bootstrap-seed"].as<std::uint64_t>();
  return spec;
}

// The runs a comparison reads: finished unless --status says otherwise,
// --where applied, only the settings and values the spec needs loaded.
std::vector<analysis::RunRecord> comparison_runs(const registry::ResultsStore& store, const po::variables_map& o,
                                                 const analysis::ComparisonSpec& spec) {
  const auto query = where_query(o, "finished");
  analysis::FieldNeeds needs;
  query.add_needs(needs);
  for (const auto& s : analysis::comparison_settings(spec)) needs.params.insert(s);
  for (const auto& v : spec.values) analysis::Field::parse(v, "--metric").add_needs(needs);
  auto sel = selection(o);
  sel.run_details = false;  // ids, seeds and start times, unless --where reads more of the run
  needs.apply(sel);
  sel.tags = o.count("tag") || o.count("where");
  auto kept = analysis::load_runs(store, sel);
  analysis::keep_matching(kept, query);
  return kept;
}

int compare(const Invocation& in) {
  const auto& o = in.options;
  const auto spec = comparison_spec(o);
  if (spec.rows.empty() || spec.values.empty()) {
    throw UsageError("compare", "usage: epalm runs compare --by SETTING[,SETTING] --metric VALUE[,VALUE] "
                                "[--columns SETTING] [--baseline k=v,...] [--experiment E] [--sweep S] [--where EXPR]");
  }
  auto store = open_reaped(o);
  const auto comparison = analysis::compare_runs(comparison_runs(store, o, spec), spec);
  analysis::write_output(output_path(o), analysis::export_comparison(comparison, output_format(o)));
  return kExitOk;
}

// `runs plot`: a metric's history (--history KEY) or one value against
// another (--x FIELD --y FIELD), per --group-by value, to a .png or .svg.
int plot(const Invocation& in) {
  const auto& o = in.options;
  const auto output = output_path(o);
  if (output.empty() || output == "-") throw UsageError("--output", "give the plot's file (.png or .svg)");
  auto store = open_reaped(o);
  const auto query = where_query(o, "finished");
  auto sel = selection(o);
  auto kept = analysis::load_runs(store, sel);
  analysis::keep_matching(kept, query);
  const std::optional<std::string> group =
      o.count("group-by") ? std::optional<std::string>(o["group-by"].as<std::string>()) : std::nullopt;
  analysis::PlotSpec spec;
  if (o.count("history")) {
    spec = analysis::history_plot(store, kept, o["history"].as<std::string>(), group);
  } else if (o.count("x") && o.count("y")) {
    spec = analysis::xy_plot(kept, o["x"].as<std::string>(), o["y"].as<std::string>(), group, o["log-x"].as<bool>());
  } else {
    throw UsageError("plot", "usage: epalm runs plot (--history METRIC | --x FIELD --y FIELD [--log-x]) "
                             "[--group-by SETTING] -o FILE.png|svg");
  }
  if (o.count("title")) spec.title = o["title"].as<std::string>();
  analysis::write_plot(spec, output);
  std::cout << "wrote " << output << " (" << spec.series.size() << " series)\n";
  return kExitOk;
}

// `runs report --sweep NAME -o report.html`.
int report(const Invocation& in) {
  const auto& o = in.options;
  if (!o.count("sweep")) throw UsageError("--sweep", "usage: epalm runs report --sweep NAME -o report.html");
  const auto output = output_path(o);
  if (output.empty()) throw UsageError("--output", "give the report's file (report.html)");
  auto store = open_reaped(o);
  analysis::ReportOptions options;
  for (const auto& m : items(o, "metric")) options.values.push_back(value_field(m, o));
  if (o.count("baseline")) options.baseline = analysis::parse_settings(o["baseline"].as<std::string>(), "--baseline");
  if (o.count("history")) options.history = o["history"].as<std::string>();
  options.resamples = o["bootstrap"].as<int>();
  options.seed = o["bootstrap-seed"].as<std::uint64_t>();
  analysis::write_output(output, analysis::sweep_report_html(store, o["sweep"].as<std::string>(), options));
  if (output != "-") std::cout << "wrote " << output << "\n";
  return kExitOk;
}

int run_runs(const Invocation& in) {
  if (in.world.rank() != 0) return kExitOk;
  return run_action(in, {{"list", list}, {"show", show}, {"compare", compare}, {"plot", plot}, {"report", report}},
                    "list");
}

}  // namespace

Command runs_command() {
  return {"runs",
          "The runs in the results store: list and query them, compare variants over seeds, export tables.\n\n"
          "  epalm runs list [--experiment E] [--sweep S] [--where EXPR]... [--sort [-]FIELD]... [--limit N]\n"
          "                  [--status S] [--tag k[=v]] [--metric M]... [--show FIELD]... [-o FILE]\n"
          "  epalm runs show <run id or unique prefix> [--diff] [--format json]\n"
          "  epalm runs compare --by SETTING[,SETTING] --metric VALUE[,VALUE] [--columns SETTING[,SETTING]]\n"
          "                  [--baseline setting=value,...] [--experiment E] [--sweep S] [--where EXPR] [-o FILE]\n"
          "      rows by the settings' values, a column per value (score.SPLIT.METRIC, metric.KEY.SUMMARY or a\n"
          "      metric's name with --summary) and column-setting value; cells mean ± std (n) over seeds,\n"
          "      the best marked; with --baseline the difference, Welch's t-test and a bootstrap p-value\n"
          "  epalm runs plot (--history METRIC | --x FIELD --y FIELD [--log-x]) [--group-by SETTING] -o F.png|svg\n"
          "      a metric's history per run or per setting value (mean ± std band over seeds), or a value\n"
          "      against another (a score against trainable parameters or LM size, throughput against world_size)\n"
          "  epalm runs report --sweep NAME -o report.html [--metric VALUE]... [--baseline k=v,...]\n"
          "      one self-contained page: the sweep's comparison (sortable), plots, cells and runs' provenance\n\n"
          "EXPR: comparisons (= != < <= > >= ~) of fields and values joined by and, or, not and parentheses,\n"
          "e.g. \"prompt-length >= 5 and score.val.vqa_accuracy > 40 and not tag.broken\"; fields: a setting's\n"
          "name, metric.KEY.SUMMARY, score.SPLIT.METRIC, tag.KEY, id, experiment, sweep, cell, status, seed,\n"
          "host, started/ended (vs 'YYYY-MM-DD[ HH:MM]' UTC), duration. Formats: text, csv, json, md, latex\n"
          "(--format, or the --output file's extension). Runs still `running` without a heartbeat for\n"
          "--stale-after seconds are marked `stale` first.",
          [](po::options_description& settings) {
            add_results_settings(settings);
            settings.add_options()                                                              //
                ("action", po::value<std::string>(), "list, show or compare (the first argument)")  //
                ("run", po::value<std::string>(), "show: the run id or a unique prefix (the second argument)")  //
                ("experiment", po::value<std::string>(), "only this experiment's runs (a filter; adhoc: plain epalm train runs)")  //
                ("sweep", po::value<std::string>(), "only this sweep's runs")                      //
                ("status", po::value<std::string>(),
                 "only runs with this status (compare: default finished; any: every status)")  //
                ("where", po::value<std::vector<std::string>>()->composing(),
                 "only runs for which this expression holds; repeatable (all must hold)")  //
                ("tag", po::value<std::string>(), "only runs with this tag (key or key=value)")            //
                ("sort", po::value<std::vector<std::string>>()->composing(),
                 "list: sort by this field (-FIELD: descending); repeatable, missing values last")  //
                ("metric", po::value<std::vector<std::string>>()->composing(),
                 "list: a value column; compare: the values compared (metric name, metric.KEY.SUMMARY, "
                 "score.SPLIT.METRIC); repeatable or comma-separated")  //
                ("show", po::value<std::vector<std::string>>()->composing(), "list: more columns, any field")  //
                ("summary", po::value<std::string>()->default_value("best"),
                 "a bare metric name's summary: last, min, max or best")  //
                ("by", po::value<std::vector<std::string>>()->composing(), "compare: the row settings")  //
                ("columns", po::value<std::vector<std::string>>()->composing(),
                 "compare: settings whose values split each value's column")  //
                ("baseline", po::value<std::string>(),
                 "compare: setting=value,... picking each column's baseline cell: difference and p-values")  //
                ("lower-is-better", po::value<std::vector<std::string>>()->composing(),
                 "compare: values whose lowest mean is best (metrics follow their goal; scores default to higher)")  //
                ("bootstrap", po::value<int>()->default_value(10000), "compare: bootstrap resamples")  //
                ("bootstrap-seed", po::value<std::uint64_t>()->default_value(0),
                 "compare: the SplitMix64 seed of the bootstrap's resamples")  //
                ("history", po::value<std::string>(), "plot: the metric whose history is drawn (report: default loss)")  //
                ("x", po::value<std::string>(), "plot: the x field (model names count as parameter numbers)")  //
                ("y", po::value<std::string>(), "plot: the y field")                                     //
                ("log-x", po::bool_switch(), "plot: a logarithmic x axis")                              //
                ("group-by", po::value<std::string>(), "plot: one line per value of this setting")      //
                ("title", po::value<std::string>(), "plot: the title (default: what is drawn)")          //
                ("output,o", po::value<std::string>(), "write the table to this file (its extension picks the format)")  //
                ("limit", po::value<int>()->default_value(100), "list: at most this many runs (0: all)")  //
                ("diff", po::bool_switch(), "show: print the git diff recorded with the run")                                //
                ("stale-after", po::value<double>()->default_value(300),
                 "seconds without a heartbeat after which a running run is stale (0: do not mark)");
          },
          run_runs, {"action", "run"}};
}

}  // namespace epalm::cli
