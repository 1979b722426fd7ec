#include "bench_store_record.h"

#include "epalm/registry/provenance.h"
#include "epalm/registry/run_recorder.h"

namespace epalm::cli {

std::string record_bench_run(const std::string& results, const std::string& name, const BenchResult& result,
                             const std::vector<std::string>& argv, int world_size) {
  if (results.empty()) return "";
  registry::RunStart start;
  start.run_id = registry::new_run_id();
  start.experiment = "bench-" + name;
  for (const auto& [key, value] : result.settings) start.params[key] = value;
  start.params["peer"] = result.peer ? result.peer_implementation : "off";
  start.provenance = registry::collect_provenance(argv, world_size);
  start.started = registry::now_seconds();
  auto recorder = registry::RunRecorder::for_run(results, start, {});
  const double units = static_cast<double>(result.tokens_per_run);
  registry::Values scores = {{"ours_median_s", result.ours.median_s},
                             {"ours_min_s", result.ours.min_s},
                             {"ours_" + result.unit + "_per_s", units / std::max(1e-12, result.ours.median_s)},
                             {"ours_peak_mib", static_cast<double>(result.ours.peak_bytes) / (1 << 20)}};
  if (result.peer) {
    scores["peer_median_s"] = result.peer->median_s;
    scores["peer_" + result.unit + "_per_s"] = units / std::max(1e-12, result.peer->median_s);
    scores["peer_peak_mib"] = static_cast<double>(result.peer->peak_bytes) / (1 << 20);
    // > 1: ours is faster (throughput ratio, medians).
    scores["speedup"] = result.peer->median_s / std::max(1e-12, result.ours.median_s);
    scores["agree"] = result.agree ? 1 : 0;
  }
  recorder.log_scores("bench", scores);
  recorder.finish(registry::RunStatus::kFinished, 0);
  return recorder.run_id();
}

}  // namespace epalm::cli
