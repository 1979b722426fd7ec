#include "epalm/experiments/sweep_worker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "epalm/core/child_process.h"
#include "epalm/core/error.h"
#include "epalm/registry/hashing.h"
#include "epalm/registry/results_store.h"
#include "epalm/registry/run_recorder.h"
#include "epalm/registry/sweep_store.h"
#include "epalm/registry/training_settings.h"

namespace epalm::experiments {

namespace fs = std::filesystem;

namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

struct ChildResult {
  bool ok = false;
  std::string note;
  registry::RunStatus dead_run_status = registry::RunStatus::kFailed;
};

// Starts argv with `environment` added, stdout and stderr into `log`, and
// SIGKILL on our death (so a killed worker leaves no cell running unseen).
ChildOptions cell_process(const std::map<std::string, std::string>& environment, const std::string& log) {
  ChildOptions options;
  options.environment = environment;
  options.search_path = true;
  options.die_with_parent = true;
  options.in = ChildStream::kNull;
  options.out = options.err = ChildStream::kFile;
  options.out_file = options.err_file = log;
  return options;
}

// Runs a claim: one cell, or a group that `epalm train --fuse` trains as one
// job (the first cell's command with --fuse <cell.ini> for each other cell;
// EPALM_SWEEP_CELL lists them in that order). One result per cell: a job that
// exits non-zero fails only the cells whose runs did not finish.
std::vector<ChildResult> run_cells(registry::ResultsStore& store, const registry::SweepSpec& spec,
                                   const std::vector<registry::ClaimedCell>& cells, const std::string& owner,
                                   const SweepWorkerOptions& options) {
  const auto& first = cells.front();
  std::vector<std::string> inis, dirs;
  for (const auto& cell : cells) {
    const auto hash = registry::config_hash(cell.config);
    const fs::path dir = cell_directory(spec, options.results, cell.index, cell.config);
    fs::create_directories(dir);
    auto config = cell.config;
    config["output-dir"] = dir.string();
    config["results"] = options.results;
    const auto ini = (dir / "cell.ini").string();
    {
      std::ofstream out(ini);
      registry::write_config_ini(config, out, "sweep " + spec.name + ", cell " + std::to_string(cell.index) +
                                                  ", configuration " + hash);
      if (!out) throw Error(ini, "cannot write the cell's configuration");
    }
    inis.push_back(ini);
    dirs.push_back(dir.string());
  }
  // Launcher and command may name any of the cell's settings, e.g.
  // `mpirun -np {ranks}` for a sweep over the world size.
  std::vector<std::string> argv = spec.launcher;
  argv.insert(argv.end(), spec.command.begin(), spec.command.end());
  for (auto& a : argv) {
    a = replace_all(a, "{epalm}", options.epalm);
    a = replace_all(a, "{config}", inis.front());
    a = replace_all(a, "{results}", options.results);
    a = replace_all(a, "{output_dir}", dirs.front());
    a = replace_all(a, "{cell}", std::to_string(first.index));
    a = replace_all(a, "{sweep}", spec.name);
    a = replace_all(a, "{attempt}", std::to_string(first.attempt));
    for (const auto& [key, value] : first.config) a = replace_all(a, "{" + key + "}", value);
  }
  std::string indices = std::to_string(first.index), name = "cell " + std::to_string(first.index);
  for (std::size_t k = 1; k < cells.size(); ++k) {
    argv.insert(argv.end(), {"--fuse", inis[k]});
    indices += "," + std::to_string(cells[k].index);
  }
  if (cells.size() > 1) name = "cells " + indices + " (fused)";
  const auto log = attempt_log(dirs.front(), first.attempt);
  for (std::size_t k = 1; k < cells.size(); ++k) {
    std::ofstream(attempt_log(dirs[k], cells[k].attempt))
        << "trained in one fused job with " << name << "; its output: " << log << "\n";
  }
  std::map<std::string, std::string> environment = {{"EPALM_RESULTS", options.results},
                                                    {"EPALM_SWEEP", spec.name},
                                                    {"EPALM_EXPERIMENT", spec.experiment},
                                                    {"EPALM_SWEEP_CELL", indices},
                                                    {"EPALM_SWEEP_ATTEMPT", std::to_string(first.attempt)}};
  const auto spool = (fs::path(dirs.front()) / ("attempt-" + std::to_string(first.attempt) + ".jsonl")).string();
  if (spec.spool) environment["EPALM_SPOOL"] = spool;
  const auto started = std::chrono::steady_clock::now();
  ChildProcess child(argv, cell_process(environment, log), "sweep " + spec.name + ", " + name);
  spdlog::info("sweep {}: {} attempt {} started (pid {}, log {})", spec.name, name, first.attempt, child.pid(), log);
  auto last_renewal = started;
  const auto renew_every = std::chrono::duration<double>(spec.lease_seconds / 3);
  ChildResult job;
  for (;;) {
    if (const auto status = child.poll()) {
      if (status->signal == 0) {
        job.ok = status->code == 0;
        job.note = "exit " + std::to_string(status->code);
      } else {
        job.note = "killed by signal " + std::to_string(status->signal);
        job.dead_run_status = registry::RunStatus::kKilled;
      }
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_renewal >= renew_every) {
      bool mine = true;
      for (const auto& cell : cells) {
        mine = registry::renew_lease(store, cell.sweep_id, cell.index, owner, spec.lease_seconds) && mine;
      }
      if (!mine) {
        // A lease was expired by someone (we were stopped too long): the cells are no longer ours.
        child.kill();
        job.note = "lost its lease; stopped";
        return std::vector<ChildResult>(cells.size(), job);
      }
      last_renewal = now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  job.note += " after " + std::to_string(static_cast<int>(seconds + 0.5)) + " s";
  if (cells.size() > 1) job.note += " (one job with cells " + indices + ")";
  if (spec.spool && fs::exists(spool)) {
    // The runs recorded away from the database: load them here, on the database's host.
    const auto report = registry::ingest_spool(store, spool);
    job.note += ", ingested " + std::to_string(report.metric_rows) + " metric rows";
  }
  std::vector<ChildResult> results(cells.size(), job);
  if (!job.ok && job.dead_run_status == registry::RunStatus::kFailed && cells.size() > 1) {
    // A variant that failed fails the job's exit status; the others finished.
    for (std::size_t k = 0; k < cells.size(); ++k) {
      results[k].ok = registry::cell_run_status(store, cells[k].sweep_id, cells[k].index) == registry::RunStatus::kFinished;
    }
  }
  return results;
}

}  // namespace

std::string sweep_output_root(const registry::SweepSpec& spec, const std::string& results) {
  if (!spec.output_dir.empty()) return fs::absolute(spec.output_dir).string();
  return (fs::absolute(results).parent_path() / "sweeps" / spec.name).string();
}

std::string cell_directory(const registry::SweepSpec& spec, const std::string& results, std::int64_t index,
                           const registry::Config& config) {
  return (fs::path(sweep_output_root(spec, results)) /
          (std::to_string(index) + "-" + registry::config_hash(config).substr(0, 8)))
      .string();
}

std::string attempt_log(const std::string& cell_directory, int attempt) {
  return (fs::path(cell_directory) / ("attempt-" + std::to_string(attempt) + ".log")).string();
}

SweepWorkerReport run_sweep_cells(const registry::SweepSpec& spec, std::int64_t sweep_id,
                                  const SweepWorkerOptions& options) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::atomic<int> claimed{0}, done{0}, failed{0};
  std::exception_ptr error;
  std::mutex error_mutex, event_mutex;
  auto work = [&](int slot) {
    try {
      auto store = registry::ResultsStore::open(options.results);
      const auto owner = std::string(host) + ":" + std::to_string(getpid()) + ":" + std::to_string(slot);
      for (;;) {
        if (options.max_cells > 0 && claimed.fetch_add(1) >= options.max_cells) return;
        const auto cell = registry::claim_cell(store, sweep_id, owner, spec.lease_seconds, options.force);
        std::vector<registry::ClaimedCell> group;
        if (cell) group.push_back(*cell);
        // A fused job: cells that may train with the first (what trains differs, nothing else).
        while (cell && static_cast<int>(group.size()) < options.fuse &&
               (options.max_cells == 0 || claimed.load() < options.max_cells)) {
          const auto more = registry::claim_cell(store, sweep_id, owner, spec.lease_seconds, options.force,
                                                 [&](const registry::Config& config) {
                                                   return registry::fusion_conflict(cell->config, config).empty();
                                                 });
          if (!more) break;
          group.push_back(*more);
          if (options.max_cells > 0) claimed.fetch_add(1);
        }
        if (!cell) {
          // Nothing to claim now; a cell still running may yet need us: its
          // worker may be dead (its lease then runs out and the cell is
          // retried here) or it may fail with retries left.
          if (registry::expire_leases(store, sweep_id) > 0) {
            if (options.max_cells > 0) claimed.fetch_sub(1);
            continue;
          }
          const auto lease_end = registry::next_lease_end(store, sweep_id);
          if (!lease_end) return;
          if (options.max_cells > 0) claimed.fetch_sub(1);
          const double wait = std::clamp(*lease_end - registry::now_seconds() + 0.1, 0.1, 2.0);
          std::this_thread::sleep_for(std::chrono::duration<double>(wait));
          continue;
        }
        auto event = [&](const CellEvent& e) {
          if (!options.on_cell) return;
          std::lock_guard<std::mutex> lock(event_mutex);
          options.on_cell(e);
        };
        std::vector<std::string> logs;
        for (const auto& c : group) {
          logs.push_back(attempt_log(cell_directory(spec, options.results, c.index, c.config), c.attempt));
          event({c.index, c.attempt, false, false, "", 0, logs.back()});
        }
        const auto started = std::chrono::steady_clock::now();
        const auto results = run_cells(store, spec, group, owner, options);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        for (std::size_t k = 0; k < group.size(); ++k) {
          const auto& c = group[k];
          const auto& result = results[k];
          registry::complete_cell(store, sweep_id, c.index, owner, result.ok, result.note, result.dead_run_status);
          (result.ok ? done : failed)++;
          event({c.index, c.attempt, true, result.ok, result.note, seconds / static_cast<double>(group.size()), logs[k]});
          spdlog::info("sweep {}: cell {} attempt {} {} ({})", spec.name, c.index, c.attempt,
                       result.ok ? "done" : "failed", result.note);
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (int slot = 0; slot < std::max(1, options.workers); ++slot) threads.emplace_back(work, slot);
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  return {done.load(), failed.load()};
}

}  // namespace epalm::experiments
