// The training loop's validator (validation.h says what it does): a private
// piece of run_training.
#pragma once

#include <memory>
#include <optional>

#include "epalm/core/datasets.h"
#include "epalm/core/feature_cache.h"
#include "epalm/core/media_inputs.h"
#include "epalm/experiments/evaluation_run.h"
#include "epalm/experiments/training_run.h"
#include "epalm/experiments/validation.h"

namespace epalm {
class Communicator;
class Trainer;
}  // namespace epalm

namespace epalm::experiments {

struct EpalmModels;

class Validator {
 public:
  // Reads the validation (and test) split now, so a bad split fails before
  // any training; refuses sharded layers on several ranks.
  Validator(const TrainingRunSettings& s, EpalmModels& loaded, Communicator& comm);

  // A fresh run forgets an earlier history in its directory; a resumed one
  // continues it (and refuses a changed --select-by).
  void start(bool resumed);
  // Whether validation runs after optimizer step `step`.
  bool due(std::int64_t step, std::int64_t total_steps, std::int64_t steps_per_epoch) const;
  // Validates the model as it is after `step` (every rank takes part);
  // rank 0 keeps `trainer`'s state as the best checkpoint when it beats the
  // best so far. The record's scores are rank 0's (empty elsewhere).
  ValidationRecord validate(std::int64_t step, const Trainer& trainer, bool& is_best);
  // The best checkpoint's trainables (when there is one) on the test split.
  EvaluationOutcome test();

  const std::string& metric() const { return metric_; }
  // The frozen-feature cache validation and testing read, or null.
  const FeatureCache* features() const { return features_.get(); }
  const std::optional<ValidationRecord>& best() const { return best_; }

 private:
  void save_history() const;

  const TrainingRunSettings& s_;
  EpalmModels& loaded_;
  Communicator& comm_;
  Dataset val_, test_;
  MediaSettings media_;
  std::unique_ptr<FeatureCache> features_;  // the run's frozen-feature cache, where one serves
  std::string metric_;
  std::vector<ValidationRecord> history_;
  std::optional<ValidationRecord> best_;
};

}  // namespace epalm::experiments
