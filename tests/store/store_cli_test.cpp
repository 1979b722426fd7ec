// The results store, sweeps and their commands as users run them: real
// processes writing one real SQLite file at the same time, a sweep worker
// killed with SIGKILL, bad input of every kind, and the file read back by
// Python's own sqlite3 module.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <sstream>

#include "epalm/registry/experiments.h"
#include "epalm/registry/sqlite.h"
#include "process.h"

using epalm::registry::Database;
using epalm::registry::Statement;
using epalm::testing::ProcessResult;
using epalm::testing::run_process;
using epalm::testing::TempDir;

namespace {

const std::string kEpalm = EPALM_EXECUTABLE;
const std::string kWriter = STORE_WRITER;

std::int64_t query_int(const std::string& db_path, const std::string& sql) {
  Database db(db_path, Database::Mode::kReadOnly);
  Statement s(db, sql);
  return s.step() ? s.integer(0) : -1;
}

std::string query_text(const std::string& db_path, const std::string& sql) {
  Database db(db_path, Database::Mode::kReadOnly);
  Statement s(db, sql);
  return s.step() ? s.text(0) : "";
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ProcessResult run_epalm(const std::string& db, std::vector<std::string> args, int timeout = 120) {
  args.insert(args.begin(), kEpalm);
  args.push_back("--results");
  args.push_back(db);
  return run_process(args, timeout);
}

nlohmann::json python_check(const std::string& db) {
  const auto r = run_process({EPALM_PYTHON, CHECK_RESULTS_DB, db}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

std::string sweep_file(const TempDir& dir, const std::string& name, const std::string& body) {
  return dir.write(name + ".json", "{\"name\": \"" + name + "\", " + body + "}");
}

std::string writer_command(const std::string& extra) {
  return "\"command\": [\"" + kWriter + "\", \"--results\", \"{results}\", \"--config\", \"{config}\", \"--steps\", "
         "\"20\"" + extra + "]";
}

}  // namespace

// 16 processes write runs and metrics into one database at once: every row
// arrives exactly once, and no process ever reports a locked database.
TEST(StoreConcurrency, SixteenWritersLoseAndDuplicateNothing) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  constexpr int kWriters = 16, kRuns = 4, kSteps = 150, kKeys = 3;
  std::string script;
  for (int i = 0; i < kWriters; ++i) {
    const auto tag = std::to_string(i);
    script += "( '" + kWriter + "' --results '" + db + "' --runs " + std::to_string(kRuns) + " --steps " +
              std::to_string(kSteps) + " --keys " + std::to_string(kKeys) + " --flush-rows 40 --relog >'" +
              dir.path() + "/out" + tag + "' 2>'" + dir.path() + "/err" + tag + "'; echo $? >'" + dir.path() +
              "/rc" + tag + "' ) &\n";
  }
  script += "wait\n";
  const auto r = run_process({"bash", "-c", script}, 300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> run_ids;
  for (int i = 0; i < kWriters; ++i) {
    const auto tag = std::to_string(i);
    EXPECT_EQ(file_bytes(dir.path() + "/rc" + tag), "0\n") << "writer " << i << ": " << file_bytes(dir.path() + "/err" + tag);
    EXPECT_EQ(file_bytes(dir.path() + "/err" + tag).find("locked"), std::string::npos);
    std::istringstream ids(file_bytes(dir.path() + "/out" + tag));
    for (std::string id; std::getline(ids, id);) run_ids.insert(id);
  }
  EXPECT_EQ(run_ids.size(), static_cast<size_t>(kWriters * kRuns));
  const auto report = python_check(db);
  EXPECT_EQ(report["runs"], kWriters * kRuns);
  EXPECT_EQ(report["distinct_run_ids"], kWriters * kRuns);
  EXPECT_EQ(report["statuses"]["finished"], kWriters * kRuns);
  EXPECT_EQ(report["metric_rows"], kWriters * kRuns * kSteps * (kKeys + 1));
  EXPECT_EQ(report["duplicate_points"], 0);
  // Every stored summary equals what Python recomputes from the history.
  EXPECT_EQ(report["summaries_checked"], kWriters * kRuns * (kKeys + 1));
  EXPECT_EQ(report["summary_rows"], kWriters * kRuns * (kKeys + 1));
  EXPECT_EQ(report["summary_mismatch_count"], 0) << report["summary_mismatches"].dump();
  EXPECT_EQ(report["user_version"], 1);
  for (const auto& id : run_ids) {
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs WHERE id = '" + id + "' AND status = 'finished'"), 1) << id;
  }
}

// Three `epalm sweep run` processes (two workers each) share one sweep: each
// of its 12 cells runs exactly once.
TEST(StoreSweeps, SeveralWorkersRunEachCellExactlyOnce) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  const auto file = sweep_file(dir, "once", "\"experiment\": \"ablation-prompt-length\", \"set\": {\"epochs\": 1}, "
                                            "\"axes\": {\"prompt-length\": [1, 5, 10], \"lr\": [1e-5, 2e-5]}, "
                                            "\"seeds\": [0, 1], " + writer_command(""));
  ASSERT_EQ(run_epalm(db, {"sweep", "plan", file}).exit_code, 0);
  std::string script;
  for (int i = 0; i < 3; ++i) {
    script += "( '" + kEpalm + "' sweep run '" + file + "' --workers 2 --results '" + db + "' >'" + dir.path() +
              "/w" + std::to_string(i) + "' 2>&1; echo $? >>'" + dir.path() + "/rc' ) &\n";
  }
  script += "wait\n";
  ASSERT_EQ(run_process({"bash", "-c", script}, 300).exit_code, 0);
  EXPECT_EQ(file_bytes(dir.path() + "/rc"), "0\n0\n0\n") << file_bytes(dir.path() + "/w0");
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM sweep_cells WHERE state = 'done' AND attempts = 1"), 12);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs"), 12);
  EXPECT_EQ(query_int(db, "SELECT count(DISTINCT cell_index) FROM runs WHERE sweep_id IS NOT NULL"), 12);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs r JOIN experiments e ON e.id = r.experiment_id "
                          "WHERE e.name = 'ablation-prompt-length' AND r.status = 'finished'"), 12);
  // Each cell's run carries the cell's own configuration.
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM sweep_cells c JOIN runs r ON r.id = c.run_id "
                          "WHERE r.config_hash = c.config_hash"), 12);
  // Planned again or run again: nothing more runs.
  const auto again = run_epalm(db, {"sweep", "run", file});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs"), 12);
}

// A failed cell is retried up to the sweep's limit; a cell whose configuration
// already finished (here: in another sweep) is skipped.
TEST(StoreSweeps, FailedCellsAreRetriedAndFinishedConfigurationsSkipped) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  std::filesystem::create_directories(dir.path() + "/marks");
  const std::string body = "\"experiment\": \"ablation-levels\", \"axes\": {\"levels\": [1, 2]}, \"max-retries\": 1, ";
  const auto first = sweep_file(dir, "first", body + writer_command(", \"--fail-first\", \"" + dir.path() + "/marks\""));
  const auto r = run_epalm(db, {"sweep", "run", first});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM sweep_cells WHERE state = 'done' AND attempts = 2"), 2);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs WHERE status = 'failed'"), 2);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), 2);

  const auto always = sweep_file(dir, "always-fails", "\"experiment\": \"ablation-levels\", \"axes\": {\"levels\": [3]}, "
                                 "\"max-retries\": 2, " + writer_command(", \"--fail-if\", \"levels=3\""));
  EXPECT_EQ(run_epalm(db, {"sweep", "run", always}).exit_code, 1);
  EXPECT_EQ(query_text(db, "SELECT state || ' ' || attempts FROM sweep_cells c JOIN sweeps s ON s.id = c.sweep_id "
                           "WHERE s.name = 'always-fails'"), "failed 3");

  // Same configurations under another name: done without running.
  const auto second = sweep_file(dir, "second", body + writer_command(""));
  EXPECT_EQ(run_epalm(db, {"sweep", "run", second}).exit_code, 0);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs"), 7);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM sweep_cells c JOIN sweeps s ON s.id = c.sweep_id "
                          "WHERE s.name = 'second' AND c.state = 'done' AND c.attempts = 0"), 2);
}

// kill -9 of a sweep worker while a cell runs: the cell's run is marked
// stale, and `sweep resume` reruns that cell and the rest, not the finished one.
TEST(StoreSweeps, ResumeAfterKill9RerunsOnlyTheInterruptedCell) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  std::filesystem::create_directories(dir.path() + "/marks");
  const auto file = sweep_file(dir, "crash", "\"experiment\": \"ablation-prompt-length\", "
                               "\"axes\": {\"prompt-length\": [1, 5, 10]}, \"lease-seconds\": 2, " +
                               writer_command(", \"--hang-if\", \"prompt-length=5\", \"--hang-first\", \"" +
                                              dir.path() + "/marks\""));
  const std::string script =
      "'" + kEpalm + "' sweep run '" + file + "' --results '" + db + "' >'" + dir.path() + "/worker.log' 2>&1 &\n"
      "worker=$!\n"
      "for i in $(seq 300); do grep -qs hanging '" + dir.path() + "'/sweeps/crash/1-*/attempt-1.log && break; sleep 0.1; done\n"
      "kill -9 $worker\n"
      "wait $worker\n"
      "exit 0\n";
  ASSERT_EQ(run_process({"bash", "-c", script}, 120).exit_code, 0);
  EXPECT_EQ(query_text(db, "SELECT state FROM sweep_cells WHERE cell_index = 0"), "done");
  EXPECT_EQ(query_text(db, "SELECT state FROM sweep_cells WHERE cell_index = 1"), "running");  // its worker is gone
  EXPECT_EQ(query_text(db, "SELECT state FROM sweep_cells WHERE cell_index = 2"), "pending");
  const auto first_run = query_text(db, "SELECT run_id FROM sweep_cells WHERE cell_index = 0");
  const auto interrupted = query_text(db, "SELECT run_id FROM sweep_cells WHERE cell_index = 1");
  ASSERT_FALSE(interrupted.empty());

  // Once the lease runs out, status reports the cell failed and its run stale.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const auto status = run_epalm(db, {"sweep", "status", "crash"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(query_text(db, "SELECT state FROM sweep_cells WHERE cell_index = 1"), "failed");
  EXPECT_EQ(query_text(db, "SELECT status FROM runs WHERE id = '" + interrupted + "'"), "stale");
  EXPECT_NE(status.out.find("stopped renewing its lease"), std::string::npos) << status.out;

  const auto resume = run_epalm(db, {"sweep", "resume", "crash"});
  EXPECT_EQ(resume.exit_code, 0) << resume.out << resume.err;
  EXPECT_EQ(query_text(db, "SELECT group_concat(state || ':' || attempts, ' ') FROM "
                           "(SELECT state, attempts FROM sweep_cells ORDER BY cell_index)"), "done:1 done:2 done:1");
  EXPECT_EQ(query_text(db, "SELECT run_id FROM sweep_cells WHERE cell_index = 0"), first_run);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs WHERE cell_index = 0"), 1);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs WHERE cell_index = 1"), 2);
  EXPECT_EQ(query_text(db, "SELECT status FROM runs WHERE cell_index = 1 AND id != '" + interrupted + "'"), "finished");
}

// A run killed with SIGKILL outside any sweep stops beating; `runs list`
// then reports it stale, not running forever.
TEST(StoreCommands, AKilledRunBecomesStaleWhenItsHeartbeatStops) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  const auto config = dir.write("run.ini", "prompt-length = 5\n");
  const std::string script =
      "'" + kWriter + "' --results '" + db + "' --config '" + config + "' --steps 20 --heartbeat 0.2 "
      "--hang-if prompt-length=5 >'" + dir.path() + "/out' 2>&1 &\n"
      "writer=$!\n"
      "for i in $(seq 300); do grep -qs hanging '" + dir.path() + "/out' && break; sleep 0.1; done\n"
      "sleep 1\n"
      "'" + kEpalm + "' runs list --stale-after 5 --format csv --results '" + db + "' >'" + dir.path() + "/alive'\n"
      "kill -9 $writer\n"
      "wait $writer\n"
      "exit 0\n";
  ASSERT_EQ(run_process({"bash", "-c", script}, 120).exit_code, 0);
  // While it was alive, its heartbeat kept it running.
  EXPECT_NE(file_bytes(dir.path() + "/alive").find(",running,"), std::string::npos) << file_bytes(dir.path() + "/alive");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const auto after = run_epalm(db, {"runs", "list", "--stale-after", "2", "--format", "csv"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_NE(after.out.find(",stale,"), std::string::npos) << after.out;
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM metrics m JOIN metric_keys k ON k.id = m.key_id WHERE k.name = 'loss'"),
            11);  // the steps flushed before it hung are kept
}

// Each cell under an mpirun launcher (2 ranks): only rank 0 records, so one run per cell.
TEST(StoreSweeps, CellsRunUnderAnMpirunLauncherRecordOnceFromRankZero) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  const auto file = sweep_file(dir, "mpi", "\"experiment\": \"ablation-levels\", \"axes\": {\"levels\": [1, 2]}, "
                               "\"launcher\": [\"" EPALM_MPIRUN_TEST "\", \"60\", \"2\"], " + writer_command(""));
  const auto r = run_epalm(db, {"sweep", "run", file}, 240);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM sweep_cells WHERE state = 'done'"), 2);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), 2);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs"), 2);
}

// "spool": true: cells record into spool files (as on hosts without the
// database) and the worker ingests them as each cell ends.
TEST(StoreSweeps, SpoolingCellsAreIngestedByTheirWorker) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  const auto file = sweep_file(dir, "spooled", "\"experiment\": \"ablation-levels\", \"axes\": {\"levels\": [1, 2]}, "
                               "\"spool\": true, " + writer_command(""));
  const auto r = run_epalm(db, {"sweep", "run", file});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM sweep_cells c JOIN runs r ON r.id = c.run_id "
                          "WHERE c.state = 'done' AND r.status = 'finished'"), 2);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM metrics m JOIN metric_keys k ON k.id = m.key_id WHERE k.name = 'loss'"),
            2 * 20);
  int spools = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path() + "/sweeps/spooled")) {
    spools += entry.path().extension() == ".jsonl";
  }
  EXPECT_EQ(spools, 2);
}

TEST(StoreCommands, SpoolIngestIsIdempotentAndRunsShowReadsIt) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  const auto spool = dir.path() + "/node7/run.jsonl";
  std::filesystem::create_directories(dir.path() + "/node7");
  ASSERT_EQ(run_process({kWriter, "--spool", spool, "--runs", "2", "--steps", "30"}).exit_code, 0);
  const auto first = run_epalm(db, {"results", "ingest", dir.path() + "/node7"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto rows = query_int(db, "SELECT count(*) FROM metrics");
  EXPECT_EQ(rows, 2 * 30 * 3);
  ASSERT_EQ(run_epalm(db, {"results", "ingest", spool}).exit_code, 0);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM metrics"), rows);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), 2);
  EXPECT_EQ(python_check(db)["summary_mismatch_count"], 0);

  const auto id = query_text(db, "SELECT id FROM runs ORDER BY started LIMIT 1");
  ASSERT_EQ(run_epalm(db, {"results", "tag", id.substr(0, 30), "baseline=yes"}).exit_code, 0);
  ASSERT_EQ(run_epalm(db, {"results", "note", id, "first try"}).exit_code, 0);
  const auto show = run_epalm(db, {"runs", "show", id, "--format", "json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  const auto j = nlohmann::json::parse(show.out);
  EXPECT_EQ(j["status"], "finished");
  EXPECT_EQ(j["tags"]["baseline"], "yes");
  EXPECT_EQ(j["notes"][0]["text"], "first try");
  EXPECT_EQ(j["metrics"]["loss"]["n"], 30);
  EXPECT_EQ(j["artifacts"][0]["kind"], "checkpoint");
  const auto list = run_epalm(db, {"runs", "list", "--tag", "baseline", "--format", "csv"});
  EXPECT_EQ(std::count(list.out.begin(), list.out.end(), '\n'), 2) << list.out;
}

// --- bad input: a clear error naming the file, the usage exit code where the
// user's input is wrong, and nothing lost.

TEST(StoreBadInput, MalformedSweepFilesNameTheFileAndPlace) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  const auto broken = dir.write("broken.json", "{\"name\": \"x\",\n \"experiment\": \"epalm-vqa\",\n \"axes\": {\"lr\": [1e-5,}\n}");
  auto r = run_epalm(db, {"sweep", "plan", broken});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(broken + ":3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("malformed sweep file"), std::string::npos) << r.err;

  const auto unknown_field = dir.write("f.json", R"({"name": "x", "experiment": "epalm-vqa", "axis": {}})");
  r = run_epalm(db, {"sweep", "plan", unknown_field});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown field 'axis'"), std::string::npos) << r.err;

  const auto bad_value = dir.write("v.json", R"({"name": "x", "experiment": "epalm-vqa", "axes": {"adapters": ["ffn", "lora"]}})");
  r = run_epalm(db, {"sweep", "plan", bad_value});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("setting 'adapters' = 'lora': --adapters: must be one of none, ffn, attention, both, not 'lora'"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(db)) << "a rejected sweep file must not touch the store";
}

TEST(StoreBadInput, UnknownExperimentsAreNamedWithTheKnownOnes) {
  TempDir dir;
  const auto file = dir.write("s.json", R"({"name": "x", "experiment": "epalm-vqaa", "axes": {"lr": [1e-5]}})");
  const auto r = run_epalm(dir.path() + "/r.sqlite", {"sweep", "plan", file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(file + ": unknown experiment 'epalm-vqaa' (registered: epalm-single-vqa, epalm-vqa"),
            std::string::npos) << r.err;
  const auto show = run_process({kEpalm, "experiments", "show", "nope"});
  EXPECT_EQ(show.exit_code, 2);
  EXPECT_NE(show.err.find("unknown experiment 'nope'"), std::string::npos) << show.err;
}

TEST(StoreBadInput, ConflictingOverridesAreRefused) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  struct Case {
    std::string body, words;
  };
  const std::vector<Case> cases = {
      {R"("axes": {"lr": [1e-5, 2e-5]}, "set": {"lr": 1e-4})", "'lr' is both an axis and fixed in 'set'"},
      {R"("axes": {"lr": [1e-5]}, "seeds": [0], "set": {"seed": 3})", "'seed' is fixed in 'set' and 'seeds' is given"},
      {R"("axes": {"levels": [1, 6]}, "overrides": [{"match": {"levels": 1}, "set": {"prompt-length": 0}},
                                                    {"match": {"levels": 1}, "set": {"prompt-length": 5}}])",
       "conflicting overrides for cell {levels=1}: override 1 sets prompt-length=0, override 2 sets prompt-length=5"},
      {R"("axes": {"levels": [1, 6]}, "overrides": [{"match": {"levels": 1}, "set": {"levels": 2}}])",
       "override 1 sets 'levels', which is an axis"},
      {R"("axes": {"levels": [1, 6]}, "overrides": [{"match": {"levels": 3}, "set": {"prompt-length": 2}}])",
       "override 1 {levels=3} matches no cell"},
      {R"("axes": {"lr": [1e-4, 0.0001]})", "resolve to the same configuration"},
  };
  for (const auto& c : cases) {
    const auto file = dir.write("c.json", R"({"name": "c", "experiment": "epalm-vqa", )" + c.body + "}");
    const auto r = run_epalm(db, {"sweep", "plan", file});
    EXPECT_EQ(r.exit_code, 2) << c.body;
    EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.words), std::string::npos) << r.err;
  }
}

TEST(StoreBadInput, ABadDatabaseIsAClearErrorAndStaysAsItWas) {
  TempDir dir;
  const auto db = dir.path() + "/r.sqlite";
  ASSERT_EQ(run_process({kWriter, "--results", db, "--steps", "5"}).exit_code, 0);
  { Database(db, Database::Mode::kReadWrite).execute("PRAGMA wal_checkpoint(TRUNCATE)"); }
  const auto id = query_text(db, "SELECT id FROM runs");

  // Newer schema.
  const auto newer = dir.path() + "/newer.sqlite";
  std::filesystem::copy_file(db, newer);
  { Database(newer, Database::Mode::kReadWrite).execute("PRAGMA user_version = 7"); }
  const auto newer_bytes = file_bytes(newer);
  auto r = run_epalm(newer, {"runs", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(newer + ": its schema version 7 is newer than this epalm build's (1)"), std::string::npos) << r.err;
  EXPECT_EQ(file_bytes(newer), newer_bytes);

  // Not a database.
  const auto garbage = dir.write("garbage.sqlite", "this is a text file, not a database\n");
  r = run_epalm(garbage, {"runs", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(garbage + ": not an SQLite database"), std::string::npos) << r.err;
  EXPECT_EQ(file_bytes(garbage), "this is a text file, not a database\n");

  // Read-only: reading works, writing is refused by name.
  chmod(db.c_str(), 0444);
  const auto before = file_bytes(db);
  r = run_epalm(db, {"results", "tag", id, "k=v"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(db + ": the results database is read-only"), std::string::npos) << r.err;
  r = run_epalm(db, {"runs", "list", "--format", "csv"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(id), std::string::npos);
  EXPECT_EQ(file_bytes(db), before);
}

// One set of training settings: what `epalm train` accepts (its options, as
// --print-config writes them as INI keys) is what experiments and sweep
// files may set. Only the run's own bookkeeping options differ.
TEST(StoreCommands, TheTrainingSettingsAreOneSet) {
  const auto printed = run_process({kEpalm, "train", "--print-config"});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  std::set<std::string> options;
  std::istringstream lines(printed.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto key = line.substr(0, line.find(' '));
    if (key != "experiment" && key != "log-level" && key != "log-ranks") options.insert(key);
  }
  const auto& keys = epalm::registry::training_keys();
  EXPECT_EQ(options, std::set<std::string>(keys.begin(), keys.end()));
}

// Any training setting is a sweep axis: one variant per setting of
// `epalm train`, each a value other than epalm-vqa's and the default, plans
// (dry run) into one cell per setting with that value. A value the option's
// range refuses stops the plan, naming the cells and the reason.
TEST(StoreCommands, ASweepVariesEverySettingAndRefusesABadValueAtPlan) {
  const std::map<std::string, std::string> values = {
      {"task", "gqa"}, {"data-root", "/data"}, {"train-split", "train"}, {"val-split", "val"},
      {"test-split", "test"}, {"data-fraction", "0.5"}, {"skip-missing-media", "true"}, {"augment", "false"},
      {"rand-augment", "false"}, {"feature-cache", "off"}, {"loader-threads", "2"}, {"device", "cpu"},
      {"plan", "shard"}, {"memory-budget", "2"}, {"shard-threshold", "1000"}, {"reference-noncausal-token", "true"},
      {"reference-dropout", "0.1"}, {"reference-question-mark", "true"}, {"task-prompt", "A picture of"},
      {"checkpoint-every", "100"}, {"resume", "false"}, {"resume-with-changes", "true"}, {"tokenizer", "tok"},
      {"decoder", "opt-125m"}, {"encoder", "vit-small"}, {"model-dir", "/models"}, {"perception", "false"},
      {"levels", "3"}, {"shared-connector", "true"}, {"start-layer", "2"}, {"end-layer", "20"}, {"text-step", "2"},
      {"prompt-length", "5"}, {"prompt-mlp", "false"}, {"adapters", "ffn"}, {"adapter-reduction", "8"},
      {"lr", "0.001"}, {"prompt-lr", "0.002"}, {"weight-decay", "0.1"}, {"warmup-steps", "10"},
      {"warmup-lr", "0.003"}, {"min-lr", "0.004"}, {"epochs", "2"}, {"max-steps", "50"}, {"batch-size", "4"},
      {"accumulation", "2"}, {"clip-norm", "1"}, {"seed", "7"}, {"loss", "token-mean"}, {"loss-weight", "1"},
      {"answer-only-loss", "true"}, {"reference-fixed-prompt-lr", "false"}, {"precision", "bf16"}, {"ranks", "2"},
      {"validate-every", "100"}, {"select-by", "accuracy"}, {"test-at-end", "false"}, {"num-beams", "1"},
      {"max-new-tokens", "5"}, {"output-dir", "/tmp/out"}, {"results", "/tmp/results.sqlite"},
      {"collective-timeout", "60"}};
  const auto& keys = epalm::registry::training_keys();
  std::set<std::string> covered;
  for (const auto& [k, v] : values) covered.insert(k);
  ASSERT_EQ(covered, std::set<std::string>(keys.begin(), keys.end())) << "give every setting a value here";

  // Where a run writes is no part of what it computes (not in the
  // configuration's hash), so it is no axis: the sweep gives each cell its own.
  const std::set<std::string> bookkeeping{"output-dir", "results"};
  TempDir dir;
  nlohmann::json variants = nlohmann::json::array();
  for (const auto& [k, v] : values) {
    if (!bookkeeping.count(k)) variants.push_back({{k, v}});
  }
  const auto file = dir.write("every.json", nlohmann::json{{"name", "every-setting"}, {"experiment", "epalm-vqa"},
                                                           {"variants", variants}}.dump());
  const auto plan = run_process({kEpalm, "sweep", "plan", file, "--dry-run", "--format", "json", "--results",
                                 dir.path() + "/r.sqlite"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  const auto cells = nlohmann::json::parse(plan.out);
  ASSERT_EQ(cells.size(), values.size() - bookkeeping.size()) << plan.out;
  std::set<std::string> seen, hashes;
  for (const auto& cell : cells) {
    const auto axes = cell.at("axes").get<std::string>();
    const auto eq = axes.find('=');
    ASSERT_NE(eq, std::string::npos) << axes;
    const auto key = axes.substr(0, eq);
    ASSERT_TRUE(values.count(key)) << axes;
    EXPECT_EQ(axes.substr(eq + 1), values.at(key)) << axes;
    seen.insert(key);
    hashes.insert(cell.at("config").get<std::string>());
  }
  for (const auto& k : bookkeeping) covered.erase(k);
  EXPECT_EQ(seen, covered);
  EXPECT_EQ(hashes.size(), covered.size());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/r.sqlite")) << "a dry run records nothing";

  // An integer, but out of the option's range: refused at plan, as `epalm train` would.
  const auto bad = dir.write("bad.json", R"({"name": "bad", "experiment": "epalm-vqa",
      "axes": {"levels": [0, 2], "data-fraction": [0.5]}, "seeds": [0, 1]})");
  for (const char* action : {"plan", "run"}) {
    const auto refused = run_process({kEpalm, "sweep", action, bad, "--results", dir.path() + "/bad.sqlite"});
    EXPECT_EQ(refused.exit_code, 2) << action << refused.out << refused.err;
    EXPECT_NE(refused.err.find("cell {data-fraction=0.5, levels=0, seed=0}: setting 'levels' = '0': --levels: must "
                               "be >= 1, not 0"),
              std::string::npos)
        << refused.err;
  }
}

TEST(StoreCommands, ExperimentsListAndShow) {
  TempDir dir;
  const auto list = run_process({kEpalm, "experiments", "list", "--format", "csv"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  for (const auto* name : {"epalm-single-vqa", "epalm-vqa", "epalm-msrvtt-qa", "epalm-audiocaps", "epalm-pt-l-vqa",
                           "ablation-connector-sharing", "ablation-levels", "ablation-prompt-length",
                           "ablation-adapters", "ablation-lm-size", "ablation-data-fraction", "ood-vqa-to-gqa",
                           "zero-shot-vqa-to-video-qa"}) {
    EXPECT_NE(list.out.find(std::string("\n") + name + ","), std::string::npos) << name;
  }
  const auto show = run_process({kEpalm, "experiments", "show", "epalm-pt-l-vqa"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("\ndecoder = opt-6.7b\n"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("\nshared-connector = true\n"), std::string::npos) << show.out;
  // The trainables and their share, from the models' configurations alone
  // (the paper's counts; frozen totals of OPT-6.7B and ViT-L/16).
  EXPECT_NE(show.out.find("# trainable parameters: 4239360 of 6966014976 (0.0608"), std::string::npos) << show.out;
  const auto vqa = run_process({kEpalm, "experiments", "show", "epalm-vqa"});
  ASSERT_EQ(vqa.exit_code, 0) << vqa.err;
  EXPECT_NE(vqa.out.find("# trainable parameters: 24949760 of "), std::string::npos) << vqa.out;
  EXPECT_NE(vqa.out.find("frozen decoder 2651596800, frozen encoder 85798656"), std::string::npos) << vqa.out;
}
