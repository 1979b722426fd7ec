// `epalm bench comm`: its options, the restart under mpirun, and the tables
// (the measurement is experiments/bench/comm_bench.h).
#include <torch/torch.h>

#include <iostream>

#include "comm_bench.h"
#include "epalm/analysis/table.h"
#include "epalm/core/error.h"
#include "epalm/core/runtime_info.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/local_launch.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/bench/bench.h"
#include "epalm/experiments/bench/comm_bench.h"
#include "epalm/experiments/model_families.h"

namespace epalm::cli {

using experiments::parse_dtype;
using experiments::write_record;

namespace {

namespace po = boost::program_options;

using analysis::fixed;
using experiments::StepSettings;

std::string human_bytes(std::int64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return fixed(v, v == static_cast<std::int64_t>(v) ? 0 : 1) + " " + units[u];
}

}  // namespace

std::string comm_bench_summary() {
  return "bus bandwidth of all_gather / reduce_scatter / all_reduce per message size (nccl-tests'\n"
         "                  busbw), under mpirun (--ranks; --device cuda: NCCL, cpu: MPI)";
}

void add_comm_bench_settings(po::options_description& settings) {
  settings.add_options()                                                                                          //
      ("ranks", po::value<int>()->default_value(2), "comm: ranks to start under mpirun when run as one process")  //
      ("comm-backend", po::value<std::string>()->default_value("auto"), "comm: auto, mpi, nccl or local")         //
      ("ops", po::value<std::string>()->default_value("all_gather,reduce_scatter,all_reduce"),
       "comm: the collectives, comma-separated")                                                         //
      ("min-bytes", po::value<std::int64_t>()->default_value(1024), "comm: smallest message")              //
      ("max-bytes", po::value<std::int64_t>()->default_value(64LL << 20), "comm: largest message (sizes double)")  //
      ("comm-timeout", po::value<double>()->default_value(600), "comm: collective timeout in seconds (watchdog)")  //
      ("step-layers", po::value<int>()->default_value(4), "comm: frozen MLP layers of the timed training step (0: none)")  //
      ("step-width", po::value<int>()->default_value(512), "comm: their width (the MLP is 4x wider)")  //
      ("step-tokens", po::value<int>()->default_value(1024), "comm: tokens per rank and micro-batch in the step")  //
      ("step-decoder", po::value<std::string>()->default_value(""),
       "comm: an OPT preset (opt-125m, ...): time the real decoder's step, every layer sharded, instead of the MLP");
}

int run_comm_bench(const Invocation& in) {
  const auto& o = in.options;
  const int ranks = o["ranks"].as<int>();
  if (ranks < 1) throw UsageError("--ranks", "must be >= 1");
  if (ranks > 1 && in.world.size() == 1 && !in.world.topology().launched_by_mpi()) {
    std::vector<std::string> arguments{"bench"};
    arguments.insert(arguments.end(), in.arguments.begin(), in.arguments.end());
    distributed::exec_command(
        distributed::local_mpirun_command(ranks, distributed::current_executable(), arguments));
  }
  experiments::CommBenchSettings s;
  s.ops = experiments::parse_collectives(o["ops"].as<std::string>());
  const auto min_bytes = o["min-bytes"].as<std::int64_t>();
  const auto max_bytes = o["max-bytes"].as<std::int64_t>();
  if (min_bytes < 1 || max_bytes < min_bytes) throw UsageError("--min-bytes", "need 1 <= --min-bytes <= --max-bytes");
  const int warmup = o["warmup"].as<int>();
  const int repetitions = o["repetitions"].as<int>();
  if (warmup < 0) throw UsageError("--warmup", "must be >= 0");
  if (repetitions < 1) throw UsageError("--repetitions", "must be >= 1");
  const auto dtype = parse_dtype(o["dtype"].as<std::string>());
  const auto format = analysis::parse_table_format(o["format"].as<std::string>());
  set_compute_threads(o["threads"].as<int>());
  const auto device = resolve_device(o["device"].as<std::string>(), in.world.topology().local_rank);

  distributed::CommunicatorOptions options;
  options.backend = o["comm-backend"].as<std::string>();
  options.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(o["comm-timeout"].as<double>() * 1000));
  auto comm = distributed::make_communicator(in.world, device, options);

  StepSettings& step = s.step;
  step.layers = o["step-layers"].as<int>();
  step.width = o["step-width"].as<int>();
  step.tokens = o["step-tokens"].as<int>();
  step.decoder = o["step-decoder"].as<std::string>();
  step.warmup = warmup;
  step.repetitions = std::max(3, std::min(repetitions, 10));
  if (step.layers < 0 || step.width < 1 || step.tokens < 1) {
    throw UsageError("--step-layers", "need --step-layers >= 0, --step-width and --step-tokens >= 1");
  }
  step.device = device;
  s.min_bytes = min_bytes;
  s.max_bytes = max_bytes;
  s.dtype = dtype;
  s.device = device;
  s.warmup = warmup;
  s.repetitions = repetitions;
  const auto report = experiments::run_comm_bench(*comm, in.world, s);
  if (in.world.rank() != 0) return 0;
  const auto& rows = report.rows;
  const auto& steps = report.steps;
  const auto& j = report.record;
  const double exposed = report.exposed;
  if (o.count("output")) write_record(o["output"].as<std::string>(), j);
  if (format == analysis::TableFormat::kJson) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  analysis::Table table({"op", "size", "elements", "time us", "algbw GB/s", "busbw GB/s"});
  for (const auto& r : rows) {
    table.add_row({r.op, human_bytes(r.bytes), std::to_string(r.elements), fixed(r.seconds * 1e6, 1),
                   fixed(r.algbw, 3), fixed(r.busbw, 3)});
  }
  std::cout << table.render(format);
  if (format == analysis::TableFormat::kText) {
    std::cout << "\n"
              << comm->backend() << " on " << comm->size() << " rank(s), " << device.str() << ", "
              << c10::toString(dtype) << "; time: mean of " << repetitions
              << " back-to-back collectives, slowest rank; GB = 1e9 bytes\n";
  }
  if (!steps.empty()) {
    analysis::Table st({"step: frozen weights", "ms (median, slowest rank)", "all-gathers", "gathered MiB", "all-reduces",
                        "frozen MiB/rank"});
    for (const auto& r : steps) {
      st.add_row({r.mode, fixed(r.step_s * 1e3, 2), std::to_string(r.all_gathers),
                  fixed(static_cast<double>(r.gathered_bytes) / (1024.0 * 1024.0), 1), std::to_string(r.all_reduces),
                  fixed(static_cast<double>(r.frozen_bytes) / (1024.0 * 1024.0), 1)});
    }
    std::cout << "\n" << st.render(format);
    if (format == analysis::TableFormat::kText) {
      std::cout << "\nstep: "
                << (step.decoder.empty() ? std::to_string(step.layers) + " frozen layers of width " + std::to_string(step.width)
                                         : "the " + step.decoder + " decoder (random weights), every layer")
                << ", " << step.tokens
                << " tokens per rank, forward + backward + gradient all_reduce; exposed communication in Shard mode: "
                << fixed(exposed * 100, 1) << "% of the step\n";
    }
  }
  return 0;
}

}  // namespace epalm::cli
