// Video files through FFmpeg: demux (libavformat), decode (libavcodec, one
// thread: the data loader decodes several clips at once), convert to RGB24
// (libswscale, bilinear, the frame's own colour space and range).
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <functional>
#include <map>
#include <memory>

#include "epalm/core/error.h"
#include "epalm/core/media/media.h"

namespace epalm::media {

namespace {

std::string av_message(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

struct InputCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecCloser {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct ScaleFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

// An opened file and its best video stream.
struct VideoFile {
  std::unique_ptr<AVFormatContext, InputCloser> format;
  int stream = -1;

  explicit VideoFile(const std::string& path) {
    AVFormatContext* raw = nullptr;
    if (const int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr); rc < 0) {
      throw Error(path, "cannot open the video: " + av_message(rc));
    }
    format.reset(raw);
    // FFmpeg's probe reads any text file as ANSI art ("tty"): not a video.
    if (std::string(raw->iformat->name) == "tty") throw Error(path, "cannot open the video: not a video file");
    if (const int rc = avformat_find_stream_info(raw, nullptr); rc < 0) {
      throw Error(path, "cannot read the video's streams: " + av_message(rc));
    }
    stream = av_find_best_stream(raw, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (stream < 0) throw Error(path, "has no video stream");
  }
  AVStream* video() const { return format->streams[stream]; }
};

}  // namespace

VideoInfo probe_video(const std::string& path) {
  VideoFile file(path);
  VideoInfo info;
  info.width = file.video()->codecpar->width;
  info.height = file.video()->codecpar->height;
  info.fps = av_q2d(av_guess_frame_rate(file.format.get(), file.video(), nullptr));
  std::unique_ptr<AVPacket, PacketFree> packet(av_packet_alloc());
  int rc = 0;
  while ((rc = av_read_frame(file.format.get(), packet.get())) >= 0) {
    if (packet->stream_index == file.stream) ++info.frame_count;
    av_packet_unref(packet.get());
  }
  if (rc != AVERROR_EOF) throw Error(path, "cannot read the video: " + av_message(rc));
  if (info.frame_count == 0) throw Error(path, "the video has no frames");
  return info;
}

namespace {

// The next packet of the video stream into `packet`, or false at the end.
using PacketSource = std::function<bool(AVPacket* packet)>;

// Decodes `file`'s video stream from `next_packet` up to the last of `indices`.
std::vector<RgbImage> decode_frames(const std::string& path, const VideoFile& file, const std::vector<std::int64_t>& indices,
                                    const PacketSource& next_packet) {
  if (indices.empty()) return {};
  // frame index -> the output slots that want it
  std::map<std::int64_t, std::vector<std::size_t>> wanted;
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 0) throw Error(path, "negative frame index " + std::to_string(indices[i]));
    wanted[indices[i]].push_back(i);
  }
  const std::int64_t last = wanted.rbegin()->first;

  const AVCodec* codec = avcodec_find_decoder(file.video()->codecpar->codec_id);
  if (codec == nullptr) throw Error(path, "no decoder for the video's codec");
  std::unique_ptr<AVCodecContext, CodecCloser> decoder(avcodec_alloc_context3(codec));
  avcodec_parameters_to_context(decoder.get(), file.video()->codecpar);
  decoder->thread_count = 1;
  if (const int rc = avcodec_open2(decoder.get(), codec, nullptr); rc < 0) {
    throw Error(path, "cannot open the video decoder: " + av_message(rc));
  }
  std::unique_ptr<AVPacket, PacketFree> packet(av_packet_alloc());
  std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
  std::unique_ptr<SwsContext, ScaleFree> scale;
  std::vector<RgbImage> out(indices.size());
  std::int64_t next = 0;  // index of the next decoded frame

  auto take = [&](AVFrame* f) {
    const auto found = wanted.find(next++);
    if (found == wanted.end()) return;
    RgbImage image;
    image.height = f->height;
    image.width = f->width;
    // libswscale's SIMD writers may run past the last row's end: convert into
    // a padded buffer, then drop the padding (shrinking keeps the allocation).
    const auto bytes = static_cast<std::size_t>(f->height) * f->width * 3;
    image.pixels.resize(bytes + 64);
    scale.reset(sws_getCachedContext(scale.release(), f->width, f->height, static_cast<AVPixelFormat>(f->format),
                                     f->width, f->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr));
    if (!scale) throw Error(path, "cannot convert the video's pixel format to RGB");
    const int colorspace = f->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : static_cast<int>(f->colorspace);
    const int full_range = f->color_range == AVCOL_RANGE_JPEG ? 1 : 0;
    int* inv_table = nullptr;
    int* table = nullptr;
    int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
    if (sws_getColorspaceDetails(scale.get(), &inv_table, &src_range, &table, &dst_range, &brightness, &contrast,
                                 &saturation) >= 0) {
      sws_setColorspaceDetails(scale.get(), sws_getCoefficients(colorspace), full_range || src_range,
                               table, dst_range, brightness, contrast, saturation);
    }
    std::uint8_t* planes[4] = {image.pixels.data(), nullptr, nullptr, nullptr};
    int strides[4] = {static_cast<int>(f->width * 3), 0, 0, 0};
    sws_scale(scale.get(), f->data, f->linesize, 0, f->height, planes, strides);
    image.pixels.resize(bytes);
    for (std::size_t k = 0; k + 1 < found->second.size(); ++k) out[found->second[k]] = image;
    out[found->second.back()] = std::move(image);
  };
  auto drain = [&]() {
    while (true) {
      const int rc = avcodec_receive_frame(decoder.get(), frame.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) throw Error(path, "cannot decode frame " + std::to_string(next) + ": " + av_message(rc));
      take(frame.get());
      av_frame_unref(frame.get());
    }
  };

  while (next <= last && next_packet(packet.get())) {
    const int sent = avcodec_send_packet(decoder.get(), packet.get());
    av_packet_unref(packet.get());
    if (sent < 0 && sent != AVERROR(EAGAIN)) {
      throw Error(path, "cannot decode frame " + std::to_string(next) + ": " + av_message(sent));
    }
    drain();
  }
  if (next <= last) {
    avcodec_send_packet(decoder.get(), nullptr);  // flush the frames the decoder holds back
    drain();
  }
  if (next <= last) {
    throw Error(path, "frame " + std::to_string(last) + " asked for, but the video has " + std::to_string(next) + " frames");
  }
  return out;
}

}  // namespace

std::vector<RgbImage> read_video_frames(const std::string& path, const std::vector<std::int64_t>& indices) {
  if (indices.empty()) return {};
  VideoFile file(path);
  return decode_frames(path, file, indices, [&](AVPacket* packet) {
    while (true) {
      const int rc = av_read_frame(file.format.get(), packet);
      if (rc == AVERROR_EOF) return false;
      if (rc < 0) throw Error(path, "cannot read the video: " + av_message(rc));
      if (packet->stream_index == file.stream) return true;
      av_packet_unref(packet);
    }
  });
}

std::vector<RgbImage> read_chosen_video_frames(const std::string& path,
                                               const std::function<std::vector<std::int64_t>(std::int64_t)>& choose) {
  VideoFile file(path);
  // Demux once: the packets give the length, then feed the decoder.
  std::vector<std::unique_ptr<AVPacket, PacketFree>> packets;
  while (true) {
    std::unique_ptr<AVPacket, PacketFree> packet(av_packet_alloc());
    const int rc = av_read_frame(file.format.get(), packet.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) throw Error(path, "cannot read the video: " + av_message(rc));
    if (packet->stream_index == file.stream) packets.push_back(std::move(packet));
  }
  if (packets.empty()) throw Error(path, "the video has no frames");
  const auto indices = choose(static_cast<std::int64_t>(packets.size()));
  if (indices.empty()) return {};
  std::size_t position = 0;
  return decode_frames(path, file, indices, [&](AVPacket* packet) {
    if (position == packets.size()) return false;
    av_packet_move_ref(packet, packets[position++].get());
    return true;
  });
}

}  // namespace epalm::media
