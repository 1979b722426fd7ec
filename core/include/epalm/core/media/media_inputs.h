// One sample's model input, from its media file, as the eP-ALM reference
// builds it (docs/epalm.md, Inputs):
//   image  [3, S, S] float32: Resize((S, S), bicubic) (PIL's resampling) ->
//          ToTensor -> CLIP Normalize; training: RandomResizedCrop(S, scale
//          (0.5, 1), bicubic) -> RandomHorizontalFlip instead of the resize,
//          then ALBEF's RandomAugment(2, 7) on the 8-bit picture.
//   video  [T, 3, S, S] float32 (the TimeSformer's per-clip layout): T frames
//          sampled by the reference's rules; torchvision's tensor
//          Resize((S, S), bicubic, no antialias) -> /255 -> CLIP Normalize;
//          training: RandomResizedCrop + flip + torchvision's RandAugment()
//          on the uint8 clip, the same for every frame.
//   audio  [L, M] float32: channel 0 of the mean-removed waveform, Kaldi fbank
//          at the file's rate (M mel bins), zero-padded or cut to L frames,
//          (x + 4.2677393) / (2 * 4.5689974); training: SpecAugment (one
//          frequency mask of width < 24, one time mask < 96) before normalizing.
// Randomness (crops, flips, RandAugment, frames, masks) comes from augment::sample_seed(seed,
// epoch, index) only.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "epalm/core/augment/augmentations.h"
#include "epalm/core/data/datasets.h"
#include "epalm/core/augment/rand_augment.h"
#include "epalm/core/media/video_preprocessing.h"

namespace epalm::media {

struct MediaSettings {
  data::Modality modality = data::Modality::kImage;
  bool train_augment = false;  // crops and flips (image, video), SpecAugment (audio)
  std::int64_t image_size = 224;
  double crop_scale_min = 0.5, crop_scale_max = 1.0;
  bool horizontal_flip = true;  // with train_augment
  // With train_augment: ALBEF's RandomAugment (images), torchvision's RandAugment (video).
  bool rand_augment = true;
  std::int64_t num_frames = 8;  // the reference: 8 (QA), 16 (captioning)
  // The reference samples 'rand' at training and test time; evaluation here
  // defaults to the deterministic 'middle' (docs/epalm.md, Decisions).
  media::FrameSampling frame_sampling = media::FrameSampling::kMiddle;
  std::int64_t mel_bins = 128;
  std::int64_t target_length = 1024;
  std::int64_t freq_mask = 24, time_mask = 96;  // SpecAugment widths, with train_augment

  // The reference's settings for a task (vqa, msrvtt-caption, ...), training or not.
  static MediaSettings for_task(const std::string& task, bool train);
  void validate() const;  // throws UsageError
  // The shape of one sample's input, without the batch dimension.
  std::vector<std::int64_t> input_shape() const;
};

// The model input of `sample` for the generator seeded `sample_seed`.
at::Tensor media_input(const data::Sample& sample, const MediaSettings& settings, std::uint64_t sample_seed);

// The steps, on decoded media (for tests and other callers):
// image [H, W, 3] uint8 -> [3, S, S]; `crop` (training) or the whole image;
// `rand_augment` (training) after the flip.
at::Tensor image_input(const at::Tensor& image, const MediaSettings& settings, const augment::CropBox* crop,
                       bool flip, const augment::AlbefRandAugment* rand_augment = nullptr);
// frames [T, H, W, 3] uint8 -> [T, 3, S, S].
at::Tensor video_input(const at::Tensor& frames, const MediaSettings& settings, const augment::CropBox* crop,
                       bool flip, const augment::TorchvisionRandAugment* rand_augment = nullptr);
// waveform [channels, samples] float32 -> [L, M]; masks (training) or none.
at::Tensor audio_input(const at::Tensor& waveform, double sample_rate, const MediaSettings& settings,
                       const augment::MaskBand* freq_mask, const augment::MaskBand* time_mask);

}  // namespace epalm::media
