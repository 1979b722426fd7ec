// The toy world's unimodal models, pretrained by the project on one modality
// each (the paper's premise): an OPT-architecture decoder on the world's text
// alone (its own BPE vocabulary), a ViT on pictures (colour and shape of an
// object), a TimeSformer on clips (direction of motion), an AST on tone
// sequences (pitch of the first tone). Hugging Face checkpoints under
// <home>/toy-models/<world key>/, made on first use and reused after.
#pragma once

#include "epalm/analysis/table.h"

#include <functional>
#include <string>

#include "epalm/experiments/pretraining.h"
#include "epalm/experiments/toy_world.h"

namespace epalm::experiments::toy {

struct ToyModels {
  std::string directory;  // holds decoder/, vit/, timesformer/, ast/
  std::string decoder, vit, timesformer, ast;
  // What each reported when it was pretrained (pretraining.json): held-out
  // perplexity of the decoder, held-out accuracy of each encoder.
  double decoder_perplexity = 0, decoder_unigram_perplexity = 0;
  double vit_accuracy = 0, timesformer_accuracy = 0, ast_accuracy = 0;
  double vit_chance = 0, timesformer_chance = 0, ast_chance = 0;
  std::vector<std::string> pretrained_now;  // the ones made by this call
};

struct ToyModelSettings {
  bool reduced = false;  // fewer steps (tests): the models are weaker but the pipeline the same
  PretrainingProgressCallback progress;
};

// <home>/toy-models/<world.key>; pretrains only what is missing.
ToyModels ensure_toy_models(const WorldInfo& world, const std::string& home, const ToyModelSettings& settings);

// What each model knows on held-out data against its baseline (the decoder's
// perplexity against the unigram one; each encoder's accuracy, the mean over
// its label tasks, against always answering the commonest label).
analysis::Table knowledge_table(const ToyModels& models);

}  // namespace epalm::experiments::toy
