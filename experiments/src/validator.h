// The training loop's validator (validation.h says what it does): a private
// piece of run_training.
#pragma once

#include <memory>
#include <optional>

#include "epalm/core/data/datasets.h"
#include "epalm/core/data/feature_cache.h"
#include "epalm/core/media/media_inputs.h"
#include "epalm/experiments/evaluation_run.h"
#include "epalm/experiments/training_run.h"
#include "epalm/experiments/validation.h"

namespace epalm::parallel {
class Communicator;
}
namespace epalm::train {
class Trainer;
}

namespace epalm::experiments {

struct EpalmModels;

class Validator {
 public:
  // Reads the validation (and test) split now, so a bad split fails before
  // any training; refuses sharded layers on several ranks. `model`: the
  // model validated and tested (loaded.model, or a fused job's variant over
  // loaded's frozen models).
  Validator(const TrainingRunSettings& s, EpalmModels& loaded, models::EpalmModel& model, parallel::Communicator& comm);

  // A fresh run forgets an earlier history in its directory; a resumed one
  // continues it (and refuses a changed --select-by).
  void start(bool resumed);
  // Whether validation runs after optimizer step `step`.
  bool due(std::int64_t step, std::int64_t total_steps, std::int64_t steps_per_epoch) const;
  // Validates the model as it is after `step` (every rank takes part);
  // rank 0 keeps `trainer`'s state as the best checkpoint when it beats the
  // best so far. The record's scores are rank 0's (empty elsewhere).
  ValidationRecord validate(std::int64_t step, const train::Trainer& trainer, bool& is_best);
  // The best checkpoint's trainables (when there is one) on the test split.
  EvaluationOutcome test();

  const std::string& metric() const { return metric_; }
  // The frozen-feature cache validation and testing read, or null.
  const data::FeatureCache* features() const { return features_.get(); }
  const std::optional<ValidationRecord>& best() const { return best_; }

 private:
  void save_history() const;

  const TrainingRunSettings& s_;
  EpalmModels& loaded_;
  models::EpalmModel& model_;
  parallel::Communicator& comm_;
  data::Dataset val_, test_;
  media::MediaSettings media_;
  std::unique_ptr<data::FeatureCache> features_;  // the run's frozen-feature cache, where one serves
  std::string metric_;
  std::vector<ValidationRecord> history_;
  std::optional<ValidationRecord> best_;
};

}  // namespace epalm::experiments
