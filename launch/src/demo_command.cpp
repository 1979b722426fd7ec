// `epalm demo`: the eP-ALM study on the embedded toy world (toy_study.h):
// world, pretraining, every task's sweep under mpirun, the comparison tables,
// the trainable shares, the report. Progress on a terminal; one line per
// finished phase or cell in logs.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "command.h"
#include "epalm/analysis/table.h"
#include "epalm/core/error.h"
#include "epalm/core/home.h"
#include "epalm/distributed/local_launch.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/toy_study.h"
#include "epalm/experiments/toy_world.h"
#include "epalm/core/progress.h"
#include "results_settings.h"

namespace epalm::cli {

namespace {

namespace toy = experiments::toy;

std::string number(const char* pattern, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, v);
  return buffer;
}

std::string p_value(const std::optional<double>& p) { return p ? number("%.2g", *p) : "-"; }

// One table per task: each variant's test score over seeds, its difference
// to the baseline with p-values, and what it trains.
std::string variants_table(const toy::StudyTask& task, analysis::TableFormat format) {
  analysis::Table table({"variant", "test " + task.metric, "seeds", "Δ vs baseline", "p (Welch)", "p (bootstrap)",
                         "trainable", "share"});
  for (const auto& v : task.variants) {
    if (v.scores.empty()) {
      table.add_row({v.name, "-", "0", "-", "-", "-", "-", "-"});
      continue;
    }
    table.add_row({v.name, number("%.2f", v.mean) + " ± " + number("%.2f", v.std), std::to_string(v.scores.size()),
                   v.baseline ? "baseline" : number("%+.2f", v.diff), p_value(v.p_welch), p_value(v.p_bootstrap),
                   number("%.0f", v.trainable_parameters),
                   number("%.3f%%", v.trainable_percent)});
  }
  return table.render(format);
}

int run_demo(const Invocation& in) {
  const auto& o = in.options;
  if (in.world.size() > 1) {
    throw UsageError("demo", "runs as one process: it starts mpirun for each cell itself (--ranks)");
  }
  const auto format = analysis::parse_table_format(o["format"].as<std::string>());
  toy::StudySettings s;
  s.world_seed = o["seed"].as<std::uint64_t>();
  s.reduced = o["reduced"].as<bool>();
  s.ranks = o["ranks"].as<int>();
  s.home = epalm_home();
  s.results = results_path(o);
  s.epalm = distributed::current_executable();
  Progress progress(isatty(STDERR_FILENO) != 0);
  s.say = [&](const std::string& line, bool transient) {
    if (transient) {
      progress.say(line);
      return;
    }
    progress.clear();
    spdlog::info("demo: {}", line);
  };
  s.pretraining = [&](const std::string& line, bool done) {
    progress.say(line);
    if (done) {
      progress.clear();
      spdlog::info("demo: {}", line);
    }
  };
  const auto result = toy::run_study(s);
  progress.clear();

  std::cout << "What the unimodal models know (held out; each saw its own modality only):\n"
            << result.models_table << "\n";
  for (const auto& task : result.tasks) {
    std::cout << task.name << " (sweep " << task.sweep << ", " << task.sweep_file << "):\n"
              << variants_table(task, format) << "\n";
  }
  std::cout << "Scaling (the headline image-QA cell):\n" << result.scaling_table << "\n";
  std::cout << "cells: " << result.cells_run << " run now, " << result.cells_reused << " finished before, "
            << result.cells_failed << " failed\n"
            << "results store: " << s.results << "\n"
            << "report: " << result.report << "\n";
  if (result.cells_failed > 0) throw Error("demo", std::to_string(result.cells_failed) + " cells failed (see the report)");
  return 0;
}

}  // namespace

Command demo_command() {
  return {"demo",
          "The eP-ALM study on the embedded toy world, end to end: generate the world, pretrain its\n"
          "unimodal models (decoder on text, ViT, TimeSformer, AST) where missing, train, validate and\n"
          "test every variant of every task under mpirun (a no-perception baseline, eP-ALM, its\n"
          "ablations; several seeds), record them in the results store, and print per task the\n"
          "comparison with the baseline (mean ± std, difference, p-values) and the trainable share,\n"
          "the scaling over ranks, and the HTML report's path. A rerun skips finished cells.",
          [](po::options_description& settings) {
            settings.add_options()                                                                           //
                ("ranks", po::value<int>()->default_value(2), "ranks every cell runs on (mpirun -np)")          //
                ("seed", po::value<std::uint64_t>()->default_value(0), "the toy world's seed")                  //
                ("reduced", po::value<bool>()->default_value(false),
                 "a small world, short pretraining, a few steps, one seed, one task per modality (tests)");
            add_results_settings(settings);
          },
          run_demo};
}

}  // namespace epalm::cli
