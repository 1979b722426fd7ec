#include "epalm/experiments/bench/store_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "epalm/analysis/comparison.h"
#include "epalm/analysis/comparison_export.h"
#include "epalm/analysis/query.h"
#include "epalm/analysis/report.h"
#include "epalm/analysis/run_records.h"
#include "epalm/analysis/table.h"
#include "epalm/core/error.h"
#include "epalm/core/progress.h"
#include "epalm/core/scratch_dir.h"
#include "epalm/distributed/world.h"
#include "epalm/registry/results_store.h"
#include "epalm/registry/run_recorder.h"
#include "epalm/registry/sweep.h"
#include "epalm/registry/sweep_store.h"

namespace epalm::experiments {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

using analysis::fixed;

// A grid like an ablation's: shared-connector x levels x seeds x
// prompt-length (and reruns), each run with the settings a training run
// records, a loss history and two scores. Every run is read by the
// comparison; each cell keeps one value per seed (the newest run's).
void fill(registry::ResultsStore& store, int runs, bool show_progress) {
  Progress progress(show_progress);
  const auto provenance = registry::collect_provenance({"epalm", "bench", "analysis"}, 1);
  for (int r = 0; r < runs; ++r) {
    const bool shared = r % 2 == 0;
    // Five seeds per cell, as a study has; the other settings vary across the store.
    const int levels = 1 + (r / 2) % 3, seed = (r / 6) % 5, prompt = (r / 30) % 5 * 5;
    const double phase = 1.3 * seed + 0.7 * levels + (shared ? 0.3 : 0.0);
    registry::RunStart start;
    start.run_id = registry::new_run_id();
    start.experiment = "bench-ablation-grid";
    start.params = {{"shared-connector", shared ? "true" : "false"}, {"levels", std::to_string(levels)},
                    {"prompt-length", std::to_string(prompt)},       {"seed", std::to_string(seed)},
                    {"lr", "1e-4"},                                  {"prompt-lr", "1e-3"},
                    {"task", "vqa"},                                 {"decoder", "opt-2.7b"},
                    {"encoder", "vit-base-patch16-224"},             {"batch-size", "8"},
                    {"epochs", "8"},                                 {"warmup-steps", "1000"}};
    start.provenance = provenance;
    start.started = registry::now_seconds();
    store.start_run(start);
    std::vector<registry::MetricPoint> points;
    for (int step = 1; step <= 10; ++step) {
      points.push_back({"loss", step, 2.0 / step + 0.1 * levels + 0.05 * std::sin(phase + step), start.started});
    }
    store.append_metrics(start.run_id, points);
    store.record_scores(start.run_id, "val",
                        {{"vqa_accuracy", 40 + 1.5 * levels + (shared ? 0.7 : 0) + 0.1 * prompt + 0.8 * std::sin(phase)},
                         {"cider", 1.1 + 0.05 * levels + 0.03 * std::cos(2 * phase)}},
                        start.started);
    store.finish_run(start.run_id, registry::RunStatus::kFinished, 0, "", registry::now_seconds());
    if ((r + 1) % 500 == 0) progress.say("bench analysis: " + std::to_string(r + 1) + "/" + std::to_string(runs) + " runs written");
  }
}

// A finished 100-run sweep (prompt-length x lr x 5 seeds), each cell's run
// recorded as a sweep worker's cell would be: a loss history and two scores.
void fill_sweep(registry::ResultsStore& store) {
  const auto spec = registry::parse_sweep_json(
      R"({"name": "bench-report", "experiment": "ablation-prompt-length",
          "axes": {"prompt-length": [1, 5, 10, 20], "lr": [1e-5, 2e-5, 5e-5, 1e-4, 2e-4]}, "seeds": [0, 1, 2, 3, 4]})",
      "bench analysis");
  const auto cells = registry::expand_sweep(spec);
  const auto sweep_id = registry::plan_sweep(store, spec, cells);
  const auto provenance = registry::collect_provenance({"epalm", "bench", "analysis"}, 1);
  while (auto cell = registry::claim_cell(store, sweep_id, "bench", 600, true)) {
    const double prompt = std::stod(cell->config.at("prompt-length")), lr = std::stod(cell->config.at("lr"));
    const double seed = std::stod(cell->config.at("seed"));
    registry::RunStart start;
    start.run_id = registry::new_run_id();
    start.experiment = spec.experiment;
    start.sweep = spec.name;
    start.cell_index = cell->index;
    start.params = cell->config;
    start.provenance = provenance;
    start.started = registry::now_seconds();
    store.start_run(start);
    std::vector<registry::MetricPoint> points;
    for (int step = 1; step <= 50; ++step) {
      points.push_back({"loss", step, 2.0 / step + 0.01 * prompt + 1e3 * lr + 0.02 * std::sin(seed + step), start.started});
    }
    store.append_metrics(start.run_id, points);
    store.record_scores(start.run_id, "val", {{"vqa_accuracy", 40 + 0.2 * prompt + 0.5 * std::sin(seed)}}, start.started);
    store.finish_run(start.run_id, registry::RunStatus::kFinished, 0, "", registry::now_seconds());
    registry::complete_cell(store, sweep_id, cell->index, "bench", true, "");
  }
}

}  // namespace

StoreBenchReport run_analysis_bench(const StoreBenchSettings& s, const distributed::World& world) {
  if (s.runs < 30) throw UsageError("--analysis-runs", "must be >= 30 (a full grid of seeds)");
  const ScratchDir scratch(s.work_dir, "epalm-bench-analysis-");
  const fs::path dir = scratch.path();
  const auto db_path = (dir / "bench.sqlite").string();
  auto store = registry::ResultsStore::open(db_path);
  const auto fill_start = Clock::now();
  fill(store, s.runs, s.progress);
  const double fill_s = ms_since(fill_start) / 1e3;

  // `epalm runs compare --experiment bench-ablation-grid --by shared-connector,levels
  //  --metric score.val.vqa_accuracy,score.val.cider,metric.loss.last
  //  --baseline shared-connector=true,levels=1`: load, pivot, test, render.
  analysis::ComparisonSpec spec;
  spec.rows = {"shared-connector", "levels"};
  spec.values = {"score.val.vqa_accuracy", "score.val.cider", "metric.loss.last"};
  spec.baseline = {{"shared-connector", "true"}, {"levels", "1"}};
  size_t used = 0;
  std::string rendered;
  std::vector<double> load_ms, pivot_ms;
  const auto compare = measure_latency(s.repetitions, [&] {
    const auto t0 = Clock::now();
    analysis::RunSelection selection;
    selection.experiment = "bench-ablation-grid";
    analysis::FieldNeeds needs;
    for (const auto& k : analysis::comparison_settings(spec)) needs.params.insert(k);
    for (const auto& v : spec.values) analysis::Field::parse(v, "--metric").add_needs(needs);
    selection.run_details = false;  // as runs compare without --where
    needs.apply(selection);
    selection.tags = false;
    auto finished = analysis::load_runs(store, selection);
    finished.erase(std::remove_if(finished.begin(), finished.end(),
                                  [](const analysis::RunRecord& r) { return r.run.status != "finished"; }),
                   finished.end());
    load_ms.push_back(ms_since(t0));
    const auto t1 = Clock::now();
    const auto c = analysis::compare_runs(finished, spec);
    pivot_ms.push_back(ms_since(t1));
    used = finished.size();
    rendered = analysis::export_comparison(c, analysis::TableFormat::kText);
  });
  if (used != static_cast<size_t>(s.runs)) throw Error(db_path, "the comparison read " + std::to_string(used) + " runs");

  fill_sweep(store);
  size_t report_bytes = 0;
  const auto report = measure_latency(std::max(1, s.repetitions / 4), [&] {
    const auto path = (dir / "report.html").string();
    analysis::write_output(path, analysis::sweep_report_html(store, "bench-report", {}));
    report_bytes = fs::file_size(path);
  });

  analysis::Table t({"measure", "value", "target"});
  t.add_row({"runs in the store", std::to_string(s.runs), "10000"});
  t.add_row({"fill wall time s (store API)", fixed(fill_s, 1), ""});
  t.add_row({"runs compare: 2 axes, 3 values, baseline: median ms", fixed(compare.median_ms, 1), "< 100"});
  t.add_row({"runs compare: max ms", fixed(compare.max_ms, 1), ""});
  std::sort(load_ms.begin(), load_ms.end());
  std::sort(pivot_ms.begin(), pivot_ms.end());
  t.add_row({"  of which loading the runs: median ms", fixed(load_ms[load_ms.size() / 2], 1), ""});
  t.add_row({"  of which pivot and tests: median ms", fixed(pivot_ms[pivot_ms.size() / 2], 1), ""});
  t.add_row({"runs report, 100-run sweep, written: median ms", fixed(report.median_ms, 1), "< 2000"});
  t.add_row({"report KiB", fixed(static_cast<double>(report_bytes) / 1024, 0), ""});

  std::string run_id;
  if (!s.results.empty() && world.rank() == 0) {
    registry::RunStart start;
    start.experiment = "bench-analysis";
    start.params = {{"runs", std::to_string(s.runs)}, {"repetitions", std::to_string(s.repetitions)}};
    start.provenance = registry::collect_provenance(s.argv, world.size());
    registry::RecorderOptions options;
    options.heartbeat_seconds = 0;
    auto recorder = registry::RunRecorder::to_store(s.results, start, options);
    recorder.log_scores("bench", {{"compare_median_ms", compare.median_ms}, {"compare_max_ms", compare.max_ms},
                                  {"report_median_ms", report.median_ms}, {"fill_s", fill_s}});
    recorder.finish(registry::RunStatus::kFinished, 0);
    run_id = recorder.run_id();
  }
  return {t, run_id};
}

}  // namespace epalm::experiments
