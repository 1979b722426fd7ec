#include "epalm/experiments/training_run.h"

#include <filesystem>
#include <utility>

#include "epalm/core/error.h"
#include "epalm/core/media/media_inputs.h"
#include "epalm/core/models/load_encoder.h"
#include "epalm/experiments/fused_training.h"

namespace epalm::experiments {

namespace fs = std::filesystem;

std::string checkpoint_path(const std::string& output_dir) {
  return (fs::path(output_dir) / "checkpoint.safetensors").string();
}

media::MediaSettings media_settings(const TrainingRunSettings& s, bool train) {
  auto media = media::MediaSettings::for_task(s.data.task, train);
  media.rand_augment = s.rand_augment;
  const auto geometry = models::encoder_input_geometry(s.encoder);
  if (geometry.image_size > 0) media.image_size = geometry.image_size;
  if (geometry.mel_bins > 0) media.mel_bins = geometry.mel_bins;
  if (geometry.audio_frames > 0) media.target_length = geometry.audio_frames;
  return media;
}

TrainingRunOutcome run_training(const TrainingRunSettings& settings, parallel::Communicator* communicator,
                                const std::function<void(const StepReport&)>& on_step,
                                const std::function<void(const ValidationReport&)>& on_validation) {
  // A run alone is a fused job of one variant: one training loop for both.
  auto outcomes = run_fused_training(
      {settings}, communicator, [&](std::size_t, const StepReport& r) { if (on_step) on_step(r); },
      [&](std::size_t, const ValidationReport& v) { if (on_validation) on_validation(v); });
  if (!outcomes.front().failure.empty()) {
    throw Error("training", "the run diverged: " + outcomes.front().failure +
                                "; the checkpoint keeps the last one saved (a lower --lr or --clip-norm may help)");
  }
  return std::move(outcomes.front().outcome);
}

}  // namespace epalm::experiments
