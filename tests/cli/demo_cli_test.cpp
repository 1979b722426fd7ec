// `epalm demo --reduced true` end to end, as a user runs it: a small toy
// world, its unimodal models pretrained, one task per modality (image QA,
// video QA, audio captioning) with the no-perception baseline and eP-ALM,
// every cell trained, validated and tested under mpirun -np 2 and recorded in
// a real results store; the tables, the scaling over ranks, the report. A
// rerun finishes at once and runs nothing.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "process.h"

namespace epalm {
namespace {

testing::ProcessResult demo(const std::string& home, int timeout) {
  return testing::run_process({EPALM_EXECUTABLE, "demo", "--reduced", "true", "--ranks", "2", "--results",
                               home + "/results.sqlite"},
                              timeout, {{"EPALM_HOME", home}});
}

std::string query(const std::string& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK) << db;
  sqlite3_stmt* statement = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(handle, sql.c_str(), -1, &statement, nullptr), SQLITE_OK) << sqlite3_errmsg(handle);
  std::string out;
  if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  }
  sqlite3_finalize(statement);
  sqlite3_close(handle);
  return out;
}

std::string line_with(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) return line;
  }
  return "";
}

TEST(DemoCli, TheReducedStudyRunsEndToEndUnderMpirunAndResumes) {
  testing::TempDir home;
  const auto first = demo(home.path(), 900);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const auto& out = first.out;
  // What the pretrained models know, then one table per task.
  for (const char* part : {"What the unimodal models know", "perplexity", "image QA (sweep toy-image-qa-",
                           "video QA (sweep toy-video-qa-", "audio captioning (sweep toy-audio-caption-",
                           "Scaling (the headline image-QA cell)", "cells: 8 run now, 0 finished before, 0 failed"}) {
    EXPECT_NE(out.find(part), std::string::npos) << part << "\n" << out;
  }
  // Each task's baseline and eP-ALM rows: a score over one seed, a trainable share.
  const auto baseline = line_with(out, "no perception (soft prompt only)");
  EXPECT_NE(baseline.find("baseline"), std::string::npos) << out;
  EXPECT_NE(baseline.find("%"), std::string::npos) << out;
  const auto headline = line_with(out, "eP-ALM: 1 level, shared");
  EXPECT_NE(headline.find("  1  "), std::string::npos) << headline;  // one seed
  // The eP-ALM variant trains more than the baseline (the connector).
  const auto db = home.path() + "/results.sqlite";
  EXPECT_EQ(query(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), "8");
  EXPECT_EQ(query(db, "SELECT count(*) FROM runs WHERE status = 'finished' AND world_size = 2"), "7");
  EXPECT_EQ(query(db, "SELECT count(*) FROM sweeps"), "4");
  // Scaling: both rank counts run by the scaling sweep itself, each alone (a
  // study cell's fused job records its throughput over all its variants), at
  // one global batch: batch per rank x ranks is the same for both.
  EXPECT_EQ(query(db, "SELECT count(*) FROM sweep_cells c JOIN sweeps s ON s.id = c.sweep_id "
                      "WHERE s.name LIKE 'toy-scaling-%' AND c.state = 'done' AND c.attempts = 1"),
            "2");
  EXPECT_EQ(query(db, "SELECT count(DISTINCT r.world_size * CAST(p.value_text AS INTEGER)) || ' ' || count(*) "
                      "FROM sweep_cells c JOIN sweeps s ON s.id = c.sweep_id JOIN runs r ON r.id = c.run_id "
                      "JOIN params p ON p.run_id = r.id AND p.key = 'batch-size' WHERE s.name LIKE 'toy-scaling-%'"),
            "1 2");
  // Every cell validated and tested: test scores in the store.
  EXPECT_EQ(query(db, "SELECT count(DISTINCT run_id) FROM scores WHERE split = 'test'"), "8");
  const auto report_path = line_with(out, "report: ").substr(8);
  ASSERT_TRUE(std::filesystem::exists(report_path)) << out;
  std::ifstream in(report_path);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* part : {"<svg", "Scaling", "no perception against eP-ALM", "p(t)"}) {
    EXPECT_NE(html.find(part), std::string::npos) << part;
  }

  // What the decoder reads from a description, measured by transformers on
  // its checkpoint (the script docs/toy-world.md's figures come from): it
  // runs on the reduced world and reports the count questions at least.
  const auto decoder_line = line_with(out, "the world's text only");
  const auto decoder = decoder_line.substr(decoder_line.rfind(' ') + 1);
  ASSERT_TRUE(std::filesystem::exists(decoder + "/config.json")) << decoder_line;
  // The demo's log names the world's root: "demo: toy world: <root> (generated now)".
  const auto world_line = line_with(first.err + first.out, "toy world: ");
  const auto from = world_line.find("toy world: ") + 11;
  const auto world = world_line.substr(from, world_line.find(" (", from) - from);
  ASSERT_TRUE(std::filesystem::exists(world + "/corpus/train.txt")) << world_line;
  const auto reading_json = home.path() + "/reading.json";
  const auto reading = testing::run_process({EPALM_PYTHON, DECODER_READING, decoder, world, reading_json}, 300);
  ASSERT_EQ(reading.exit_code, 0) << reading.out << reading.err;
  std::ifstream reading_in(reading_json);
  const auto report = nlohmann::json::parse(reading_in);
  ASSERT_TRUE(report.contains("how many shapes")) << report.dump();
  for (const auto& [kind, r] : report.items()) {
    EXPECT_GT(r["lines"].get<int>(), 0) << kind;
    EXPECT_GE(r["accuracy"].get<double>(), 0.0) << kind;
    EXPECT_LE(r["accuracy"].get<double>(), 1.0) << kind;
  }

  // Whether the AST's cached features hold each tone's attributes: the probe
  // docs/toy-world.md's figures come from, on the audio cells' cache folder
  // (which an eP-ALM cell's log names).
  std::string audio_features;
  const auto study = std::filesystem::path(report_path).parent_path();
  for (const auto& cell : std::filesystem::directory_iterator(study / "audio-caption")) {
    if (!cell.is_directory()) continue;
    std::ifstream log(cell.path() / "attempt-1.log");
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    const auto at = text.find("frozen-feature cache: /");
    if (at != std::string::npos) audio_features = text.substr(at + 22, text.find('\n', at) - at - 22);
  }
  ASSERT_FALSE(audio_features.empty()) << "no audio cell used the feature cache";
  const auto probe = testing::run_process({EPALM_PYTHON, PROBE_TONE_FEATURES, audio_features, world}, 300);
  ASSERT_EQ(probe.exit_code, 0) << probe.out << probe.err;
  EXPECT_NE(probe.out.find("tone 1 loudness  probe "), std::string::npos) << probe.out;

  // A rerun: nothing runs, the same tables print.
  const auto start = std::chrono::steady_clock::now();
  const auto again = demo(home.path(), 300);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("cells: 0 run now, 8 finished before, 0 failed"), std::string::npos) << again.out;
  EXPECT_EQ(line_with(again.out, "eP-ALM: 1 level, shared"), headline);
  EXPECT_EQ(query(db, "SELECT count(*) FROM runs"), "8");
  EXPECT_LT(seconds, 60) << "a finished study reran its cells";
}

}  // namespace
}  // namespace epalm
