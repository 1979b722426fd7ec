// The study `epalm demo` runs: the paper's comparisons on the toy world, every
// part real. The world is generated and the unimodal models pretrained where
// missing (toy_world.h, toy_models.h); each task's variants (a no-perception
// baseline, eP-ALM, its ablations) run as one sweep file of a registered toy
// experiment, every cell trained, validated and tested under mpirun and
// recorded in the results store; a scaling sweep runs the headline cell at
// 1 and 2 ranks. The end: per task, a comparison table (mean ± std over seeds,
// the difference to the baseline, Welch and bootstrap p-values), the
// variants' trainable shares, and one HTML report with the plots. Rerunning
// skips every finished cell (the store knows them by configuration).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace epalm::experiments::toy {

struct StudySettings {
  std::uint64_t world_seed = 0;
  // A small world, a tenth of the pretraining, a few steps, one seed, one
  // task per modality: the whole pipeline in a minute or two (tests).
  bool reduced = false;
  int ranks = 2;         // every cell runs under mpirun -np ranks
  std::string home;      // EPALM_HOME: toy-world/, toy-models/, toy-study/
  std::string results;   // the results store (a SQLite file)
  std::string epalm;     // the executable each cell runs
  // Progress lines (which phase, which cell, how long, ETA); `transient`
  // lines may be overwritten by the next (a terminal), the others stay.
  std::function<void(const std::string& line, bool transient)> say;
  // Pretraining progress (model, phase, step, rate, ETA) for a terminal.
  std::function<void(const std::string& line, bool done)> pretraining;
};

// One variant's outcome over its seeds.
struct VariantOutcome {
  std::string name;      // "no perception", "eP-ALM (1 level, shared)", ...
  std::string settings;  // what it sets, e.g. "perception=false"
  std::vector<double> scores;  // the test metric, one per seed
  double mean = 0, std = 0;
  double trainable_parameters = 0, trainable_percent = 0;
  bool baseline = false;
  double diff = 0;  // mean - the baseline's mean
  std::optional<double> p_welch, p_bootstrap;  // against the baseline (none with fewer than 2 seeds)
};

struct StudyTask {
  std::string name;    // "image QA"
  std::string sweep;   // its sweep's name in the store
  std::string sweep_file;
  std::string metric;  // the test score compared, e.g. vqa_accuracy
  std::map<std::string, std::string> baseline;  // the baseline row's settings
  std::vector<VariantOutcome> variants;
  std::string table;   // the comparison as text (analysis' renderer), with its footer
};

struct StudyResult {
  std::string world_root, models_directory;
  bool world_generated = false;
  std::vector<std::string> pretrained_now;
  std::string models_table;  // what each pretrained model knows (text)
  std::vector<StudyTask> tasks;
  std::string scaling_table;  // samples/s against ranks (text)
  int cells_run = 0, cells_reused = 0, cells_failed = 0;
  std::string report;  // the HTML report's path
};

// Throws UsageError for bad settings, Error when a part fails (a failed cell
// is counted, not thrown: the tables show what finished).
StudyResult run_study(const StudySettings& settings);

}  // namespace epalm::experiments::toy
