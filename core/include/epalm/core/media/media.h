// Decoding media files into the arrays the preprocessing takes. Images:
// libjpeg-turbo and libpng (the format from the file's first bytes, not its
// name), as Pillow's Image.open(path).convert("RGB") gives them: JPEG with
// libjpeg's default (islow) IDCT and fancy upsampling, PNG without gamma,
// alpha dropped, 16-bit channels truncated to their high byte. Videos:
// FFmpeg (libavformat/libavcodec), frames converted to RGB by libswscale
// (bilinear, as PyAV's to_ndarray("rgb24")). Audio: libsndfile (WAV, FLAC,
// Ogg/Vorbis, MP3), samples as float in [-1, 1) at the file's own rate, as
// torchaudio.load / soundfile.read(dtype="float32") give them.
// Every failure is an epalm::Error naming the file.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace epalm::media {

// An 8-bit RGB picture, rows top to bottom, pixels interleaved.
struct RgbImage {
  std::int64_t height = 0, width = 0;
  std::vector<std::uint8_t> pixels;  // height * width * 3
};

RgbImage read_image(const std::string& path);
// The same bytes, already in memory; `name` is for errors.
RgbImage read_image(const std::vector<std::uint8_t>& bytes, const std::string& name);

// A video file's decoded frames in presentation order.
struct VideoInfo {
  std::int64_t frame_count = 0;  // video packets in the stream (decord's len(VideoReader))
  std::int64_t height = 0, width = 0;
  double fps = 0;
};
VideoInfo probe_video(const std::string& path);

// The frames at `indices` (any order, repeats allowed; each < frame_count),
// decoded in one pass: [indices.size()] pictures.
std::vector<RgbImage> read_video_frames(const std::string& path, const std::vector<std::int64_t>& indices);
// The frames `choose(frame_count)` picks, opening the file once (the
// packets are demuxed and counted first, then decoded up to the last pick).
std::vector<RgbImage> read_chosen_video_frames(const std::string& path,
                                               const std::function<std::vector<std::int64_t>(std::int64_t)>& choose);

struct Waveform {
  std::int64_t channels = 0, frames = 0;
  double sample_rate = 0;
  std::vector<float> samples;  // channel-major: channel c's samples at [c * frames, (c + 1) * frames)
};
Waveform read_audio(const std::string& path);

// As tensors (CPU): image [H, W, 3] uint8; video [T, H, W, 3] uint8; audio
// [channels, samples] float32 (+ its sample rate).
at::Tensor decode_image(const std::string& path);
at::Tensor decode_video(const std::string& path, const std::vector<std::int64_t>& indices);
at::Tensor decode_chosen_video_frames(const std::string& path, const std::function<std::vector<std::int64_t>(std::int64_t)>& choose);
std::int64_t video_frame_count(const std::string& path);
struct DecodedAudio {
  at::Tensor waveform;
  double sample_rate = 0;
};
DecodedAudio decode_audio(const std::string& path);

}  // namespace epalm::media
