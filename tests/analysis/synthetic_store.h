// A results store filled through the store's own API with a grid of runs:
// shared-connector x levels, several seeds, scores and loss histories, plus
// the awkward cases a comparison must survive (a missing cell, a cell with
// other seeds, a rerun seed, a failed run, a tagged run). The tests recompute
// what they expect from this list, not from the store.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "epalm/registry/results_store.h"
#include "epalm/registry/sweep.h"
#include "epalm/registry/sweep_store.h"

namespace epalm::testing {

struct SyntheticRun {
  std::string id;
  bool shared = false;
  int levels = 1;
  int prompt_length = 10;
  int seed = 0;
  std::string status = "finished";
  double accuracy = 0, cider = 0, last_loss = 0;
  bool broken = false;
  double started = 0;
};

inline std::vector<SyntheticRun> write_synthetic_grid(const std::string& db_path,
                                                      const std::string& experiment = "ablation-grid") {
  auto store = registry::ResultsStore::open(db_path);
  std::vector<SyntheticRun> runs;
  double clock = 1.7e9;
  auto add = [&](bool shared, int levels, int seed, const std::string& status, int prompt_length) {
    SyntheticRun r;
    r.shared = shared;
    r.levels = levels;
    r.seed = seed;
    r.status = status;
    r.prompt_length = prompt_length;
    const double phase = 1.3 * seed + 0.7 * levels + (shared ? 0.3 : 0.0);
    r.accuracy = 40 + 1.5 * levels + (shared ? 0.7 : 0.0) + 0.8 * std::sin(phase) + (status == "finished" ? 0 : -30);
    r.cider = 1.1 + 0.05 * levels - (shared ? 0.02 : 0.0) + 0.03 * std::cos(2 * phase);
    r.started = clock += 10;
    registry::RunStart start;
    start.run_id = registry::new_run_id();
    start.experiment = experiment;
    start.params = {{"shared-connector", shared ? "true" : "false"},
                    {"levels", std::to_string(levels)},
                    {"prompt-length", std::to_string(prompt_length)},
                    {"lr", "1e-4"},
                    {"seed", std::to_string(seed)}};
    start.provenance.host = "synthetic";
    start.provenance.command_line = "synthetic grid";
    start.started = r.started;
    store.start_run(start);
    std::vector<registry::MetricPoint> points;
    for (int step = 1; step <= 5; ++step) {
      const double loss = 2.0 / step + 0.1 * levels + 0.05 * std::sin(phase + step);
      points.push_back({"loss", step, loss, r.started + step});
      r.last_loss = loss;
    }
    store.append_metrics(start.run_id, points);
    store.record_scores(start.run_id, "val", {{"vqa_accuracy", r.accuracy}, {"cider", r.cider}}, r.started + 6);
    // What the trainables count (connectors per level, shared or not).
    store.record_scores(start.run_id, "model", {{"trainable_parameters", (shared ? 1.0 : 2.0) * levels * 2.5e5}},
                        r.started + 6);
    store.finish_run(start.run_id, status == "finished" ? registry::RunStatus::kFinished : registry::RunStatus::kFailed,
                     status == "finished" ? 0 : 1, status == "finished" ? "" : "synthetic failure", r.started + 7);
    r.id = start.run_id;
    runs.push_back(r);
    return runs.size() - 1;
  };
  for (bool shared : {true, false}) {
    for (int levels = 1; levels <= 3; ++levels) {
      if (!shared && levels == 3) continue;  // the missing cell
      std::vector<int> seeds = {0, 1, 2, 3};
      if (!shared && levels == 2) seeds = {0, 1};       // fewer seeds: paired on two
      if (shared && levels == 3) seeds = {10, 11, 12};  // no shared seed: unpaired
      for (int seed : seeds) add(shared, levels, seed, "finished", levels == 1 ? 5 : 10);
    }
  }
  add(true, 2, 1, "finished", 10);       // a rerun of seed 1: the newer run counts
  add(true, 1, 0, "failed", 5);          // failed: not compared
  runs[add(false, 1, 3, "finished", 5)].broken = true;  // seed 3 again, newest, tagged broken
  for (const auto& r : runs) {
    if (r.broken) store.tag_run(r.id, "broken", "");
  }
  return runs;
}

// Runs of two other studies: LM size (decoder opt-125m, opt-350m, opt-1.3b)
// and data-parallel scaling (world sizes 1, 2, 4), three seeds each.
inline void write_size_and_scaling_runs(const std::string& db_path) {
  auto store = registry::ResultsStore::open(db_path);
  double clock = 1.8e9;
  auto add = [&](const std::string& experiment, const registry::Params& params, int world_size, const registry::Values& scores,
                 double samples_per_second) {
    registry::RunStart start;
    start.run_id = registry::new_run_id();
    start.experiment = experiment;
    start.params = params;
    start.provenance.host = "synthetic";
    start.provenance.world_size = world_size;
    start.started = clock += 10;
    store.start_run(start);
    std::vector<registry::MetricPoint> points;
    for (int step = 1; step <= 3; ++step) points.push_back({"samples_per_second", step, samples_per_second * (0.9 + 0.05 * step), clock});
    store.append_metrics(start.run_id, points);
    if (!scores.empty()) store.record_scores(start.run_id, "val", scores, clock);
    store.finish_run(start.run_id, registry::RunStatus::kFinished, 0, "", clock + 5);
  };
  const std::vector<std::pair<std::string, double>> sizes = {{"opt-125m", 125e6}, {"opt-350m", 350e6}, {"opt-1.3b", 1.3e9}};
  for (const auto& [decoder, size] : sizes) {
    for (int seed = 0; seed < 3; ++seed) {
      add("lm-size", {{"decoder", decoder}, {"seed", std::to_string(seed)}}, 1,
          {{"vqa_accuracy", 30 + 3 * std::log10(size) + 0.5 * std::sin(seed + size)}}, 100);
    }
  }
  for (int world : {1, 2, 4}) {
    for (int seed = 0; seed < 3; ++seed) {
      add("scaling", {{"seed", std::to_string(seed)}, {"batch-size", "8"}}, world, {}, 90.0 * world * (1 - 0.03 * world) + seed);
    }
  }
}

// A planned sweep whose cells ran (the sweep store's own claim/complete),
// each cell's run recorded with a loss history and a score; one cell failed.
inline void write_synthetic_sweep(const std::string& db_path, const std::string& name) {
  auto store = registry::ResultsStore::open(db_path);
  const auto spec = registry::parse_sweep_json(
      "{\"name\": \"" + name + "\", \"experiment\": \"ablation-prompt-length\", "
      "\"axes\": {\"prompt-length\": [1, 5, 10]}, \"seeds\": [0, 1, 2], \"max-retries\": 0}", "synthetic sweep");
  const auto sweep_id = registry::plan_sweep(store, spec, registry::expand_sweep(spec));
  while (auto cell = registry::claim_cell(store, sweep_id, "synthetic", 600, true)) {
    const double prompt = std::stod(cell->config.at("prompt-length")), seed = std::stod(cell->config.at("seed"));
    registry::RunStart start;
    start.run_id = registry::new_run_id();
    start.experiment = spec.experiment;
    start.sweep = spec.name;
    start.cell_index = cell->index;
    start.params = cell->config;
    start.provenance.host = "synthetic";
    start.started = registry::now_seconds();
    store.start_run(start);
    std::vector<registry::MetricPoint> points;
    for (int step = 1; step <= 10; ++step) {
      points.push_back({"loss", step, 2.0 / step + 0.02 * prompt + 0.05 * std::sin(seed + step), start.started});
    }
    store.append_metrics(start.run_id, points);
    store.record_scores(start.run_id, "val", {{"vqa_accuracy", 40 + 0.3 * prompt + std::sin(seed)}}, start.started);
    const bool ok = cell->index != 4;
    store.finish_run(start.run_id, ok ? registry::RunStatus::kFinished : registry::RunStatus::kFailed, ok ? 0 : 1,
                     ok ? "" : "synthetic failure", registry::now_seconds());
    registry::complete_cell(store, sweep_id, cell->index, "synthetic", ok, ok ? "" : "exit 1");
  }
}

}  // namespace epalm::testing
