// Clips of one to three sine tones in order, with silence around them, and
// their WAV files. Each tone has its own pitch; a clip's tones share one length
// and one loudness (docs/toy-world.md: with each tone's own, eP-ALM's one
// perceptual token named the number of tones but not which tone was loud or
// long, though the AST's features held both).
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "epalm/core/error.h"
#include "world_model.h"

namespace epalm::experiments::toy {

namespace {

constexpr std::int64_t kLead = kAudioRate / 20;                       // 50 ms of silence first
constexpr std::int64_t kGap = kAudioRate / 20;                        // 50 ms between tones
constexpr std::int64_t kLength[] = {kAudioRate * 3 / 20, kAudioRate * 7 / 20};  // short 150 ms, long 350 ms
constexpr double kAmplitude[] = {0.15, 0.6};                          // quiet, loud
constexpr std::int64_t kFade = kAudioRate / 100;                      // 10 ms raised-cosine ends: no clicks

}  // namespace

ToneClip sample_tone_clip(Rng& rng) {
  ToneClip clip;
  const int count = rng.between(1, 3);
  const int length = rng.below(2), loudness = rng.below(2);
  std::int64_t at = kLead;
  for (int k = 0; k < count; ++k) {
    Tone t;
    t.pitch = rng.below(static_cast<int>(pitch_names().size()));
    t.length = length;
    t.loudness = loudness;
    t.start = at;
    t.end = at + kLength[t.length];
    at = t.end + kGap;
    clip.tones.push_back(t);
  }
  return clip;
}

std::vector<std::int16_t> synthesize(const ToneClip& clip, std::int64_t samples) {
  std::vector<std::int16_t> out(static_cast<std::size_t>(samples), 0);
  const double pi = std::acos(-1.0);
  for (const auto& t : clip.tones) {
    const double hz = pitch_hertz()[static_cast<std::size_t>(t.pitch)];
    const std::int64_t n = t.end - t.start;
    for (std::int64_t i = 0; i < n && t.start + i < samples; ++i) {
      double envelope = 1;
      const std::int64_t edge = std::min(i, n - 1 - i);
      if (edge < kFade) envelope = 0.5 - 0.5 * std::cos(pi * static_cast<double>(edge) / kFade);
      const double v = kAmplitude[t.loudness] * envelope * std::sin(2 * pi * hz * static_cast<double>(i) / kAudioRate);
      out[static_cast<std::size_t>(t.start + i)] = static_cast<std::int16_t>(std::lround(32767 * v));
    }
  }
  return out;
}

void write_wav(const std::vector<std::int16_t>& samples, int rate, const std::string& path) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* raw = sf_open(path.c_str(), SFM_WRITE, &info);
  if (raw == nullptr) throw Error(path, std::string("cannot create the WAV file: ") + sf_strerror(nullptr));
  const std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> file(raw, sf_close);
  const auto written = sf_write_short(raw, samples.data(), static_cast<sf_count_t>(samples.size()));
  if (written != static_cast<sf_count_t>(samples.size())) {
    throw Error(path, std::string("cannot write the samples: ") + sf_strerror(raw));
  }
}

}  // namespace epalm::experiments::toy
