#include "epalm/experiments/epalm_models.h"

#include "epalm/core/models/load_encoder.h"
#include "epalm/core/text_objective.h"

namespace epalm::experiments {

EpalmModels::EpalmModels(const TrainingRunSettings& s)
    : decoder(models::OptModel::from_pretrained(s.decoder, s.dtype, s.device)),
      encoder(models::load_encoder(s.encoder, s.dtype, s.device)),
      tokenizer(objective_tokenizer(s.tokenizer.empty() ? s.decoder : s.tokenizer, s.objective)),
      model(s.epalm, decoder, encoder->hidden_size(), encoder->num_layers(), s.seed) {}

}  // namespace epalm::experiments
