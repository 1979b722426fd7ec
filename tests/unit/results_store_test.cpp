// The results store through its API: schema creation, a run's lifecycle,
// idempotent writes, spool + ingest, stale runs, and every bad database file.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/registry/hashing.h"
#include "epalm/registry/run_recorder.h"
#include "epalm/registry/sqlite.h"
#include "process.h"

using namespace epalm::registry;
using epalm::testing::TempDir;

namespace {

std::int64_t count(const std::string& db_path, const std::string& sql) {
  Database db(db_path, Database::Mode::kReadOnly);
  Statement s(db, sql);
  return s.step() ? s.integer(0) : -1;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RunStart a_start(const std::string& experiment, Params params = {{"lr", "2e-5"}, {"seed", "3"}}) {
  RunStart s;
  s.experiment = experiment;
  s.params = std::move(params);
  s.provenance = collect_provenance({"results_store_test"}, 1);
  return s;
}

RecorderOptions quiet() {
  RecorderOptions o;
  o.heartbeat_seconds = 0;
  return o;
}

// Records the same run through `recorder`; returns the values logged for "loss".
std::vector<double> record_a_run(RunRecorder& recorder) {
  std::vector<double> losses;
  for (int step = 0; step < 25; ++step) {
    const double loss = std::cos(0.3 * step) + 0.01 * step;
    losses.push_back(loss);
    recorder.log_metrics(step, {{"loss", loss}, {"tokens_per_s", 1000.0 + step}});
  }
  recorder.log_scores("val", {{"vqa_accuracy", 0.61}});
  recorder.finish(RunStatus::kFinished, 0);
  return losses;
}

}  // namespace

TEST(ResultsStore, CreatesAVersionedWalDatabase) {
  TempDir dir;
  const auto path = dir.path() + "/r.sqlite";
  { auto store = ResultsStore::open(path); }
  EXPECT_EQ(count(path, "PRAGMA user_version"), kResultsSchemaVersion);
  EXPECT_EQ(count(path, "PRAGMA application_id"), kResultsApplicationId);
  Database db(path, Database::Mode::kReadOnly);
  Statement mode(db, "PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.text(0), "wal");
  const auto tables = count(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'");
  EXPECT_GE(tables, 12);
  // Reopening an up-to-date database migrates nothing again.
  { auto again = ResultsStore::open(path); }
  EXPECT_EQ(count(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"), tables);
}

TEST(ResultsStore, RecordsARunWithSummariesScoresAndArtifacts) {
  TempDir dir;
  const auto path = dir.path() + "/r.sqlite";
  auto recorder = RunRecorder::to_store(path, a_start("epalm-vqa"), quiet());
  const auto artifact = dir.write("ckpt.safetensors", "weights");
  recorder.add_artifact("checkpoint", artifact);
  const auto losses = record_a_run(recorder);

  auto store = ResultsStore::open(path, ResultsStore::Access::kReadOnly);
  const auto d = store.show_run(recorder.run_id());
  EXPECT_EQ(d.run.status, "finished");
  EXPECT_EQ(d.run.experiment, "epalm-vqa");
  EXPECT_EQ(d.run.seed, 3);
  EXPECT_EQ(d.run.config_hash, config_hash({{"lr", "2e-5"}, {"seed", "3"}}));
  EXPECT_EQ(d.params.at("lr"), "2e-5");
  ASSERT_EQ(d.summaries.size(), 2u);
  const auto& loss = d.summaries[0];
  ASSERT_EQ(loss.key, "loss");
  EXPECT_EQ(loss.goal, "min");
  EXPECT_EQ(loss.n, 25);
  EXPECT_EQ(loss.last, losses.back());
  EXPECT_EQ(loss.last_step, 24);
  const auto min_it = std::min_element(losses.begin(), losses.end());
  EXPECT_EQ(loss.min, *min_it);
  EXPECT_EQ(loss.best, *min_it);
  EXPECT_EQ(loss.best_step, min_it - losses.begin());
  EXPECT_EQ(loss.max, *std::max_element(losses.begin(), losses.end()));
  EXPECT_EQ(d.summaries[1].goal, "max");  // throughput is maximised
  EXPECT_EQ(d.summaries[1].best, 1024.0);
  ASSERT_EQ(d.scores.size(), 1u);
  EXPECT_EQ(std::get<2>(d.scores[0]), 0.61);
  ASSERT_EQ(d.artifacts.size(), 1u);
  EXPECT_EQ(d.artifacts[0].sha256, sha256_hex("weights"));
  EXPECT_EQ(d.artifacts[0].bytes, 7);
  EXPECT_FALSE(d.provenance.at("host").empty());
  EXPECT_EQ(d.provenance.at("version_sqlite"), sqlite3_libversion());
  EXPECT_EQ(count(path, "SELECT count(*) FROM metrics"), 50);
}

TEST(ResultsStore, RelogginStepsReplacesInsteadOfDuplicating) {
  TempDir dir;
  const auto path = dir.path() + "/r.sqlite";
  auto store = ResultsStore::open(path);
  auto start = a_start("e");
  start.run_id = new_run_id();
  start.started = now_seconds();
  store.start_run(start);
  store.start_run(start);  // a retried start is a no-op
  std::vector<MetricPoint> batch;
  for (int s = 0; s < 10; ++s) batch.push_back({"loss", s, 10.0 - s, now_seconds()});
  store.append_metrics(start.run_id, batch);
  store.append_metrics(start.run_id, batch);
  batch[9].value = -1;  // the last step logged again with a new value
  store.append_metrics(start.run_id, {batch[9]});
  EXPECT_EQ(count(path, "SELECT count(*) FROM runs"), 1);
  EXPECT_EQ(count(path, "SELECT count(*) FROM metrics"), 10);
  const auto d = store.show_run(start.run_id);
  EXPECT_EQ(d.summaries.at(0).n, 10);
  EXPECT_EQ(d.summaries.at(0).last, -1);
  EXPECT_EQ(d.summaries.at(0).min, -1);
}

TEST(ResultsStore, SpoolIngestEqualsDirectRecordingAndIsIdempotent) {
  TempDir dir;
  const auto direct = dir.path() + "/direct.sqlite";
  const auto spooled = dir.path() + "/spooled.sqlite";
  const auto spool = dir.path() + "/run.jsonl";
  auto start = a_start("epalm-vqa");
  start.run_id = new_run_id();
  {
    auto a = RunRecorder::to_store(direct, start, quiet());
    record_a_run(a);
  }
  {
    auto b = RunRecorder::to_spool(spool, start, quiet());
    record_a_run(b);
  }
  auto store = ResultsStore::open(spooled);
  const auto first = ingest_spool(store, spool);
  EXPECT_EQ(first.runs, 1);
  EXPECT_EQ(first.metric_rows, 50);
  ingest_spool(store, spool);  // again: nothing changes
  EXPECT_EQ(count(spooled, "SELECT count(*) FROM metrics"), 50);
  EXPECT_EQ(count(spooled, "SELECT count(*) FROM runs"), 1);
  const auto a = ResultsStore::open(direct).show_run(start.run_id);
  const auto b = store.show_run(start.run_id);
  EXPECT_EQ(a.run.status, b.run.status);
  EXPECT_EQ(a.params, b.params);
  ASSERT_EQ(a.summaries.size(), b.summaries.size());
  for (size_t i = 0; i < a.summaries.size(); ++i) {
    EXPECT_EQ(a.summaries[i].last, b.summaries[i].last);
    EXPECT_EQ(a.summaries[i].best, b.summaries[i].best);
    EXPECT_EQ(a.summaries[i].n, b.summaries[i].n);
  }
  EXPECT_EQ(a.scores, b.scores);
}

TEST(ResultsStore, IngestToleratesACutOffLastLineButNamesAMalformedOne) {
  TempDir dir;
  const auto spool = dir.path() + "/run.jsonl";
  {
    auto r = RunRecorder::to_spool(spool, a_start("e"), quiet());
    r.log_metrics(0, {{"loss", 1}});
    r.flush();
    r.finish(RunStatus::kFinished, 0);
  }
  const auto good = file_bytes(spool);
  std::ofstream(spool, std::ios::app) << R"({"type":"heartbeat","run_i)";  // killed mid-write
  auto store = ResultsStore::open(dir.path() + "/r.sqlite");
  EXPECT_TRUE(ingest_spool(store, spool).truncated_tail);

  std::ofstream(spool, std::ios::trunc) << good.substr(0, good.find('\n') + 1) << "{not json\n"
                                        << good.substr(good.find('\n') + 1);
  try {
    ingest_spool(store, spool);
    FAIL() << "a malformed record was accepted";
  } catch (const epalm::Error& e) {
    EXPECT_EQ(e.where(), spool + ":2");
    EXPECT_NE(e.reason().find("malformed"), std::string::npos) << e.reason();
  }
}

TEST(ResultsStore, RunsWithoutHeartbeatBecomeStaleAndComeBackIfTheyBeat) {
  TempDir dir;
  const auto path = dir.path() + "/r.sqlite";
  auto store = ResultsStore::open(path);
  auto start = a_start("e");
  start.run_id = new_run_id();
  start.started = now_seconds() - 100;
  store.start_run(start);
  EXPECT_EQ(store.reap_stale(1000), 0);
  EXPECT_EQ(store.reap_stale(10), 1);
  EXPECT_EQ(store.show_run(start.run_id).run.status, "stale");
  store.heartbeat(start.run_id, now_seconds() - 200);  // an old beat (a re-ingested spool) changes nothing
  EXPECT_EQ(store.show_run(start.run_id).run.status, "stale");
  store.heartbeat(start.run_id, now_seconds());
  EXPECT_EQ(store.show_run(start.run_id).run.status, "running");
}

TEST(ResultsStore, OnlyRankZeroRecords) {
  TempDir dir;
  const auto path = dir.path() + "/r.sqlite";
  auto options = quiet();
  options.rank = 1;
  {
    auto r = RunRecorder::to_store(path, a_start("e"), options);
    EXPECT_FALSE(r.enabled());
    r.log_metrics(0, {{"loss", 1}});
    r.finish(RunStatus::kFinished, 0);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ResultsStore, AnUnfinishedRecorderRecordsAFailure) {
  TempDir dir;
  const auto path = dir.path() + "/r.sqlite";
  std::string id;
  {
    auto r = RunRecorder::to_store(path, a_start("e"), quiet());
    id = r.run_id();
    r.log_metrics(0, {{"loss", 1}});
  }
  const auto d = ResultsStore::open(path).show_run(id);
  EXPECT_EQ(d.run.status, "failed");
  EXPECT_EQ(d.run.error, "ended without finish");
  EXPECT_EQ(d.summaries.at(0).n, 1);  // the buffered row was flushed
}

TEST(ResultsStore, TagsNotesFiltersAndComparisons) {
  TempDir dir;
  const auto path = dir.path() + "/r.sqlite";
  std::vector<std::string> ids;
  for (int length : {1, 10, 10}) {
    auto r = RunRecorder::to_store(path, a_start("abl", {{"prompt-length", std::to_string(length)}}), quiet());
    r.log_metrics(0, {{"loss", 1.0 * length}});
    r.finish(RunStatus::kFinished, 0);
    ids.push_back(r.run_id());
  }
  auto store = ResultsStore::open(path);
  store.tag_run(ids[0], "baseline", "true");
  store.note_run(ids[0], "the short prompt");
  EXPECT_EQ(store.resolve_run_id(ids[0].substr(0, 30)), ids[0]);
  RunFilter f;
  f.params["prompt-length"] = "10.0";  // numeric params compare as numbers
  EXPECT_EQ(store.list_runs(f).size(), 2u);
  RunFilter tagged;
  tagged.tag = "baseline=true";
  ASSERT_EQ(store.list_runs(tagged).size(), 1u);
  EXPECT_EQ(store.show_run(ids[0]).notes.at(0).second, "the short prompt");
  const auto rows = store.compare("abl", "prompt-length", "loss", Summary::kBest);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].value, "1");
  EXPECT_EQ(rows[1].runs, 2);
  EXPECT_EQ(rows[1].mean, 10.0);
}

TEST(ResultsStore, ConfigHashIsCanonical) {
  EXPECT_EQ(config_hash({{"lr", "1e-4"}, {"seed", "0"}}), config_hash({{"seed", "0.0"}, {"lr", "0.0001"}}));
  EXPECT_EQ(config_hash({{"lr", "1e-4"}, {"output-dir", "/a"}}), config_hash({{"lr", "1e-4"}, {"output-dir", "/b"}}));
  EXPECT_EQ(config_hash({{"prompt-mlp", "yes"}}), config_hash({{"prompt-mlp", "true"}}));
  EXPECT_NE(config_hash({{"lr", "1e-4"}}), config_hash({{"lr", "2e-4"}}));
}

// --- bad database files: each a clear error naming the file, nothing changed ---------

namespace {

void expect_open_error(const std::string& path, const std::string& words,
                       ResultsStore::Access access = ResultsStore::Access::kReadWrite) {
  const auto before = file_bytes(path);
  try {
    ResultsStore::open(path, access);
    FAIL() << "opened " << path;
  } catch (const epalm::Error& e) {
    EXPECT_EQ(e.where(), path);
    EXPECT_NE(e.reason().find(words), std::string::npos) << e.reason();
  }
  EXPECT_EQ(file_bytes(path), before) << "the file was changed";
}

}  // namespace

TEST(ResultsStoreBadInput, ANewerSchemaIsRefused) {
  TempDir dir;
  const auto path = dir.path() + "/r.sqlite";
  { auto store = ResultsStore::open(path); }
  {
    Database db(path, Database::Mode::kReadWrite);
    db.execute("PRAGMA user_version = 99");
  }
  expect_open_error(path, "schema version 99 is newer");
}

TEST(ResultsStoreBadInput, AFileThatIsNotADatabaseIsRefused) {
  TempDir dir;
  const auto path = dir.write("r.sqlite", std::string(4096, 'x'));
  expect_open_error(path, "not an SQLite database");
}

TEST(ResultsStoreBadInput, AnotherApplicationsDatabaseIsRefused) {
  TempDir dir;
  const auto path = dir.path() + "/other.sqlite";
  {
    Database db(path, Database::Mode::kReadWrite);
    db.execute("CREATE TABLE t(x)");
  }
  expect_open_error(path, "another application");
}

TEST(ResultsStoreBadInput, CorruptPagesAreReportedAsCorrupt) {
  TempDir dir;
  const auto path = dir.path() + "/r.sqlite";
  {
    auto recorder = RunRecorder::to_store(path, a_start("e"), quiet());
    record_a_run(recorder);
    Database db(path, Database::Mode::kReadWrite);
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  {
    // Overwrite every page after the first (the schema survives, the tables do not).
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    const std::string garbage(4096 * 4, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  try {
    auto store = ResultsStore::open(path, ResultsStore::Access::kReadOnly);
    store.list_runs({});
    FAIL() << "read a corrupt database";
  } catch (const epalm::Error& e) {
    EXPECT_EQ(e.where(), path);
    EXPECT_NE(e.reason().find("corrupt"), std::string::npos) << e.reason();
  }
}

TEST(ResultsStoreBadInput, AReadOnlyFileIsRefusedForWritingButReadable) {
  TempDir dir;
  const auto path = dir.path() + "/r.sqlite";
  {
    auto recorder = RunRecorder::to_store(path, a_start("e"), quiet());
    record_a_run(recorder);
  }
  {
    Database db(path, Database::Mode::kReadWrite);
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  chmod(path.c_str(), 0444);
  expect_open_error(path, "read-only");
  EXPECT_EQ(ResultsStore::open(path, ResultsStore::Access::kReadOnly).list_runs({}).size(), 1u);
}
