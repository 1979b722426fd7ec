// The toy world's things (shapes, motions, tones), how each is drawn at
// random, rendered and encoded, and the language that describes them. One
// concern per source file: vocabulary.cpp (names, colours), canvas.cpp
// (drawing), images.cpp, video.cpp, audio.cpp, language.cpp (captions and
// questions); the datasets' files are written by *_datasets.cpp and
// world_writer.cpp (world_writer.h), the cache by world_cache.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rng.h"

namespace epalm::experiments::toy {

// --- the world's vocabulary (docs/toy-world.md) --------------------------------
struct Rgb {
  std::uint8_t r, g, b;
};
struct NamedColor {
  const char* name;
  Rgb rgb;
};
const std::vector<NamedColor>& colors();       // red, orange, yellow, green, blue, purple
const std::vector<std::string>& shape_names();  // circle, square, triangle, diamond
const std::vector<std::string>& quadrant_names();  // top left, top right, bottom left, bottom right
const std::vector<std::string>& size_names();      // small, large
const std::vector<std::string>& direction_names();  // left, right, up, down
const std::vector<std::string>& speed_names();      // slow, fast
const std::vector<std::string>& pitch_names();      // low, medium, high
const std::vector<double>& pitch_hertz();           // 300, 600, 1200
const std::vector<std::string>& length_names();     // short, long
const std::vector<std::string>& loudness_names();   // quiet, loud
constexpr Rgb kBackground{24, 24, 24};

// --- drawing (canvas.cpp) ----------------------------------------------------------
struct Canvas {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // rows top to bottom, pixels interleaved
  Canvas(int w, int h, Rgb fill);
};
// Whether the point (dx, dy) from a shape's centre is inside it; `radius` is
// its half extent. The centre is inside every shape.
bool inside_shape(int shape, double dx, double dy, double radius);
// Paints the pixels whose centres are inside the shape (hard edges).
void draw_shape(Canvas& canvas, int shape, Rgb color, double cx, double cy, double radius);

// --- images (images.cpp) -----------------------------------------------------------
struct ShapeObject {
  int shape = 0, color = 0, size = 0, quadrant = 0;  // indices into the name lists
  double cx = 0, cy = 0, radius = 0;                 // pixels
};
// A picture holds one to this many shapes, each in its own quadrant.
inline constexpr int kMaxPictureShapes = 3;

struct ImageScene {
  std::vector<ShapeObject> objects;  // 1..4, each in its own quadrant, (color, shape) pairs distinct
};
ImageScene sample_image_scene(Rng& rng, int image_size);
Canvas render_image(const ImageScene& scene, int image_size);
// Baseline JPEG, quality 95, no chroma subsampling (libjpeg).
void write_jpeg(const Canvas& canvas, const std::string& path);

// --- video (video.cpp) -------------------------------------------------------------
struct MotionClip {
  ShapeObject mover;         // cx, cy: its centre in the first frame
  int direction = 0, speed = 0;
  double step = 0;           // pixels per frame
  bool has_still = false;
  ShapeObject still;         // a second shape that does not move, when has_still
  // The mover's centre in frame `frame` (0 first).
  void position(int frame, double& x, double& y) const;
};
constexpr int kVideoFps = 8;
MotionClip sample_motion_clip(Rng& rng, int video_size, int frames);
Canvas render_frame(const MotionClip& clip, int video_size, int frame);
// MPEG-4 part 2 in MP4 (libavformat/libavcodec), yuv420p, every frame a packet,
// bit-exact flags so the same frames give the same bytes.
void write_mp4(const std::vector<Canvas>& frames, int fps, const std::string& path);

// --- audio (audio.cpp) -------------------------------------------------------------
struct Tone {
  int pitch = 0, length = 0, loudness = 0;
  std::int64_t start = 0, end = 0;  // samples
};
struct ToneClip {
  std::vector<Tone> tones;  // 1..3, in time order
};
constexpr int kAudioRate = 16000;
ToneClip sample_tone_clip(Rng& rng);
std::vector<std::int16_t> synthesize(const ToneClip& clip, std::int64_t samples);
// 16-bit PCM mono WAV (libsndfile).
void write_wav(const std::vector<std::int16_t>& samples, int rate, const std::string& path);

// --- language (language.cpp) -------------------------------------------------------
struct Question {
  std::string text, answer;
  std::string type;         // VQA-style question type: "what color is the", "how many", ...
  std::string answer_type;  // "other", "number" or "yes/no"
};
std::vector<std::string> image_captions(const ImageScene& scene, Rng& rng);
// The VQA-style questions about a picture: colour, shape, count, position and
// yes/no. Sizes are in the captions but not asked: a question the encoders'
// labels do not cover would only dilute the comparison with answers at the prior.
std::vector<Question> image_questions(const ImageScene& scene, Rng& rng);
std::vector<std::string> video_captions(const MotionClip& clip, Rng& rng);
std::vector<Question> video_questions(const MotionClip& clip, Rng& rng);
std::vector<std::string> audio_captions(const ToneClip& clip, Rng& rng);

}  // namespace epalm::experiments::toy
