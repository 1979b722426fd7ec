// Internal: the parts of pretraining.json every model shares.
#pragma once

#include <nlohmann/json.hpp>

#include "epalm/experiments/pretraining.h"

namespace epalm::experiments::pretraining {

inline nlohmann::json schedule_json(const PretrainingSchedule& s) {
  return {{"steps", s.steps},
          {"batch_size", s.batch_size},
          {"learning_rate", s.learning_rate},
          {"warmup_fraction", s.warmup_fraction},
          {"weight_decay", s.weight_decay},
          {"grad_clip", s.grad_clip},
          {"seed", s.seed}};
}

}  // namespace epalm::experiments::pretraining
