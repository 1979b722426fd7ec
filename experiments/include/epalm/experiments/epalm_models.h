// What a run's settings name, loaded: the frozen decoder and encoder, the
// objective's tokenizer and the eP-ALM model over them. Train, eval and
// generate start from it. Not movable: the model refers to the decoder.
#pragma once

#include <memory>

#include "epalm/core/epalm_model.h"
#include "epalm/core/models/encoder.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/tokenizer.h"
#include "epalm/experiments/training_run.h"

namespace epalm::experiments {

struct EpalmModels {
  // `s.objective.task` must already say which task (it decides the answer token).
  explicit EpalmModels(const TrainingRunSettings& s);
  EpalmModels(const EpalmModels&) = delete;
  EpalmModels& operator=(const EpalmModels&) = delete;

  models::OptModel decoder;
  std::unique_ptr<models::Encoder> encoder;
  Tokenizer tokenizer;
  EpalmModel model;
};

}  // namespace epalm::experiments
