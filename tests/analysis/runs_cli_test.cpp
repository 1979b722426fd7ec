// `epalm runs list|compare` as users run them, on a store filled through the
// store's own API.
#include <gtest/gtest.h>

#include <sstream>

#include "process.h"
#include "synthetic_store.h"

namespace epalm {
namespace {

using testing::ProcessResult;
using testing::TempDir;

ProcessResult epalm(const std::string& db, std::vector<std::string> args, int timeout = 300) {
  args.insert(args.begin(), EPALM_EXECUTABLE);
  return testing::run_process(args, timeout, {{"EPALM_LOG_LEVEL", "warn"}, {"EPALM_RESULTS", db}});
}

// CSV lines (no quoted cells in these lists).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    rows.emplace_back();
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) rows.back().push_back(cell);
  }
  return rows;
}

}  // namespace

// Issue 14's bug: a filter by experiment was read as a base configuration.
// `runs list|compare --experiment E` filter by E, registered or not, and
// `adhoc` names plain `epalm train` runs.
TEST(RunsCli, ExperimentIsAFilterNotAConfiguration) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  const auto grid = testing::write_synthetic_grid(db, "ablation-prompt-length");
  testing::write_synthetic_grid(db, "adhoc");
  auto r = epalm(db, {"runs", "compare", "--experiment", "ablation-prompt-length", "--by", "prompt-length", "--metric", "loss"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("prompt-length"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("unrecognised option"), std::string::npos) << r.err;
  r = epalm(db, {"runs", "list", "--experiment", "ablation-prompt-length", "--metric", "loss", "--limit", "0", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_csv(r.out).size(), grid.size() + 1) << r.out;
  r = epalm(db, {"runs", "list", "--experiment", "adhoc", "--limit", "0", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_csv(r.out).size(), grid.size() + 1) << r.out;
  for (const auto& row : parse_csv(r.out)) {
    if (row[0] != "run") {
      EXPECT_EQ(row[1], "adhoc");
    }
  }
  r = epalm(db, {"runs", "compare", "--experiment", "adhoc", "--by", "levels", "--metric", "score.val.cider"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // EPALM_EXPERIMENT names a base for `epalm train`; it is no filter either.
  r = testing::run_process({EPALM_EXECUTABLE, "runs", "list", "--results", db}, 60, {{"EPALM_EXPERIMENT", "epalm-vqa"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace epalm
