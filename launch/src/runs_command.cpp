// `epalm runs list|show|compare`: what the results store holds.
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "command.h"
#include "epalm/distributed/world.h"
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

int list(const Invocation& in) {
  const auto& o = in.options;
  auto store = open_reaped(o);
  registry::RunFilter f;
  if (o.count("experiment")) f.experiment = o["experiment"].as<std::string>();
  if (o.count("sweep")) f.sweep = o["sweep"].as<std::string>();
  if (o.count("status")) f.status = registry::to_string(registry::parse_run_status(o["status"].as<std::string>()));
  if (o.count("tag")) f.tag = o["tag"].as<std::string>();
  if (o.count("where")) {
    for (const auto& w : o["where"].as<std::vector<std::string>>()) {
      const auto eq = w.find('=');
      if (eq == std::string::npos || eq == 0) throw UsageError("--where", "expected key=value, not '" + w + "'");
      f.params[w.substr(0, eq)] = w.substr(eq + 1);
    }
  }
  f.limit = o["limit"].as<int>();
  const auto metric = o.count("metric") ? o["metric"].as<std::string>() : "";
  std::vector<std::string> columns = {"run", "experiment", "sweep/cell", "status", "started (UTC)", "duration", "seed", "host"};
  if (!metric.empty()) columns.push_back(metric + " (" + o["summary"].as<std::string>() + ")");
  const auto summary = registry::parse_summary(o["summary"].as<std::string>());
  analysis::Table t(columns);
  for (const auto& r : store.list_runs(f)) {
    std::vector<std::string> row = {r.id, r.experiment,
                                    r.sweep ? *r.sweep + "/" + std::to_string(r.cell_index.value_or(-1)) : "",
                                    r.status, utc(r.started), duration(r), r.seed ? std::to_string(*r.seed) : "", r.host};
    if (!metric.empty()) {
      std::string value;
      for (const auto& s : store.show_run(r.id).summaries) {
        if (s.key != metric) continue;
        value = number(summary == registry::Summary::kLast  ? s.last
                       : summary == registry::Summary::kMin ? s.min
                       : summary == registry::Summary::kMax ? s.max
                                                            : s.best);
      }
      row.push_back(value);
    }
    t.add_row(row);
  }
  std::cout << t.render(table_format(o));
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

int compare(const Invocation& in) {
  const auto& o = in.options;
  auto store = open_reaped(o);
  if (!o.count("experiment") || !o.count("by") || !o.count("metric")) {
    throw UsageError("compare", "usage: epalm runs compare --experiment E --by PARAM --metric M [--summary best]");
  }
  const auto by = o["by"].as<std::string>();
  const auto metric = o["metric"].as<std::string>();
  const auto rows = store.compare(o["experiment"].as<std::string>(), by, metric,
                                  registry::parse_summary(o["summary"].as<std::string>()));
  const auto s = o["summary"].as<std::string>();
  analysis::Table t({by, "runs", metric + " " + s + " mean", "min", "max"});
  for (const auto& r : rows) t.add_row({r.value, std::to_string(r.runs), number(r.mean), number(r.min), number(r.max)});
  std::cout << t.render(table_format(o));
  return kExitOk;
}

int run_runs(const Invocation& in) {
  if (in.world.rank() != 0) return kExitOk;
  const std::string action = in.options.count("action") ? in.options["action"].as<std::string>() : "list";
  if (action == "list") return list(in);
  if (action == "show") return show(in);
  if (action == "compare") return compare(in);
  throw UsageError("action", "unknown action '" + action + "' (list, show or compare)");
}

}  // namespace

Command runs_command() {
  return {"runs",
          "The runs in the results store.\n\n"
          "  epalm runs list [--experiment E] [--sweep S] [--status S] [--where key=value]... [--tag k[=v]]\n"
          "                  [--metric M [--summary last|min|max|best]] [--limit N]\n"
          "  epalm runs show <run id or unique prefix> [--diff] [--format json]\n"
          "  epalm runs compare --experiment E --by PARAM --metric M [--summary best]\n"
          "      a metric's summary over the finished runs, per value of a parameter\n\n"
          "Runs still `running` without a heartbeat for --stale-after seconds are marked `stale` first.",
          [](po::options_description& settings) {
            add_results_settings(settings);
            settings.add_options()                                                              //
                ("action", po::value<std::string>(), "list, show or compare (the first argument)")  //
                ("run", po::value<std::string>(), "show: the run id or a unique prefix (the second argument)")  //
                ("experiment", po::value<std::string>(), "only this experiment's runs")          //
                ("sweep", po::value<std::string>(), "only this sweep's runs")                      //
                ("status", po::value<std::string>(), "only runs with this status")                 //
                ("where", po::value<std::vector<std::string>>()->composing(),
                 "only runs whose parameter key has this value (numbers compare as numbers); repeatable")  //
                ("tag", po::value<std::string>(), "only runs with this tag (key or key=value)")            //
                ("metric", po::value<std::string>(), "list: a metric column; compare: the metric")       //
                ("summary", po::value<std::string>()->default_value("best"), "last, min, max or best")    //
                ("by", po::value<std::string>(), "compare: the parameter to group by")                    //
                ("limit", po::value<int>()->default_value(100), "list: at most this many runs, newest first (0: all)")  //
                ("diff", po::bool_switch(), "show: print the git diff recorded with the run")                                //
                ("stale-after", po::value<double>()->default_value(300),
                 "seconds without a heartbeat after which a running run is stale (0: do not mark)");
          },
          run_runs, {"action", "run"}};
}

}  // namespace epalm::cli
