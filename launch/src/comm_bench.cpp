// `epalm bench comm`: times all_gather, reduce_scatter and all_reduce over the
// chosen backend for message sizes doubling from --min-bytes to --max-bytes,
// and reports nccl-tests' algorithm and bus bandwidths (doc/PERFORMANCE.md):
// algbw = S / t, with S the bytes of the whole message (the gathered tensor
// for all_gather and reduce_scatter); busbw = algbw x 2(n-1)/n for all_reduce
// and x (n-1)/n for all_gather and reduce_scatter: what each link carries, so
// it compares with the hardware's bandwidth whatever the rank count. t is the
// mean over --repetitions back-to-back collectives, the slowest rank's.
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "epalm/experiments/bench/bench.h"
#include "comm_bench.h"
#include "epalm/analysis/table.h"
#include "epalm/core/error.h"
#include "epalm/core/runtime_info.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/local_launch.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/model_families.h"
#include "epalm/experiments/bench/shard_step_bench.h"

namespace epalm::cli {

using experiments::StepRow;
using experiments::StepSettings;
using experiments::measure_shard_step;
using experiments::median;
using experiments::utc_now;
using experiments::write_record;

using experiments::parse_dtype;

namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

struct Row {
  std::string op;
  std::int64_t bytes = 0;
  std::int64_t elements = 0;
  double seconds = 0;
  double algbw = 0;  // GB/s (1e9 bytes)
  double busbw = 0;
};

std::vector<Collective> parse_ops(const std::string& list) {
  std::vector<Collective> ops;
  std::stringstream s(list);
  std::string name;
  while (std::getline(s, name, ',')) {
    if (name == "all_gather") ops.push_back(Collective::kAllGather);
    else if (name == "reduce_scatter") ops.push_back(Collective::kReduceScatter);
    else if (name == "all_reduce") ops.push_back(Collective::kAllReduce);
    else throw UsageError("--ops", "'" + name + "' is not one of all_gather, reduce_scatter, all_reduce");
  }
  if (ops.empty()) throw UsageError("--ops", "names no collective");
  return ops;
}

double bus_factor(Collective op, int n) {
  if (op == Collective::kAllReduce) return 2.0 * (n - 1) / n;
  return static_cast<double>(n - 1) / n;
}

void synchronize(c10::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

Row measure_one(Communicator& comm, const distributed::World& world, Collective op, std::int64_t bytes,
                c10::ScalarType dtype, c10::Device device, int warmup, int repetitions) {
  const int n = comm.size();
  const auto element = static_cast<std::int64_t>(c10::elementSize(dtype));
  // Whole elements, divisible by the ranks for the sharded collectives.
  const std::int64_t quantum = op == Collective::kAllReduce ? element : element * n;
  const std::int64_t total = std::max<std::int64_t>(1, bytes / quantum) * quantum / element;
  const auto options = torch::TensorOptions().dtype(dtype).device(device);
  auto full = torch::ones({total}, options);
  auto shard = torch::ones({total / n}, options);
  auto once = [&] {
    if (op == Collective::kAllReduce) comm.all_reduce(full, ReduceOp::kSum)->wait();
    else if (op == Collective::kAllGather) comm.all_gather(shard, full)->wait();
    else comm.reduce_scatter(full, shard, ReduceOp::kSum)->wait();
  };
  for (int i = 0; i < warmup; ++i) once();
  synchronize(device);
  world.barrier();
  const auto start = Clock::now();
  for (int i = 0; i < repetitions; ++i) once();
  synchronize(device);
  const double local = std::chrono::duration<double>(Clock::now() - start).count() / repetitions;
  Row row;
  row.op = collective_name(op);
  row.elements = total;
  row.bytes = total * element;
  row.seconds = world.all_reduce_max(local);
  row.algbw = static_cast<double>(row.bytes) / row.seconds / 1e9;
  row.busbw = row.algbw * bus_factor(op, n);
  return row;
}

using analysis::fixed;

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
  const auto ops = parse_ops(o["ops"].as<std::string>());
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

  std::vector<Row> rows;
  for (auto op : ops) {
    for (std::int64_t bytes = min_bytes; bytes <= max_bytes; bytes *= 2) {
      rows.push_back(measure_one(*comm, in.world, op, bytes, dtype, device, warmup, repetitions));
    }
  }
  StepSettings step;
  step.layers = o["step-layers"].as<int>();
  step.width = o["step-width"].as<int>();
  step.tokens = o["step-tokens"].as<int>();
  step.decoder = o["step-decoder"].as<std::string>();
  step.warmup = warmup;
  step.repetitions = std::max(3, std::min(repetitions, 10));
  if (step.layers < 0 || step.width < 1 || step.tokens < 1) {
    throw UsageError("--step-layers", "need --step-layers >= 0, --step-width and --step-tokens >= 1");
  }
  std::vector<StepRow> steps;
  step.device = device;
  if (step.layers > 0) steps = measure_shard_step(*comm, in.world, step);
  if (in.world.rank() != 0) return 0;
  const double exposed = steps.size() == 3 && steps[1].step_s > 0
                             ? std::max(0.0, steps[1].step_s - steps[2].step_s) / steps[1].step_s
                             : 0;

  nlohmann::ordered_json j;
  j["name"] = "comm";
  j["timestamp"] = utc_now();
  j["settings"] = {{"backend", comm->backend()},
                   {"ranks", comm->size()},
                   {"device", device.str()},
                   {"dtype", c10::toString(dtype)},
                   {"warmup", warmup},
                   {"repetitions", repetitions},
                   {"busbw", "nccl-tests: all_reduce algbw x 2(n-1)/n, all_gather and reduce_scatter x (n-1)/n"}};
  for (const auto& r : rows) {
    j["results"].push_back({{"op", r.op},
                            {"bytes", r.bytes},
                            {"elements", r.elements},
                            {"time_us", r.seconds * 1e6},
                            {"algbw_GBps", r.algbw},
                            {"busbw_GBps", r.busbw}});
  }
  for (const auto& r : steps) {
    j["step"].push_back({{"mode", r.mode},
                         {"step_ms", r.step_s * 1e3},
                         {"all_gathers", r.all_gathers},
                         {"gathered_bytes", r.gathered_bytes},
                         {"all_reduces", r.all_reduces},
                         {"frozen_bytes_per_rank", r.frozen_bytes}});
  }
  if (!steps.empty()) {
    j["step_settings"] = {{"layers", step.layers}, {"width", step.width}, {"tokens_per_rank", step.tokens},
                          {"decoder", step.decoder}};
    j["step_exposed_communication"] = exposed;
  }
  const auto info = collect_runtime_info();
  j["versions"] = {{"epalm", info.epalm_version},   {"build_type", info.build_type},
                   {"compiler", info.compiler},     {"libtorch", info.torch_version},
                   {"mpi", distributed::mpi_library_version()}, {"nccl", distributed::nccl_version()}};
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  j["host"] = host;
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
