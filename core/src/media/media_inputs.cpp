// Decoded media to model inputs, the eP-ALM reference's transforms
// (docs/epalm.md, Inputs); see media_inputs.h.
#include "epalm/core/media/media_inputs.h"

#include <torch/torch.h>

#include "epalm/core/augment/albef_augment_ops.h"
#include "epalm/core/media/audio_features.h"
#include "epalm/core/error.h"
#include "epalm/core/media/image_preprocessing.h"
#include "epalm/core/media/media.h"
#include "epalm/core/augment/torchvision_augment_ops.h"

namespace epalm::media {

namespace {

const std::array<double, 3> kClipMean = {0.48145466, 0.4578275, 0.40821073};
const std::array<double, 3> kClipStd = {0.26862954, 0.26130258, 0.27577711};
constexpr double kAudioMean = -4.2677393;
constexpr double kAudioStd = 4.5689974;

// torchvision Normalize on a float32 tensor whose channels are at `dim`.
at::Tensor clip_normalize(const at::Tensor& x, std::int64_t dim) {
  std::vector<std::int64_t> shape(x.dim(), 1);
  shape[dim] = 3;
  const auto mean = torch::tensor({static_cast<float>(kClipMean[0]), static_cast<float>(kClipMean[1]),
                                   static_cast<float>(kClipMean[2])}).view(shape);
  const auto std = torch::tensor({static_cast<float>(kClipStd[0]), static_cast<float>(kClipStd[1]),
                                  static_cast<float>(kClipStd[2])}).view(shape);
  return (x - mean) / std;
}

void check_crop(const augment::CropBox& box, std::int64_t height, std::int64_t width, const std::string& where) {
  if (box.height < 1 || box.width < 1 || box.top < 0 || box.left < 0 || box.top + box.height > height ||
      box.left + box.width > width) {
    throw Error(where, "crop box outside the " + std::to_string(height) + "x" + std::to_string(width) + " picture");
  }
}

}  // namespace

MediaSettings MediaSettings::for_task(const std::string& task, bool train) {
  MediaSettings s;
  s.modality = data::task_modality(task);
  s.train_augment = train;
  s.num_frames = task.find("caption") != std::string::npos ? 16 : 8;
  s.frame_sampling = train ? media::FrameSampling::kRandom : media::FrameSampling::kMiddle;
  return s;
}

void MediaSettings::validate() const {
  if (image_size < 1) throw UsageError("image size", "must be positive");
  if (!(crop_scale_min > 0 && crop_scale_min <= crop_scale_max && crop_scale_max <= 1)) {
    throw UsageError("crop scale", "must satisfy 0 < min <= max <= 1");
  }
  if (num_frames < 1) throw UsageError("frames", "must be positive");
  if (mel_bins < 4) throw UsageError("mel bins", "must be at least 4");
  if (target_length < 1) throw UsageError("target length", "must be positive");
  if (freq_mask < 0 || time_mask < 0) throw UsageError("SpecAugment", "mask widths must be >= 0");
}

std::vector<std::int64_t> MediaSettings::input_shape() const {
  switch (modality) {
    case data::Modality::kImage: return {3, image_size, image_size};
    case data::Modality::kVideo: return {num_frames, 3, image_size, image_size};
    case data::Modality::kAudio: return {target_length, mel_bins};
  }
  return {};
}

at::Tensor image_input(const at::Tensor& image, const MediaSettings& settings, const augment::CropBox* crop, bool flip,
                       const augment::AlbefRandAugment* rand_augment) {
  auto picture = image;
  if (crop != nullptr) {
    check_crop(*crop, image.size(0), image.size(1), "image");
    picture = image.slice(0, crop->top, crop->top + crop->height).slice(1, crop->left, crop->left + crop->width);
  }
  // PIL's crop + resize(bicubic), ToTensor (float32 / 255), then Normalize.
  auto resized = resize_like_pil(picture.contiguous(), settings.image_size, settings.image_size, Resample::kBicubic);
  if (flip) resized = resized.flip({1});
  if (rand_augment != nullptr) {
    // ALBEF's RandomAugment works on the PIL image's numpy array, before ToTensor.
    resized = resized.to(torch::kCPU).contiguous().clone();
    augment::apply_albef_rand_augment(resized.data_ptr<std::uint8_t>(), resized.size(0), resized.size(1), *rand_augment,
                                      "image");
  }
  return clip_normalize(resized.to(torch::kFloat).div(255.0f).permute({2, 0, 1}), 0).contiguous();
}

at::Tensor video_input(const at::Tensor& frames, const MediaSettings& settings, const augment::CropBox* crop, bool flip,
                       const augment::TorchvisionRandAugment* rand_augment) {
  auto clip = frames.permute({0, 3, 1, 2});  // [T, 3, H, W] as the reference's decord tensor
  if (crop != nullptr) {
    check_crop(*crop, clip.size(2), clip.size(3), "video");
    clip = clip.slice(2, crop->top, crop->top + crop->height).slice(3, crop->left, crop->left + crop->width);
  }
  // torchvision (0.13) F.resize on a uint8 tensor: bicubic interpolate in
  // float32 without antialias, clamp, round back to uint8.
  auto resized = torch::nn::functional::interpolate(
      clip.to(torch::kFloat),
      torch::nn::functional::InterpolateFuncOptions()
          .size(std::vector<std::int64_t>{settings.image_size, settings.image_size})
          .mode(torch::kBicubic)
          .align_corners(false));
  resized = resized.clamp(0, 255).round().to(torch::kUInt8);
  if (flip) resized = resized.flip({3});
  if (rand_augment != nullptr) resized = augment::apply_torchvision_rand_augment(resized, *rand_augment, "video");
  return clip_normalize(resized.to(torch::kFloat).div(255.0f), 1).contiguous();
}

at::Tensor audio_input(const at::Tensor& waveform, double sample_rate, const MediaSettings& settings,
                       const augment::MaskBand* freq_mask, const augment::MaskBand* time_mask) {
  if (waveform.dim() != 2 || waveform.size(0) < 1) throw Error("audio", "waveform must be [channels, samples]");
  const auto centered = waveform.to(torch::kFloat) - waveform.to(torch::kFloat).mean();
  media::FbankOptions options;
  options.sample_rate = sample_rate;
  options.num_mel_bins = settings.mel_bins;
  auto fbank = media::kaldi_fbank(centered[0], options);  // [frames, mel bins]
  const auto frames = fbank.size(0);
  if (frames < settings.target_length) {
    fbank = torch::cat({fbank, torch::zeros({settings.target_length - frames, settings.mel_bins}, fbank.options())});
  } else if (frames > settings.target_length) {
    fbank = fbank.slice(0, 0, settings.target_length);
  }
  if (freq_mask != nullptr && freq_mask->end > freq_mask->start) fbank.slice(1, freq_mask->start, freq_mask->end).zero_();
  if (time_mask != nullptr && time_mask->end > time_mask->start) fbank.slice(0, time_mask->start, time_mask->end).zero_();
  return ((fbank - kAudioMean) / (kAudioStd * 2)).contiguous();
}

at::Tensor media_input(const data::Sample& sample, const MediaSettings& settings, std::uint64_t sample_seed) {
  augment::Random random(sample_seed);
  switch (settings.modality) {
    case data::Modality::kImage: {
      const auto image = media::decode_image(sample.media);
      if (!settings.train_augment) return image_input(image, settings, nullptr, false);
      const auto box = augment::random_resized_crop_box(image.size(0), image.size(1), random, settings.crop_scale_min,
                                                        settings.crop_scale_max);
      const bool flip = settings.horizontal_flip && random.coin();
      if (!settings.rand_augment) return image_input(image, settings, &box, flip);
      const auto draw = augment::sample_albef_rand_augment(random);
      return image_input(image, settings, &box, flip, &draw);
    }
    case data::Modality::kVideo: {
      const auto frame_seed = random.next();
      const auto frames = media::decode_chosen_video_frames(sample.media, [&](std::int64_t length) {
        return media::sample_frame_indices(settings.num_frames, length, settings.frame_sampling, frame_seed);
      });
      if (!settings.train_augment) return video_input(frames, settings, nullptr, false);
      const auto box = augment::random_resized_crop_box(frames.size(1), frames.size(2), random, settings.crop_scale_min,
                                                        settings.crop_scale_max);
      const bool flip = settings.horizontal_flip && random.coin();
      if (!settings.rand_augment) return video_input(frames, settings, &box, flip);
      const auto draw = augment::sample_torchvision_rand_augment(random);
      return video_input(frames, settings, &box, flip, &draw);
    }
    case data::Modality::kAudio: {
      const auto decoded = media::decode_audio(sample.media);
      if (!settings.train_augment) return audio_input(decoded.waveform, decoded.sample_rate, settings, nullptr, nullptr);
      const auto freq = augment::spec_augment_band(settings.mel_bins, settings.freq_mask, random);
      const auto time = augment::spec_augment_band(settings.target_length, settings.time_mask, random);
      return audio_input(decoded.waveform, decoded.sample_rate, settings, &freq, &time);
    }
  }
  return {};
}

}  // namespace epalm::media
