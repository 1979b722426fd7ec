// `epalm train`: one eP-ALM training run from its configuration (defaults <
// EPALM_* < --config files < options), with progress on a terminal and a
// line per tenth of the run in logs.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include "command.h"
#include "epalm/core/error.h"
#include "epalm/core/stop_signal.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/fused_training.h"
#include "epalm/registry/config.h"
#include "failure.h"
#include "output_dir_lock.h"
#include "epalm/core/progress.h"
#include "resume_check.h"
#include "run_recording.h"
#include "training_settings.h"

namespace epalm::cli {

namespace {

namespace fs = std::filesystem;

std::string duration_text(double seconds) {
  const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char text[32];
  std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return text;
}

// Records a finished (or stopped) run's artifacts and scores, closes its
// record and prints its summary to `out` (rank 0). Returns the exit code.
// `job_variants`: how many variants trained in the run's job (1: alone).
int finish_run(registry::RunRecorder& recorder, const experiments::TrainingRunOutcome& outcome, double elapsed,
               std::int64_t samples, std::int64_t job_variants, std::ostream& out) {
  recorder.add_artifact("checkpoint", outcome.checkpoint);
  if (outcome.stopped) {
    const auto stopped = "stopped by " + stop_signal_name() + " after step " + std::to_string(outcome.steps);
    recorder.finish(registry::RunStatus::kKilled, stop_exit_code(), stopped);
    out << stopped << "; checkpoint: " << outcome.checkpoint << "\n";
    return stop_exit_code();
  }
  if (outcome.best) {
    recorder.log_scores("val", outcome.best->scores);
    recorder.add_artifact("best_checkpoint", outcome.best_checkpoint);
  }
  if (!outcome.test_scores.empty()) {
    recorder.log_scores("test", outcome.test_scores);
    recorder.add_artifact("test_predictions", outcome.test_predictions);
  }
  // What the run trains, for comparisons and the efficiency plot
  // (score.model.trainable_parameters against a task score).
  const auto all_parameters = outcome.trainable_parameters + outcome.frozen_parameters + outcome.encoder_parameters;
  if (elapsed > 0) {
    // A step's samples are the global batch's (every rank's); the ranks synchronise every step.
    // In a fused job a variant's time is its share of the job's (a joint step
    // split evenly, the shared encoder pass paid once), not a cell's alone:
    // job_variants says which runs compare as cells.
    recorder.log_scores("train", {{"samples_per_second", static_cast<double>(samples) / elapsed},
                                  {"step_seconds", elapsed},
                                  {"job_variants", static_cast<double>(job_variants)}});
  }
  recorder.log_scores("model", {{"trainable_parameters", static_cast<double>(outcome.trainable_parameters)},
                                {"all_parameters", static_cast<double>(all_parameters)},
                                {"trainable_percent", 100.0 * static_cast<double>(outcome.trainable_parameters) /
                                                          static_cast<double>(std::max<std::int64_t>(1, all_parameters))}});
  recorder.finish(registry::RunStatus::kFinished, 0);
  out << "run " << recorder.run_id() << ": trained " << outcome.steps << " steps" << (outcome.resumed ? " (resumed)" : "") << ", last loss "
            << std::setprecision(9) << outcome.last_loss << std::setprecision(6) << "\n"
            << "trainable parameters: " << outcome.trainable_parameters << " ("
            << 100.0 * static_cast<double>(outcome.trainable_parameters) /
                   static_cast<double>(outcome.trainable_parameters + outcome.frozen_parameters +
                                       outcome.encoder_parameters)
            << "% of all " << outcome.trainable_parameters + outcome.frozen_parameters + outcome.encoder_parameters
            << ": frozen decoder " << outcome.frozen_parameters << ", frozen encoder " << outcome.encoder_parameters
            << ")\n"
            << "checkpoint: " << outcome.checkpoint << "\n";
  if (outcome.best) {
    out << "best validation: step " << outcome.best->step << ", " << outcome.select_by << " "
              << outcome.best->scores.at(outcome.select_by) << "; checkpoint: " << outcome.best_checkpoint << "\n";
  }
  for (const auto& [metric, value] : outcome.test_scores) out << "test " << metric << " " << value << "\n";
  for (const auto& note : outcome.notes) out << "note: " << note << "\n";
  if (outcome.cache_hits + outcome.cache_misses > 0) {
    out << "frozen-feature cache: " << outcome.cache_hits << " hits, " << outcome.cache_misses << " computed\n";
  }
  return 0;
}

// A variant of a fused job: the primary's resolved settings with `file`'s
// over them (Boost keeps the first value stored: the file's, then the primary's).
po::variables_map variant_settings(const po::variables_map& primary, const std::string& file) {
  po::options_description settings;
  add_training_settings(settings);
  po::variables_map vm;
  po::store(registry::parse_config_file(file, settings), vm);
  std::istringstream resolved(training_config_text(primary));
  po::store(po::parse_config_file(resolved, settings, /*allow_unregistered=*/false), vm);
  po::notify(vm);
  return vm;
}

// `epalm train --fuse FILE...`: this run and one variant per file trained as
// one job (experiments/fused_training.h), each recorded as its own run.
int run_fused_train(const Invocation& in) {
  const auto pass = experiments::parse_fused_pass(
      in.options.count("fused-pass") ? in.options["fused-pass"].as<std::string>() : "joint");
  std::vector<po::variables_map> options{in.options};
  for (const auto& file : in.options["fuse"].as<std::vector<std::string>>()) options.push_back(variant_settings(in.options, file));
  const auto values = [&](std::size_t k) { return training_config_values(options[k]); };
  for (std::size_t k = 1; k < options.size(); ++k) {
    const auto conflict = registry::fusion_conflict(values(0), values(k));
    if (!conflict.empty()) {
      throw UsageError("--fuse", in.options["fuse"].as<std::vector<std::string>>()[k - 1] + " cannot train with this run: " + conflict);
    }
  }
  std::vector<experiments::TrainingRunSettings> variants;
  for (const auto& o : options) {
    variants.push_back(training_settings_from(o, in.world.topology().local_rank));
    variants.back().config_text = training_config_text(o);
  }
  experiments::check_fused_variants(variants);  // before any directory is locked
  distributed::CommunicatorOptions communication;
  communication.timeout = collective_timeout(in.options);
  const auto communicator = distributed::make_communicator(in.world, variants[0].device, communication);
  std::vector<std::unique_ptr<OutputDirLock>> locks;  // not movable: held by pointer
  std::vector<registry::RunRecorder> recorders;
  for (std::size_t k = 0; k < variants.size(); ++k) {
    const auto& s = variants[k];
    if (in.world.rank() == 0 && !s.output_dir.empty()) locks.push_back(std::make_unique<OutputDirLock>(s.output_dir));
    auto params = values(k);
    if (s.resume && fs::exists(experiments::checkpoint_path(s.output_dir))) {
      const auto changes = check_resume(experiments::checkpoint_path(s.output_dir), s.config_text,
                                        options[k]["resume-with-changes"].as<bool>());
      if (!changes.empty()) params["resume-changes"] = changes;
    }
    recorders.push_back(record_run("train", options[k]["experiment"].as<std::string>(), std::move(params),
                                   options[k]["results"].as<std::string>(), in.arguments, in.world, k));
  }
  Progress progress(isatty(STDERR_FILENO) != 0);
  std::vector<double> elapsed(variants.size(), 0.0), losses(variants.size(), std::nan(""));
  std::vector<std::int64_t> samples(variants.size(), 0);
  std::int64_t logged_tenth = 0;
  std::vector<experiments::FusedVariantOutcome> outcomes;
  try {
    outcomes = experiments::run_fused_training(variants, communicator.get(), [&](std::size_t k, const experiments::StepReport& r) {
      elapsed[k] += r.seconds;
      samples[k] += r.samples;
      losses[k] = r.result.loss;
      recorders[k].log_metrics(r.result.step, {{"loss", r.result.loss},
                                              {"lr", r.result.lr},
                                              {"grad_norm", r.result.grad_norm},
                                              {"samples_per_second", static_cast<double>(r.samples) / std::max(1e-9, r.seconds)}});
      if (k + 1 != variants.size()) return;
      std::ostringstream line;
      line << "step " << r.result.step << "/" << r.total_steps << "  losses";
      for (const auto loss : losses) line << " " << std::setprecision(4) << loss;
      double job = 0;
      for (const auto e : elapsed) job += e;
      line << "  " << std::setprecision(3) << static_cast<double>(samples[k]) / std::max(1e-9, job) << " samples/s (job)";
      progress.say(line.str());
      const auto tenth = r.result.step * 10 / r.total_steps;
      if (tenth > logged_tenth || r.result.step == r.total_steps) {
        logged_tenth = tenth;
        progress.clear();
        spdlog::info("train (fused, {} variants): {}", variants.size(), line.str());
      }
    }, [&](std::size_t k, const experiments::ValidationReport& v) {
      if (in.world.rank() != 0) return;
      registry::Values scores;
      for (const auto& [metric, value] : v.record.scores) scores["val/" + metric] = value;
      recorders[k].log_metrics(v.record.step, scores);
    }, pass);
  } catch (const std::exception& e) {
    const auto failure = failure_of(e);
    for (auto& recorder : recorders) recorder.finish(registry::RunStatus::kFailed, failure.exit_code, failure.message);
    throw;
  }
  progress.clear();
  int code = 0;
  for (std::size_t k = 0; k < outcomes.size(); ++k) {
    const auto& outcome = outcomes[k];
    if (in.world.rank() != 0) {
      if (outcome.outcome.stopped) code = stop_exit_code();
      continue;
    }
    std::cout << "variant " << k << " (" << variants[k].output_dir << "):\n";
    if (!outcome.failure.empty()) {
      recorders[k].finish(registry::RunStatus::kFailed, 1, outcome.failure);
      std::cout << "run " << recorders[k].run_id() << " failed: " << outcome.failure << "\n";
      if (code == 0) code = 1;
      continue;
    }
    const auto finished = finish_run(recorders[k], outcome.outcome, elapsed[k], samples[k],
                                     static_cast<std::int64_t>(variants.size()), std::cout);
    if (finished != 0) code = finished;
  }
  return code;
}

int run_train(const Invocation& in) {
  if (in.options.count("fuse") && !in.options["fuse"].as<std::vector<std::string>>().empty()) return run_fused_train(in);
  install_stop_signal_handler();  // Ctrl-C as SIGTERM: checkpoint, record, exit 130 after this step
  auto s = training_settings_from(in.options, in.world.topology().local_rank);
  distributed::CommunicatorOptions communication;
  communication.timeout = collective_timeout(in.options);
  const auto communicator = distributed::make_communicator(in.world, s.device, communication);
  s.config_text = training_config_text(in.options);
  // The output directory is this run's alone; a checkpoint there is resumed only with its own settings.
  std::optional<OutputDirLock> lock;
  if (in.world.rank() == 0 && !s.output_dir.empty()) lock.emplace(s.output_dir);
  auto params = training_config_values(in.options);
  if (s.resume && fs::exists(experiments::checkpoint_path(s.output_dir))) {
    const auto changes = check_resume(experiments::checkpoint_path(s.output_dir), s.config_text,
                                      in.options["resume-with-changes"].as<bool>());
    if (!changes.empty()) params["resume-changes"] = changes;
  }
  auto recorder = record_run("train", in.options["experiment"].as<std::string>(), std::move(params),
                             in.options["results"].as<std::string>(), in.arguments, in.world);
  Progress progress(isatty(STDERR_FILENO) != 0);
  double elapsed = 0;
  std::int64_t samples = 0, first_step = -1, logged_tenth = 0;
  experiments::TrainingRunOutcome outcome;
  try {
  outcome = experiments::run_training(s, communicator.get(), [&](const experiments::StepReport& r) {
    if (first_step < 0) first_step = r.result.step - 1;
    elapsed += r.seconds;
    samples += r.samples;
    const auto done = r.result.step - first_step, left = r.total_steps - r.result.step;
    const double rate = static_cast<double>(samples) / std::max(1e-9, elapsed);
    char line[200];
    std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  lr %.3g  %.2f samples/s  ETA %s",
                  static_cast<long long>(r.result.step), static_cast<long long>(r.total_steps), r.result.loss,
                  r.result.lr, rate, duration_text(elapsed / static_cast<double>(done) * static_cast<double>(left)).c_str());
    progress.say(line);
    const auto tenth = r.result.step * 10 / r.total_steps;
    if (tenth > logged_tenth || r.result.step == r.total_steps) {
      logged_tenth = tenth;
      progress.clear();
      spdlog::info("train: {}", line);
    }
    recorder.log_metrics(r.result.step, {{"loss", r.result.loss},
                                         {"lr", r.result.lr},
                                         {"grad_norm", r.result.grad_norm},
                                         {"samples_per_second", static_cast<double>(r.samples) / std::max(1e-9, r.seconds)}});
  }, [&](const experiments::ValidationReport& v) {
    if (in.world.rank() != 0) return;
    registry::Values values;
    for (const auto& [metric, value] : v.record.scores) values["val/" + metric] = value;
    recorder.log_metrics(v.record.step, values);
    progress.clear();
    const auto score = v.record.scores.find(v.metric);
    spdlog::info("validation after step {}: {} {:.4f}{} ({:.1f} s)", v.record.step, v.metric,
                 score == v.record.scores.end() ? 0.0 : score->second, v.best ? " (best so far)" : "", v.seconds);
  });
  } catch (const std::exception& e) {
    const auto failure = failure_of(e);
    recorder.finish(registry::RunStatus::kFailed, failure.exit_code, failure.message);
    throw;
  }
  progress.clear();
  if (in.world.rank() != 0) return outcome.stopped ? stop_exit_code() : 0;
  return finish_run(recorder, outcome, elapsed, samples, 1, std::cout);
}

}  // namespace

Command train_command() {
  return {"train",
          "Train eP-ALM's connectors, soft prompt and adapters on a task's training split, the decoder and\n"
          "encoder frozen. Settings come from defaults < EPALM_* < --config files < options; the checkpoint\n"
          "(trainables, optimizer, schedule, data position, RNG, resolved settings, base-weight fingerprint)\n"
          "goes to --output-dir, and a rerun with the same directory resumes it exactly.",
          [](po::options_description& settings) {
            add_training_settings(settings);
            po::options_description fusing("Fused variants");
            fusing.add_options()  //
                ("fuse", po::value<std::vector<std::string>>()->composing(),
                 "FILE: another variant trained in the same job, this run's settings with FILE's (INI, as --config) "
                 "over them; repeatable. Variants may differ only in what trains (perception, levels, connectors, "
                 "injected layers, prompt, adapters, dropout), the optimizer and schedule, and where they write; they "
                 "share the frozen models, the data and one encoder pass per batch, and each is recorded as its own run")  //
                ("fused-pass", po::value<std::string>(),
                 ("with --fuse: joint (the default) runs one decoder pass per micro-batch over up to " +
                  std::to_string(train::kVariantsPerJointPass) +
                  " variants' rows (each equals its run alone to fp32 rounding; the reference's dropout takes turns); "
                  "turns runs each variant's own pass, bit for bit its run alone")
                     .c_str());
            settings.add(fusing);
          },
          run_train};
}

}  // namespace epalm::cli
