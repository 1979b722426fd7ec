// `epalm bench store`: the results store's own numbers. Batched metric
// inserts (rows/s) into a fresh database, then the latency of the comparison
// queries over what was written; recorded in the results store like any run.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "epalm/distributed/world.h"
#include "epalm/analysis/table.h"
#include "epalm/core/error.h"
#include "epalm/core/progress.h"
#include "epalm/core/scratch_dir.h"
#include "epalm/registry/results_store.h"
#include "epalm/registry/run_recorder.h"
#include "epalm/experiments/bench/store_bench.h"

namespace epalm::experiments {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

using analysis::fixed;

}  // namespace

Latency measure_latency(int repetitions, const std::function<void()>& body) {
  std::vector<double> ms;
  for (int i = 0; i < repetitions; ++i) {
    const auto start = Clock::now();
    body();
    ms.push_back(seconds_since(start) * 1e3);
  }
  if (ms.empty()) return {};
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.back()};
}

StoreBenchReport run_store_bench(const StoreBenchSettings& s, const distributed::World& world) {
  if (s.runs < 1 || s.points < 1) throw UsageError("--store-runs/--store-points", "must be >= 1");
  const ScratchDir scratch(s.work_dir, "epalm-bench-store-");
  const fs::path dir = scratch.path();
  const auto db_path = (dir / "bench.sqlite").string();

  auto store = registry::ResultsStore::open(db_path);
  const std::vector<std::string> prompt_lengths = {"0", "1", "5", "10", "20"};
  const std::vector<std::string> lrs = {"1e-5", "2e-5", "5e-5", "1e-4"};
  const auto provenance = registry::collect_provenance({"epalm", "bench", "store"}, 1);
  std::vector<std::string> ids;
  ids.reserve(static_cast<size_t>(s.runs));
  double insert_s = 0;
  std::int64_t rows = 0;
  std::vector<registry::MetricPoint> batch(static_cast<size_t>(s.points));
  Progress progress(s.progress);
  const auto total_start = Clock::now();
  for (int r = 0; r < s.runs; ++r) {
    registry::RunStart start;
    start.run_id = registry::new_run_id();
    start.experiment = "bench-ablation";
    start.params = {{"prompt-length", prompt_lengths[static_cast<size_t>(r) % prompt_lengths.size()]},
                    {"lr", lrs[static_cast<size_t>(r / 5) % lrs.size()]},
                    {"seed", std::to_string(r / 20)}};
    start.provenance = provenance;
    start.started = registry::now_seconds();
    store.start_run(start);
    const double wall = registry::now_seconds();
    for (int p = 0; p < s.points; ++p) {
      batch[static_cast<size_t>(p)] = {"loss", p, 2.0 / (1.0 + 0.01 * p) + 0.001 * (r % 97), wall};
    }
    // One batched flush per run, as a recorder's flush of `points` rows.
    const auto t = Clock::now();
    store.append_metrics(start.run_id, batch);
    insert_s += seconds_since(t);
    rows += s.points;
    store.finish_run(start.run_id, registry::RunStatus::kFinished, 0, "", registry::now_seconds());
    ids.push_back(start.run_id);
    if ((r + 1) % 500 == 0) progress.say("bench store: " + std::to_string(r + 1) + "/" + std::to_string(s.runs) + " runs written");
  }
  progress.clear();
  const double fill_s = seconds_since(total_start);
  const double rows_per_s = rows / insert_s;

  // The queries a researcher runs on a finished ablation.
  const auto compare = measure_latency(s.repetitions, [&] {
    const auto result = store.compare("bench-ablation", "prompt-length", "loss", registry::Summary::kBest);
    if (result.size() != prompt_lengths.size() && s.runs >= 5) throw Error(db_path, "comparison returned a wrong row count");
  });
  const auto compare_last = measure_latency(s.repetitions, [&] {
    store.compare("bench-ablation", "lr", "loss", registry::Summary::kLast);
  });
  registry::RunFilter filter;
  filter.experiment = "bench-ablation";
  filter.params["prompt-length"] = "10";
  filter.limit = 100;
  const auto listing = measure_latency(s.repetitions, [&] { store.list_runs(filter); });
  const auto show = measure_latency(s.repetitions, [&] { store.show_run(ids[ids.size() / 2]); });
  const auto db_bytes = fs::file_size(db_path) + (fs::exists(db_path + "-wal") ? fs::file_size(db_path + "-wal") : 0);

  analysis::Table t({"measure", "value", "target"});
  t.add_row({"metric rows inserted", std::to_string(rows), ""});
  t.add_row({"runs x points per run", std::to_string(s.runs) + " x " + std::to_string(s.points), "10000 x 1000"});
  t.add_row({"batched insert rows/s", fixed(rows_per_s, 0), ">= 100000"});
  t.add_row({"fill wall time s (runs, params, inserts, summaries)", fixed(fill_s, 1), ""});
  t.add_row({"compare by prompt-length (best) median ms", fixed(compare.median_ms, 2), "< 100"});
  t.add_row({"compare by prompt-length (best) max ms", fixed(compare.max_ms, 2), ""});
  t.add_row({"compare by lr (last) median ms", fixed(compare_last.median_ms, 2), "< 100"});
  t.add_row({"list runs where prompt-length=10 (100) median ms", fixed(listing.median_ms, 2), ""});
  t.add_row({"show one run median ms", fixed(show.median_ms, 2), ""});
  t.add_row({"database MiB", fixed(static_cast<double>(db_bytes) / (1 << 20), 1), ""});

  std::string run_id;
  if (!s.results.empty() && world.rank() == 0) {
    registry::RunStart start;
    start.experiment = "bench-store";
    start.params = {{"runs", std::to_string(s.runs)}, {"points", std::to_string(s.points)},
                    {"batch-rows", std::to_string(s.points)}, {"repetitions", std::to_string(s.repetitions)}};
    start.provenance = registry::collect_provenance(s.argv, world.size());
    registry::RecorderOptions options;
    options.heartbeat_seconds = 0;
    auto recorder = registry::RunRecorder::to_store(s.results, start, options);
    recorder.log_scores("bench", {{"insert_rows_per_s", rows_per_s},
                                  {"compare_best_median_ms", compare.median_ms},
                                  {"compare_best_max_ms", compare.max_ms},
                                  {"compare_last_median_ms", compare_last.median_ms},
                                  {"list_median_ms", listing.median_ms},
                                  {"show_median_ms", show.median_ms},
                                  {"database_mib", static_cast<double>(db_bytes) / (1 << 20)}});
    recorder.finish(registry::RunStatus::kFinished, 0);
    run_id = recorder.run_id();
  }
  return {t, run_id};
}

}  // namespace epalm::experiments
