// Clips of one shape moving in a straight line at a constant speed (and, in
// half of them, a second shape standing still), and their MP4 files.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include <algorithm>
#include <cmath>
#include <memory>

#include "epalm/core/error.h"
#include "world_model.h"

namespace epalm::experiments::toy {

namespace {

constexpr double kMoverRadius = 0.11;        // of the frame's side
constexpr double kTravel[] = {0.25, 0.55};   // slow, fast: the distance covered over the clip, of the side
constexpr int kDx[] = {-1, 1, 0, 0}, kDy[] = {0, 0, -1, 1};  // left, right, up, down

std::string av_message(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

struct OutputCloser {
  void operator()(AVFormatContext* c) const {
    if (c->pb != nullptr) avio_closep(&c->pb);
    avformat_free_context(c);
  }
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

// BT.601 limited range (what the decoder's libswscale assumes for this stream),
// chroma the mean of each 2x2 block.
void to_yuv420(const Canvas& canvas, AVFrame* frame) {
  const int w = canvas.width, h = canvas.height;
  auto pixel = [&](int x, int y, int c) { return static_cast<double>(canvas.rgb[(static_cast<std::size_t>(y) * w + x) * 3 + c]); };
  auto clamp8 = [](double v) { return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L)); };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double r = pixel(x, y, 0), g = pixel(x, y, 1), b = pixel(x, y, 2);
      frame->data[0][y * frame->linesize[0] + x] = clamp8(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
    }
  }
  for (int y = 0; y < h / 2; ++y) {
    for (int x = 0; x < w / 2; ++x) {
      double r = 0, g = 0, b = 0;
      for (int k = 0; k < 4; ++k) {
        r += pixel(2 * x + k % 2, 2 * y + k / 2, 0) / 4;
        g += pixel(2 * x + k % 2, 2 * y + k / 2, 1) / 4;
        b += pixel(2 * x + k % 2, 2 * y + k / 2, 2) / 4;
      }
      frame->data[1][y * frame->linesize[1] + x] = clamp8(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255);
      frame->data[2][y * frame->linesize[2] + x] = clamp8(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255);
    }
  }
}

}  // namespace

void MotionClip::position(int frame, double& x, double& y) const {
  x = mover.cx + kDx[direction] * step * frame;
  y = mover.cy + kDy[direction] * step * frame;
}

MotionClip sample_motion_clip(Rng& rng, int video_size, int frames) {
  MotionClip clip;
  auto& m = clip.mover;
  m.shape = rng.below(static_cast<int>(shape_names().size()));
  m.color = rng.below(static_cast<int>(colors().size()));
  m.radius = kMoverRadius * video_size;
  clip.direction = rng.below(4);
  clip.speed = rng.below(2);
  const double travel = kTravel[clip.speed] * video_size;
  clip.step = travel / (frames - 1);
  // The start: the whole path (and a pixel more) inside the frame.
  const double margin = m.radius + 1;
  const double along = margin + rng.uniform() * (video_size - 2 * margin - travel);
  const double across = margin + rng.uniform() * (video_size - 2 * margin);
  const bool horizontal = clip.direction < 2;
  const double start_along = kDx[clip.direction] + kDy[clip.direction] < 0 ? video_size - along : along;
  m.cx = std::floor(horizontal ? start_along : across) + 0.5;
  m.cy = std::floor(horizontal ? across : start_along) + 0.5;
  clip.has_still = rng.coin();
  if (clip.has_still) {
    auto& s = clip.still;
    do s.shape = rng.below(static_cast<int>(shape_names().size()));
    while (s.shape == m.shape);
    do s.color = rng.below(static_cast<int>(colors().size()));
    while (s.color == m.color);
    s.radius = m.radius;
    // Away from the box the mover sweeps; given up (no still shape) after a few tries.
    double x1, y1;
    clip.position(frames - 1, x1, y1);
    const double box_x0 = std::min(m.cx, x1) - m.radius, box_x1 = std::max(m.cx, x1) + m.radius;
    const double box_y0 = std::min(m.cy, y1) - m.radius, box_y1 = std::max(m.cy, y1) + m.radius;
    clip.has_still = false;
    for (int attempt = 0; attempt < 20 && !clip.has_still; ++attempt) {
      s.cx = std::floor(margin + rng.uniform() * (video_size - 2 * margin)) + 0.5;
      s.cy = std::floor(margin + rng.uniform() * (video_size - 2 * margin)) + 0.5;
      const double gap = s.radius + 2;
      clip.has_still = s.cx + gap < box_x0 || s.cx - gap > box_x1 || s.cy + gap < box_y0 || s.cy - gap > box_y1;
    }
  }
  return clip;
}

Canvas render_frame(const MotionClip& clip, int video_size, int frame) {
  Canvas canvas(video_size, video_size, kBackground);
  if (clip.has_still) draw_shape(canvas, clip.still.shape, colors()[clip.still.color].rgb, clip.still.cx, clip.still.cy, clip.still.radius);
  double x, y;
  clip.position(frame, x, y);
  draw_shape(canvas, clip.mover.shape, colors()[clip.mover.color].rgb, x, y, clip.mover.radius);
  return canvas;
}

void write_mp4(const std::vector<Canvas>& frames, int fps, const std::string& path) {
  if (frames.empty()) throw Error(path, "a clip needs frames");
  const int w = frames.front().width, h = frames.front().height;
  AVFormatContext* raw = nullptr;
  if (const int rc = avformat_alloc_output_context2(&raw, nullptr, "mp4", path.c_str()); rc < 0) {
    throw Error(path, "cannot start an MP4 file: " + av_message(rc));
  }
  std::unique_ptr<AVFormatContext, OutputCloser> format(raw);
  format->flags |= AVFMT_FLAG_BITEXACT;  // no library version or time in the file
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
  if (codec == nullptr) throw Error(path, "this FFmpeg has no MPEG-4 encoder");
  AVStream* stream = avformat_new_stream(format.get(), nullptr);
  std::unique_ptr<AVCodecContext, CodecCloser> encoder(avcodec_alloc_context3(codec));
  if (stream == nullptr || !encoder) throw Error(path, "out of memory");
  encoder->width = w;
  encoder->height = h;
  encoder->pix_fmt = AV_PIX_FMT_YUV420P;
  encoder->time_base = AVRational{1, fps};
  encoder->framerate = AVRational{fps, 1};
  encoder->gop_size = static_cast<int>(frames.size());
  encoder->max_b_frames = 0;  // one packet per frame, in order
  encoder->thread_count = 1;
  encoder->color_range = AVCOL_RANGE_MPEG;
  encoder->colorspace = AVCOL_SPC_SMPTE170M;
  encoder->flags |= AV_CODEC_FLAG_QSCALE | AV_CODEC_FLAG_BITEXACT;
  encoder->global_quality = FF_QP2LAMBDA * 2;  // near-lossless for flat colours
  if (format->oformat->flags & AVFMT_GLOBALHEADER) encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (const int rc = avcodec_open2(encoder.get(), codec, nullptr); rc < 0) {
    throw Error(path, "cannot open the MPEG-4 encoder: " + av_message(rc));
  }
  avcodec_parameters_from_context(stream->codecpar, encoder.get());
  stream->time_base = encoder->time_base;
  stream->avg_frame_rate = encoder->framerate;
  if (const int rc = avio_open(&format->pb, path.c_str(), AVIO_FLAG_WRITE); rc < 0) {
    throw Error(path, "cannot create the file: " + av_message(rc));
  }
  if (const int rc = avformat_write_header(format.get(), nullptr); rc < 0) {
    throw Error(path, "cannot write the MP4 header: " + av_message(rc));
  }
  std::unique_ptr<AVPacket, PacketFree> packet(av_packet_alloc());
  auto drain = [&] {
    int rc;
    while ((rc = avcodec_receive_packet(encoder.get(), packet.get())) >= 0) {
      packet->duration = 1;  // one frame: without it MP4 gives the last frame no time, and readers drop it
      av_packet_rescale_ts(packet.get(), encoder->time_base, stream->time_base);
      packet->stream_index = stream->index;
      if (const int wrc = av_interleaved_write_frame(format.get(), packet.get()); wrc < 0) {
        throw Error(path, "cannot write a packet: " + av_message(wrc));
      }
    }
    if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) throw Error(path, "cannot encode: " + av_message(rc));
  };
  std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = w;
  frame->height = h;
  if (const int rc = av_frame_get_buffer(frame.get(), 0); rc < 0) throw Error(path, "out of memory: " + av_message(rc));
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (const int rc = av_frame_make_writable(frame.get()); rc < 0) throw Error(path, av_message(rc));
    to_yuv420(frames[i], frame.get());
    frame->pts = static_cast<std::int64_t>(i);
    if (const int rc = avcodec_send_frame(encoder.get(), frame.get()); rc < 0) {
      throw Error(path, "cannot encode frame " + std::to_string(i) + ": " + av_message(rc));
    }
    drain();
  }
  avcodec_send_frame(encoder.get(), nullptr);
  drain();
  if (const int rc = av_write_trailer(format.get()); rc < 0) throw Error(path, "cannot finish the MP4: " + av_message(rc));
}

}  // namespace epalm::experiments::toy
