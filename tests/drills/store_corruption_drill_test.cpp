// Drill (issue item 6): a results database with damaged pages is refused by
// every command that opens it, naming the file and how to recover, and
// `epalm results check` runs SQLite's full integrity check.
#include <gtest/gtest.h>

#include "drill.h"

namespace epalm::drills {

TEST(Drills, ACorruptResultsDatabaseIsRefusedAndChecked) {
  testing::TempDir dir;
  const auto cfg = train_config(dir);
  const auto db = dir.path() + "/results.sqlite";
  auto r = epalm({"train", "--config", cfg, "--max-steps", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A store of some size (20k metric rows, a few hundred pages), all in the main file.
  execute(db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) "
              "INSERT INTO metrics SELECT (SELECT id FROM runs), (SELECT id FROM metric_keys WHERE name = 'loss'), "
              "1000 + x, x * 0.5, 0 FROM c; PRAGMA wal_checkpoint(TRUNCATE);");
  r = epalm({"results", "check", "--results", db});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": ok"), std::string::npos) << r.out;

  // 8 KiB overwritten in the middle of the file, as a bad disk or a stray write does.
  const auto size = fs::file_size(db);
  ASSERT_GT(size, 64u * 4096u);
  {
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2 / 4096 * 4096));
    const std::string garbage(8192, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  const auto expect_refused = [&](const testing::ProcessResult& result, const std::string& what) {
    EXPECT_EQ(result.exit_code, 1) << what << ": " << result.out << result.err;
    EXPECT_NE(result.err.find(db + ": the results database file is corrupt"), std::string::npos) << what << ": " << result.err;
    EXPECT_NE(result.err.find("epalm results check --results " + db), std::string::npos) << what << ": " << result.err;
  };
  expect_refused(epalm({"runs", "list", "--results", db}), "runs list");
  r = epalm({"train", "--config", cfg, "--max-steps", "1", "--output-dir", dir.path() + "/other"});
  expect_refused(r, "train");
  EXPECT_FALSE(fs::exists(dir.path() + "/other/checkpoint.safetensors")) << "trained with a corrupt store";

  r = epalm({"results", "check", "--results", db});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("problems (SQLite's integrity check)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Page "), std::string::npos) << r.out;
}

}  // namespace epalm::drills
