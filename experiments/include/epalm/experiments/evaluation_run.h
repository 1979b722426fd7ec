// Evaluating a trained eP-ALM checkpoint on a split: open-ended generation
// for every sample (left-padded batches, greedy or beam search), the
// reference's post-processing, predictions in the official submission format,
// and the task's official metric: VQA accuracy (vqaEval.py) when the official
// annotations are at hand, normalised exact match for other QA tasks,
// BLEU-1..4 / ROUGE-L / CIDEr-D (pycocoevalcap) for captioning, and METEOR
// and SPICE when Java and their jars are found ($EPALM_METEOR_JAR,
// $EPALM_SPICE_JAR with CoreNLP beside it), else a note saying which was
// skipped and why.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "epalm/core/models/generation.h"
#include "epalm/experiments/training_run.h"

namespace epalm::distributed {
class World;
}

namespace epalm::data {
class FeatureCache;
}
namespace epalm::models {
class EpalmModel;
class Encoder;
}
namespace epalm::text {
class Tokenizer;
}
namespace epalm::media {
struct MediaSettings;
}

namespace epalm::experiments {

struct EpalmModels;

struct EvaluationSettings {
  TrainingRunSettings run;  // what the checkpoint was trained with (models, task, layout)
  std::string checkpoint;
  std::string split;
  models::GenerationSettings generation;
  std::string predictions;  // the predictions file to write
  // Video frames: "middle" (deterministic, the default) or "rand", the
  // reference's test-time sampling (random frames, seeded by the run's seed
  // and the sample's index, so repeated evaluations agree).
  std::string frame_sampling = "middle";
  // Under several ranks: gathering the predictions longer than this aborts
  // the job (a stuck or dead rank), naming the wait.
  std::chrono::milliseconds collective_timeout = std::chrono::minutes(10);
};

struct EvaluationOutcome {
  std::map<std::string, double> scores;
  std::int64_t samples = 0;
  std::string predictions;
  std::vector<std::string> notes;  // metrics skipped, and why
};

// Ranks' prediction texts gathered to rank 0 (other ranks may get anything).
using TextGather = std::function<std::vector<std::string>(const std::string&)>;

// What generates a split's answers: an eP-ALM model, the encoder whose
// features it reads and the objective's tokenizer (a run's EpalmModels, or
// one variant of a fused job over shared frozen models).
struct SplitModels {
  const models::EpalmModel& model;
  const models::Encoder& encoder;
  const text::Tokenizer& tokenizer;
};

// One split with models already loaded (evaluation, and validation during
// training): every rank generates for its shard of `dataset` (no gradients),
// rank 0 gathers the predictions, writes `predictions` and scores the whole
// split with the task's official metric; other ranks' outcomes have no scores.
// Every rank must call it (sharded layers need all of them). With `features`
// (a frozen-feature cache for `media`), the encoder's features are read from
// it and only the missing ones computed: no media decoded for a cached split.
EvaluationOutcome evaluate_split(const SplitModels& loaded, const TrainingRunSettings& run, const data::Dataset& dataset,
                                 const models::GenerationSettings& generation, const media::MediaSettings& media,
                                 const std::string& predictions, int rank, int world_size, const TextGather& gather,
                                 data::FeatureCache* features = nullptr,
                                 const std::function<void(std::int64_t, std::int64_t)>& on_batch = {});

// The metric that says which checkpoint is best on a task's split: VQA
// accuracy with official annotations, exact-match accuracy for other QA,
// CIDEr-D for captioning (all higher is better).
std::string official_metric(const data::Dataset& dataset);

// `on_batch(done, total)` after every batch. Under several ranks each
// generates for its shard of the split and rank 0 gathers every prediction,
// writes the file and scores the full split once (other ranks' outcomes have
// no scores).
EvaluationOutcome run_evaluation(const EvaluationSettings& settings, const distributed::World& world,
                                 const std::function<void(std::int64_t, std::int64_t)>& on_batch = {});

}  // namespace epalm::experiments
