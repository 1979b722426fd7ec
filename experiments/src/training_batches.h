// Internal: the training split as the trainer's micro-batches (features
// from the encoder or the frozen-feature cache, text from the objective), for
// a run alone and for the variants of a fused job, which share one.
#pragma once

#include <cstdint>
#include <vector>

#include "epalm/core/data/data_loader.h"
#include "epalm/core/data/datasets.h"
#include "epalm/core/data/feature_cache.h"
#include "epalm/core/models/encoder.h"
#include "epalm/core/text/tokenizer.h"
#include "epalm/core/train/trainer.h"
#include "epalm/experiments/training_run.h"

namespace epalm::parallel {
class Communicator;
}

namespace epalm::experiments {

// What a run (alone or fused) checks before it loads anything: an output
// directory, a batch, at least one step, the world size it asks for.
// UsageError names the option.
void check_training_settings(const TrainingRunSettings& s, const parallel::Communicator& comm);

// The training split's loader: shuffled by the run's seed, this rank's shard.
data::LoaderSettings training_loader_settings(const TrainingRunSettings& s, const parallel::Communicator& comm);

// The optimizer steps a run takes: --max-steps, else its epochs over
// `batches_per_epoch` micro-batches (at least one).
std::int64_t total_training_steps(const TrainingRunSettings& s, std::int64_t batches_per_epoch);

// Micro-batches of the training split: position p is batch p % B of epoch
// p / B, its features (the last s.epalm.levels blocks' [CLS]) from the
// encoder (or the cache) and its text from the objective.
class TrainingBatches : public train::BatchSource {
 public:
  TrainingBatches(const TrainingRunSettings& s, const data::Dataset& dataset, data::DataLoader& loader,
                  const models::Encoder& encoder, const text::Tokenizer& tokenizer, data::FeatureCache* cache)
      : s_(s), dataset_(dataset), loader_(loader), encoder_(encoder), tokenizer_(tokenizer), cache_(cache) {}

  train::Batch batch_at(std::int64_t position) override;

 private:
  at::Tensor features(std::int64_t epoch, std::int64_t index, const std::vector<std::size_t>& indices);

  const TrainingRunSettings& s_;
  const data::Dataset& dataset_;
  data::DataLoader& loader_;
  const models::Encoder& encoder_;
  const text::Tokenizer& tokenizer_;
  data::FeatureCache* cache_;
};

}  // namespace epalm::experiments
