// `epalm` across ranks: the rank layout under mpirun, and the self-check starting
// its own mpirun. Each child runs under a hard timeout.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <utility>
#include <vector>

#include "process.h"

namespace epalm {

TEST(CliMpi, EnvReportsEveryRank) {
  const auto r = testing::run_process({EPALM_MPIRUN_TEST, "60", "3", EPALM_EXECUTABLE, "env", "--format", "json"}, 90);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);  // rank 0 alone prints
  ASSERT_EQ(j["ranks"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(j["ranks"][i]["rank"], std::to_string(i));
    EXPECT_EQ(j["ranks"][i]["world"], "3");
    EXPECT_EQ(j["ranks"][i]["local rank"], std::to_string(i));
    EXPECT_EQ(j["ranks"][i]["launcher"], "openmpi");
  }
}

// Ranks on one machine share its CPUs: without OMP_NUM_THREADS each takes
// its share (at least one), with it each takes what it says.
TEST(CliMpi, RanksOnOneMachineShareItsCpus) {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  ASSERT_EQ(sched_getaffinity(0, sizeof cpus, &cpus), 0);
  const int share = std::max(1, CPU_COUNT(&cpus) / 3);
  if (std::getenv("OMP_NUM_THREADS") != nullptr) GTEST_SKIP() << "OMP_NUM_THREADS is set for the whole suite";
  const std::map<std::string, std::string> inherited, two_threads = {{"OMP_NUM_THREADS", "2"}};
  for (const auto& [environment, expected] :
       std::vector<std::pair<std::map<std::string, std::string>, int>>{{inherited, share}, {two_threads, 2}}) {
    const auto r = testing::run_process({EPALM_MPIRUN_TEST, "60", "3", EPALM_EXECUTABLE, "env", "--format", "json"}, 90,
                                        environment);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["ranks"].size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(j["ranks"][i]["threads"], std::to_string(expected)) << r.out;
  }
}

TEST(CliMpi, SelfCheckStartsItsOwnRanksAndTheyAgree) {
  const auto r = testing::run_process({EPALM_EXECUTABLE, "self-check", "--ranks", "2", "--width", "64", "--tokens", "16",
                                       "--iterations", "3"},
                                      90);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 rank(s): agree"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("[r0/2 "), std::string::npos) << "log lines carry the rank: " << r.err;
}

TEST(CliMpi, AnErrorOnEveryRankEndsTheJobWithItsCode) {
  const auto r = testing::run_process(
      {EPALM_MPIRUN_TEST, "60", "2", EPALM_EXECUTABLE, "self-check", "--device", "cuda:42"}, 90);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "timed out instead of failing";
  EXPECT_NE(r.err.find("error: --device: 'cuda:42' requested"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[r"), std::string::npos) << "errors name the rank: " << r.err;
}

TEST(CliMpi, BenchCommReportsBusBandwidthPerCollectiveAndSize) {
  const auto r = testing::run_process({EPALM_EXECUTABLE, "bench", "comm", "--ranks", "3", "--min-bytes", "1000",
                                       "--max-bytes", "4000", "--repetitions", "2", "--step-layers", "2",
                                       "--step-width", "64", "--step-tokens", "32", "--format", "json"},
                                      120);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["settings"]["backend"], "mpi");
  EXPECT_EQ(j["settings"]["ranks"], 3);
  ASSERT_EQ(j["results"].size(), 9u) << "3 collectives x sizes 1000, 2000, 4000";
  for (const auto& row : j["results"]) {
    const std::string op = row["op"];
    const double factor = op == "all_reduce" ? 2.0 * 2 / 3 : 2.0 / 3;  // nccl-tests' bus factors at n = 3
    EXPECT_NEAR(row["busbw_GBps"].get<double>(), row["algbw_GBps"].get<double>() * factor, 1e-9) << row;
    EXPECT_NEAR(row["algbw_GBps"].get<double>(), row["bytes"].get<double>() / row["time_us"].get<double>() / 1e3,
                1e-9 * row["algbw_GBps"].get<double>()) << row;
    // Whole fp32 elements, divisible by the ranks where the collective shards.
    EXPECT_EQ(row["bytes"].get<std::int64_t>(), row["elements"].get<std::int64_t>() * 4);
    if (op != "all_reduce") {
      EXPECT_EQ(row["elements"].get<std::int64_t>() % 3, 0) << row;
    }
  }
  // The training step: Shard gathers each of the 2 layers for forward and
  // again for backward; every mode reduces the gradients once.
  ASSERT_EQ(j["step"].size(), 3u) << j.dump(2);
  EXPECT_EQ(j["step"][0]["mode"], "replicate");
  EXPECT_EQ(j["step"][0]["all_gathers"], 0);
  EXPECT_EQ(j["step"][1]["mode"], "shard");
  EXPECT_EQ(j["step"][1]["all_gathers"], 4);
  EXPECT_GT(j["step"][1]["gathered_bytes"].get<std::int64_t>(), 2 * 2 * (2 * 64 * 256) * 4);
  EXPECT_EQ(j["step"][2]["all_gathers"], 0);
  for (const auto& row : j["step"]) EXPECT_EQ(row["all_reduces"], 1) << row;
  EXPECT_GE(j["step_exposed_communication"].get<double>(), 0.0);
}

TEST(CliMpi, BenchCommRejectsAnUnknownCollective) {
  const auto r = testing::run_process({EPALM_EXECUTABLE, "bench", "comm", "--ranks", "1", "--ops", "all_to_all"}, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--ops: 'all_to_all' is not one of all_gather, reduce_scatter, all_reduce"), std::string::npos)
      << r.err;
}

// The launch scripts as users run them: one node, and a hostfile naming this one.
TEST(CliMpi, LaunchScriptsStartTheRanks) {
  const std::map<std::string, std::string> env = {{"EPALM_BUILD", EPALM_BUILD_DIR}};
  const auto node = testing::run_process({EPALM_LAUNCH_DIR "/run-node", "-n", "2", "env", "--format", "json"}, 90, env);
  ASSERT_EQ(node.exit_code, 0) << node.err;
  EXPECT_EQ(nlohmann::json::parse(node.out)["ranks"].size(), 2u);

  testing::TempDir dir;
  const auto hosts = dir.write("hosts", "# this machine\nlocalhost slots=3\n");
  const auto many = testing::run_process({EPALM_LAUNCH_DIR "/run-hosts", hosts, "3", "env", "--format", "json"}, 90, env);
  ASSERT_EQ(many.exit_code, 0) << many.err;
  EXPECT_EQ(nlohmann::json::parse(many.out)["ranks"].size(), 3u);

  const auto missing = testing::run_process({EPALM_LAUNCH_DIR "/run-hosts", dir.path() + "/none", "2", "env"}, 30, env);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read the hostfile"), std::string::npos) << missing.err;
}

}  // namespace epalm
