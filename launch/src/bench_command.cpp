// `epalm bench <case>`: our implementation against its PyTorch/transformers
// peer, in the same run on the same machine.
#include <torch/torch.h>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "epalm/experiments/bench/bench.h"
#include "bench_store_record.h"
#include "comm_bench.h"
#include "command.h"
#include "epalm/analysis/table.h"
#include "epalm/core/cpu_matmul.h"
#include "epalm/core/error.h"
#include "epalm/core/runtime_info.h"
#include "epalm/distributed/world.h"
#include "epalm/launch_paths.h"
#include "epalm/experiments/model_families.h"
#include "epalm/experiments/bench/store_bench.h"
#include "epalm/registry/results_store.h"

namespace epalm::cli {

using experiments::BenchCase;
using experiments::BenchResult;
using experiments::BenchSettings;
using experiments::Measurement;
using experiments::data_bench_cases;
using experiments::epalm_bench_cases;
using experiments::epalm_eval_bench_cases;
using experiments::sweep_fused_bench_cases;
using experiments::median;
using experiments::metrics_bench_cases;
using experiments::opt_bench_cases;
using experiments::utc_now;
using experiments::vit_bench_cases;
using experiments::write_record;

using experiments::parse_dtype;

namespace {

const std::vector<BenchCase>& bench_cases() {
  // One line per model family; each family's cases live in <family>_bench.cpp.
  static const std::vector<BenchCase> all = [] {
    std::vector<BenchCase> cases;
    for (auto&& c : opt_bench_cases()) cases.push_back(std::move(c));
    for (auto&& c : vit_bench_cases()) cases.push_back(std::move(c));
    for (auto&& c : epalm_bench_cases()) cases.push_back(std::move(c));
    for (auto&& c : epalm_eval_bench_cases()) cases.push_back(std::move(c));
    for (auto&& c : sweep_fused_bench_cases()) cases.push_back(std::move(c));
    for (auto&& c : data_bench_cases()) cases.push_back(std::move(c));
    for (auto&& c : metrics_bench_cases()) cases.push_back(std::move(c));
    return cases;
  }();
  return all;
}

using analysis::fixed;

std::string mib(std::int64_t bytes) { return fixed(static_cast<double>(bytes) / (1024.0 * 1024.0), 1); }

double tokens_per_s(const BenchResult& r, const Measurement& m) {
  return m.median_s > 0 ? static_cast<double>(r.tokens_per_run) / m.median_s : 0;
}

nlohmann::ordered_json measurement_json(const BenchResult& r, const Measurement& m) {
  nlohmann::ordered_json j;
  j["times_s"] = m.times_s;
  j["median_s"] = m.median_s;
  j["min_s"] = m.min_s;
  j[r.unit + "_per_s"] = tokens_per_s(r, m);
  j["memory_kind"] = m.memory_kind;
  j["peak_bytes"] = m.peak_bytes;
  j["delta_bytes"] = m.delta_bytes;
  if (!m.extra.is_null()) {
    for (const auto& [key, value] : m.extra.items()) j[key] = value;
  }
  return j;
}

nlohmann::ordered_json record(const std::string& name, const BenchResult& r) {
  nlohmann::ordered_json j;
  j["name"] = name;
  j["timestamp"] = utc_now();
  for (const auto& [key, value] : r.settings) j["settings"][key] = value;
  j[r.unit + "_per_run"] = r.tokens_per_run;
  j["ours"] = measurement_json(r, r.ours);
  if (r.peer) {
    j["peer"] = measurement_json(r, *r.peer);
    j["peer"]["implementation"] = r.peer_implementation;
    j["ratio"]["time"] = r.peer->median_s > 0 ? r.ours.median_s / r.peer->median_s : 0;
    const double peer_tps = tokens_per_s(r, *r.peer);
    j["ratio"][r.unit + "_per_s"] = peer_tps > 0 ? tokens_per_s(r, r.ours) / peer_tps : 0;
    j["ratio"]["peak_memory"] =
        r.peer->peak_bytes > 0 ? static_cast<double>(r.ours.peak_bytes) / static_cast<double>(r.peer->peak_bytes) : 0;
    j["check"] = r.check;
    j["outputs_agree"] = r.agree;
  }
  const auto info = collect_runtime_info();
  j["versions"] = {{"epalm", info.epalm_version},         {"build_type", info.build_type},
                   {"compiler", info.compiler},           {"libtorch", info.torch_version},
                   {"cuda_runtime", info.cuda_runtime_version}, {"cuda_driver", info.cuda_driver_version},
                   {"intra_op_threads", info.intra_op_threads}};
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  j["host"] = host;
  return j;
}

analysis::Table result_table(const std::string& name, const BenchResult& r) {
  analysis::Table t({"case", "implementation", "median ms", "min ms", r.unit + "/s", "peak MiB", "run +MiB"});
  auto row = [&](const std::string& impl, const Measurement& m) {
    t.add_row({name, impl, fixed(m.median_s * 1e3, 2), fixed(m.min_s * 1e3, 2), fixed(tokens_per_s(r, m), 1),
               mib(m.peak_bytes), mib(m.delta_bytes)});
  };
  row(r.ours_label, r.ours);
  if (r.peer) {
    row(r.peer_label, *r.peer);
    auto ratio = [](double a, double b) { return b > 0 ? fixed(a / b, 3) : std::string("-"); };
    t.add_row({name, "ratio epalm/peer", ratio(r.ours.median_s, r.peer->median_s), ratio(r.ours.min_s, r.peer->min_s),
               ratio(tokens_per_s(r, r.ours), tokens_per_s(r, *r.peer)),
               ratio(static_cast<double>(r.ours.peak_bytes), static_cast<double>(r.peer->peak_bytes)),
               ratio(static_cast<double>(r.ours.delta_bytes), static_cast<double>(r.peer->delta_bytes))});
  }
  return t;
}

int run_bench(const Invocation& in) {
  const auto& o = in.options;
  const auto name = o["case"].as<std::string>();
  if (name == "store" || name == "analysis") {
    experiments::StoreBenchSettings s;
    s.runs = o[name == "store" ? "store-runs" : "analysis-runs"].as<int>();
    s.points = o["store-points"].as<int>();
    s.repetitions = std::max(o["repetitions"].as<int>(), 1);
    s.work_dir = o["work-dir"].as<std::string>();
    s.results = o["results"].as<std::string>();
    s.progress = isatty(STDERR_FILENO);
    s.argv = {"epalm", "bench"};
    s.argv.insert(s.argv.end(), in.arguments.begin(), in.arguments.end());
    const auto report = name == "store" ? experiments::run_store_bench(s, in.world)
                                        : experiments::run_analysis_bench(s, in.world);
    std::cout << report.table.render(analysis::parse_table_format(o["format"].as<std::string>()));
    if (!report.run_id.empty()) {
      std::cout << "recorded as run " << report.run_id << " (experiment bench-" << name << ") in " << s.results << "\n";
    }
    return kExitOk;
  }
  if (name == "comm") return run_comm_bench(in);
  const BenchCase* chosen = nullptr;
  std::string known = "analysis, comm, store";
  for (const auto& c : bench_cases()) {
    if (c.name == name) chosen = &c;
    known += (known.empty() ? "" : ", ") + c.name;
  }
  if (chosen == nullptr) {
    throw UsageError("case", "unknown benchmark '" + name + "' (cases: " + known + ", store)");
  }
  const auto format = analysis::parse_table_format(o["format"].as<std::string>());

  BenchSettings s;
  s.model = o["model"].defaulted() ? chosen->default_model : o["model"].as<std::string>();
  s.encoder = o["encoder"].as<std::string>();
  s.batch = o["batch"].as<int>();
  s.tokens = o["tokens"].as<int>();
  s.new_tokens = o["new-tokens"].as<int>();
  s.warmup = o["warmup"].as<int>();
  s.repetitions = o["repetitions"].as<int>();
  s.threads = o["threads"].as<int>();
  s.samples = o["samples"].as<int>();
  s.loader_threads = o["loader-threads"].as<int>();
  if (s.samples < 0) throw UsageError("--samples", "must be >= 0 (0: the case's default)");
  if (s.loader_threads < 1) throw UsageError("--loader-threads", "must be >= 1");
  s.variants = o["variants"].as<int>();
  if (s.variants != 4 && s.variants != 8) throw UsageError("--variants", "must be 4 or 8 (the ablation grids)");
  s.augment = o["augment"].as<std::string>();
  if (s.augment != "off" && s.augment != "crop-flip" && s.augment != "rand-augment") {
    throw UsageError("--augment", "must be off, crop-flip or rand-augment, not '" + s.augment + "'");
  }
  s.dtype = parse_dtype(o["dtype"].as<std::string>());
  s.attention = models::parse_attention_kernel(o["attention"].as<std::string>());
  s.seed = o["seed"].as<std::uint64_t>();
  const auto peer = o["peer"].as<std::string>();
  if (peer != "on" && peer != "off") throw UsageError("--peer", "must be on or off, not '" + peer + "'");
  s.peer = peer == "on";
  s.python = o["python"].as<std::string>();
  s.peer_scripts = o["peer-scripts"].as<std::string>();
  s.work_dir = o["work-dir"].as<std::string>();
  s.progress = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
  for (const auto& [value, option] : {std::pair{s.batch, "--batch"}, {s.tokens, "--tokens"}, {s.new_tokens, "--new-tokens"}}) {
    if (value < 0) throw UsageError(option, "must be >= 0 (0: the case's default)");
  }
  if (s.warmup < 0) throw UsageError("--warmup", "must be >= 0");
  if (s.repetitions < 1) throw UsageError("--repetitions", "must be >= 1");
  set_compute_threads(s.threads);
  s.device = resolve_device(o["device"].as<std::string>(), in.world.topology().local_rank);

  Progress progress(s.progress);
  auto result = chosen->run(s, progress);
  progress.clear();
  if (s.device.is_cpu()) result.settings.push_back({"cpu matmul", cpu_matmul().summary});
  const auto j = record(name, result);
  if (o.count("output")) write_record(o["output"].as<std::string>(), j);
  const auto run = record_bench_run(o["results"].as<std::string>(), name, result, in.arguments, in.world);
  if (format == analysis::TableFormat::kJson) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << result_table(name, result).render(format);
  if (format == analysis::TableFormat::kText) {
    std::cout << "\n";
    for (const auto& [key, value] : result.settings) std::cout << key << ": " << value << "\n";
    std::cout << "memory: " << result.ours.memory_kind << " peak over the timed runs; +MiB above the level before them\n";
    if (result.peer) std::cout << "check: " << result.check << "\n";
    else std::cout << "peer: off (no ratio)\n";
    if (!run.empty()) std::cout << "recorded: run " << run << " in " << o["results"].as<std::string>() << "\n";
  }
  return 0;
}

std::string summary() {
  std::string cases;
  for (const auto& c : bench_cases()) cases += "  " + c.name + std::string(16 - std::min<size_t>(15, c.name.size()), ' ') + c.summary + "\n";
  cases += "  comm            " + comm_bench_summary() + "\n";
  return "Time our implementation against PyTorch + transformers (eager) in the same run: same\n"
         "machine, shapes, weights (a preset's random weights are written as a Hugging Face\n"
         "checkpoint for the peer) and threads; warmup, then medians of N runs, the ratio\n"
         "epalm/peer, and peak memory. --output FILE.json keeps a machine-readable record.\n"
         "Benchmarks are not tests: not in CTest.\n\n"
         "Cases:\n" + cases +
         "  store           the results store: batched metric inserts (rows/s) and comparison-query\n"
         "                  latency over --store-runs x --store-points, recorded in --results\n";
}

}  // namespace

Command bench_command() {
  return {"bench", summary(),
          [](po::options_description& settings) {
            settings.add_options()                                                                          //
                ("case", po::value<std::string>()->default_value("opt-forward"), "the benchmark (also the first argument)")  //
                ("model", po::value<std::string>()->default_value("the case's"),
                 "a preset (random weights) or a Hugging Face checkpoint directory (default: opt-125m for the "
                 "opt-* and epalm-* cases, vit-base-patch16-224 for vit-forward)")  //
                ("encoder", po::value<std::string>()->default_value("vit-base-patch16-224"),
                 "the encoder preset of the epalm-* cases")  //
                ("batch", po::value<int>()->default_value(0), "sequences (0: the case's default)")                      //
                ("tokens", po::value<int>()->default_value(0), "tokens per sequence / prompt (0: the case's default)")  //
                ("new-tokens", po::value<int>()->default_value(0), "generated tokens (0: the case's default)")         //
                ("warmup", po::value<int>()->default_value(1), "untimed runs first")                                    //
                ("repetitions", po::value<int>()->default_value(5), "timed runs (the median is reported)")             //
                ("threads", po::value<int>()->default_value(0), "compute threads, ours and the peer's (0: LibTorch's default)")  //
                ("samples", po::value<int>()->default_value(0), "data cases: samples per pass (0: the case's default)")  //
                ("loader-threads", po::value<int>()->default_value(4),
                 "data cases: our decoding threads and the peer DataLoader's workers")                                 //
                ("augment", po::value<std::string>()->default_value("off"),
                 "data cases: our loader's transforms: off (evaluation's), crop-flip or rand-augment (training's; "
                 "the peer keeps evaluation's); sweep-fused: off lets the frozen-feature cache serve, the others run "
                 "the encoder every step")  //
                ("variants", po::value<int>()->default_value(4),
                 "sweep-fused: 4 (connector sharing x levels) or 8 (connector sharing x prompt length 0/1/5/10)")  //
                ("dtype", po::value<std::string>()->default_value("fp32"), "fp32, bf16 or fp16")                       //
                ("device", po::value<std::string>()->default_value("cpu"), "cpu, cuda or cuda:N (auto: a GPU if any)")  //
                ("attention", po::value<std::string>()->default_value("eager"),
                 "our kernel: eager (as the peer), sdpa or auto")                                                          //
                ("seed", po::value<std::uint64_t>()->default_value(0), "seed of the random weights and inputs")          //
                ("peer", po::value<std::string>()->default_value("on"), "on or off: run the transformers peer")           //
                ("python", po::value<std::string>()->default_value(EPALM_PEER_PYTHON),
                 "Python with torch and transformers for the peer (default: the one this build was configured with)")  //
                ("peer-scripts", po::value<std::string>()->default_value(EPALM_PEER_SCRIPTS), "folder of the peer scripts")  //
                ("work-dir", po::value<std::string>()->default_value(""),
                 "where temporary checkpoints and inputs go (default: the system's temp directory)")  //
                ("format", po::value<std::string>()->default_value("text"), "text, csv, md or json")  //
                ("store-runs", po::value<int>()->default_value(10000), "store: runs written")             //
                ("store-points", po::value<int>()->default_value(1000), "store: metric points per run")   //
                ("analysis-runs", po::value<int>()->default_value(10000), "analysis: runs in the compared store")  //
                ("results", po::value<std::string>()->default_value(registry::default_results_path()),
                 "the results database every benchmark is recorded in, as a run of experiment bench-<case> (\"\": none)")  //
                ("output", po::value<std::string>(), "also write the record (settings, times, ratio, memory, versions) "
                                                     "to this JSON file");
            add_comm_bench_settings(settings);
          },
          run_bench, {"case"}};
}

}  // namespace epalm::cli
