#include "epalm/experiments/epalm_models.h"

#include <spdlog/spdlog.h>

#include "epalm/core/error.h"
#include "epalm/core/models/load_encoder.h"
#include "epalm/core/text/text_objective.h"

namespace epalm::experiments {

namespace {

FrozenPlan logged_plan(const TrainingRunSettings& s, parallel::Communicator& communicator, bool training) {
  auto plan = plan_frozen_weights(s, communicator, training);
  spdlog::info("{}", plan.summary());
  if (!plan.memory.fits) {
    throw Error("--memory-budget", "the run needs " + std::to_string(plan.memory.per_rank_bytes) +
                                       " bytes per rank even sharding every layer it can; the budget is " +
                                       std::to_string(plan.memory.budget_bytes) + " (add ranks or raise it)");
  }
  return plan;
}

}  // namespace

EpalmModels::EpalmModels(const TrainingRunSettings& s, parallel::Communicator* communicator, bool training)
    : plan(logged_plan(s, communicator != nullptr ? *communicator : alone, training)),
      decoder(models::OptModel::from_pretrained(s.decoder, s.dtype, s.device, plan.decoder)),
      encoder(models::load_encoder(s.encoder, s.dtype, s.device, plan.encoder)),
      tokenizer(text::objective_tokenizer(s.tokenizer.empty() ? s.decoder : s.tokenizer, s.objective)),
      model(s.epalm, decoder, encoder->hidden_size(), encoder->num_layers(), s.seed) {}

}  // namespace epalm::experiments
