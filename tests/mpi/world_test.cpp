// Runs under mpirun -np N: the World's view of the job against MPI and the launcher.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>

#include "epalm/distributed/world.h"
#include "mpi_test_world.h"

namespace epalm::distributed {

TEST(World, MatchesMpiAndTheLauncher) {
  const World& world = *testing::mpi_test_world;
  ASSERT_TRUE(world.uses_mpi());
  int rank = -1;
  int size = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(world.rank(), rank);
  EXPECT_EQ(world.size(), size);
  EXPECT_EQ(world.size(), std::atoi(std::getenv("OMPI_COMM_WORLD_SIZE")));
  EXPECT_EQ(world.topology().launcher, "openmpi");
  // One node: every rank shares memory, local ranks are the global ones.
  EXPECT_EQ(world.topology().local_world, world.size());
  EXPECT_EQ(world.topology().local_rank, world.rank());
}

TEST(World, GathersTextInRankOrder) {
  const World& world = *testing::mpi_test_world;
  // Ranks send texts of different lengths (including empty) to exercise Gatherv.
  const std::string mine(static_cast<size_t>(world.rank()), static_cast<char>('a' + world.rank()));
  const auto all = world.gather_text(mine);
  if (world.rank() != 0) {
    EXPECT_TRUE(all.empty());
    return;
  }
  ASSERT_EQ(static_cast<int>(all.size()), world.size());
  for (int r = 0; r < world.size(); ++r) {
    EXPECT_EQ(all[r], std::string(static_cast<size_t>(r), static_cast<char>('a' + r)));
  }
}

TEST(World, ReducesAcrossRanks) {
  const World& world = *testing::mpi_test_world;
  EXPECT_EQ(world.all_reduce_max(world.rank()), world.size() - 1);
  EXPECT_EQ(world.all_reduce_min(world.rank() + 10.5), 10.5);
  world.barrier();
}

}  // namespace epalm::distributed
