#include "epalm/experiments/training_run.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

#include "epalm/core/parallel/communicator.h"
#include "epalm/core/data/data_loader.h"
#include "epalm/core/error.h"
#include "epalm/core/data/feature_cache.h"
#include "epalm/core/parallel/local_communicator.h"
#include "epalm/core/media/media_inputs.h"
#include "epalm/core/models/load_encoder.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/stop_signal.h"
#include "epalm/core/text/tokenizer.h"
#include "epalm/experiments/epalm_models.h"
#include "frozen_features.h"
#include "training_batches.h"
#include "validator.h"

namespace epalm::experiments {

namespace fs = std::filesystem;

std::string checkpoint_path(const std::string& output_dir) {
  return (fs::path(output_dir) / "checkpoint.safetensors").string();
}

media::MediaSettings media_settings(const TrainingRunSettings& s, bool train) {
  auto media = media::MediaSettings::for_task(s.data.task, train);
  media.rand_augment = s.rand_augment;
  const auto geometry = models::encoder_input_geometry(s.encoder);
  if (geometry.image_size > 0) media.image_size = geometry.image_size;
  if (geometry.mel_bins > 0) media.mel_bins = geometry.mel_bins;
  if (geometry.audio_frames > 0) media.target_length = geometry.audio_frames;
  return media;
}

TrainingRunOutcome run_training(const TrainingRunSettings& given, parallel::Communicator* communicator,
                                const std::function<void(const StepReport&)>& on_step,
                                const std::function<void(const ValidationReport&)>& on_validation) {
  parallel::LocalCommunicator alone;
  parallel::Communicator& comm = communicator != nullptr ? *communicator : alone;
  auto s = given;
  check_training_settings(s, comm);
  const auto dataset = data::read_dataset(s.data);
  s.objective.task = dataset.kind == data::TaskKind::kCaptioning ? text::TextTask::kCaptioning : text::TextTask::kQuestionAnswering;
  const auto media = media_settings(s, s.augment);

  EpalmModels loaded(s, &comm);
  auto& model = loaded.model;
  const auto& decoder = loaded.decoder;
  const auto& encoder = loaded.encoder;
  const auto& tokenizer = loaded.tokenizer;

  data::DataLoader loader(dataset, media, training_loader_settings(s, comm));
  const auto per_epoch = loader.batches_per_epoch();
  s.schedule.total_steps = total_training_steps(s, per_epoch);

  const bool encoder_sharded = loaded.plan.encoder.communicator != nullptr;
  auto cache = open_feature_cache(s, media, *encoder, s.augment, encoder_sharded, comm.size());
  if (cache) {
    spdlog::info("frozen-feature cache: {}", cache->directory());
  } else if (!s.augment && !s.feature_cache.empty()) {
    spdlog::warn("frozen-feature cache off: the encoder is sharded, so every rank must run it on every batch");
  }
  Validator validator(s, loaded, model, comm);  // reads the validation and test splits before training starts
  TrainingBatches batches(s, dataset, loader, *encoder, tokenizer, cache.get());
  train::Trainer trainer(model, s.optimizer, s.schedule, s.train, &comm);
  install_stop_signal_handler();

  TrainingRunOutcome outcome;
  outcome.checkpoint = checkpoint_path(s.output_dir);
  outcome.trainable_parameters = model.trainable_parameter_count();
  outcome.frozen_parameters = models::opt_parameter_count(decoder.config());
  outcome.encoder_parameters = models::encoder_parameter_count(s.encoder);
  fs::create_directories(s.output_dir);
  if (s.resume && fs::exists(outcome.checkpoint)) {
    trainer.load_checkpoint(outcome.checkpoint);
    outcome.resumed = true;
    spdlog::info("resumed from {} at step {}", outcome.checkpoint, trainer.steps_done());
  }
  validator.start(outcome.resumed);
  const auto total = s.schedule.total_steps;
  const auto steps_per_epoch = per_epoch / s.train.accumulation;
  while (trainer.steps_done() < total) {
    const auto start = std::chrono::steady_clock::now();
    const auto served_before = batches.samples_served();
    StepReport report;
    report.result = trainer.step(batches);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.total_steps = total;
    report.samples = batches.samples_served() - served_before;  // a batch past the split's end holds fewer
    // The loss is every rank's, so every rank stops here together.
    if (!std::isfinite(report.result.loss)) {
      throw Error("training", "the run diverged: the loss is not finite (" + std::to_string(report.result.loss) +
                                  ") after step " + std::to_string(report.result.step) +
                                  "; the checkpoint keeps the last one saved (a lower --lr or --clip-norm may help)");
    }
    outcome.last_loss = report.result.loss;
    if (on_step) on_step(report);
    if (validator.due(trainer.steps_done(), total, steps_per_epoch)) {
      const auto started = std::chrono::steady_clock::now();
      ValidationReport validated;
      validated.record = validator.validate(trainer.steps_done(), trainer, validated.best);
      validated.metric = validator.metric();
      validated.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (on_validation) on_validation(validated);
    }
    const bool last = trainer.steps_done() == total;
    outcome.stopped = !last && stop_requested(comm);
    const bool due = s.checkpoint_every > 0 && trainer.steps_done() % s.checkpoint_every == 0;
    if ((last || due || outcome.stopped) && comm.rank() == 0) trainer.save_checkpoint(outcome.checkpoint, s.config_text);
    if (outcome.stopped) {
      spdlog::warn("stopping on {} after step {}; checkpoint {}", stop_signal_name(), trainer.steps_done(),
                   outcome.checkpoint);
      break;
    }
  }
  outcome.steps = trainer.steps_done();
  if (s.validation.enabled()) {
    outcome.select_by = validator.metric();
    outcome.best = validator.best();
    if (outcome.best) outcome.best_checkpoint = best_checkpoint_path(s.output_dir);
  }
  if (s.validation.test_at_end && !outcome.stopped) {
    const auto tested = validator.test();
    outcome.test_scores = tested.scores;
    outcome.test_predictions = tested.predictions;
    outcome.notes = tested.notes;
  }
  for (const data::FeatureCache* used : {static_cast<const data::FeatureCache*>(cache.get()), validator.features()}) {
    if (used == nullptr) continue;
    outcome.cache_hits += used->hits();
    outcome.cache_misses += used->misses();
  }
  return outcome;
}

}  // namespace epalm::experiments
