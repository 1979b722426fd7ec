#include "epalm/experiments/fused_training.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "epalm/core/data/data_loader.h"
#include "epalm/core/error.h"
#include "epalm/core/models/load_encoder.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/packed_training.h"
#include "epalm/core/parallel/local_communicator.h"
#include "epalm/core/stop_signal.h"
#include "epalm/experiments/epalm_models.h"
#include "epalm/registry/training_settings.h"
#include "frozen_features.h"
#include "fused_batches.h"
#include "training_batches.h"
#include "validator.h"

namespace epalm::experiments {

namespace fs = std::filesystem;

namespace {

// A run's resolved configuration ("key = value" lines, training_config_text) by key.
std::map<std::string, std::string> config_values(const std::string& text) {
  std::map<std::string, std::string> values;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find(" = ");
    if (at != std::string::npos) values[line.substr(0, at)] = line.substr(at + 3);
  }
  return values;
}

// The default generators one variant draws from (dropout), held between its
// steps: each variant draws the sequence it would draw alone.
class GeneratorStates {
 public:
  explicit GeneratorStates(const c10::Device& device) : device_(device) { capture(); }
  void capture() {
    cpu_ = at::globalContext().defaultGenerator(c10::kCPU).get_state();
    if (device_.is_cuda()) device_state_ = at::globalContext().defaultGenerator(device_).get_state();
  }
  void restore() const {
    auto cpu = at::globalContext().defaultGenerator(c10::kCPU);  // a handle on the default generator
    cpu.set_state(cpu_);
    if (device_.is_cuda()) {
      auto device = at::globalContext().defaultGenerator(device_);
      device.set_state(device_state_);
    }
  }

 private:
  c10::Device device_;
  at::Tensor cpu_, device_state_;
};

// What each variant has of its own.
struct Variant {
  TrainingRunSettings settings;
  models::EpalmModel* model = nullptr;         // loaded.model for the first, else `own`
  std::unique_ptr<models::EpalmModel> own;
  std::unique_ptr<GeneratorStates> generators;  // its draws, held between its steps
  std::unique_ptr<VariantBatches> batches;
  std::unique_ptr<Validator> validator;
  std::unique_ptr<train::Trainer> trainer;
  FusedVariantOutcome result;
};

}  // namespace

FusedPass parse_fused_pass(const std::string& name) {
  if (name == "joint") return FusedPass::kJoint;
  if (name == "turns") return FusedPass::kTurns;
  throw UsageError("--fused-pass", "must be joint or turns, not '" + name + "'");
}

void check_fused_variants(const std::vector<TrainingRunSettings>& variants) {
  if (variants.empty()) throw UsageError("--fuse", "a fused job needs at least one variant");
  std::set<std::string> directories;
  for (std::size_t k = 0; k < variants.size(); ++k) {
    const auto& v = variants[k];
    if (v.output_dir.empty()) throw UsageError("--output-dir", "every fused variant needs a directory for its checkpoint");
    if (!directories.insert(fs::weakly_canonical(v.output_dir).string()).second) {
      throw UsageError("--output-dir", "fused variants " + std::to_string(k) + " and an earlier one share '" +
                                           v.output_dir + "'; each needs its own");
    }
    if (k == 0 || v.config_text.empty() || variants[0].config_text.empty()) continue;
    const auto conflict = registry::fusion_conflict(config_values(variants[0].config_text), config_values(v.config_text));
    if (!conflict.empty()) throw UsageError("--fuse", "variant " + std::to_string(k) + " cannot join variant 0: " + conflict);
  }
}

std::vector<FusedVariantOutcome> run_fused_training(
    const std::vector<TrainingRunSettings>& given, parallel::Communicator* communicator,
    const std::function<void(std::size_t, const StepReport&)>& on_step,
    const std::function<void(std::size_t, const ValidationReport&)>& on_validation, FusedPass pass) {
  check_fused_variants(given);
  parallel::LocalCommunicator alone;
  parallel::Communicator& comm = communicator != nullptr ? *communicator : alone;
  // What the variants share is variant 0's (check_variants made sure they agree).
  auto shared = given.front();
  check_training_settings(shared, comm);
  const auto dataset = data::read_dataset(shared.data);
  const auto task = dataset.kind == data::TaskKind::kCaptioning ? text::TextTask::kCaptioning
                                                                : text::TextTask::kQuestionAnswering;
  shared.objective.task = task;
  int deepest = 1;
  for (const auto& v : given) deepest = std::max(deepest, v.epalm.levels);
  const auto media = media_settings(shared, shared.augment);

  std::vector<Variant> variants(given.size());
  for (std::size_t k = 0; k < given.size(); ++k) {
    variants[k].settings = given[k];
    variants[k].settings.objective.task = task;
  }
  // The frozen models once, with variant 0's trainables; the others' over
  // the same decoder. Each model's construction seeds and draws from the
  // default generator: what it leaves there is what that variant trains
  // from, as it would alone.
  EpalmModels loaded(variants[0].settings, &comm);
  variants[0].model = &loaded.model;
  variants[0].generators = std::make_unique<GeneratorStates>(shared.device);
  for (std::size_t k = 1; k < variants.size(); ++k) {
    auto& v = variants[k];
    v.own = std::make_unique<models::EpalmModel>(v.settings.epalm, loaded.decoder, loaded.encoder->hidden_size(),
                                                 loaded.encoder->num_layers(), v.settings.seed);
    v.model = v.own.get();
    v.generators = std::make_unique<GeneratorStates>(shared.device);
  }

  data::DataLoader loader(dataset, media, training_loader_settings(shared, comm));
  const auto per_epoch = loader.batches_per_epoch();
  const auto total = total_training_steps(shared, per_epoch);
  const auto steps_per_epoch = per_epoch / shared.train.accumulation;

  // Features for the deepest levels any variant injects (the cache keyed by them).
  auto features_settings = shared;
  features_settings.epalm.levels = deepest;
  const bool encoder_sharded = loaded.plan.encoder.communicator != nullptr;
  auto cache = open_feature_cache(features_settings, media, *loaded.encoder, shared.augment, encoder_sharded, comm.size());
  if (cache) {
    spdlog::info("frozen-feature cache: {}", cache->directory());
  } else if (!shared.augment && !shared.feature_cache.empty()) {
    spdlog::warn("frozen-feature cache off: the encoder is sharded, so every rank must run it on every batch");
  }
  // Variants take turns with the default generators; a run alone keeps them as they are.
  const bool swap_generators = variants.size() > 1;
  TrainingBatches source(features_settings, dataset, loader, *loaded.encoder, loaded.tokenizer, cache.get());
  SharedBatches batches(source);

  install_stop_signal_handler();
  for (auto& v : variants) {
    auto& s = v.settings;
    s.schedule.total_steps = total;
    v.validator = std::make_unique<Validator>(s, loaded, *v.model, comm);
    v.batches = std::make_unique<VariantBatches>(batches, deepest, s.epalm.levels);
    v.trainer = std::make_unique<train::Trainer>(*v.model, s.optimizer, s.schedule, s.train, &comm);
    auto& outcome = v.result.outcome;
    outcome.checkpoint = checkpoint_path(s.output_dir);
    outcome.trainable_parameters = v.model->trainable_parameter_count();
    outcome.frozen_parameters = models::opt_parameter_count(loaded.decoder.config());
    outcome.encoder_parameters = models::encoder_parameter_count(s.encoder);
    fs::create_directories(s.output_dir);
    if (s.resume && fs::exists(outcome.checkpoint)) {
      v.trainer->load_checkpoint(outcome.checkpoint);  // restores the variant's generator states too
      v.generators->capture();
      outcome.resumed = true;
      spdlog::info("resumed from {} at step {}", outcome.checkpoint, v.trainer->steps_done());
    }
    v.validator->start(outcome.resumed);
  }

  const auto training = [&](const Variant& v) { return v.result.failure.empty() && v.trainer->steps_done() < total; };
  bool stopped = false;
  for (;;) {
    // The variants furthest behind take the next step (after a resume they
    // may stand at different steps; otherwise all step together).
    std::optional<std::int64_t> behind;
    for (const auto& v : variants) {
      if (training(v)) behind = std::min(behind.value_or(v.trainer->steps_done()), v.trainer->steps_done());
    }
    if (!behind) break;
    // In a joint pass the variants the packed pass takes (they draw nothing)
    // step together: decoder passes over up to
    // train::kVariantsPerJointPass variants' rows. The others (the
    // reference's dropout) take turns, each with its own generators.
    std::vector<std::size_t> together, turns;
    for (std::size_t k = 0; k < variants.size(); ++k) {
      const auto& v = variants[k];
      if (!training(v) || v.trainer->steps_done() != *behind) continue;
      const bool joins = pass == FusedPass::kJoint && models::packed_pass_refusal(v.settings.epalm).empty();
      (joins ? together : turns).push_back(k);
    }
    std::map<std::size_t, StepReport> reports;
    auto report_of = [&](std::size_t k, const train::StepResult& result, double seconds, std::int64_t position) {
      auto& report = reports[k];
      report.result = result;
      report.seconds = seconds;
      report.total_steps = total;
      for (auto p = position; p < variants[k].trainer->data_position(); ++p) {
        report.samples += loader.global_samples(p % per_epoch);
      }
    };
    if (!together.empty()) {
      const auto start = std::chrono::steady_clock::now();
      const auto position = variants[together.front()].trainer->data_position();
      std::vector<train::Trainer*> trainers;
      std::vector<train::BatchSource*> sources;
      for (const auto k : together) {
        trainers.push_back(variants[k].trainer.get());
        sources.push_back(variants[k].batches.get());
      }
      const auto results = train::step_together(trainers, sources);
      // Each variant's share of the joint step.
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
                             static_cast<double>(together.size());
      for (std::size_t i = 0; i < together.size(); ++i) report_of(together[i], results[i], seconds, position);
    }
    for (const auto k : turns) {
      auto& v = variants[k];
      if (swap_generators) v.generators->restore();
      const auto start = std::chrono::steady_clock::now();
      const auto position = v.trainer->data_position();
      const auto result = v.trainer->step(*v.batches);
      report_of(k, result, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), position);
      if (swap_generators) v.generators->capture();
    }
    for (auto& [k, report] : reports) {
      auto& v = variants[k];
      // Validation and checkpoints (which store the generator state) see the variant's own draws.
      if (swap_generators) v.generators->restore();
      // The loss and the gradient norm are every rank's, so every rank stops
      // the same variant; a diverged step is not reported (the store keeps
      // finite values). A finite loss with a gradient that overflowed would
      // turn the trainables into NaN at this very step.
      const auto& r = report.result;
      if (!std::isfinite(r.loss) || !std::isfinite(r.grad_norm)) {
        v.result.failure = std::string(std::isfinite(r.loss) ? "the gradient norm" : "the loss") + " is not finite (" +
                           std::to_string(std::isfinite(r.loss) ? r.grad_norm : r.loss) + ") after step " +
                           std::to_string(r.step);
        if (swap_generators) spdlog::error("variant {}: {}; the other variants go on", k, v.result.failure);
        continue;
      }
      v.result.outcome.last_loss = report.result.loss;
      if (on_step) on_step(k, report);
      const auto done = v.trainer->steps_done();
      if (v.validator->due(done, total, steps_per_epoch)) {
        const auto started = std::chrono::steady_clock::now();
        ValidationReport validated;
        validated.record = v.validator->validate(done, *v.trainer, validated.best);
        validated.metric = v.validator->metric();
        validated.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (on_validation) on_validation(k, validated);
      }
      const bool due = v.settings.checkpoint_every > 0 && done % v.settings.checkpoint_every == 0;
      if ((done == total || due) && comm.rank() == 0) v.trainer->save_checkpoint(v.result.outcome.checkpoint, v.settings.config_text);
      if (swap_generators) v.generators->capture();
    }
    std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
    for (const auto& v : variants) {
      if (training(v)) oldest = std::min(oldest, v.trainer->data_position());
    }
    batches.forget_before(oldest);
    const bool unfinished = std::any_of(variants.begin(), variants.end(), training);
    if (unfinished && stop_requested(comm)) {
      stopped = true;
      for (auto& v : variants) {
        if (!v.result.failure.empty()) continue;
        if (swap_generators) v.generators->restore();
        if (comm.rank() == 0) v.trainer->save_checkpoint(v.result.outcome.checkpoint, v.settings.config_text);
      }
      spdlog::warn("stopping on {} after step {}; checkpointed", stop_signal_name(), *behind + 1);
      break;
    }
  }

  std::vector<FusedVariantOutcome> outcomes;
  for (auto& v : variants) {
    auto& outcome = v.result.outcome;
    outcome.steps = v.trainer->steps_done();
    outcome.stopped = stopped && v.result.failure.empty() && outcome.steps < total;
    if (v.result.failure.empty() && v.settings.validation.enabled()) {
      outcome.select_by = v.validator->metric();
      outcome.best = v.validator->best();
      if (outcome.best) outcome.best_checkpoint = best_checkpoint_path(v.settings.output_dir);
    }
    if (v.result.failure.empty() && v.settings.validation.test_at_end && !stopped) {
      if (swap_generators) v.generators->restore();
      const auto tested = v.validator->test();
      outcome.test_scores = tested.scores;
      outcome.test_predictions = tested.predictions;
      outcome.notes = tested.notes;
    }
    for (const data::FeatureCache* used : {static_cast<const data::FeatureCache*>(cache.get()), v.validator->features()}) {
      if (used == nullptr) continue;
      outcome.cache_hits += used->hits();
      outcome.cache_misses += used->misses();
    }
    outcomes.push_back(std::move(v.result));
  }
  return outcomes;
}

}  // namespace epalm::experiments
