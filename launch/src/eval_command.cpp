// `epalm eval`: a trained checkpoint on a split (its stored settings name the
// models, task and layout): predictions in the official submission format,
// the task's official scores, both recorded in the results store.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "command.h"
#include "epalm/core/error.h"
#include "epalm/core/runtime_info.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/evaluation_run.h"
#include "failure.h"
#include "epalm/core/progress.h"
#include "run_recording.h"
#include "epalm/registry/setting_checks.h"
#include "training_settings.h"

namespace epalm::cli {

namespace {

int run_eval(const Invocation& in) {
  const auto& o = in.options;
  if (!o.count("checkpoint")) throw UsageError("--checkpoint", "which trained checkpoint to evaluate");
  experiments::EvaluationSettings e;
  e.checkpoint = o["checkpoint"].as<std::string>();
  const auto trained = checkpoint_settings(e.checkpoint);
  e.run = training_settings_from(trained, in.world.topology().local_rank);
  if (!o["device"].defaulted()) e.run.device = resolve_device(o["device"].as<std::string>(), 0);
  if (!e.run.device.is_cuda()) e.run.dtype = c10::kFloat;
  e.split = o.count("split") ? o["split"].as<std::string>() : trained["test-split"].as<std::string>();
  apply_plan_settings(o, e.run);
  if (!o["batch-size"].defaulted()) e.run.batch_size = o["batch-size"].as<std::int64_t>();
  e.generation.num_beams = o["num-beams"].defaulted() ? trained["num-beams"].as<int>() : o["num-beams"].as<int>();
  e.generation.max_new_tokens =
      o["max-new-tokens"].defaulted() ? trained["max-new-tokens"].as<int>() : o["max-new-tokens"].as<int>();
  e.frame_sampling = o["frame-sampling"].as<std::string>();
  e.collective_timeout = collective_timeout(o);
  // Outputs go beside the checkpoint evaluated (a copy is not its original's
  // run), or where --output-dir says; the data where --data-root says.
  if (o.count("data-root")) e.run.data.root = o["data-root"].as<std::string>();
  const auto output_dir = o.count("output-dir") ? o["output-dir"].as<std::string>()
                                                : std::filesystem::path(e.checkpoint).parent_path().string();
  e.predictions = o.count("predictions") ? o["predictions"].as<std::string>()
                                         : (std::filesystem::path(output_dir.empty() ? "." : output_dir) /
                                            ("predictions-" + e.split + ".json")).string();

  auto params = training_config_values(trained);
  params["eval-split"] = e.split;
  params["checkpoint"] = e.checkpoint;
  params["data-root"] = e.run.data.root;
  auto recorder = record_run("eval", trained["experiment"].as<std::string>(), std::move(params),
                             o["results"].as<std::string>(), in.arguments, in.world);

  Progress progress(isatty(STDERR_FILENO) != 0 && in.world.rank() == 0);
  experiments::EvaluationOutcome outcome;
  try {
    outcome = experiments::run_evaluation(e, in.world, [&](std::int64_t done, std::int64_t total) {
      progress.say("evaluating " + e.split + ": batch " + std::to_string(done) + "/" + std::to_string(total));
    });
  } catch (const std::exception& error) {
    const auto failure = failure_of(error);
    recorder.finish(registry::RunStatus::kFailed, failure.exit_code, failure.message);
    throw;
  }
  progress.clear();
  if (in.world.rank() != 0) return 0;
  recorder.log_scores(e.split, outcome.scores);
  recorder.add_artifact("eval_predictions", outcome.predictions);
  recorder.finish(registry::RunStatus::kFinished, 0);
  std::cout << "run " << recorder.run_id() << ": " << outcome.samples << " samples of " << e.split
            << ", predictions " << outcome.predictions << "\n";
  for (const auto& [metric, value] : outcome.scores) std::cout << metric << " " << value << "\n";
  for (const auto& note : outcome.notes) std::cout << "note: " << note << "\n";
  return 0;
}

}  // namespace

Command eval_command() {
  return {"eval",
          "Evaluate a trained checkpoint on a split: open-ended generation, predictions in the official\n"
          "submission format, the task's official scores (VQA accuracy, exact match, BLEU/ROUGE-L/CIDEr-D),\n"
          "recorded in the results store.",
          [](po::options_description& settings) {
            settings.add_options()                                                                           //
                ("checkpoint", po::value<std::string>(), "a checkpoint.safetensors written by epalm train")  //
                ("split", po::value<std::string>(), "the split (default: the checkpoint's test-split)")     //
                ("predictions", po::value<std::string>(), "where predictions go (default: <output-dir>/predictions-<split>.json)")  //
                ("output-dir", po::value<std::string>(), "where outputs go (default: the checkpoint's folder)")  //
                ("data-root", po::value<std::string>(), "the datasets' root directory (default: the checkpoint's)")  //
                ("batch-size", po::value<std::int64_t>()->default_value(8)->notifier(registry::at_least<std::int64_t>("batch-size", 1)), "samples per generation batch")  //
                ("num-beams", po::value<int>()->default_value(3)->notifier(registry::at_least<int>("num-beams", 1)), "beam width (default: the checkpoint's)")  //
                ("max-new-tokens", po::value<int>()->default_value(30)->notifier(registry::at_least<int>("max-new-tokens", 1)), "generated tokens at most (default: the checkpoint's)")  //
                ("device", po::value<std::string>()->default_value("auto"), "cpu, cuda, cuda:N or auto")     //
                ("frame-sampling", po::value<std::string>()->default_value("middle"),
                 "video frames: middle, or rand as the reference's evaluation (random, seeded)")  //
                ("results", po::value<std::string>()->default_value(registry::default_results_path()),
                 "the SQLite results database (EPALM_RESULTS)");
            add_plan_settings(settings);
            add_collective_settings(settings);
          },
          run_eval, {"checkpoint"}};
}

}  // namespace epalm::cli
