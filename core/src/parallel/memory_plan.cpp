#include "epalm/core/parallel/memory_plan.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "epalm/core/error.h"

namespace epalm::parallel {

namespace {

std::int64_t elements_of(const std::vector<std::int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Fills in bytes and communication for the policies already chosen.
void account(MemoryPlan& plan, const PlanSettings& s) {
  const auto eb = s.element_bytes;
  const auto n = static_cast<std::int64_t>(s.world);
  plan.frozen_total_bytes = plan.frozen_resident_bytes = plan.all_gather_bytes_per_micro_batch = 0;
  plan.all_gathers_per_micro_batch = 0;
  std::int64_t largest_sharded = 0;
  for (auto& u : plan.units) {
    const auto whole = (u.unit.large_elements + u.unit.small_elements) * eb;
    plan.frozen_total_bytes += whole;
    if (u.policy == ShardPolicy::kShard) {
      // Each rank keeps ceil(large / n) (the last shards padded), gathers the rest.
      const auto shard = ceil_div(u.unit.large_elements, n);
      u.resident_bytes = (shard + u.unit.small_elements) * eb;
      u.received_bytes_per_micro_batch = u.unit.gathers_per_micro_batch * (n - 1) * shard * eb;
      plan.all_gathers_per_micro_batch += u.unit.gathers_per_micro_batch;
      largest_sharded = std::max(largest_sharded, shard * n * eb);
    } else {
      u.resident_bytes = whole;
      u.received_bytes_per_micro_batch = 0;
    }
    plan.frozen_resident_bytes += u.resident_bytes;
    plan.all_gather_bytes_per_micro_batch += u.received_bytes_per_micro_batch;
  }
  plan.gather_buffer_bytes = largest_sharded * s.gather_buffers;
  plan.per_rank_bytes =
      plan.frozen_resident_bytes + plan.gather_buffer_bytes + plan.trainable_bytes + plan.activation_bytes;
  plan.fits = s.budget_bytes <= 0 || plan.per_rank_bytes <= s.budget_bytes;
}

}  // namespace

const char* shard_policy_name(ShardPolicy policy) { return policy == ShardPolicy::kShard ? "shard" : "replicate"; }

PlanMode parse_plan_mode(const std::string& name, const std::string& option) {
  if (name == "auto") return PlanMode::kAuto;
  if (name == "replicate") return PlanMode::kReplicate;
  if (name == "shard") return PlanMode::kShard;
  throw UsageError(option, "'" + name + "' is not one of auto, replicate, shard");
}

std::vector<PlanUnit> plan_units(const std::string& model, const models::TensorShapes& shapes, const std::string& layer_prefix,
                                 std::int64_t persistence_threshold, int gathers_per_micro_batch) {
  PlanUnit other{model + " other", 0, 0, gathers_per_micro_batch};
  std::map<std::int64_t, PlanUnit> layers;
  for (const auto& [name, shape] : shapes) {
    const auto count = elements_of(shape);
    const bool large = shape.size() == 2 && count >= persistence_threshold;
    PlanUnit* unit = &other;
    if (name.rfind(layer_prefix, 0) == 0) {
      const auto rest = name.substr(layer_prefix.size());
      const auto dot = rest.find('.');
      const auto index = std::stoll(rest.substr(0, dot));
      auto [it, added] = layers.try_emplace(index);
      if (added) it->second = PlanUnit{layer_prefix + std::to_string(index), 0, 0, gathers_per_micro_batch};
      unit = &it->second;
    }
    (large ? unit->large_elements : unit->small_elements) += count;
  }
  std::vector<PlanUnit> units;
  if (other.large_elements + other.small_elements > 0) units.push_back(other);
  for (auto& [index, unit] : layers) units.push_back(unit);
  return units;
}

MemoryPlan plan_memory(const std::vector<PlanUnit>& units, const PlanSettings& s) {
  if (s.world < 1) throw UsageError("--ranks", "must be >= 1, not " + std::to_string(s.world));
  if (s.element_bytes < 1) throw UsageError("plan", "element bytes must be positive");
  MemoryPlan plan;
  plan.world = s.world;
  plan.budget_bytes = s.budget_bytes;
  plan.activation_bytes = s.activation_bytes;
  plan.trainable_bytes = s.trainable_parameters * 16;
  const auto gradients = s.trainable_parameters + 1;  // + the loss weight
  plan.all_reduce_bytes_per_step = s.world > 1 ? gradients * 4 : 0;
  plan.all_reduce_ring_bytes_per_step = 2 * (s.world - 1) * gradients * 4 / s.world;
  for (const auto& u : units) plan.units.push_back({u, ShardPolicy::kReplicate, 0, 0});

  const bool can_shard = s.world > 1;
  // Shard is honoured on one rank too (a shard is the whole unit): the same
  // numbers through the sharded path. Auto never shards there: it cannot help.
  if (s.mode == PlanMode::kShard) {
    for (auto& u : plan.units) {
      if (u.unit.large_elements > 0) u.policy = ShardPolicy::kShard;
    }
  }
  account(plan, s);
  if (s.mode != PlanMode::kAuto || plan.fits || !can_shard) return plan;

  // The gather buffers are sized by the largest sharded unit, so for each
  // possible largest size, shard the largest units up to it first until the
  // budget holds; keep the plan that fits with the least communication (else
  // the smallest).
  std::vector<std::int64_t> caps;
  for (const auto& u : plan.units) {
    if (u.unit.large_elements > 0) caps.push_back(u.unit.large_elements);
  }
  std::sort(caps.begin(), caps.end());
  caps.erase(std::unique(caps.begin(), caps.end()), caps.end());
  std::vector<size_t> order(plan.units.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return plan.units[a].unit.large_elements > plan.units[b].unit.large_elements;
  });
  MemoryPlan best;
  bool have = false;
  for (auto cap : caps) {
    MemoryPlan candidate = plan;
    for (auto i : order) {
      auto& u = candidate.units[i];
      if (u.unit.large_elements == 0 || u.unit.large_elements > cap) continue;
      u.policy = ShardPolicy::kShard;
      account(candidate, s);
      if (candidate.fits) break;
    }
    const bool better =
        !have || (candidate.fits && !best.fits) ||
        (candidate.fits == best.fits &&
         (candidate.fits ? candidate.all_gather_bytes_per_micro_batch < best.all_gather_bytes_per_micro_batch
                         : candidate.per_rank_bytes < best.per_rank_bytes));
    if (better) {
      best = candidate;
      have = true;
    }
  }
  return have ? best : plan;
}

}  // namespace epalm::parallel
