// Sweeps of real training runs on the fixtures: the world size as a sweep
// axis (`ranks`, filling the launcher's `mpirun -np {ranks}`), each cell a
// real `epalm train` recorded with its world size.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "epalm/registry/sqlite.h"
#include "train_cli_fixtures.h"

namespace epalm {

namespace {

using registry::Database;
using registry::Statement;
using testing::epalm;
using testing::models;

// The settings that point a registered experiment at the tiny fixtures.
nlohmann::json fixture_settings(const std::string& results_dir) {
  return {{"task", "vqa"},        {"data-root", testing::data_root()},
          {"train-split", "karpathy_train"}, {"decoder", models("opt")},
          {"encoder", models("vit")}, {"levels", 1},
          {"start-layer", 1},         {"end-layer", 4},
          {"prompt-length", 2},       {"batch-size", 1},
          {"max-steps", 2},           {"warmup-steps", 1},
          {"feature-cache", "off"},   {"device", "cpu"},
          {"loader-threads", 1},      {"validate-every", "never"},
          {"test-at-end", false},     {"precision", "fp32"},
          {"output-dir", results_dir + "/unused"}};
}

}  // namespace

TEST(SweepTraining, TheWorldSizeIsASweepAxis) {
  testing::TempDir dir;
  const auto db = dir.path() + "/results.sqlite";
  nlohmann::json launcher = {EPALM_MPIEXEC, "-np", "{ranks}", "--oversubscribe", "--bind-to", "none"};
  if (::geteuid() == 0) launcher.push_back("--allow-run-as-root");
  const nlohmann::json sweep = {{"name", "scaling"},
                                {"experiment", "epalm-single-vqa"},
                                {"set", fixture_settings(dir.path())},
                                {"axes", {{"ranks", {1, 2}}}},
                                {"launcher", launcher},
                                {"output-dir", dir.path() + "/cells"}};
  const auto file = dir.write("scaling.json", sweep.dump(1));
  auto r = epalm({"sweep", "plan", file, "--results", db});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = epalm({"sweep", "run", file, "--workers", "1", "--results", db}, 600);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // One finished run per world size, each recorded with the size it ran on.
  Database store(db, Database::Mode::kReadOnly);
  Statement runs(store,
                 "SELECT p.value_text, r.world_size, r.status FROM runs r JOIN params p ON p.run_id = r.id "
                 "WHERE p.key = 'ranks' ORDER BY r.world_size");
  std::vector<std::tuple<std::string, std::int64_t, std::string>> got;
  while (runs.step()) got.emplace_back(runs.text(0), runs.integer(1), runs.text(2));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::make_tuple(std::string("1"), std::int64_t{1}, std::string("finished")));
  EXPECT_EQ(got[1], std::make_tuple(std::string("2"), std::int64_t{2}, std::string("finished")));
  // Both recorded their throughput, which a scaling plot reads.
  Statement throughput(store,
                       "SELECT count(DISTINCT s.run_id) FROM run_summary s JOIN metric_keys k ON k.id = s.key_id "
                       "WHERE k.name = 'samples_per_second'");
  ASSERT_TRUE(throughput.step());
  EXPECT_EQ(throughput.integer(0), 2);
  // Each trained alone: its throughput is its own.
  Statement alone(store, "SELECT count(*) FROM scores WHERE split = 'train' AND metric = 'job_variants' AND value = 1");
  ASSERT_TRUE(alone.step());
  EXPECT_EQ(alone.integer(0), 2);
  // The run's throughput counts every rank's samples once: throughput x step
  // time is the samples trained, at most max-steps 2 x ranks x batch 1 (the
  // last step may hold fewer where the split ends), and 1 rank trains 2.
  Statement trained(store,
                    "SELECT r.world_size, a.value * b.value FROM runs r "
                    "JOIN scores a ON a.run_id = r.id AND a.split = 'train' AND a.metric = 'samples_per_second' "
                    "JOIN scores b ON b.run_id = r.id AND b.split = 'train' AND b.metric = 'step_seconds' "
                    "ORDER BY r.world_size");
  std::vector<double> samples;
  while (trained.step()) samples.push_back(trained.real(1));
  ASSERT_EQ(samples.size(), 2u);
  // (n / t) * t: two fp64 roundings, each within 2^-53 relative.
  const double rounding = 4 * 0x1p-53 * 4;
  EXPECT_NEAR(samples[0], 2, rounding);
  EXPECT_GT(samples[1], samples[0]);
  EXPECT_LE(samples[1], 4 + rounding);
}

// A run started on another number of ranks than it asks for is refused.
TEST(SweepTraining, ARunRefusesAnotherWorldSize) {
  testing::TempDir dir;
  const auto cfg = testing::config(dir, "vqa", "karpathy_train");
  const auto r = epalm({"train", "--config", cfg, "--ranks", "2", "--max-steps", "1", "--feature-cache", "off"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--ranks"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("started on 1"), std::string::npos) << r.err;
}

// `sweep run --fuse 4`: an ablation grid (connector sharing x levels) over two
// seeds trains as two fused jobs, one per seed (a seed is a data stream);
// every cell is done and has its own run with its own settings, and each
// cell's checkpoint equals the one the same sweep trains a cell a job.
TEST(SweepTraining, FusedCellsEqualCellsRunAlone) {
  testing::TempDir dir;
  const auto sweep_file = [&](const std::string& name) {
    auto settings = fixture_settings(dir.path());
    settings["reference-dropout"] = 0.1;
    settings.erase("levels");  // an axis here
    const nlohmann::json sweep = {{"name", name},
                                  {"experiment", "epalm-single-vqa"},
                                  {"set", settings},
                                  {"axes", {{"shared-connector", {true, false}}, {"levels", {1, 2}}}},
                                  {"seeds", {0, 1}},
                                  {"output-dir", dir.path() + "/" + name}};
    return dir.write(name + ".json", sweep.dump(1));
  };
  const std::map<std::string, std::string> one_thread = {{"EPALM_LOG_LEVEL", "warn"}, {"OMP_NUM_THREADS", "1"}};
  const auto db = dir.path() + "/results.sqlite";
  auto r = testing::run_process({EPALM_EXECUTABLE, "sweep", "run", sweep_file("fused"), "--fuse", "4", "--results", db},
                                600, one_thread);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The alone sweep records elsewhere: the same configurations would count as done in one store.
  r = testing::run_process({EPALM_EXECUTABLE, "sweep", "run", sweep_file("alone"), "--results", dir.path() + "/alone.sqlite"},
                           600, one_thread);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  Database store(db, Database::Mode::kReadOnly);
  Statement cells(store,
                  "SELECT c.cell_index, c.state, r.status, "
                  "(SELECT value_text FROM params WHERE run_id = r.id AND key = 'levels'), "
                  "(SELECT value_text FROM params WHERE run_id = r.id AND key = 'seed'), r.cell_index "
                  "FROM sweep_cells c JOIN sweeps s ON s.id = c.sweep_id LEFT JOIN runs r ON r.id = c.run_id "
                  "WHERE s.name = 'fused' ORDER BY c.cell_index");
  int count = 0;
  while (cells.step()) {
    ++count;
    EXPECT_EQ(cells.text(1), "done") << "cell " << cells.integer(0);
    EXPECT_EQ(cells.text(2), "finished") << "cell " << cells.integer(0);
    EXPECT_EQ(cells.integer(5), cells.integer(0)) << "the run records its own cell";
  }
  EXPECT_EQ(count, 8);
  // Two jobs of four: each seed's cells share one process, whose output the first cell's log holds.
  int fused_logs = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path() + "/fused")) {
    if (entry.path().filename() != "attempt-1.log") continue;
    std::ifstream in(entry.path());
    std::string first;
    std::getline(in, first);
    if (first.rfind("trained in one fused job", 0) == 0) ++fused_logs;
  }
  EXPECT_EQ(fused_logs, 6);
  // Cell by cell, the same checkpoint bit for bit.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() + "/fused")) {
    const auto name = entry.path().filename().string();
    const auto alone = dir.path() + "/alone/" + name + "/checkpoint.safetensors";
    ASSERT_TRUE(std::filesystem::exists(alone)) << alone;
    const auto compared = testing::run_process(
        {EPALM_PYTHON, COMPARE_CHECKPOINTS, entry.path().string() + "/checkpoint.safetensors", alone}, 120);
    EXPECT_EQ(compared.exit_code, 0) << name << ": " << compared.out << compared.err;
  }
}

}  // namespace epalm
