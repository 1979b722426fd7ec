// RandAugment's draws: each op about equally often, the p = 0.5 coin and the
// signs both ways, a pure function of (seed, epoch, index).
#include <gtest/gtest.h>

#include <array>
#include <cmath>

#include "epalm/core/augment/augmentations.h"
#include "epalm/core/augment/rand_augment.h"

namespace epalm::augment {
namespace {

constexpr int kSamples = 20000;

Random sample_random(std::uint64_t index, std::int64_t epoch = 0) { return Random(sample_seed(1234, epoch, index)); }

// |count - n p| within 5 binomial standard deviations.
void expect_binomial(std::int64_t count, std::int64_t n, double p, const std::string& what) {
  const double mean = static_cast<double>(n) * p;
  const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
  EXPECT_LT(std::abs(static_cast<double>(count) - mean), 5 * sd) << what << ": " << count << " of " << n;
}

TEST(RandAugmentDraws, AlbefOpsCoinsAndSignsAreUniform) {
  std::array<std::int64_t, kAlbefOpCount> chosen{}, applied{}, negative{};
  std::int64_t steps = 0;
  for (int i = 0; i < kSamples; ++i) {
    auto random = sample_random(static_cast<std::uint64_t>(i));
    const auto draw = sample_albef_rand_augment(random);
    ASSERT_EQ(draw.steps.size(), 2u);
    for (const auto& step : draw.steps) {
      const auto k = static_cast<std::size_t>(step.op);
      ++steps;
      ++chosen[k];
      applied[k] += step.applied;
      negative[k] += step.negative;
      if (!step.applied || !albef_op_signed(step.op)) {
        EXPECT_FALSE(step.negative) << albef_op_name(step.op);
      }
    }
  }
  for (int k = 0; k < kAlbefOpCount; ++k) {
    const auto name = std::string(albef_op_name(static_cast<AlbefOp>(k)));
    expect_binomial(chosen[k], steps, 1.0 / kAlbefOpCount, name + " chosen");
    expect_binomial(applied[k], chosen[k], 0.5, name + " applied");
    if (albef_op_signed(static_cast<AlbefOp>(k))) {
      expect_binomial(negative[k], applied[k], 0.5, name + " negative");
    }
  }
}

TEST(RandAugmentDraws, AlbefArgumentsFollowTheSign) {
  for (int k = 0; k < kAlbefOpCount; ++k) {
    const auto op = static_cast<AlbefOp>(k);
    const double positive = albef_op_argument(op, false, 7), negative = albef_op_argument(op, true, 7);
    if (albef_op_signed(op)) {
      EXPECT_GT(positive, 0) << albef_op_name(op);
      EXPECT_EQ(negative, -positive) << albef_op_name(op);
    } else {
      EXPECT_EQ(negative, positive) << albef_op_name(op);
    }
    // A stronger level gives a stronger argument (enhance factors grow from 0.1).
    if (positive != 0) {
      EXPECT_GT(albef_op_argument(op, false, 9), positive) << albef_op_name(op);
    }
  }
}

TEST(RandAugmentDraws, TorchvisionOpsAndSignsAreUniform) {
  std::array<std::int64_t, kTorchvisionOpCount> chosen{}, negative{};
  std::int64_t steps = 0;
  for (int i = 0; i < kSamples; ++i) {
    auto random = sample_random(static_cast<std::uint64_t>(i));
    const auto draw = sample_torchvision_rand_augment(random);
    ASSERT_EQ(draw.steps.size(), 2u);
    EXPECT_EQ(draw.magnitude, 9);
    EXPECT_EQ(draw.num_bins, 31);
    for (const auto& step : draw.steps) {
      const auto k = static_cast<std::size_t>(step.op);
      ++steps;
      ++chosen[k];
      negative[k] += step.negative;
      if (!torchvision_op_signed(step.op)) {
        EXPECT_FALSE(step.negative) << torchvision_op_name(step.op);
      }
    }
  }
  int signed_ops = 0;
  for (int k = 0; k < kTorchvisionOpCount; ++k) {
    const auto op = static_cast<TorchvisionOp>(k);
    expect_binomial(chosen[k], steps, 1.0 / kTorchvisionOpCount, std::string(torchvision_op_name(op)) + " chosen");
    if (torchvision_op_signed(op)) {
      ++signed_ops;
      expect_binomial(negative[k], chosen[k], 0.5, std::string(torchvision_op_name(op)) + " negative");
    }
  }
  EXPECT_EQ(signed_ops, 9);  // torchvision's table: shears, translations, rotation and the four enhancements
}

bool same(const AlbefRandAugment& a, const AlbefRandAugment& b) {
  if (a.steps.size() != b.steps.size()) return false;
  for (std::size_t i = 0; i < a.steps.size(); ++i) {
    if (a.steps[i].op != b.steps[i].op || a.steps[i].applied != b.steps[i].applied ||
        a.steps[i].negative != b.steps[i].negative) {
      return false;
    }
  }
  return true;
}

TEST(RandAugmentDraws, DependOnSeedEpochAndIndexOnly) {
  int differ_by_epoch = 0, differ_by_index = 0;
  for (std::uint64_t i = 0; i < 200; ++i) {
    auto a = sample_random(i), b = sample_random(i), c = sample_random(i, 1), d = sample_random(i + 1);
    const auto first = sample_albef_rand_augment(a);
    EXPECT_TRUE(same(first, sample_albef_rand_augment(b))) << i;
    differ_by_epoch += !same(first, sample_albef_rand_augment(c));
    differ_by_index += !same(first, sample_albef_rand_augment(d));
  }
  // 2 ops x coin x sign: two draws agree with probability well under 1/2.
  EXPECT_GT(differ_by_epoch, 100);
  EXPECT_GT(differ_by_index, 100);
}

}  // namespace
}  // namespace epalm::augment
