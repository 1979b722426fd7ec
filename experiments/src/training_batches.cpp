#include "training_batches.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>

#include "epalm/core/error.h"
#include "epalm/core/models/epalm_model.h"
#include "epalm/core/parallel/communicator.h"
#include "epalm/core/text/text_objective.h"
#include "frozen_features.h"

namespace epalm::experiments {

namespace {

// The reference draws a training answer in proportion to its score at every
// visit; here the draw is a function of (seed, epoch, sample) so that resumed
// runs replay it.
std::string draw_answer(const data::Sample& sample, std::uint64_t seed, std::int64_t epoch) {
  if (sample.answers.empty()) return "";
  if (sample.scores.size() != sample.answers.size()) return sample.answers.front();
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(std::hash<std::string>{}(sample.id))};
  std::mt19937_64 rng(seq);
  std::discrete_distribution<std::size_t> pick(sample.scores.begin(), sample.scores.end());
  return sample.answers[pick(rng)];
}

}  // namespace

void check_training_settings(const TrainingRunSettings& s, const parallel::Communicator& comm) {
  if (s.output_dir.empty()) throw UsageError("--output-dir", "a training run needs a directory for its checkpoint");
  if (s.batch_size < 1) throw UsageError("--batch-size", "must be >= 1");
  if (s.epochs < 1 && s.max_steps < 1) throw UsageError("--epochs", "train for at least one epoch or step");
  if (s.ranks > 0 && comm.size() != s.ranks) {
    throw UsageError("--ranks", "the run asks for " + std::to_string(s.ranks) + " rank(s) but was started on " +
                                    std::to_string(comm.size()));
  }
}

data::LoaderSettings training_loader_settings(const TrainingRunSettings& s, const parallel::Communicator& comm) {
  data::LoaderSettings loading;
  loading.batch_size = s.batch_size;
  loading.shuffle = true;
  loading.seed = s.seed;
  loading.threads = s.loader_threads;
  loading.rank = comm.rank();
  loading.world_size = comm.size();
  return loading;
}

std::int64_t total_training_steps(const TrainingRunSettings& s, std::int64_t batches_per_epoch) {
  const auto micro_batches = s.max_steps > 0 ? s.max_steps * s.train.accumulation : s.epochs * batches_per_epoch;
  return std::max<std::int64_t>(1, micro_batches / s.train.accumulation);
}

train::Batch TrainingBatches::batch_at(std::int64_t position) {
  const auto per_epoch = loader_.batches_per_epoch();
  const auto epoch = position / per_epoch, index = position % per_epoch;
  std::vector<bool> padding;
  const auto indices = loader_.batch_indices(epoch, index, &padding);
  train::Batch b;
  b.features = features(epoch, index, indices);
  std::vector<std::string> questions, targets;
  for (auto i : indices) {
    const auto& sample = dataset_.samples[i];
    questions.push_back(sample.question);
    targets.push_back(draw_answer(sample, s_.seed, epoch));
  }
  auto text = text::encode_training_batch(tokenizer_, s_.objective, questions, targets);
  b.input_ids = text.input_ids.to(s_.device);
  b.attention_mask = text.attention_mask.to(s_.device);
  // A repeat that pads this rank's shard has no targets: it weighs nothing in
  // the loss or its normalizer, so N ranks train as one process would.
  for (std::size_t row = 0; row < padding.size(); ++row) {
    if (padding[row]) text.labels[static_cast<std::int64_t>(row)].fill_(-100);
  }
  b.labels = text.labels.to(s_.device);
  return b;
}

at::Tensor TrainingBatches::features(std::int64_t epoch, std::int64_t index, const std::vector<std::size_t>& indices) {
  if (cache_ == nullptr) {
    const auto media = loader_.batch(epoch, index);
    return models::EpalmModel::select_features(encoder_, media.inputs.to(s_.device), s_.epalm.levels);
  }
  return cached_features(*cache_, dataset_, indices, loader_.media(), encoder_, s_.epalm.levels, s_.device);
}

}  // namespace epalm::experiments
