// The toy world's media through the real decoders, checked against what the
// labels say: each shape's colour at its centre, each clip's shape moving the
// stated way and distance, each tone's pitch (by a DFT here), length and
// loudness where the label puts it.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "epalm/core/media/media.h"
#include "toy_world_support.h"

namespace epalm {
namespace {

using testing::read_json_file;

struct Palette {
  std::map<std::string, std::array<int, 3>> colors;
  // The palette colour nearest to a pixel (background included).
  std::string nearest(const std::uint8_t* p) const {
    std::string best = "background";
    int best_distance = (p[0] - 24) * (p[0] - 24) + (p[1] - 24) * (p[1] - 24) + (p[2] - 24) * (p[2] - 24);
    for (const auto& [name, c] : colors) {
      const int d = (p[0] - c[0]) * (p[0] - c[0]) + (p[1] - c[1]) * (p[1] - c[1]) + (p[2] - c[2]) * (p[2] - c[2]);
      if (d < best_distance) best = name, best_distance = d;
    }
    return best;
  }
  // Whether a pixel is within `tolerance` (per channel, in RMS) of a palette colour:
  // a shape's interior after lossy coding, not the blends at its edges.
  bool close(const std::uint8_t* p, const std::string& name, int tolerance) const {
    const auto& c = colors.at(name);
    const int d = (p[0] - c[0]) * (p[0] - c[0]) + (p[1] - c[1]) * (p[1] - c[1]) + (p[2] - c[2]) * (p[2] - c[2]);
    return d <= 3 * tolerance * tolerance;
  }
};

// The palette as docs/toy-world.md gives it.
Palette palette() {
  return {{{"red", {220, 30, 30}}, {"orange", {250, 140, 20}}, {"yellow", {240, 230, 40}},
           {"green", {30, 170, 50}}, {"blue", {40, 80, 240}}, {"purple", {160, 50, 210}}}};
}

TEST(ToyWorldMedia, EveryImageShowsItsObjectsAtTheirCentres) {
  const auto& root = testing::default_world().root;
  const auto colors = palette();
  std::size_t images = 0, objects = 0;
  for (const char* split : {"train", "val", "test", "pretrain"}) {
    const auto labels = read_json_file(root + "/labels/image_" + std::string(split) + ".json");
    for (const auto& item : labels["items"]) {
      const auto image = media::read_image(root + "/" + item["media"].get<std::string>());
      ASSERT_EQ(image.height, 64);
      ASSERT_EQ(image.width, 64);
      ++images;
      EXPECT_EQ(colors.nearest(image.pixels.data()), "background") << item["media"];  // the top-left corner
      int count = 0;
      for (const auto& o : item["objects"]) {
        const int x = static_cast<int>(o["center"][0].get<double>()), y = static_cast<int>(o["center"][1].get<double>());
        const auto* p = &image.pixels[(static_cast<std::size_t>(y) * 64 + x) * 3];
        ASSERT_EQ(colors.nearest(p), o["color"].get<std::string>()) << item["media"] << " at " << x << "," << y;
        // And the quadrant named is where the centre is.
        const auto quadrant = std::string(y < 32 ? "top" : "bottom") + (x < 32 ? " left" : " right");
        ASSERT_EQ(quadrant, o["position"].get<std::string>()) << item["media"];
        ++count;
        ++objects;
      }
      ASSERT_EQ(count, item["count"].get<int>());
    }
  }
  EXPECT_EQ(images, 8500u);  // 2000 + 250 + 250, and 6000 for pretraining
  EXPECT_GT(objects, images * 2);
}

// The mean position of the pixels close to `color` (within 20 levels RMS).
bool centroid(const media::RgbImage& frame, const Palette& colors, const std::string& color, double& x, double& y) {
  double sx = 0, sy = 0, n = 0;
  for (std::int64_t r = 0; r < frame.height; ++r) {
    for (std::int64_t c = 0; c < frame.width; ++c) {
      if (!colors.close(&frame.pixels[static_cast<std::size_t>(r * frame.width + c) * 3], color, 20)) continue;
      sx += c + 0.5;
      sy += r + 0.5;
      ++n;
    }
  }
  if (n < 5) return false;
  x = sx / n;
  y = sy / n;
  return true;
}

TEST(ToyWorldMedia, EveryClipsShapeMovesAsStated) {
  const auto& root = testing::default_world().root;
  const auto colors = palette();
  std::size_t clips = 0;
  for (const char* split : {"train", "val", "test", "pretrain"}) {
    const auto labels = read_json_file(root + "/labels/video_" + std::string(split) + ".json");
    for (const auto& item : labels["items"]) {
      const auto path = root + "/" + item["media"].get<std::string>();
      const auto info = media::probe_video(path);
      const int frames = item["frames"].get<int>();
      ASSERT_EQ(info.frame_count, frames) << path;
      ASSERT_EQ(info.width, 64);
      ASSERT_NEAR(info.fps, labels["fps"].get<double>(), 1e-9) << path;
      const auto decoded = media::read_video_frames(path, {0, frames - 1});
      double x0, y0, x1, y1;
      const auto color = item["color"].get<std::string>();
      ASSERT_TRUE(centroid(decoded[0], colors, color, x0, y0)) << path;
      ASSERT_TRUE(centroid(decoded[1], colors, color, x1, y1)) << path;
      const double dx = x1 - x0, dy = y1 - y0;
      const double want_dx = item["end"][0].get<double>() - item["start"][0].get<double>();
      const double want_dy = item["end"][1].get<double>() - item["start"][1].get<double>();
      // The stated direction is the main axis of the motion seen, and its sign.
      const auto direction = item["direction"].get<std::string>();
      const std::string seen = std::abs(dx) > std::abs(dy) ? (dx < 0 ? "left" : "right") : (dy < 0 ? "up" : "down");
      ASSERT_EQ(seen, direction) << path;
      // The distance (slow 16 px, fast 35 px): pixels are in or out of a shape whole,
      // so the centroid of its pixels sits up to about a pixel from its true centre in
      // each frame (a triangle most, whose wide base gains or loses a row), plus the
      // codec's edges: 2 px.
      EXPECT_NEAR(dx, want_dx, 2.0) << path;
      EXPECT_NEAR(dy, want_dy, 2.0) << path;
      if (!item["still"].is_null()) {  // the still shape stays where it is
        double sx0, sy0, sx1, sy1;
        const auto still = item["still"]["color"].get<std::string>();
        ASSERT_TRUE(centroid(decoded[0], colors, still, sx0, sy0)) << path;
        ASSERT_TRUE(centroid(decoded[1], colors, still, sx1, sy1)) << path;
        EXPECT_NEAR(sx1, sx0, 0.5) << path;
        EXPECT_NEAR(sy1, sy0, 0.5) << path;
      }
      ++clips;
    }
  }
  EXPECT_EQ(clips, 2100u);  // 400 + 50 + 50, and 1600 for pretraining
}

// |sum_n x[n] e^{-2 pi i f n / rate}| over [begin, end).
double dft_magnitude(const std::vector<float>& x, std::int64_t begin, std::int64_t end, double hz, double rate) {
  double re = 0, im = 0;
  const double w = 2 * std::acos(-1.0) * hz / rate;
  for (std::int64_t n = begin; n < end; ++n) {
    re += x[static_cast<std::size_t>(n)] * std::cos(w * static_cast<double>(n));
    im -= x[static_cast<std::size_t>(n)] * std::sin(w * static_cast<double>(n));
  }
  return std::hypot(re, im);
}

TEST(ToyWorldMedia, EveryToneHasItsPitchLengthAndLoudness) {
  const auto& root = testing::default_world().root;
  std::size_t tones = 0;
  for (const char* split : {"train", "val", "test", "pretrain"}) {
    const auto labels = read_json_file(root + "/labels/audio_" + std::string(split) + ".json");
    const auto names = labels["classes"]["pitch"].get<std::vector<std::string>>();
    const auto hertz = labels["pitch_hertz"].get<std::vector<double>>();
    for (const auto& item : labels["items"]) {
      const auto path = root + "/" + item["media"].get<std::string>();
      const auto wave = media::read_audio(path);
      ASSERT_EQ(wave.sample_rate, 16000);
      ASSERT_EQ(wave.channels, 1);
      ASSERT_EQ(wave.frames, 24000);  // 1.5 s
      std::vector<bool> sounding(static_cast<std::size_t>(wave.frames), false);
      for (const auto& tone : item["tones"]) {
        const auto begin = tone["start"].get<std::int64_t>(), end = tone["end"].get<std::int64_t>();
        for (auto n = begin; n < end; ++n) sounding[static_cast<std::size_t>(n)] = true;
        // The dominant of the world's pitches over the tone is the stated one, by far.
        std::vector<double> magnitude;
        for (const double hz : hertz) magnitude.push_back(dft_magnitude(wave.samples, begin, end, hz, wave.sample_rate));
        const auto loudest = std::max_element(magnitude.begin(), magnitude.end()) - magnitude.begin();
        ASSERT_EQ(names[static_cast<std::size_t>(loudest)], tone["pitch"].get<std::string>()) << path;
        // Loudness: the RMS away from the 10 ms fades is amplitude / sqrt(2)
        // (quiet 0.15, loud 0.6), up to 16-bit rounding and a part-period window.
        double power = 0;
        const auto inner_begin = begin + 160, inner_end = end - 160;
        for (auto n = inner_begin; n < inner_end; ++n) power += double(wave.samples[n]) * wave.samples[n];
        const double rms = std::sqrt(power / static_cast<double>(inner_end - inner_begin));
        const double amplitude = tone["loudness"] == "loud" ? 0.6 : 0.15;
        EXPECT_NEAR(rms, amplitude / std::sqrt(2.0), 0.02 * amplitude) << path;
        // Length: short 150 ms, long 350 ms, and the samples just before and after are silent.
        EXPECT_EQ(end - begin, tone["length"] == "long" ? 5600 : 2400) << path;
        ++tones;
      }
      for (std::int64_t n = 0; n < wave.frames; ++n) {
        if (!sounding[static_cast<std::size_t>(n)]) {
          ASSERT_EQ(wave.samples[static_cast<std::size_t>(n)], 0.0f) << path << " sample " << n;
        }
      }
    }
  }
  EXPECT_GT(tones, 500u);
}

}  // namespace
}  // namespace epalm
