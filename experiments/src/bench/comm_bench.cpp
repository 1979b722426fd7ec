#include "epalm/experiments/bench/comm_bench.h"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/core/runtime_info.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/bench/bench.h"

namespace epalm::experiments {

namespace {

using Clock = std::chrono::steady_clock;

double bus_factor(parallel::Collective op, int n) {
  if (op == parallel::Collective::kAllReduce) return 2.0 * (n - 1) / n;
  return static_cast<double>(n - 1) / n;
}

CollectiveRow measure_one(parallel::Communicator& comm, const distributed::World& world, parallel::Collective op, std::int64_t bytes,
                          c10::ScalarType dtype, c10::Device device, int warmup, int repetitions) {
  const int n = comm.size();
  const auto element = static_cast<std::int64_t>(c10::elementSize(dtype));
  // Whole elements, divisible by the ranks for the sharded collectives.
  const std::int64_t quantum = op == parallel::Collective::kAllReduce ? element : element * n;
  const std::int64_t total = std::max<std::int64_t>(1, bytes / quantum) * quantum / element;
  const auto options = torch::TensorOptions().dtype(dtype).device(device);
  auto full = torch::ones({total}, options);
  auto shard = torch::ones({total / n}, options);
  auto once = [&] {
    if (op == parallel::Collective::kAllReduce) comm.all_reduce(full, parallel::ReduceOp::kSum)->wait();
    else if (op == parallel::Collective::kAllGather) comm.all_gather(shard, full)->wait();
    else comm.reduce_scatter(full, shard, parallel::ReduceOp::kSum)->wait();
  };
  for (int i = 0; i < warmup; ++i) once();
  synchronize(device);
  world.barrier();
  const auto start = Clock::now();
  for (int i = 0; i < repetitions; ++i) once();
  synchronize(device);
  const double local = std::chrono::duration<double>(Clock::now() - start).count() / repetitions;
  CollectiveRow row;
  row.op = collective_name(op);
  row.elements = total;
  row.bytes = total * element;
  row.seconds = world.all_reduce_max(local);
  row.algbw = static_cast<double>(row.bytes) / row.seconds / 1e9;
  row.busbw = row.algbw * bus_factor(op, n);
  return row;
}

}  // namespace

std::vector<parallel::Collective> parse_collectives(const std::string& list) {
  std::vector<parallel::Collective> ops;
  std::stringstream s(list);
  std::string name;
  while (std::getline(s, name, ',')) {
    if (name == "all_gather") ops.push_back(parallel::Collective::kAllGather);
    else if (name == "reduce_scatter") ops.push_back(parallel::Collective::kReduceScatter);
    else if (name == "all_reduce") ops.push_back(parallel::Collective::kAllReduce);
    else throw UsageError("--ops", "'" + name + "' is not one of all_gather, reduce_scatter, all_reduce");
  }
  if (ops.empty()) throw UsageError("--ops", "names no collective");
  return ops;
}

CommBenchReport run_comm_bench(parallel::Communicator& comm, const distributed::World& world, const CommBenchSettings& s) {
  CommBenchReport report;
  for (auto op : s.ops) {
    for (std::int64_t bytes = s.min_bytes; bytes <= s.max_bytes; bytes *= 2) {
      report.rows.push_back(measure_one(comm, world, op, bytes, s.dtype, s.device, s.warmup, s.repetitions));
    }
  }
  const auto& step = s.step;
  if (step.layers > 0) report.steps = measure_shard_step(comm, world, step);
  const auto& steps = report.steps;
  report.exposed = steps.size() == 3 && steps[1].step_s > 0
                       ? std::max(0.0, steps[1].step_s - steps[2].step_s) / steps[1].step_s
                       : 0;
  auto& j = report.record;
  j["name"] = "comm";
  j["timestamp"] = utc_now();
  j["settings"] = {{"backend", comm.backend()},
                   {"ranks", comm.size()},
                   {"device", s.device.str()},
                   {"dtype", c10::toString(s.dtype)},
                   {"warmup", s.warmup},
                   {"repetitions", s.repetitions},
                   {"busbw", "nccl-tests: all_reduce algbw x 2(n-1)/n, all_gather and reduce_scatter x (n-1)/n"}};
  for (const auto& r : report.rows) {
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
    j["step_exposed_communication"] = report.exposed;
  }
  const auto info = collect_runtime_info();
  j["versions"] = {{"epalm", info.epalm_version},   {"build_type", info.build_type},
                   {"compiler", info.compiler},     {"libtorch", info.torch_version},
                   {"mpi", distributed::mpi_library_version()}, {"nccl", distributed::nccl_version()}};
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  j["host"] = host;
  return report;
}

}  // namespace epalm::experiments
