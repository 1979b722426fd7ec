// `epalm bench comm`: times all_gather, reduce_scatter and all_reduce over a
// communicator for message sizes doubling from min_bytes to max_bytes, and
// reports nccl-tests' algorithm and bus bandwidths: algbw = S / t, with S the
// bytes of the whole message (the gathered tensor for all_gather and
// reduce_scatter); busbw = algbw x 2(n-1)/n for all_reduce and x (n-1)/n for
// all_gather and reduce_scatter: what each link carries, so it compares with
// the hardware's bandwidth whatever the rank count. t is the mean over
// `repetitions` back-to-back collectives, the slowest rank's. Then, unless
// step.layers is 0, the sharded training step of shard_step_bench.h.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "epalm/core/parallel/communicator.h"
#include "epalm/experiments/bench/shard_step_bench.h"

namespace epalm::experiments {

struct CommBenchSettings {
  std::vector<parallel::Collective> ops;
  std::int64_t min_bytes = 1024, max_bytes = 64LL << 20;
  c10::ScalarType dtype = c10::kFloat;
  c10::Device device = c10::kCPU;
  int warmup = 1;
  int repetitions = 5;
  StepSettings step;  // step.layers == 0: no step
};

struct CollectiveRow {
  std::string op;
  std::int64_t bytes = 0;
  std::int64_t elements = 0;
  double seconds = 0;
  double algbw = 0;  // GB/s (1e9 bytes)
  double busbw = 0;
};

struct CommBenchReport {
  std::vector<CollectiveRow> rows;
  std::vector<StepRow> steps;
  // The share of the Shard step that the skipped all-gathers save: the
  // communication it exposes (0 without a step).
  double exposed = 0;
  nlohmann::ordered_json record;  // every figure, the settings and the versions (--output)
};

// "all_gather,reduce_scatter,all_reduce" -> the collectives; UsageError naming --ops.
std::vector<parallel::Collective> parse_collectives(const std::string& list);

// Runs on every rank of `world`; every rank gets the report.
CommBenchReport run_comm_bench(parallel::Communicator& comm, const distributed::World& world, const CommBenchSettings& settings);

}  // namespace epalm::experiments
