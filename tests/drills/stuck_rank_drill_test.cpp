// Drill (issue item 5): one rank of `mpirun -np 3 epalm train` stopped with
// SIGSTOP. With --collective-timeout 3 the others give up on the step's
// all_reduce after 3 s and end the whole job with a message naming the
// collective and the timeout; every multi-rank command and sweep files take
// the setting, validated where it is defined.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>

#include "drill.h"
#include "epalm/build_config.h"

namespace epalm::drills {

namespace {

// Processes whose command line runs `executable` and mentions `marker`.
std::vector<int> processes_with(const std::string& executable, const std::string& marker) {
  std::vector<int> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = read_text(entry.path().string() + "/cmdline");
    if (cmdline.rfind(executable + '\0', 0) == 0 && cmdline.find(marker) != std::string::npos) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

}  // namespace

TEST(Drills, AStuckRankEndsTheJobAfterTheCollectiveTimeout) {
  testing::TempDir dir;
  const auto cfg = train_config(dir, "checkpoint-every = 1\nbatch-size = 1\nloader-threads = 1\n");
  std::vector<std::string> argv{EPALM_MPIEXEC, "-np", "3", "--oversubscribe", "--bind-to", "none"};
  if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
  for (const auto& a : epalm_argv({"train", "--config", cfg, "--max-steps", "100000", "--collective-timeout", "3"})) {
    argv.push_back(a);
  }
  testing::ChildProcess job(argv, quiet(), dir.path() + "/job");
  const auto checkpoint = dir.path() + "/run/checkpoint.safetensors";
  ASSERT_TRUE(testing::wait_until([&] { return fs::exists(checkpoint) || !job.running(); }, 240)) << job.err();
  ASSERT_TRUE(job.running()) << job.err();
  const auto ranks = processes_with(executable(), dir.path() + "/run.ini");
  ASSERT_EQ(ranks.size(), 3u) << job.err();
  ::kill(ranks[1], SIGSTOP);
  const auto stopped = std::chrono::steady_clock::now();
  const int code = job.wait(90);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
  for (int pid : ranks) ::kill(pid, SIGKILL);  // the stopped rank, should the launcher have left it
  EXPECT_NE(code, 0) << job.err();
  EXPECT_LT(seconds, 60) << "the job outlived its 3 s collective timeout by far";
  EXPECT_NE(job.err().find("has not finished after 3 s (the collective timeout)"), std::string::npos) << job.err();
}

TEST(Drills, TheCollectiveTimeoutIsASettingOfEveryMultiRankCommand) {
  testing::TempDir dir;
  for (const auto& command : std::vector<std::vector<std::string>>{{"train"}, {"eval", dir.path() + "/none.safetensors"}}) {
    auto args = command;
    args.insert(args.end(), {"--collective-timeout", "0"});
    const auto r = epalm(args);
    EXPECT_EQ(r.exit_code, 2) << command[0] << ": " << r.err;
    EXPECT_NE(r.err.find("--collective-timeout: must be > 0 seconds, not 0"), std::string::npos) << r.err;
  }
  const auto file = dir.write("s.json", "{\"name\": \"timeouts\", \"experiment\": \"ablation-prompt-length\", "
                                        "\"set\": {\"collective-timeout\": 30}, \"axes\": {\"prompt-length\": [1, 2]}}");
  const auto r = epalm({"sweep", "plan", file, "--results", dir.path() + "/r.sqlite"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace epalm::drills
