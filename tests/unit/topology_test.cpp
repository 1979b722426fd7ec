#include <gtest/gtest.h>

#include <map>

#include "epalm/core/error.h"
#include "epalm/distributed/topology.h"

namespace epalm::distributed {

namespace {
Topology detect(const std::map<std::string, std::string>& env) {
  return topology_from_environment([&](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}
}  // namespace

TEST(Topology, NoLauncherIsOneProcess) {
  const auto t = detect({});
  EXPECT_EQ(t.rank, 0);
  EXPECT_EQ(t.world, 1);
  EXPECT_EQ(t.local_rank, 0);
  EXPECT_EQ(t.launcher, "none");
  EXPECT_FALSE(t.launched_by_mpi());
  EXPECT_FALSE(t.host.empty());
}

TEST(Topology, OpenMpi) {
  const auto t = detect({{"OMPI_COMM_WORLD_RANK", "5"},
                         {"OMPI_COMM_WORLD_SIZE", "8"},
                         {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                         {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}});
  EXPECT_EQ(t.rank, 5);
  EXPECT_EQ(t.world, 8);
  EXPECT_EQ(t.local_rank, 1);
  EXPECT_EQ(t.local_world, 4);
  EXPECT_EQ(t.launcher, "openmpi");
  EXPECT_TRUE(t.launched_by_mpi());
}

TEST(Topology, MpichWithoutLocalRankFallsBackToGlobal) {
  const auto t = detect({{"PMI_RANK", "2"}, {"PMI_SIZE", "3"}});
  EXPECT_EQ(t.launcher, "mpich");
  EXPECT_EQ(t.rank, 2);
  EXPECT_EQ(t.local_rank, 2);
  EXPECT_EQ(t.local_world, 3);
}

TEST(Topology, SlurmTasksPerNodeWithRepeatCount) {
  const auto t = detect({{"SLURM_PROCID", "6"},
                         {"SLURM_NTASKS", "8"},
                         {"SLURM_LOCALID", "2"},
                         {"SLURM_NTASKS_PER_NODE", "4(x2)"}});
  EXPECT_EQ(t.launcher, "slurm");
  EXPECT_EQ(t.local_world, 4);
  EXPECT_FALSE(t.launched_by_mpi());
}

TEST(Topology, MpiVariablesWinOverSlurm) {
  const auto t = detect({{"SLURM_PROCID", "0"},
                         {"SLURM_NTASKS", "1"},
                         {"OMPI_COMM_WORLD_RANK", "1"},
                         {"OMPI_COMM_WORLD_SIZE", "2"}});
  EXPECT_EQ(t.launcher, "openmpi");
  EXPECT_EQ(t.world, 2);
}

TEST(Topology, Torchrun) {
  const auto t = detect({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"}});
  EXPECT_EQ(t.launcher, "torchrun");
  EXPECT_EQ(t.rank, 3);
  EXPECT_EQ(t.local_rank, 1);
}

TEST(Topology, MalformedValuesNameTheVariable) {
  try {
    detect({{"OMPI_COMM_WORLD_RANK", "one"}, {"OMPI_COMM_WORLD_SIZE", "2"}});
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "environment variable OMPI_COMM_WORLD_RANK");
  }
  EXPECT_THROW(detect({{"PMI_RANK", "0"}, {"PMI_SIZE", "0"}}), Error);
  EXPECT_THROW(detect({{"PMI_RANK", "-1"}, {"PMI_SIZE", "2"}}), Error);
  EXPECT_THROW(detect({{"PMI_RANK", "2 "}, {"PMI_SIZE", "4"}}), Error);
}

TEST(Topology, RankMustBeBelowWorld) {
  EXPECT_THROW(detect({{"RANK", "4"}, {"WORLD_SIZE", "4"}}), Error);
  EXPECT_THROW(detect({{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"}}), Error);
}

}  // namespace epalm::distributed
