// Drill (issue item 4): two `epalm sweep run` workers share a sweep; one is
// killed with -9 while its cell runs. The survivor waits out the dead
// worker's lease, retries that cell itself and ends with every cell done,
// no `sweep resume` needed.
#include <gtest/gtest.h>

#include <csignal>
#include <memory>

#include "drill.h"

namespace epalm::drills {

TEST(Drills, ASurvivingSweepWorkerTakesOverADeadWorkersCell) {
  testing::TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  fs::create_directories(dir.path() + "/marks");
  // store_writer records a run like `epalm train`; it hangs the first time it runs prompt-length 5.
  const auto file = dir.write(
      "takeover.json",
      "{\"name\": \"takeover\", \"experiment\": \"ablation-prompt-length\", \"axes\": {\"prompt-length\": [1, 5, 10]}, "
      "\"lease-seconds\": 2, \"command\": [\"" STORE_WRITER "\", \"--results\", \"{results}\", \"--config\", "
      "\"{config}\", \"--steps\", \"20\", \"--hang-if\", \"prompt-length=5\", \"--hang-first\", \"" +
          dir.path() + "/marks\"]}");
  std::vector<std::unique_ptr<testing::ChildProcess>> workers;
  for (int i = 0; i < 2; ++i) {
    workers.push_back(std::make_unique<testing::ChildProcess>(
        epalm_argv({"sweep", "run", file, "--workers", "1", "--results", db}), quiet(),
        dir.path() + "/worker" + std::to_string(i)));
  }
  // The worker whose cell hangs is the one to kill.
  std::string owner;
  std::error_code ec;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        for (const auto& entry : fs::recursive_directory_iterator(dir.path() + "/sweeps", ec)) {
          if (entry.path().filename() == "attempt-1.log" && read_text(entry.path()).find("hanging") != std::string::npos) {
            owner = query_one(db, "SELECT owner FROM sweep_cells WHERE state = 'running' AND cell_index = 1");
            return !owner.empty();
          }
        }
        return false;
      },
      120));
  // owner is host:pid:slot.
  const auto pid = std::stoi(owner.substr(owner.find(':') + 1, owner.rfind(':') - owner.find(':') - 1));
  auto& dead = workers[0]->pid() == pid ? workers[0] : workers[1];
  auto& survivor = workers[0]->pid() == pid ? workers[1] : workers[0];
  ASSERT_EQ(dead->pid(), pid) << owner;
  dead->signal(SIGKILL);
  EXPECT_EQ(dead->wait(30), 128 + SIGKILL);

  EXPECT_EQ(survivor->wait(120), 0) << survivor->out() << survivor->err();
  EXPECT_EQ(query_one(db, "SELECT group_concat(state || ':' || attempts, ' ') FROM "
                          "(SELECT state, attempts FROM sweep_cells ORDER BY cell_index)"),
            "done:1 done:2 done:1")
      << survivor->out() << survivor->err();
}

}  // namespace epalm::drills
