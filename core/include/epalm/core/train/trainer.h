// Training eP-ALM's trainables: AdamW with separate learning rates for the
// connector (and adapters) and the soft prompt, linear warmup then cosine
// decay in optimizer steps, gradient accumulation and clipping, and
// checkpoints that resume bit for bit (docs/epalm.md).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "epalm/core/models/epalm_model.h"

namespace epalm::parallel {
class Communicator;
}

namespace epalm::train {

struct OptimizerSettings {
  double lr = 2e-5;         // connector and adapters
  double prompt_lr = 1e-5;  // soft prompt
  double weight_decay = 0.02;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

struct ScheduleSettings {
  std::int64_t total_steps = 1000;
  std::int64_t warmup_steps = 400;  // the reference's "4 warmup epochs" are 400 iterations
  double warmup_start_lr = 1e-5;    // lr at step 0 (scaled per group by its base lr / lr)
  double min_lr = 1e-6;             // cosine floor (scaled the same way)
  // The reference schedules only its first parameter group: the prompt keeps
  // prompt_lr forever (docs/epalm.md, Optimizer and schedule). Default: both groups follow the schedule.
  bool reference_fixed_prompt_lr = false;

  // Learning rate at optimizer step `step` for a group whose base rate is `base`:
  // linear from warmup_start_lr to base over warmup_steps, then cosine to min_lr
  // at total_steps (warmup_start_lr and min_lr are given for base == lr and scale with it).
  double lr_at(std::int64_t step, double base, double lr) const;
};

// One micro-batch: the selected encoder features (or cached ones) and the text.
struct Batch {
  at::Tensor features;        // [B, levels, encoder_hidden]
  at::Tensor input_ids;       // [B, T]
  at::Tensor attention_mask;  // [B, T]
  at::Tensor labels;          // [B, T], -100 where no loss
};

// Where micro-batches come from. Deterministic: the batch at a position is a
// function of the position (and the source's own seed), so resuming at a
// position replays the same data.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual Batch batch_at(std::int64_t position) = 0;
};

struct TrainSettings {
  int accumulation = 1;    // micro-batches per optimizer step
  double clip_norm = 0.0;  // 0: no clipping
  models::LossSettings loss;
};

struct StepResult {
  std::int64_t step = 0;  // optimizer steps done after this one
  double loss = 0;        // over the step's micro-batches (of every rank)
  double grad_norm = 0;   // before clipping
  double lr = 0;          // connector group's
};

// Data parallel when given a communicator of several ranks: every rank trains
// on its own micro-batches, the trainables' gradients and the loss
// normalizers (batch sizes or target tokens) are summed in one all_reduce
// per optimizer step (GradientBucket), so N ranks equal one rank at the same
// global batch. Without one (or with one rank) it trains alone.
class Trainer;

// One optimizer step of several trainers whose models share one frozen
// decoder, reading one data stream (`sources[k]` may give trainer k its own
// features of the same samples): each micro-batch's losses come from one
// packed decoder pass for all that take it (models/packed_training.h) and
// one backward; then each trainer reduces and steps as step() does. Equal
// to stepping each alone up to fp32 rounding (the frozen layers' products
// run over more rows at once). A pass takes at most `variants_per_pass`
// trainers (0: all): each keeps its variants' decoder activations until its
// backward, so more variants run in several passes over the same micro-batch
// (the encoder's features are the sources' own, computed once either way).
// The default bounds an 8-variant job's memory (docs/training.md, `--fused-pass`).
constexpr std::size_t kVariantsPerJointPass = 4;
std::vector<StepResult> step_together(const std::vector<Trainer*>& trainers, const std::vector<BatchSource*>& sources,
                                      std::size_t variants_per_pass = kVariantsPerJointPass);

class Trainer {
 public:
  Trainer(models::EpalmModel& model, OptimizerSettings optimizer, ScheduleSettings schedule, TrainSettings train,
          parallel::Communicator* communicator = nullptr);
  ~Trainer();

  // One optimizer step over `accumulation` micro-batches (the packed pass
  // where the model and batch take it: models/packed_training.h).
  StepResult step(BatchSource& data);
  std::int64_t steps_done() const;
  std::int64_t data_position() const;  // next micro-batch position

  // Trainables, AdamW moments, step and data position, the CPU RNG state (and
  // the GPU generator's on a GPU), `config_text` (the resolved configuration)
  // and the decoder's weight fingerprint, in one safetensors file written atomically.
  void save_checkpoint(const std::string& path, const std::string& config_text) const;
  // Restores all of it; throws epalm::Error naming the file when it was
  // trained on other base weights or other trainables.
  void load_checkpoint(const std::string& path);

 private:
  friend std::vector<StepResult> step_together(const std::vector<Trainer*>&, const std::vector<BatchSource*>&,
                                               std::size_t);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A trainer checkpoint's resolved configuration (the text save_checkpoint
// stored). Throws epalm::Error naming the file when it is not one.
std::string read_checkpoint_config(const std::string& path);
// Loads a trainer checkpoint's trainables into `model` (generation,
// evaluation): refuses other base weights or other trainables, naming the file.
void load_trainables(const std::string& path, models::EpalmModel& model);

}  // namespace epalm::train
