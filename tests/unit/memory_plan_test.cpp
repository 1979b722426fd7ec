// The memory planner on the real model presets' tensor shapes: units by
// layer, the whole model's bytes as the models count them, and shard choices
// that follow the budget.
#include <gtest/gtest.h>

#include "epalm/core/parallel/memory_plan.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/vit.h"

namespace epalm {
namespace {

std::vector<parallel::PlanUnit> opt_vit_units(const std::string& opt, const std::string& vit) {
  auto units = parallel::plan_units("decoder", models::opt_tensor_shapes(models::OptConfig::preset(opt)), "decoder.layers.",
                          100000, 2);
  for (auto& u : parallel::plan_units("encoder", models::vit_tensor_shapes(models::VitConfig::preset(vit)), "encoder.layer.",
                            100000, 1)) {
    units.push_back(u);
  }
  return units;
}

std::int64_t total_elements(const std::vector<parallel::PlanUnit>& units) {
  std::int64_t n = 0;
  for (const auto& u : units) n += u.large_elements + u.small_elements;
  return n;
}

int sharded(const parallel::MemoryPlan& plan) {
  int n = 0;
  for (const auto& u : plan.units) n += u.policy == parallel::ShardPolicy::kShard;
  return n;
}

TEST(MemoryPlan, UnitsAreLayersAndHoldEveryParameter) {
  const auto config = models::OptConfig::preset("opt-125m");
  const auto units = parallel::plan_units("decoder", models::opt_tensor_shapes(config), "decoder.layers.", 100000, 2);
  ASSERT_EQ(units.size(), 1u + 12u);
  EXPECT_EQ(units[0].name, "decoder other");
  EXPECT_EQ(units[1].name, "decoder.layers.0");
  EXPECT_EQ(units[12].name, "decoder.layers.11");
  EXPECT_EQ(total_elements(units), models::opt_parameter_count(config));
  // A layer's large matrices: q, k, v, out (h x h) and fc1, fc2 (h x ffn); biases and norms stay small.
  const auto h = config.hidden_size;
  EXPECT_EQ(units[1].large_elements, 4 * h * h + 2 * h * config.ffn_dim);
  EXPECT_EQ(units[1].small_elements, 4 * h + config.ffn_dim + h + 4 * h);
}

TEST(MemoryPlan, WithoutABudgetEverythingIsReplicatedAndOnlyGradientsAreReduced) {
  const auto units = opt_vit_units("opt-6.7b", "vit-large-patch16-224");
  parallel::PlanSettings s;
  s.world = 8;
  s.trainable_parameters = 4239360;
  const auto plan = parallel::plan_memory(units, s);
  EXPECT_TRUE(plan.fits);
  EXPECT_EQ(sharded(plan), 0);
  const auto params = models::opt_parameter_count(models::OptConfig::preset("opt-6.7b")) +
                      models::vit_parameter_count(models::VitConfig::preset("vit-large-patch16-224"));
  EXPECT_EQ(plan.frozen_total_bytes, 2 * params);
  EXPECT_EQ(plan.frozen_resident_bytes, plan.frozen_total_bytes);
  EXPECT_EQ(plan.all_gather_bytes_per_micro_batch, 0);
  EXPECT_EQ(plan.gather_buffer_bytes, 0);
  EXPECT_EQ(plan.all_reduce_bytes_per_step, (4239360 + 1) * 4);
  EXPECT_EQ(plan.all_reduce_ring_bytes_per_step, 2 * 7 * (4239360 + 1) * 4 / 8);
}

TEST(MemoryPlan, ShardingEverythingLeavesTotalOverNPlusTheGatherBuffers) {
  const auto units = opt_vit_units("opt-2.7b", "vit-large-patch16-224");
  for (int world : {2, 3, 8}) {
    parallel::PlanSettings s;
    s.world = world;
    s.mode = parallel::PlanMode::kShard;
    const auto plan = parallel::plan_memory(units, s);
    std::int64_t large = 0, small = 0, largest = 0, received = 0;
    for (const auto& u : units) {
      large += u.large_elements;
      small += u.small_elements;
      largest = std::max(largest, u.large_elements);
      received += u.gathers_per_micro_batch * u.large_elements;
    }
    // Resident: 1/N of the large matrices (up to one element of padding each) + the small tensors.
    EXPECT_GE(plan.frozen_resident_bytes, 2 * (large / world + small)) << world;
    EXPECT_LE(plan.frozen_resident_bytes, 2 * (large / world + small + static_cast<std::int64_t>(units.size())))
        << world;
    EXPECT_NEAR(static_cast<double>(plan.gather_buffer_bytes), 3.0 * 2 * largest, 3.0 * 2 * world) << world;
    // Each rank receives the other ranks' (N-1)/N of every gathered unit.
    EXPECT_NEAR(static_cast<double>(plan.all_gather_bytes_per_micro_batch), 2.0 * received * (world - 1) / world,
                1e-6 * 2.0 * received)
        << world;
  }
}

TEST(MemoryPlan, ShardsOnlyAsFarAsTheBudgetDemands) {
  const auto units = opt_vit_units("opt-6.7b", "vit-large-patch16-224");
  parallel::PlanSettings s;
  s.world = 8;
  s.trainable_parameters = 4239360;
  s.activation_bytes = 400LL << 20;
  std::int64_t previous = 0;
  for (double gib : {16.0, 13.0, 10.0, 8.0, 6.0, 4.0, 3.5}) {
    s.budget_bytes = static_cast<std::int64_t>(gib * (1LL << 30));
    const auto plan = parallel::plan_memory(units, s);
    ASSERT_TRUE(plan.fits) << gib << " GiB";
    EXPECT_LE(plan.per_rank_bytes, s.budget_bytes) << gib << " GiB";
    // The least communication that fits: a smaller budget never needs less.
    EXPECT_GE(plan.all_gather_bytes_per_micro_batch, previous) << gib << " GiB";
    previous = plan.all_gather_bytes_per_micro_batch;
    if (sharded(plan) == 0) continue;
    // Minimal: replicating any one sharded unit back breaks the budget.
    for (size_t i = 0; i < plan.units.size(); ++i) {
      if (plan.units[i].policy != parallel::ShardPolicy::kShard) continue;
      const auto& u = plan.units[i];
      const auto back = plan.per_rank_bytes - u.resident_bytes + 2 * (u.unit.large_elements + u.unit.small_elements);
      EXPECT_GT(back, s.budget_bytes) << u.unit.name << " at " << gib << " GiB";
    }
  }
  EXPECT_GT(previous, 0);
}

TEST(MemoryPlan, SaysWhenNothingFits) {
  const auto units = opt_vit_units("opt-6.7b", "vit-large-patch16-224");
  parallel::PlanSettings s;
  s.world = 2;
  s.budget_bytes = 1LL << 30;
  EXPECT_FALSE(parallel::plan_memory(units, s).fits);
  s.world = 1;  // one rank cannot shard
  s.budget_bytes = 4LL << 30;
  const auto one = parallel::plan_memory(units, s);
  EXPECT_FALSE(one.fits);
  EXPECT_EQ(sharded(one), 0);
}

}  // namespace
}  // namespace epalm
