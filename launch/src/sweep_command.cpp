// `epalm sweep plan|run|status|resume`: grid sweeps over a registered
// experiment, planned into the results store and run cell by cell.
#include <algorithm>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "command.h"
#include "epalm/distributed/world.h"
#include "epalm/core/error.h"
#include "epalm/registry/sweep_store.h"
#include "results_settings.h"
#include "epalm/experiments/sweep_worker.h"

namespace epalm::cli {

namespace {

namespace fs = std::filesystem;

std::string this_executable() {
  std::error_code ec;
  const auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("epalm") : p.string();
}

// The planned sweep: from a sweep file (planned now if new) or by name.
std::pair<registry::SweepSpec, std::int64_t> planned_sweep(registry::ResultsStore& store, const std::string& target) {
  registry::SweepSpec spec;
  if (fs::exists(target) && fs::is_regular_file(target)) {
    spec = registry::parse_sweep_file(target);
  } else {
    spec = registry::load_sweep(store, target);
  }
  const auto cells = registry::expand_sweep(spec);
  const auto id = registry::plan_sweep(store, spec, cells);
  return {spec, id};
}

analysis::Table status_table(const std::vector<registry::CellStatus>& cells) {
  analysis::Table t({"cell", "state", "attempts", "axes", "config", "run", "run status", "note"});
  for (const auto& c : cells) {
    t.add_row({std::to_string(c.index), c.state, std::to_string(c.attempts), c.axes, c.hash.substr(0, 8),
               c.run_id.value_or(""), c.run_status.value_or(""), c.note});
  }
  return t;
}

std::string counts(const std::vector<registry::CellStatus>& cells) {
  std::map<std::string, int> n;
  for (const auto& c : cells) ++n[c.state];
  std::string out = std::to_string(cells.size()) + " cells:";
  for (const auto* state : {"done", "running", "pending", "failed"}) out += " " + std::to_string(n[state]) + " " + state;
  return out;
}

int plan(const Invocation& in, const std::string& file) {
  const auto& o = in.options;
  auto spec = registry::parse_sweep_file(file);
  const auto cells = registry::expand_sweep(spec);
  if (!o["dry-run"].as<bool>()) {
    auto store = registry::ResultsStore::open(results_path(o));
    registry::plan_sweep(store, spec, cells);
  }
  analysis::Table t({"cell", "axes", "config", "settings"});
  const auto& base = registry::find_experiment(spec.experiment).base;
  for (const auto& c : cells) {
    std::string axes, changed;
    for (const auto& [k, v] : c.axes) axes += (axes.empty() ? "" : " ") + k + "=" + v;
    // What differs from the experiment's base configuration besides the axes.
    for (const auto& [k, v] : c.config) {
      if (c.axes.count(k)) continue;
      auto it = base.find(k);
      if (it == base.end() || it->second != v) changed += (changed.empty() ? "" : " ") + k + "=" + v;
    }
    t.add_row({std::to_string(c.index), axes, c.hash.substr(0, 8), changed});
  }
  std::cout << t.render(table_format(o));
  if (table_format(o) == analysis::TableFormat::kText) {
    std::cout << "sweep " << spec.name << ": " << cells.size() << " cells of experiment " << spec.experiment
              << (o["dry-run"].as<bool>() ? " (dry run: nothing recorded)" : ", planned in " + results_path(o)) << "\n";
  }
  return kExitOk;
}

int run(const Invocation& in, const std::string& target) {
  const auto& o = in.options;
  auto store = registry::ResultsStore::open(results_path(o));
  const auto [spec, sweep_id] = planned_sweep(store, target);
  // Cells whose worker died become failed (and are retried); their runs stale.
  const int expired = registry::expire_leases(store, sweep_id);
  if (expired > 0) spdlog::info("sweep {}: {} cell(s) lost their worker and will be retried", spec.name, expired);
  experiments::SweepWorkerOptions options;
  options.results = results_path(o);
  options.epalm = this_executable();
  options.workers = o["workers"].as<int>();
  options.max_cells = o["max-cells"].as<int>();
  options.force = o["force"].as<bool>();
  options.fuse = o["fuse"].as<int>();
  if (options.workers < 1) throw UsageError("--workers", "must be >= 1");
  if (options.fuse < 1) throw UsageError("--fuse", "must be >= 1 (1: one cell a job)");
  if (options.fuse > 1 && std::find(spec.command.begin(), spec.command.end(), "train") == spec.command.end()) {
    throw UsageError("--fuse", "fuses `epalm train` cells, and this sweep's command is not one");
  }
  const auto report = experiments::run_sweep_cells(spec, sweep_id, options);
  const auto cells = registry::sweep_status(store, sweep_id);
  std::cout << status_table(cells).render(table_format(o));
  if (table_format(o) == analysis::TableFormat::kText) {
    std::cout << "sweep " << spec.name << ": ran " << report.done + report.failed << " (" << report.done << " done, "
              << report.failed << " failed); " << counts(cells) << "\n";
  }
  // Cells still pending or running belong to other workers; a failed one is ours to report.
  for (const auto& c : cells) {
    if (c.state == "failed") return kExitFailure;
  }
  return kExitOk;
}

int status(const Invocation& in, const std::string& target) {
  const auto& o = in.options;
  auto store = registry::ResultsStore::open(results_path(o));
  const bool is_file = fs::exists(target) && fs::is_regular_file(target);
  const auto [spec, sweep_id] = planned_sweep(store, is_file ? registry::parse_sweep_file(target).name : target);
  registry::expire_leases(store, sweep_id);
  store.reap_stale(o["stale-after"].as<double>());
  const auto cells = registry::sweep_status(store, sweep_id);
  std::cout << status_table(cells).render(table_format(o));
  if (table_format(o) == analysis::TableFormat::kText) std::cout << "sweep " << spec.name << ": " << counts(cells) << "\n";
  return kExitOk;
}

int run_sweep(const Invocation& in) {
  if (in.world.rank() != 0) return kExitOk;
  // Each action takes the sweep: a sweep file or a planned sweep's name.
  const auto on_sweep = [](int (*action)(const Invocation&, const std::string&)) -> Action {
    return [action](const Invocation& i) {
      return action(i, required(i.options, "sweep", "epalm sweep plan|run|status|resume <sweep.json or planned sweep name>"));
    };
  };
  return run_action(in, {{"plan", on_sweep(plan)}, {"run", on_sweep(run)}, {"status", on_sweep(status)},
                         {"resume", on_sweep(run)}});
}

}  // namespace

Command sweep_command() {
  return {"sweep",
          "Grid sweeps: a registered experiment x axes x seeds, each cell one run.\n\n"
          "  epalm sweep plan <sweep.json> [--dry-run]   expand and record the cells\n"
          "  epalm sweep run <sweep.json | name>          plan if new, then run what is left\n"
          "  epalm sweep status <sweep.json | name>       each cell's state, attempts and run\n"
          "  epalm sweep resume <name | sweep.json>      the same as run: cells done are skipped, cells\n"
          "                                              failed (or left by a dead worker) are retried\n\n"
          "Each cell runs `epalm train --config <cell.ini>` (or the sweep file's command) as a child\n"
          "process with EPALM_RESULTS, EPALM_SWEEP and EPALM_SWEEP_CELL set; a cell whose configuration\n"
          "already finished (in any sweep) is skipped unless --force. Several workers (--workers, or\n"
          "several `epalm sweep run` processes, e.g. one per SLURM array task) claim cells atomically,\n"
          "so each runs once; --fuse K trains up to K compatible cells in one job. The sweep file format is\n"
          "in docs/results-store.md.",
          [](po::options_description& settings) {
            add_results_settings(settings);
            settings.add_options()                                                                       //
                ("action", po::value<std::string>(), "plan, run, status or resume (the first argument)")     //
                ("sweep", po::value<std::string>(), "the sweep file, or a planned sweep's name (the second argument)")  //
                ("dry-run", po::bool_switch(), "plan: print the cells without recording them")             //
                ("workers", po::value<int>()->default_value(1), "run: cells run at the same time by this process")  //
                ("max-cells", po::value<int>()->default_value(0),
                 "run: claim at most this many cells, then stop (0: all; 1 for one SLURM array task each)")  //
                ("force", po::bool_switch(), "run: also rerun cells whose configuration already finished")    //
                ("fuse", po::value<int>()->default_value(1),
                 "run: train up to K cells that differ only in what trains (connectors, levels, prompt, adapters, "
                 "optimizer) as one job (`epalm train --fuse`): one copy of the frozen models, one data stream and "
                 "encoder pass for all; each stays its own cell and run")  //
                ("stale-after", po::value<double>()->default_value(300),
                 "status: seconds without a heartbeat after which a running run is stale");
          },
          run_sweep, {"action", "sweep"}};
}

}  // namespace epalm::cli
