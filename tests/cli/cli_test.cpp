// The `epalm` executable as users run it: help, errors and exit codes,
// layered configuration. Spawns the real binary (EPALM_EXECUTABLE).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "process.h"

namespace epalm {

namespace {
testing::ProcessResult epalm(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
  args.insert(args.begin(), EPALM_EXECUTABLE);
  return testing::run_process(args, 60, env);
}
}  // namespace

TEST(Cli, HelpListsOnlyWorkingCommands) {
  const auto r = epalm({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("  env "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  demo "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  self-check "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  model "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  bench "), std::string::npos) << r.out;
  for (const char* command : {"  experiments ", "  sweep ", "  runs ", "  results ", "  train ", "  generate "}) {
    EXPECT_NE(r.out.find(command), std::string::npos) << command << r.out;
  }
  EXPECT_NE(r.out.find("  plan "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  eval "), std::string::npos) << r.out;
}

TEST(Cli, NoCommandIsAUsageError) {
  const auto r = epalm({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("usage: epalm <command>"), std::string::npos);
}

TEST(Cli, UnknownCommandIsNamed) {
  const auto r = epalm({"trian"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("epalm: error: unknown command 'trian'"), std::string::npos) << r.err;
}

TEST(Cli, UnknownOptionIsNamedWithAHint) {
  const auto r = epalm({"env", "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("epalm env: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Try 'epalm env --help'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("terminate"), std::string::npos) << "an exception escaped: " << r.err;
}

TEST(Cli, MalformedValuesAreUsageErrors) {
  EXPECT_EQ(epalm({"self-check", "--ranks", "two"}).exit_code, 2);
  EXPECT_EQ(epalm({"self-check", "--ranks", "1", "--width", "12"}).exit_code, 2);
  EXPECT_EQ(epalm({"env", "--format", "yaml"}).exit_code, 2);
  const auto r = epalm({"env", "--log-level", "loud"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown level 'loud'"), std::string::npos) << r.err;
  EXPECT_EQ(epalm({"self-check", "--ranks"}).exit_code, 2);  // missing value
}

TEST(Cli, CommandHelpShowsSettingsAndGeneralOptions) {
  const auto r = epalm({"self-check", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--ranks"), std::string::npos);
  EXPECT_NE(r.out.find("--config"), std::string::npos);
  EXPECT_NE(r.out.find("--print-config"), std::string::npos);
}

TEST(Cli, EnvReportsVersionsAndOneRankAsJson) {
  const auto r = epalm({"env", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"libtorch", "cuda runtime", "nccl", "mpi", "sqlite", "compiler", "boost"}) {
    EXPECT_TRUE(j["versions"].contains(key)) << key;
  }
  EXPECT_NE(j["versions"]["mpi"].get<std::string>().find("MPI"), std::string::npos);
  ASSERT_EQ(j["ranks"].size(), 1u);
  EXPECT_EQ(j["ranks"][0]["world"], "1");
  EXPECT_EQ(j["ranks"][0]["launcher"], "none");

  // The host-memory policy the command line applied (core/host_memory.h),
  // unless this environment tunes glibc's malloc itself.
  const bool user_malloc = std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
                           std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr || std::getenv("GLIBC_TUNABLES") != nullptr;
  if (!user_malloc && std::getenv("EPALM_HOST_MEMORY") == nullptr) {
    EXPECT_NE(j["versions"]["host memory"].get<std::string>().find("keeps freed blocks"), std::string::npos)
        << j["versions"]["host memory"];
  }
  const auto released = epalm({"env", "--format", "json"}, {{"EPALM_HOST_MEMORY", "release"}});
  ASSERT_EQ(released.exit_code, 0) << released.err;
  if (!user_malloc) {
    EXPECT_NE(nlohmann::json::parse(released.out)["versions"]["host memory"].get<std::string>().find("defaults"),
              std::string::npos)
        << released.out;
  }
  // A value the variable does not take: a usage error naming the variable and the value.
  const auto refuses = [](const std::string& variable, const std::string& value) {
    const auto refused = epalm({"env"}, {{variable, value}});
    EXPECT_EQ(refused.exit_code, 2) << variable;
    EXPECT_NE(refused.err.find(variable), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("'" + value + "'"), std::string::npos) << refused.err;
  };
  refuses("EPALM_HOST_MEMORY", "relase");

  // The library that multiplies frozen weights on the CPU (core/cpu_matmul.h).
  const auto matmul = epalm({"env", "--format", "json"}, {{"EPALM_CPU_MATMUL", "libtorch"}});
  ASSERT_EQ(matmul.exit_code, 0) << matmul.err;
  EXPECT_NE(nlohmann::json::parse(matmul.out)["versions"]["cpu matmul"].get<std::string>().find("EPALM_CPU_MATMUL=libtorch"),
            std::string::npos)
      << matmul.out;
  refuses("EPALM_CPU_MATMUL", "mkl");
}

TEST(Cli, ConfigLayersResolveInOrderWithSources) {
  testing::TempDir dir;
  const auto a = dir.write("a.ini", "width = 64\ntokens = 16\nseed = 3\n");
  const auto b = dir.write("b.ini", "tokens = 32\n");
  const auto r = epalm({"self-check", "--config", a, "-c", b, "--seed", "9", "--print-config"}, {{"EPALM_BATCH", "4"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("width = 64  # file " + a), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens = 32  # file " + b), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("seed = 9  # command line"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("batch = 4  # environment EPALM_BATCH"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ranks = 2  # default"), std::string::npos) << r.out;

  // The printed configuration is itself a config file giving the same result.
  const auto printed = dir.write("printed.ini", r.out);
  const auto again = epalm({"self-check", "--config", printed, "--print-config"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("seed = 9  # file " + printed), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("batch = 4  # file " + printed), std::string::npos) << again.out;
}

TEST(Cli, BadConfigFilesAreNamed) {
  testing::TempDir dir;
  const auto unknown = dir.write("unknown.ini", "widht = 64\n");
  auto r = epalm({"self-check", "--config", unknown});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(unknown), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("widht"), std::string::npos) << r.err;

  r = epalm({"self-check", "--config", dir.path() + "/missing.ini"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.ini: cannot open config file"), std::string::npos) << r.err;
}

TEST(Cli, SelfCheckRunsInOneProcess) {
  const auto r = epalm({"self-check", "--ranks", "1", "--device", "cpu", "--width", "32", "--tokens", "8",
                        "--iterations", "2", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rank,host,local rank,device"), std::string::npos) << r.out;
}

TEST(Cli, SelfCheckOnAMissingDeviceFailsCleanly) {
  const auto r = epalm({"self-check", "--ranks", "1", "--device", "cuda:42"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--device: 'cuda:42' requested"), std::string::npos) << r.err;
}

// eP-ALM-L (OPT-6.7B, ViT-L, a shared connector and a 10-token prompt):
// the reference's 4,239,360 trainables; the planner shards only under a budget.
TEST(Cli, PlanPrintsTheShardPlanMemoryAndCommunication) {
  const auto free = epalm({"plan", "--model", "opt-6.7b", "--encoder", "vit-large-patch16-224", "--ranks", "8",
                           "--format", "json"});
  ASSERT_EQ(free.exit_code, 0) << free.err;
  const auto j = nlohmann::json::parse(free.out);
  EXPECT_EQ(j["trainable_parameters"], 4239360);
  EXPECT_EQ(j["communication"]["all_gathers_per_micro_batch"], 0);
  for (const auto& u : j["units"]) EXPECT_EQ(u["policy"], "replicate") << u;

  const auto tight = epalm({"plan", "--ranks", "8", "--memory", "8", "--format", "json"});
  ASSERT_EQ(tight.exit_code, 0) << tight.err;
  const auto t = nlohmann::json::parse(tight.out);
  EXPECT_TRUE(t["fits"]);
  EXPECT_LE(t["per_rank"]["total_bytes"].get<double>(), 8.0 * (1 << 30));
  EXPECT_GT(t["communication"]["all_gathers_per_micro_batch"].get<int>(), 0);

  const auto impossible = epalm({"plan", "--ranks", "2", "--memory", "2"});
  EXPECT_EQ(impossible.exit_code, 1);
  EXPECT_NE(impossible.err.find("even sharding every unit; the budget is 2.00 GiB"), std::string::npos)
      << impossible.err;
  const auto bad = epalm({"plan", "--model", "vit-base-patch16-224"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("the decoder must be OPT"), std::string::npos) << bad.err;
}

}  // namespace epalm

namespace epalm {

// `epalm bench store` and `bench analysis` (experiments/bench/store_bench.h)
// on a tiny store: the table, and the run they record where --results says.
TEST(Cli, BenchStoreAndAnalysisPrintTheirTablesAndRecordTheirRuns) {
  testing::TempDir dir;
  const auto results = dir.path() + "/results.sqlite";
  for (const std::string name : {"store", "analysis"}) {
    const auto r = epalm({"bench", name, "--store-runs", "20", "--store-points", "10", "--analysis-runs", "30",
                          "--repetitions", "2", "--work-dir", dir.path(), "--results", results, "--format", "csv"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("measure,value,target", 0), 0u) << r.out;
    EXPECT_NE(r.out.find(name == "store" ? "batched insert rows/s," : "runs compare: 2 axes"), std::string::npos)
        << r.out;
    const auto at = r.out.find("recorded as run ");
    ASSERT_NE(at, std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(experiment bench-" + name + ") in " + results), std::string::npos) << r.out;
    const auto id = r.out.substr(at + 16, 36);
    const auto listed = epalm({"runs", "list", "--experiment", "bench-" + name, "--results", results, "--format", "csv"});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    EXPECT_NE(listed.out.find(id + ",bench-" + name + ","), std::string::npos) << listed.out;
  }
}

}  // namespace epalm
