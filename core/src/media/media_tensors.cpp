// The decoders' arrays as CPU tensors.
#include <torch/torch.h>

#include "epalm/core/error.h"
#include "epalm/core/media/media.h"

namespace epalm::media {

namespace {

at::Tensor image_tensor(RgbImage&& image) {
  auto* owned = new std::vector<std::uint8_t>(std::move(image.pixels));
  return torch::from_blob(owned->data(), {image.height, image.width, 3},
                          [owned](void*) { delete owned; }, torch::kUInt8);
}

}  // namespace

at::Tensor decode_image(const std::string& path) { return image_tensor(read_image(path)); }

namespace {

at::Tensor frames_tensor(const std::string& path, std::vector<RgbImage>&& frames) {
  if (frames.empty()) throw Error(path, "no frame indices asked for");
  const auto height = frames.front().height, width = frames.front().width;
  auto out = torch::empty({static_cast<std::int64_t>(frames.size()), height, width, 3}, torch::kUInt8);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].height != height || frames[i].width != width) throw Error(path, "the frames change size");
    std::memcpy(out[static_cast<std::int64_t>(i)].data_ptr(), frames[i].pixels.data(), frames[i].pixels.size());
  }
  return out;
}

}  // namespace

at::Tensor decode_video(const std::string& path, const std::vector<std::int64_t>& indices) {
  return frames_tensor(path, read_video_frames(path, indices));
}

at::Tensor decode_chosen_video_frames(const std::string& path, const std::function<std::vector<std::int64_t>(std::int64_t)>& choose) {
  return frames_tensor(path, read_chosen_video_frames(path, choose));
}

std::int64_t video_frame_count(const std::string& path) { return probe_video(path).frame_count; }

DecodedAudio decode_audio(const std::string& path) {
  auto wave = read_audio(path);
  auto* owned = new std::vector<float>(std::move(wave.samples));
  DecodedAudio out;
  out.waveform = torch::from_blob(owned->data(), {wave.channels, wave.frames}, [owned](void*) { delete owned; },
                                  torch::kFloat);
  out.sample_rate = wave.sample_rate;
  return out;
}

}  // namespace epalm::media
