#include "bench_store_record.h"

#include "run_recording.h"

namespace epalm::cli {

std::string record_bench_run(const std::string& results, const std::string& name, const experiments::BenchResult& result,
                             const std::vector<std::string>& arguments, const distributed::World& world) {
  if (results.empty()) return "";
  std::map<std::string, std::string> params(result.settings.begin(), result.settings.end());
  params["peer"] = result.peer ? result.peer_implementation : "off";
  auto recorder = record_run("bench", "bench-" + name, std::move(params), results, arguments, world);
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
