#include "epalm/experiments/toy_study.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "epalm/analysis/comparison.h"
#include "epalm/analysis/comparison_export.h"
#include "epalm/analysis/report.h"
#include "epalm/analysis/run_records.h"
#include "epalm/analysis/table.h"
#include "epalm/core/error.h"
#include "epalm/distributed/local_launch.h"
#include "epalm/experiments/sweep_worker.h"
#include "epalm/experiments/toy_models.h"
#include "epalm/experiments/toy_world.h"
#include "epalm/registry/experiments.h"
#include "epalm/registry/hashing.h"
#include "epalm/registry/results_store.h"
#include "epalm/registry/sweep.h"
#include "epalm/registry/sweep_store.h"

namespace epalm::experiments::toy {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

constexpr const char* kWhere = "demo";

// A variant compared in a task: a name for the tables, its settings.
struct Variant {
  std::string name;
  Json settings;
};

// A task of the study: a registered toy experiment, its variants (the first
// is the no-perception baseline), its seeds and the test score compared.
struct TaskPlan {
  std::string name, slug, experiment, metric;
  std::vector<Variant> variants;
  int seeds = 2;
};

const Json kBaseline = {{"perception", false}};
const Json kHeadline = {{"perception", true}};

std::vector<TaskPlan> task_plans(bool reduced) {
  TaskPlan image_qa{"image QA", "image-qa", "toy-image-qa", "vqa_accuracy", {}, reduced ? 1 : 3};
  image_qa.variants = {{"no perception (soft prompt only)", kBaseline}, {"eP-ALM: 1 level, shared", kHeadline}};
  if (!reduced) {
    image_qa.variants.push_back({"3 levels, shared", {{"perception", true}, {"levels", 3}}});
    image_qa.variants.push_back({"3 levels, one linear per level", {{"perception", true}, {"levels", 3}, {"shared-connector", false}}});
    image_qa.variants.push_back({"no soft prompt", {{"perception", true}, {"prompt-length", 0}, {"prompt-mlp", false}}});
    image_qa.variants.push_back({"adapters (FFN)", {{"perception", true}, {"adapters", "ffn"}}});
  }
  const std::vector<Variant> pair = {{"no perception (soft prompt only)", kBaseline}, {"eP-ALM", kHeadline}};
  const int seeds = reduced ? 1 : 3;  // Welch's test over 2 seeds has 1-2 degrees of freedom: p < 0.01 needs 3
  std::vector<TaskPlan> plans{image_qa};
  if (!reduced) plans.push_back({"image captioning", "image-caption", "toy-image-caption", "CIDEr", pair, seeds});
  plans.push_back({"video QA", "video-qa", "toy-video-qa", "accuracy", pair, seeds});
  plans.push_back({"audio captioning", "audio-caption", "toy-audio-caption", "CIDEr", pair, seeds});
  return plans;
}

// The small world the reduced study runs on (tests).
WorldSizes reduced_sizes() {
  return parse_sizes(
      "train-images=240,val-images=24,test-images=24,train-videos=48,val-videos=8,test-videos=8,"
      "train-audio=48,val-audio=8,test-audio=8,pretrain-images=480,pretrain-videos=96,pretrain-audio=96");
}

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

std::string duration(double seconds) {
  const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char buffer[32];
  if (s >= 60) {
    std::snprintf(buffer, sizeof buffer, "%lld min %02lld s", s / 60, s % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld s", s);
  }
  return buffer;
}

std::string settings_text(const Json& settings) {
  std::string out;
  for (const auto& [k, v] : settings.items()) out += (out.empty() ? "" : " ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

// Writes a sweep file (only when its text changed, so that a rerun finds it
// as it was) and returns its path.
std::string write_sweep_file(const std::string& path, const Json& sweep) {
  const auto text = sweep.dump(2) + "\n";
  std::ifstream in(path);
  std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (old != text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out.flush()) throw Error(path, "cannot write the study's sweep file");
  }
  return path;
}

// The sweep's name: the task, the world, and a hash of the file and of the
// registered experiment's settings it names, so that a study whose settings
// changed (in the file or in the registry, by a newer epalm) plans a new
// sweep; its unchanged cells are still taken from the store.
std::string sweep_name(const std::string& slug, const std::string& world_key, const Json& body) {
  const Json base = registry::find_experiment(body.at("experiment").get<std::string>()).base;
  return "toy-" + slug + "-" + world_key + "-" + registry::sha256_hex(body.dump() + base.dump()).substr(0, 8);
}

// The last progress line a running cell wrote to its log ("step 366/732
// loss 0.55 lr 0.003 1416.46 samples/s ETA 0:00:09", or its validation), or
// "" when none yet.
std::string last_progress(const std::string& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) {
    // train's log lines: "[time] [info] train: step ..." and "[time] [info] validation after ...".
    if (const auto at = line.find("train: step"); at != std::string::npos) {
      last = line.substr(at + std::string("train: ").size());
    } else if (const auto v = line.find("validation after"); v != std::string::npos) {
      last = line.substr(v);
    }
  }
  return last;
}

// While a cell runs, shows its last progress line every second (a terminal
// only: these lines are transient).
class CellWatcher {
 public:
  CellWatcher(std::string log, std::string label, std::function<void(const std::string&)> show)
      : thread_([this, log = std::move(log), label = std::move(label), show = std::move(show)] {
          std::unique_lock<std::mutex> lock(mutex_);
          while (!stop_) {
            cv_.wait_for(lock, std::chrono::seconds(1));
            if (stop_) break;
            const auto progress = last_progress(log);
            if (!progress.empty()) show(label + ": " + progress);
          }
        }) {}
  ~CellWatcher() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest exists
};

// Runs a sweep's cells, saying which cell runs (its step, rate and ETA on a
// terminal) and the ETA over the cells this call ran.
struct CellCounts {
  int run = 0, reused = 0, failed = 0;
};

CellCounts run_sweep(registry::ResultsStore& store, const std::string& path, const std::string& label,
                     const StudySettings& s) {
  auto say = [&](const std::string& line, bool transient) {
    if (s.say) s.say(line, transient);
  };
  const auto spec = registry::parse_sweep_file(path);
  const auto cells = registry::expand_sweep(spec);
  const auto id = registry::plan_sweep(store, spec, cells);
  std::size_t pending = 0;
  for (const auto& c : registry::sweep_status(store, id)) pending += c.state != "done";
  CellCounts counts;
  if (pending == 0) {
    say(label + ": " + std::to_string(cells.size()) + " cells, all finished before", false);
    counts.reused = static_cast<int>(cells.size());
    return counts;
  }
  std::map<std::int64_t, std::string> axes;
  for (const auto& c : cells) {
    std::string text;
    for (const auto& [k, v] : c.axes) text += (text.empty() ? "" : " ") + k + "=" + v;
    axes[c.index] = text;
  }
  SweepWorkerOptions options;
  options.results = s.results;
  options.epalm = s.epalm;
  // A seed's variants differ only in what trains: one fused job each
  // (`epalm train --fuse`), every cell still its own run, equal to it alone.
  options.fuse = 8;
  int ended = 0;
  double seconds = 0;
  std::unique_ptr<CellWatcher> watcher;
  options.on_cell = [&](const CellEvent& e) {
    if (!e.ended) {
      std::string eta;
      if (ended > 0) {
        eta = ", all cells ETA " +
              duration(seconds / ended * static_cast<double>(pending - static_cast<std::size_t>(ended)));
      }
      const auto cell = label + ": cell " + std::to_string(ended + 1) + "/" + std::to_string(pending) + " (" +
                        axes[e.index] + ")" + eta;
      say(cell + ": starting under mpirun", true);
      // A fused job's output is in its first cell's log.
      if (!watcher) watcher = std::make_unique<CellWatcher>(e.log, cell, [&say](const std::string& line) { say(line, true); });
      return;
    }
    watcher.reset();
    ++ended;
    seconds += e.seconds;
    say(label + ": cell " + std::to_string(ended) + "/" + std::to_string(pending) + " (" + axes[e.index] + ") " +
            (e.ok ? "done" : "FAILED: " + e.note) + " in " + duration(e.seconds),
        false);
  };
  const auto report = run_sweep_cells(spec, id, options);
  counts.run = report.done;
  counts.failed = report.failed;
  // Done without running: finished before, here or in another sweep (the
  // same configuration), e.g. the scaling sweep's cell at the study's ranks.
  int done = 0;
  for (const auto& c : registry::sweep_status(store, id)) done += c.state == "done";
  counts.reused = done - report.done;
  return counts;
}

// The finished runs a sweep ran or took as done.
std::vector<analysis::RunRecord> finished_runs(const registry::ResultsStore& store, const std::string& sweep) {
  analysis::RunSelection selection;
  selection.sweep = sweep;
  std::vector<analysis::RunRecord> out;
  for (auto& r : analysis::load_runs(store, selection)) {
    if (r.run.status == "finished") out.push_back(std::move(r));
  }
  return out;
}

// A run's value of `key` as the comparison's rows hold it (the run's settings).
bool run_matches(const analysis::RunRecord& run, const Json& settings) {
  for (const auto& [k, v] : settings.items()) {
    const auto it = run.params.find(k);
    const auto want = v.is_string() ? v.get<std::string>() : v.dump();
    if (it == run.params.end() || registry::canonical_value(it->second) != registry::canonical_value(want)) return false;
  }
  return true;
}

// The baseline as every row setting of its runs (perception=false, levels=1,
// ...): each variant is then compared with that one row, not with a
// no-perception run of its own settings (which the study does not run).
std::map<std::string, std::string> baseline_settings(const std::vector<analysis::RunRecord>& runs,
                                                     const std::vector<std::string>& rows) {
  std::map<std::string, std::string> out = {{"perception", "false"}};
  for (const auto& r : runs) {
    if (!run_matches(r, kBaseline)) continue;
    for (const auto& key : rows) {
      if (const auto it = r.params.find(key); it != r.params.end()) out[key] = it->second;
    }
    break;
  }
  return out;
}

// The comparison of a task's variants on its test metric.
StudyTask compare_task(const registry::ResultsStore& store, const TaskPlan& plan, const std::string& sweep,
                       const std::string& file) {
  StudyTask task;
  task.name = plan.name;
  task.sweep = sweep;
  task.sweep_file = file;
  task.metric = plan.metric;
  const auto runs = finished_runs(store, sweep);
  const auto value = "test." + plan.metric;
  // The settings any variant sets: the comparison's rows.
  std::vector<std::string> rows;
  for (const auto& v : plan.variants) {
    for (const auto& [k, x] : v.settings.items()) {
      if (std::find(rows.begin(), rows.end(), k) == rows.end()) rows.push_back(k);
    }
  }
  analysis::ComparisonSpec spec;
  spec.rows = rows;
  spec.values = {"score." + value};
  spec.baseline = baseline_settings(runs, rows);
  const auto comparison = analysis::compare_runs(runs, spec);
  task.baseline = spec.baseline;
  task.table = analysis::comparison_table(comparison).render(analysis::TableFormat::kText) + comparison.footer() + "\n";

  for (const auto& v : plan.variants) {
    VariantOutcome o;
    o.name = v.name;
    o.settings = settings_text(v.settings);
    o.baseline = v.settings == kBaseline;
    task.variants.push_back(std::move(o));
  }
  // Each row of the comparison belongs to the most specific variant its runs
  // match (every eP-ALM run matches perception=true; the ablations set more).
  for (std::size_t r = 0; r < comparison.rows.size(); ++r) {
    const auto& cell = comparison.cells[r][0];
    if (cell.run_ids.empty()) continue;
    const auto run = std::find_if(runs.begin(), runs.end(), [&](const auto& x) { return x.run.id == cell.run_ids[0]; });
    if (run == runs.end()) continue;
    std::optional<std::size_t> best;
    for (std::size_t k = 0; k < plan.variants.size(); ++k) {
      if (run_matches(*run, plan.variants[k].settings) &&
          (!best || plan.variants[k].settings.size() > plan.variants[*best].settings.size())) {
        best = k;
      }
    }
    if (!best) continue;
    auto& o = task.variants[*best];
    o.scores = cell.values;
    o.mean = cell.mean;
    o.std = cell.std;
    o.diff = cell.diff.value_or(0);
    o.p_welch = cell.p_welch;
    o.p_bootstrap = cell.p_bootstrap;
    auto score = [&](const std::string& key) { return run->scores.count(key) ? run->scores.at(key) : 0.0; };
    o.trainable_parameters = score("model.trainable_parameters");
    o.trainable_percent = score("model.trainable_percent");
  }
  return task;
}

}  // namespace

StudyResult run_study(const StudySettings& s) {
  if (s.ranks < 1) throw UsageError("--ranks", "must be >= 1");
  if (s.home.empty()) throw UsageError(kWhere, "no home folder (EPALM_HOME)");
  if (s.results.empty()) throw UsageError("--results", "no results store");
  auto say = [&](const std::string& line, bool transient) {
    if (s.say) s.say(line, transient);
  };
  StudyResult result;

  WorldSpec world_spec;
  world_spec.seed = s.world_seed;
  if (s.reduced) world_spec.sizes = reduced_sizes();
  say("toy world " + world_key(world_spec) + ": generating or finding it", true);
  const auto world = ensure_world(world_spec, s.home + "/toy-world");
  result.world_root = world.root;
  result.world_generated = world.generated;
  say("toy world: " + world.root + (world.generated ? " (generated now)" : " (cached)"), false);

  ToyModelSettings model_settings;
  model_settings.reduced = s.reduced;
  model_settings.progress = [&](const PretrainingProgress& p) {
    if (s.pretraining) s.pretraining(progress_line(p), p.step == p.steps);
  };
  const auto models = ensure_toy_models(world, s.home, model_settings);
  result.models_directory = models.directory;
  result.pretrained_now = models.pretrained_now;
  result.models_table = knowledge_table(models).render(analysis::TableFormat::kText);
  say(models.pretrained_now.empty() ? "unimodal models: " + models.directory + " (cached)"
                                    : "unimodal models: " + models.directory + " (pretrained now: " +
                                          [&] {
                                            std::string names;
                                            for (const auto& n : models.pretrained_now) names += (names.empty() ? "" : ", ") + n;
                                            return names;
                                          }() + ")",
      false);

  const auto study_dir = (fs::path(s.home) / "toy-study" / (world.key + (s.reduced ? "-reduced" : ""))).string();
  fs::create_directories(study_dir);
  auto store = registry::ResultsStore::open(s.results);
  const auto launcher = distributed::local_mpirun_prefix("{ranks}");
  Json common = {{"data-root", world.root}, {"model-dir", models.directory}, {"feature-cache", study_dir + "/features"},
                 {"ranks", s.ranks}, {"loader-threads", 1}};
  if (s.reduced) {
    common["max-steps"] = 12;
    common["epochs"] = 1;
  }

  std::vector<analysis::ReportSection> sections;
  auto add = [&](const CellCounts& c) {
    result.cells_run += c.run;
    result.cells_reused += c.reused;
    result.cells_failed += c.failed;
  };
  for (const auto& plan : task_plans(s.reduced)) {
    Json body = {{"experiment", plan.experiment}, {"set", common}};
    body["variants"] = Json::array();
    for (const auto& v : plan.variants) body["variants"].push_back(v.settings);
    body["seeds"] = Json::array();
    for (int k = 0; k < plan.seeds; ++k) body["seeds"].push_back(k);
    body["launcher"] = launcher;
    body["output-dir"] = study_dir + "/" + plan.slug;
    Json sweep = {{"name", sweep_name(plan.slug, world.key, body)}};
    sweep.update(body);
    const auto file = write_sweep_file(study_dir + "/" + plan.slug + ".json", sweep);
    add(run_sweep(store, file, plan.name, s));
    result.tasks.push_back(compare_task(store, plan, sweep["name"].get<std::string>(), file));
    analysis::ReportOptions options;
    options.values = {"score.test." + plan.metric, "score.model.trainable_parameters"};
    options.baseline = result.tasks.back().baseline;
    sections.push_back({plan.name + ": no perception against eP-ALM and its ablations", sweep["name"].get<std::string>(), options});
  }

  // Scaling: the headline image-QA cell at 1 and `ranks` ranks, each run
  // alone, at one global batch: each rank count's batch per rank is its
  // share, so samples/s compare the same work. The global batch is twice the
  // study's, so no scaling cell is a study cell: those train in fused jobs,
  // whose variants record the job's throughput over all its variants.
  {
    Json set = common;
    set.erase("ranks");
    for (const auto& [k, v] : kHeadline.items()) set[k] = v;
    set["seed"] = 0;
    Json ranks = Json::array({1});
    if (s.ranks > 1) ranks.push_back(s.ranks);
    Json body = {{"experiment", "toy-image-qa"}, {"set", set}, {"axes", {{"ranks", ranks}}},
                 {"launcher", launcher}, {"output-dir", study_dir + "/scaling"}};
    const auto per_rank = std::stoll(registry::find_experiment("toy-image-qa").base.at("batch-size"));
    const auto global_batch = 2 * per_rank * s.ranks;
    body["overrides"] = Json::array();
    for (const auto& r : ranks) {
      body["overrides"].push_back({{"match", {{"ranks", r}}}, {"set", {{"batch-size", global_batch / r.get<int>()}}}});
    }
    Json sweep = {{"name", sweep_name("scaling", world.key, body)}};
    sweep.update(body);
    const auto file = write_sweep_file(study_dir + "/scaling.json", sweep);
    add(run_sweep(store, file, "scaling", s));
    analysis::Table table({"ranks", "batch per rank", "samples/s", "test vqa_accuracy"});
    auto runs = finished_runs(store, sweep["name"].get<std::string>());
    std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.world_size < b.world_size; });
    for (const auto& r : runs) {
      auto score = [&](const std::string& k) { return r.scores.count(k) ? format("%.2f", r.scores.at(k)) : "-"; };
      const auto batch = r.params.find("batch-size");
      table.add_row({std::to_string(r.world_size), batch == r.params.end() ? "-" : batch->second,
                     score("train.samples_per_second"), score("test.vqa_accuracy")});
    }
    result.scaling_table = table.render(analysis::TableFormat::kText);
    analysis::ReportOptions options;
    options.values = {"score.train.samples_per_second", "score.test.vqa_accuracy"};
    sections.push_back({"Scaling: the headline image-QA cell against the number of ranks", sweep["name"].get<std::string>(), options});
  }

  std::vector<std::string> paragraphs = {
      "The eP-ALM study on the toy world " + world.key + " (" + world.root + "): a decoder pretrained on the world's text alone and ViT, TimeSformer and AST encoders pretrained on their own modality's labels (" + models.directory + "), all frozen; each cell trains the connector, soft prompt (and adapters) under mpirun, validates every epoch, keeps the best checkpoint and tests it.",
      "Each task compares its variants with the no-perception baseline (soft prompt only) over seeds: mean ± std, difference, Welch's t-test and a bootstrap p-value."};
  const auto report_path = study_dir + "/report.html";
  analysis::write_output(report_path, analysis::sweeps_report_html(store, "eP-ALM on the toy world", paragraphs, sections));
  result.report = report_path;
  return result;
}

}  // namespace epalm::experiments::toy
