// The step-time half of `epalm bench comm`: one training step (forward and
// backward through frozen layers into trainable inputs, then the gradient
// all_reduce) with the frozen weights replicated, sharded, and sharded with
// the all-gathers skipped (FSDP's fake all-gather switch): the last two differ
// by the communication the step exposes. With `decoder` set, the frozen
// layers are a real OPT decoder of that architecture (random weights written
// as a checkpoint) trained through a soft prompt, every layer sharded.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

namespace epalm::parallel {
class Communicator;
}
namespace epalm::distributed {
class World;
}

namespace epalm::experiments {

struct StepSettings {
  int layers = 4;
  int width = 512;   // hidden; the MLP is 4x wider
  int tokens = 1024;  // per rank and micro-batch
  std::string decoder;  // an OPT preset (opt-125m, ...): the real decoder instead of the MLP layers
  int warmup = 1;
  int repetitions = 5;
  c10::Device device = c10::kCPU;
};

struct StepRow {
  std::string mode;  // replicate, shard, shard (no gathers)
  double step_s = 0;  // median, slowest rank
  std::int64_t all_gathers = 0;
  std::int64_t gathered_bytes = 0;
  std::int64_t all_reduces = 0;
  std::int64_t frozen_bytes = 0;  // frozen weights resident on a rank (whole tensors + its shards)
};

std::vector<StepRow> measure_shard_step(parallel::Communicator& communicator, const distributed::World& world,
                                        const StepSettings& settings);

}  // namespace epalm::experiments
