// Several eP-ALM training runs that differ only in what trains (connector
// sharing, levels, injected layers, prompt, adapters, optimizer and schedule)
// trained as one job: one copy of the frozen decoder and encoder, one data
// stream, one encoder pass (or cache read) per micro-batch for all of them.
// Each variant keeps its own trainables, optimizer, random draws, checkpoint,
// validation and test, and trains as it would alone: the same micro-batches,
// the same features (the deepest levels any variant takes, each variant
// reading its own last blocks), the same generator states. A variant whose
// loss stops being finite is stopped and reported as failed; the others go on.
// By default the variants the packed pass takes (models/packed_training.h:
// all but the reference's dropout) also share decoder passes per
// micro-batch, up to train::kVariantsPerJointPass variants' rows each: equal to their runs alone to fp32
// rounding. Taking turns, each variant runs its own decoder pass and equals
// its run alone bit for bit.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "epalm/experiments/training_run.h"

namespace epalm::parallel {
class Communicator;
}

namespace epalm::experiments {

enum class FusedPass {
  kJoint,  // decoder passes over up to train::kVariantsPerJointPass variants' rows (the packed pass's variants)
  kTurns,  // each variant its own decoder pass, one after another
};
// "joint" or "turns"; anything else is a UsageError naming --fused-pass.
FusedPass parse_fused_pass(const std::string& name);

struct FusedVariantOutcome {
  TrainingRunOutcome outcome;
  std::string failure;  // why this variant stopped early ("" when it trained to the end or the job stopped)
};

// Throws UsageError when two variants share an output directory, or when
// their resolved configurations (config_text) differ in a setting they must
// share (registry::fusion_conflict); variants without config_text are taken
// as compatible. run_fused_training checks the same first.
void check_fused_variants(const std::vector<TrainingRunSettings>& variants);

// Trains every variant to the end (or resumes each from its own checkpoint).
// Data parallel over the communicator's ranks as run_training is; a SIGTERM
// or SIGINT checkpoints every variant and stops the job. `on_step` and
// `on_validation` name the variant (its index in `variants`).
std::vector<FusedVariantOutcome> run_fused_training(
    const std::vector<TrainingRunSettings>& variants, parallel::Communicator* communicator = nullptr,
    const std::function<void(std::size_t, const StepReport&)>& on_step = {},
    const std::function<void(std::size_t, const ValidationReport&)>& on_validation = {},
    FusedPass pass = FusedPass::kJoint);

}  // namespace epalm::experiments
