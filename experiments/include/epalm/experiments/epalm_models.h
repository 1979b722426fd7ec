// What a run's settings name, loaded: the frozen decoder and encoder, the
// objective's tokenizer and the eP-ALM model over them. Train, eval and
// generate start from it. The frozen weights follow the run's plan
// (frozen_plan.h), logged once. Not movable: the model refers to the decoder.
#pragma once

#include <memory>

#include "epalm/core/models/epalm_model.h"
#include "epalm/core/parallel/local_communicator.h"
#include "epalm/core/models/encoder.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/text/tokenizer.h"
#include "epalm/experiments/frozen_plan.h"
#include "epalm/experiments/training_run.h"

namespace epalm::experiments {

struct EpalmModels {
  // `s.objective.task` must already say which task (it decides the answer
  // token). `communicator`: the ranks that share sharded layers (they must
  // then run every forward together), nullptr: this process alone.
  // `training`: plan for backward through the decoder.
  explicit EpalmModels(const TrainingRunSettings& s, parallel::Communicator* communicator = nullptr, bool training = true);
  EpalmModels(const EpalmModels&) = delete;
  EpalmModels& operator=(const EpalmModels&) = delete;

  parallel::LocalCommunicator alone;  // the communicator when none is given
  FrozenPlan plan;
  models::OptModel decoder;
  std::unique_ptr<models::Encoder> encoder;
  text::Tokenizer tokenizer;
  models::EpalmModel model;
};

}  // namespace epalm::experiments
