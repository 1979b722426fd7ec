// ShardLayout: aligned members, padding to the world size, and pieces that
// cover every tensor element exactly once across the ranks.
#include <gtest/gtest.h>

#include <map>

#include "epalm/core/error.h"
#include "epalm/core/parallel/shard_layout.h"

namespace epalm {
namespace {

TEST(ShardLayout, PiecesCoverEveryElementOnceAcrossTheRanks) {
  const std::vector<std::pair<std::string, std::vector<std::int64_t>>> tensors = {
      {"q", {37, 29}}, {"b", {7}}, {"fc1", {61, 29}}, {"empty", {0, 4}}, {"fc2", {29, 61}}};
  for (int world : {1, 2, 3, 5, 8}) {
    const parallel::ShardLayout layout(tensors, world, 64);
    EXPECT_EQ(layout.padded_numel() % world, 0);
    EXPECT_EQ(layout.payload_numel(), 37 * 29 + 7 + 61 * 29 + 29 * 61);
    for (const auto& m : layout.members()) EXPECT_EQ(m.offset % 64, 0) << m.name;
    std::map<size_t, std::vector<int>> seen;  // member -> per-element count
    for (size_t i = 0; i < layout.members().size(); ++i) seen[i].assign(layout.members()[i].numel, 0);
    for (int r = 0; r < world; ++r) {
      std::int64_t last_end = 0;
      for (const auto& p : layout.pieces(r)) {
        EXPECT_GE(p.shard_offset, last_end) << "pieces in shard order";
        EXPECT_LE(p.shard_offset + p.count, layout.shard_numel());
        last_end = p.shard_offset + p.count;
        // The piece sits where the flat layout puts it.
        EXPECT_EQ(r * layout.shard_numel() + p.shard_offset,
                  layout.members()[p.member].offset + p.tensor_offset);
        for (std::int64_t k = 0; k < p.count; ++k) ++seen[p.member][p.tensor_offset + k];
      }
    }
    for (const auto& [member, counts] : seen) {
      for (size_t k = 0; k < counts.size(); ++k) ASSERT_EQ(counts[k], 1) << member << "[" << k << "] world " << world;
    }
  }
}

TEST(ShardLayout, RefusesAnImpossibleWorldOrRank) {
  EXPECT_THROW(parallel::ShardLayout({{"a", {4}}}, 0), Error);
  const parallel::ShardLayout layout({{"a", {4}}}, 2);
  EXPECT_THROW(layout.pieces(2), Error);
}

}  // namespace
}  // namespace epalm
