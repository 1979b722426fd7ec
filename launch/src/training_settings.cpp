#include "training_settings.h"

#include <cstdlib>
#include <limits>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/core/home.h"
#include "epalm/core/parallel/memory_plan.h"
#include "epalm/core/runtime_info.h"
#include "epalm/experiments/frozen_plan.h"
#include "epalm/registry/config.h"
#include "epalm/registry/experiments.h"
#include "epalm/registry/results_store.h"
#include "command.h"
#include "epalm/experiments/model_families.h"
#include "epalm/registry/training_settings.h"

namespace epalm::cli {

using experiments::parse_dtype;

namespace {

bool flag(const po::variables_map& o, const char* key) { return o[key].as<bool>(); }

c10::ScalarType precision_of(const std::string& name, const c10::Device& device) {
  if (name == "auto") return device.is_cuda() ? c10::kBFloat16 : c10::kFloat;
  return parse_dtype(name, "--precision");
}

}  // namespace

void apply_plan_settings(const po::variables_map& o, experiments::TrainingRunSettings& s) {
  s.plan = parallel::parse_plan_mode(o["plan"].as<std::string>(), "--plan");
  const double gib = o["memory-budget"].as<double>();
  if (gib < 0) throw UsageError("--memory-budget", "must be >= 0 GiB (0: no limit)");
  s.memory_budget = static_cast<std::int64_t>(gib * 1024.0 * 1024.0 * 1024.0);
  s.shard_threshold = o["shard-threshold"].as<std::int64_t>();
  if (s.shard_threshold < 1) throw UsageError("--shard-threshold", "must be >= 1 element");
}

std::chrono::milliseconds collective_timeout(const po::variables_map& o) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(o["collective-timeout"].as<double>() * 1000.0));
}

void add_training_settings(po::options_description& settings) {
  registry::add_training_settings(settings);
  po::options_description experiment("Registered experiment");
  experiment.add_options()  //
      ("experiment", experiment_base_value()->default_value(""),
       "a registered experiment (epalm experiments list): its base configuration under these settings");
  settings.add(experiment);
}

models::EpalmConfig epalm_config_from(const po::variables_map& o) {
  models::EpalmConfig e;
  e.perception = flag(o, "perception");
  e.levels = o["levels"].as<int>();
  e.shared_connector = flag(o, "shared-connector");
  e.start_layer = o["start-layer"].as<int>();
  e.end_layer = o["end-layer"].as<int>();
  e.text_step = o["text-step"].as<int>();
  e.prompt_length = o["prompt-length"].as<int>();
  e.prompt_mlp = flag(o, "prompt-mlp");
  e.adapters = models::adapter_settings(o["adapters"].as<std::string>(), o["adapter-reduction"].as<int>());
  e.reference_noncausal_token = flag(o, "reference-noncausal-token");
  e.reference_dropout = o["reference-dropout"].as<double>();
  return e;
}

experiments::TrainingRunSettings training_settings_from(const po::variables_map& o, int local_rank) {
  experiments::TrainingRunSettings s;
  s.data.task = o["task"].as<std::string>();
  s.data.root = o["data-root"].as<std::string>();
  s.data.split = o["train-split"].as<std::string>();
  s.data.fraction = o["data-fraction"].as<double>();
  s.data.skip_missing_media = flag(o, "skip-missing-media");
  s.augment = flag(o, "augment");
  s.rand_augment = flag(o, "rand-augment");
  const auto cache = o["feature-cache"].as<std::string>();
  s.feature_cache = cache == "off" ? "" : cache.empty() ? epalm_home() + "/features" : cache;
  s.loader_threads = o["loader-threads"].as<int>();
  const auto model_dir = o["model-dir"].as<std::string>();
  s.decoder = experiments::model_path(o["decoder"].as<std::string>(), model_dir);
  s.encoder = experiments::model_path(o["encoder"].as<std::string>(), model_dir);
  s.tokenizer = o["tokenizer"].as<std::string>();
  s.device = resolve_device(o["device"].as<std::string>(), local_rank);
  s.dtype = precision_of(o["precision"].as<std::string>(), s.device);
  if (s.dtype != c10::kFloat && !s.device.is_cuda()) {
    throw UsageError("--precision", "bf16/fp16 frozen weights are for GPUs; the CPU trains in fp32");
  }
  s.epalm = epalm_config_from(o);
  s.objective.answer_only_loss = flag(o, "answer-only-loss");
  s.objective.reference_question_mark = flag(o, "reference-question-mark");
  s.objective.task_prompt = o["task-prompt"].as<std::string>();
  s.optimizer.lr = o["lr"].as<double>();
  s.optimizer.prompt_lr = o["prompt-lr"].as<double>();
  s.optimizer.weight_decay = o["weight-decay"].as<double>();
  s.schedule.warmup_steps = o["warmup-steps"].as<std::int64_t>();
  s.schedule.warmup_start_lr = o["warmup-lr"].as<double>();
  s.schedule.min_lr = o["min-lr"].as<double>();
  s.schedule.reference_fixed_prompt_lr = flag(o, "reference-fixed-prompt-lr");
  s.epochs = o["epochs"].as<std::int64_t>();
  s.max_steps = o["max-steps"].as<std::int64_t>();
  s.batch_size = o["batch-size"].as<std::int64_t>();
  s.train.accumulation = o["accumulation"].as<int>();
  s.train.clip_norm = o["clip-norm"].as<double>();
  const auto loss = o["loss"].as<std::string>();
  if (loss != "reference" && loss != "token-mean") {
    throw UsageError("--loss", "must be reference or token-mean, not '" + loss + "'");
  }
  s.train.loss.reduction = loss == "reference" ? models::LossReduction::kReference : models::LossReduction::kTokenMean;
  s.train.loss.weight = o["loss-weight"].as<double>();
  s.seed = o["seed"].as<std::uint64_t>();
  apply_plan_settings(o, s);
  s.output_dir = o["output-dir"].as<std::string>();
  s.checkpoint_every = o["checkpoint-every"].as<std::int64_t>();
  s.resume = flag(o, "resume");
  s.ranks = o["ranks"].as<int>();
  if (s.ranks < 0) throw UsageError("--ranks", "must be >= 0 (0: any number of ranks)");
  auto& v = s.validation;
  v.every_steps = experiments::parse_validate_every(o["validate-every"].as<std::string>(), "--validate-every");
  v.split = o["val-split"].as<std::string>();
  v.select_by = o["select-by"].as<std::string>();
  v.test_at_end = flag(o, "test-at-end");
  v.test_split = o["test-split"].as<std::string>();
  v.generation.num_beams = o["num-beams"].as<int>();
  v.generation.max_new_tokens = o["max-new-tokens"].as<int>();
  if (v.enabled() || v.test_at_end) v.generation.validate();
  return s;
}

std::map<std::string, std::string> training_config_values(const po::variables_map& options) {
  po::options_description settings;
  add_training_settings(settings);
  std::map<std::string, std::string> values;
  for (const auto& option : settings.options()) {
    const auto& name = option->long_name();
    if (options.count(name)) values[name] = registry::value_text(options[name]);
  }
  return values;
}

std::string training_config_text(const po::variables_map& options) {
  std::ostringstream out;
  for (const auto& [name, value] : training_config_values(options)) out << name << " = " << value << "\n";
  return out.str();
}

po::variables_map experiment_settings(const std::string& name) {
  std::stringstream text;
  registry::write_config_ini(registry::find_experiment(name).base, text);
  po::options_description settings;
  add_training_settings(settings);
  po::variables_map vm;
  po::store(po::parse_config_file(text, settings, /*allow_unregistered=*/false), vm);
  po::notify(vm);
  return vm;
}

po::variables_map checkpoint_settings(const std::string& checkpoint) {
  const auto text = train::read_checkpoint_config(checkpoint);
  po::options_description settings;
  add_training_settings(settings);
  po::variables_map vm;
  std::istringstream in(text);
  try {
    po::store(po::parse_config_file(in, settings, /*allow_unregistered=*/true), vm);
  } catch (const po::error& e) {
    throw Error(checkpoint, std::string("its stored configuration does not parse: ") + e.what());
  }
  po::notify(vm);
  return vm;
}

}  // namespace epalm::cli
