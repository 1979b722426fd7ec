// Choosing per unit (a transformer layer, or a model's embeddings) between
// keeping the frozen weights whole on every rank (Replicate) and keeping
// 1/N of them, all-gathered just before use (Shard). For eP-ALM sharding costs
// communication and only pays when memory demands it, so the planner shards
// the largest units first and only until the rank's memory fits the budget.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "epalm/core/models/state_dict.h"

namespace epalm::parallel {

enum class ShardPolicy { kReplicate, kShard };
const char* shard_policy_name(ShardPolicy policy);

struct PlanUnit {
  std::string name;
  std::int64_t large_elements = 0;  // 2-D matrices at or above the threshold: what Shard splits
  std::int64_t small_elements = 0;  // norms, biases, small tensors: always replicated
  // All-gathers per micro-batch when sharded: 1 for forward-only units (the
  // frozen encoder), 2 where backward passes through (re-gathered for dX).
  int gathers_per_micro_batch = 1;
};

// A model's tensors grouped into units: "<layer_prefix><i>." names form unit
// "<layer_prefix><i>", every other tensor joins one "<model> other" unit.
// Tensors with at least `persistence_threshold` elements and 2 dimensions
// are large. Units come in layer order, the "other" unit first.
std::vector<PlanUnit> plan_units(const std::string& model, const models::TensorShapes& shapes, const std::string& layer_prefix,
                                 std::int64_t persistence_threshold, int gathers_per_micro_batch);

enum class PlanMode { kAuto, kReplicate, kShard };
// "auto", "replicate" or "shard"; UsageError naming `option` otherwise.
PlanMode parse_plan_mode(const std::string& name, const std::string& option);

struct PlanSettings {
  int world = 1;
  std::int64_t element_bytes = 2;         // the frozen weights' dtype
  std::int64_t budget_bytes = 0;          // per rank; 0: no limit (auto replicates everything)
  std::int64_t activation_bytes = 0;      // per rank and micro-batch, estimated by the caller
  std::int64_t trainable_parameters = 0;  // fp32 weight, gradient, AdamW m and v: 16 bytes each
  int gather_buffers = 3;                 // full-unit buffers: 2 for forward prefetch, 3 in backward
  PlanMode mode = PlanMode::kAuto;
};

struct UnitPlan {
  PlanUnit unit;
  ShardPolicy policy = ShardPolicy::kReplicate;
  std::int64_t resident_bytes = 0;                  // on each rank
  std::int64_t received_bytes_per_micro_batch = 0;  // all-gathers, on each rank
};

struct MemoryPlan {
  std::vector<UnitPlan> units;
  int world = 1;
  std::int64_t frozen_total_bytes = 0;     // the whole model, as one replica
  std::int64_t frozen_resident_bytes = 0;  // per rank
  std::int64_t gather_buffer_bytes = 0;    // per rank
  std::int64_t trainable_bytes = 0;        // per rank (replicated)
  std::int64_t activation_bytes = 0;
  std::int64_t per_rank_bytes = 0;         // the sum of the four above
  std::int64_t budget_bytes = 0;
  bool fits = true;
  // Communication per rank: all-gathers per micro-batch (bytes received),
  // and the one gradient all_reduce per optimizer step (fp32 gradients and
  // the loss weight), with the bytes a ring sends per rank: 2(n-1)/n of it.
  std::int64_t all_gather_bytes_per_micro_batch = 0;
  std::int64_t all_gathers_per_micro_batch = 0;
  std::int64_t all_reduce_bytes_per_step = 0;
  std::int64_t all_reduce_ring_bytes_per_step = 0;
};

MemoryPlan plan_memory(const std::vector<PlanUnit>& units, const PlanSettings& settings);

}  // namespace epalm::parallel
