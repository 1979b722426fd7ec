// Video frames for TimeSformer: which frames to take (eP-ALM's
// dataset/video_utils.py get_frame_indices rules) and how to turn decoded
// uint8 frames into pixel values (Hugging Face's VideoMAEImageProcessor, the
// processor of the TimeSformer checkpoints). Decoding is the caller's.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace epalm::media {

enum class FrameSampling {
  // eP-ALM's 'middle' (evaluation): split [0, length) into num_frames
  // intervals (np.linspace(0, length, n + 1).astype(int)) and take each
  // interval's (start + end - 1) / 2.
  kMiddle,
  // eP-ALM's 'rand' (training): one frame drawn uniformly from
  // [start, end - 2] in each interval, from `seed`; when an interval is too
  // short for that, a sorted random subset of all frames, as the reference's
  // fallback does.
  kRandom,
};

// "middle" or "rand"/"random"; throws UsageError otherwise.
FrameSampling parse_frame_sampling(const std::string& name);

// num_frames indices into a video of `video_length` frames, ascending;
// videos shorter than num_frames repeat their last sampled frame (reference
// padding). Throws epalm::Error for an empty video or num_frames < 1.
std::vector<std::int64_t> sample_frame_indices(std::int64_t num_frames, std::int64_t video_length,
                                               FrameSampling sampling, std::uint64_t seed = 0);

// VideoMAEImageProcessor settings, as preprocessor_config.json holds them.
struct VideoPreprocessConfig {
  bool do_resize = true;
  std::int64_t shortest_edge = 224;    // size {"shortest_edge": s}, or
  std::int64_t resize_height = 0;      // size {"height": h, "width": w} when > 0
  std::int64_t resize_width = 0;
  bool do_center_crop = true;
  std::int64_t crop_height = 224;
  std::int64_t crop_width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  // The current facebook/timesformer-base-finetuned-k400/-k600 values; older
  // hub revisions (and HF's tests) used 0.5/0.5: read the file you pin.
  std::array<double, 3> image_mean = {0.45, 0.45, 0.45};
  std::array<double, 3> image_std = {0.225, 0.225, 0.225};

  // Reads preprocessor_config.json; throws epalm::Error naming the file.
  // Only bilinear resampling (PIL resample 2) is supported.
  static VideoPreprocessConfig from_json_file(const std::string& path);
  void validate(const std::string& where) const;
};

// (height, width) after the resize step (HF get_resize_output_image_size).
std::array<std::int64_t, 2> resized_size(std::int64_t height, std::int64_t width, const VideoPreprocessConfig& config);

// frames: uint8 [T, H, W, 3] (decoded RGB) -> float32 [T, 3, crop_h, crop_w]
// on the frames' device: resize (PIL's bilinear resampling reproduced bit for
// bit: its antialiased triangle filter in 22-bit fixed point, horizontal pass
// then vertical, each rounded to uint8), center crop (zero padding when
// smaller, as HF), rescale, normalize. Stack clips to HF's [B, T, 3, H, W].
at::Tensor preprocess_video(const at::Tensor& frames, const VideoPreprocessConfig& config = {});

}  // namespace epalm::media
