// One eP-ALM training run, end to end: the frozen decoder and encoder from
// their checkpoints, the task's training split through the data loader (or
// the frozen-feature cache when augmentation is off), the text objective, the
// trainer, progress reports and checkpoints, and exact resume from the run's
// own checkpoint. `epalm train` fills the settings from its configuration.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "epalm/core/data/datasets.h"
#include "epalm/core/models/epalm_model.h"
#include "epalm/core/media/media_inputs.h"
#include "epalm/core/parallel/memory_plan.h"
#include "epalm/core/text/text_objective.h"
#include "epalm/core/train/trainer.h"
#include "epalm/experiments/validation.h"

namespace epalm::parallel {
class Communicator;
}

namespace epalm::experiments {

struct TrainingRunSettings {
  data::DatasetSpec data;          // task, root, training split, fraction, missing media
  bool augment = true;       // the reference's training augmentations; off: the feature cache serves
  bool rand_augment = true;  // with augment: RandAugment on images and video, as the reference
  std::string feature_cache;  // directory of the frozen-feature cache; empty: none
  int loader_threads = 4;
  std::string decoder, encoder, tokenizer;  // checkpoint directories (tokenizer: the decoder's when empty)
  c10::ScalarType dtype = c10::kFloat;       // of the frozen weights; trainables are fp32
  c10::Device device = c10::kCPU;
  // Frozen weights per rank (frozen_plan.h): auto shards the largest layers
  // only as far as the budget needs (no budget: nothing), shard every
  // shardable layer, replicate none.
  parallel::PlanMode plan = parallel::PlanMode::kAuto;
  std::int64_t memory_budget = 0;         // bytes per rank; 0: no limit
  std::int64_t shard_threshold = 100000;  // 2-D tensors with fewer elements stay whole
  models::EpalmConfig epalm;
  text::TextObjective objective;  // its task is set from the dataset's
  train::OptimizerSettings optimizer;
  train::ScheduleSettings schedule;  // total_steps is derived from epochs / max_steps
  train::TrainSettings train;
  std::int64_t epochs = 1;
  std::int64_t max_steps = 0;  // > 0: stop there (and schedule over it)
  std::int64_t batch_size = 8;
  std::uint64_t seed = 0;
  std::string output_dir;  // checkpoint.safetensors lives here
  std::int64_t checkpoint_every = 0;  // optimizer steps; 0: at the end only
  bool resume = true;                 // continue from output_dir's checkpoint when there is one
  int ranks = 0;                      // the world size the run must have (0: any)
  std::string config_text;            // the resolved configuration, kept in checkpoints
  ValidationSettings validation;      // validation during training, the best checkpoint, the test at the end
};

struct StepReport {
  train::StepResult result;
  std::int64_t total_steps = 0;
  std::int64_t samples = 0;  // samples this step consumed
  double seconds = 0;        // wall time of this step
};

struct TrainingRunOutcome {
  std::int64_t steps = 0;
  double last_loss = 0;
  std::string checkpoint;
  std::int64_t trainable_parameters = 0;
  std::int64_t frozen_parameters = 0;   // the decoder's
  std::int64_t encoder_parameters = 0;  // frozen too
  std::int64_t cache_hits = 0, cache_misses = 0;  // frozen-feature lookups: training, validation, test
  bool resumed = false;
  bool stopped = false;  // SIGTERM or SIGINT: checkpointed and stopped early (exit stop_exit_code())
  // With validation (rank 0's): the metric, the best validation and its
  // checkpoint; with the test at the end: its scores and predictions.
  std::string select_by;
  std::optional<ValidationRecord> best;
  std::string best_checkpoint;
  std::map<std::string, double> test_scores;
  std::string test_predictions;
  std::vector<std::string> notes;  // metrics skipped, and why
};

// What the run reports after each validation (on every rank; scores are rank 0's).
struct ValidationReport {
  ValidationRecord record;
  std::string metric;
  bool best = false;
  double seconds = 0;
};

// The checkpoint a run keeps in `output_dir`.
std::string checkpoint_path(const std::string& output_dir);

// The task's inputs (frames per clip, training transforms when `train`)
// at the size the run's encoder was made for (its config.json: picture side,
// mel bins and filterbank frames), so any encoder gets the input it expects.
media::MediaSettings media_settings(const TrainingRunSettings& settings, bool train);

// Runs to the end (or resumes and runs to the end). `on_step` sees every
// optimizer step. Data parallel over the communicator's ranks (each reads its
// shard of every global batch of batch_size x ranks samples; rank 0 alone
// writes the checkpoint); nullptr: one process. A SIGTERM or SIGINT checkpoints and
// stops every rank after the same step. Errors name the file, sample or
// setting at fault; a loss that stops being finite ends the run with an error
// naming the step. It is run_fused_training (fused_training.h) with one variant.
TrainingRunOutcome run_training(const TrainingRunSettings& settings, parallel::Communicator* communicator = nullptr,
                                const std::function<void(const StepReport&)>& on_step = {},
                                const std::function<void(const ValidationReport&)>& on_validation = {});

}  // namespace epalm::experiments
