// `epalm plan` as users run it: the same estimate as a training run's own
// plan (the tiny fixture models, tests/cli/make_train_fixtures.py), and the
// plan of a registered experiment from its presets alone.
#include <gtest/gtest.h>

#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "epalm/build_config.h"
#include "process.h"
#include "train_cli_fixtures.h"

namespace epalm {

namespace {

using testing::config;
using testing::epalm;
using testing::models;

// Bytes as the run's log line prints them ("%.1f MiB").
std::string mib(std::int64_t bytes) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / (1024.0 * 1024.0);
  return out.str();
}

// The figures of a run's "frozen weights on N rank(s): ..." line.
struct LoggedPlan {
  bool found = false;
  std::string ranks, resident, whole, gather_buffers, all_gathers, per_rank, budget;
};

LoggedPlan logged_plan(const std::string& log) {
  static const std::regex line(
      "frozen weights on ([0-9]+) rank\\(s\\): [^;]*; per rank ([0-9.]+) MiB resident \\(whole: ([0-9.]+) MiB\\) "
      "\\+ gather buffers ([0-9.]+) MiB, ([0-9]+) all-gathers per micro-batch receiving [0-9.]+ MiB; "
      "([0-9.]+) MiB of the budget ([0-9.]+) MiB");
  std::smatch m;
  LoggedPlan p;
  if (!std::regex_search(log, m, line)) return p;
  p.found = true;
  p.ranks = m[1], p.resident = m[2], p.whole = m[3], p.gather_buffers = m[4], p.all_gathers = m[5];
  p.per_rank = m[6], p.budget = m[7];
  return p;
}

std::int64_t number_after(const std::string& text, const std::string& before) {
  std::smatch m;
  const std::regex pattern(before + "([0-9]+)");
  return std::regex_search(text, m, pattern) ? std::stoll(m[1]) : -1;
}

testing::ProcessResult plan(const std::vector<std::string>& settings) {
  std::vector<std::string> args{"plan", "--model", models("opt"), "--encoder", models("vit"), "--format", "json"};
  args.insert(args.end(), settings.begin(), settings.end());
  return epalm(args);
}

// The run's plan line against `epalm plan --format json` for the same models
// and settings: every figure the line prints, as it prints it.
void expect_same_line(const std::string& log, const nlohmann::json& j) {
  const auto logged = logged_plan(log);
  ASSERT_TRUE(logged.found) << log;
  EXPECT_EQ(std::to_string(j["ranks"].get<int>()), logged.ranks);
  const auto& r = j["per_rank"];
  EXPECT_EQ(mib(r["frozen_resident_bytes"].get<std::int64_t>()), logged.resident) << log << j;
  EXPECT_EQ(mib(r["frozen_total_bytes"].get<std::int64_t>()), logged.whole);
  EXPECT_EQ(mib(r["gather_buffer_bytes"].get<std::int64_t>()), logged.gather_buffers);
  EXPECT_EQ(mib(r["total_bytes"].get<std::int64_t>()), logged.per_rank) << log << j;
  EXPECT_EQ(mib(j["budget_bytes"].get<std::int64_t>()), logged.budget);
  EXPECT_EQ(std::to_string(j["communication"]["all_gathers_per_micro_batch"].get<std::int64_t>()), logged.all_gathers);
}

}  // namespace

// The fixtures' run (2 levels, per-level connectors, a 3-token prompt with
// its MLP, adapters, batch 2, fp32): `epalm plan` given the same settings
// prints what the run logs, on one rank and on two with every layer sharded.
// The log rounds to 0.1 MiB, which the tiny models' figures are below; a
// budget the run cannot meet makes it say its per-rank bytes exactly.
TEST(PlanCli, PlansWhatATrainingRunPlans) {
  testing::TempDir dir;
  const auto cfg = config(dir, "vqa", "karpathy_train", "feature-cache = off\nmax-steps = 1\nadapters = both\n");
  const std::vector<std::string> same{"--batch", "2", "--prompt-len", "3", "--prompt-mlp", "true", "--connectors", "2",
                                      "--adapters", "both", "--dtype", "fp32"};
  const std::map<std::string, std::string> info{{"EPALM_LOG_LEVEL", "info"}};
  const auto with = [&](std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };

  // One rank within a budget: the line, and the trainables the run reports.
  const auto one = testing::run_process({EPALM_EXECUTABLE, "train", "--config", cfg, "--memory-budget", "1"}, 300, info);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const auto planned = plan(with(same, {"--ranks", "1", "--memory", "1"}));
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  const auto j = nlohmann::json::parse(planned.out);
  EXPECT_EQ(j["trainable_parameters"].get<std::int64_t>(), number_after(one.out, "trainable parameters: ")) << one.out;
  expect_same_line(one.err, j);

  // Over a budget of 10737 bytes, on one rank and on two (auto shards every
  // layer it can first): the bytes per rank and the budget, exactly.
  for (const int ranks : {1, 2}) {
    std::vector<std::string> run{EPALM_EXECUTABLE, "train", "--config", cfg, "--memory-budget", "0.00001"};
    if (ranks == 2) run = testing::mpirun_prefix(with(run, {"--shard-threshold", "1"}));
    const auto over = testing::run_process(run, 300, info);
    ASSERT_EQ(over.exit_code, 1) << over.err;
    auto args = with(same, {"--ranks", std::to_string(ranks), "--memory", "0.00001"});
    if (ranks == 2) args = with(args, {"--threshold", "1"});
    const auto p = plan(args);
    ASSERT_EQ(p.exit_code, 1) << p.err;  // the plan printed, then the same verdict
    const auto o = nlohmann::json::parse(p.out);
    EXPECT_FALSE(o["fits"]);
    EXPECT_EQ(o["per_rank"]["total_bytes"].get<std::int64_t>(), number_after(over.err, "the run needs ")) << over.err;
    EXPECT_EQ(o["budget_bytes"].get<std::int64_t>(), number_after(over.err, "the budget is ")) << over.err;
    if (ranks == 2) {
      EXPECT_GT(o["communication"]["all_gathers_per_micro_batch"].get<int>(), 0);
    }
    expect_same_line(over.err, o);
  }
}

// A registered experiment plans from its presets (no weights): epalm-vqa's
// trainables are what `epalm experiments show` counts, its batch and
// precision its own; options given override it, --config files included.
TEST(PlanCli, PlansARegisteredExperiment) {
  const auto shown = epalm({"experiments", "show", "epalm-vqa"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("# trainable parameters: 24949760 of"), std::string::npos) << shown.out;

  const auto r = epalm({"plan", "--experiment", "epalm-vqa", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["experiment"], "epalm-vqa");
  EXPECT_EQ(j["trainable_parameters"], 24949760);
  EXPECT_EQ(j["decoder"], "opt-2.7b");
  EXPECT_EQ(j["encoder"], "vit-base-patch16-224");
  EXPECT_EQ(j["batch"], 64);
  EXPECT_EQ(j["prompt"], 10);
  EXPECT_EQ(j["dtype"], "fp32");
  EXPECT_EQ(j["ranks"], 8);
  EXPECT_TRUE(j["fits"]);
  EXPECT_FALSE(j["units"].empty());
  EXPECT_GT(j["per_rank"]["activation_bytes"].get<std::int64_t>(), 0);

  // eP-ALM_pt-L: one shared connector, a 10-token prompt without its MLP (the reference's 4,239,360).
  testing::TempDir dir;
  const auto cfg = dir.write("plan.ini", "experiment = epalm-pt-l-vqa\nranks = 4\n");
  const auto pt_l = epalm({"plan", "--config", cfg, "--memory", "8", "--format", "json"});
  ASSERT_EQ(pt_l.exit_code, 0) << pt_l.err;
  const auto p = nlohmann::json::parse(pt_l.out);
  EXPECT_EQ(p["trainable_parameters"], 4239360);
  EXPECT_EQ(p["decoder"], "opt-6.7b");
  EXPECT_EQ(p["ranks"], 4);
  EXPECT_EQ(p["budget_bytes"].get<std::int64_t>(), 8LL << 30);
  EXPECT_TRUE(p["fits"]);
  EXPECT_GT(p["communication"]["all_gathers_per_micro_batch"].get<int>(), 0);

  const auto bad = epalm({"plan", "--experiment", "no-such-experiment"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--experiment: unknown experiment 'no-such-experiment'"), std::string::npos) << bad.err;
}

// The README's `epalm plan` lines, as written (presets only: no weights needed).
TEST(PlanCli, ReadmePlanLinesRun) {
  std::ifstream readme(EPALM_README);
  ASSERT_TRUE(readme) << EPALM_README;
  const std::string prefix = "build/launch/epalm plan ";
  int ran = 0;
  for (std::string line; std::getline(readme, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::vector<std::string> args{"plan"};
    std::istringstream words(line.substr(prefix.size()));
    for (std::string word; words >> word;) args.push_back(word);
    const auto r = epalm(args);
    EXPECT_EQ(r.exit_code, 0) << line << "\n" << r.out << r.err;
    ++ran;
  }
  EXPECT_GE(ran, 2);
}

}  // namespace epalm
