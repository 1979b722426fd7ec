// Audio files through libsndfile, as float samples at the file's own rate
// (libsndfile scales integer PCM by 1/2^(bits-1), as torchaudio.load does).
#include <sndfile.h>

#include <memory>

#include "epalm/core/error.h"
#include "epalm/core/media/media.h"

namespace epalm::media {

Waveform read_audio(const std::string& path) {
  SF_INFO info{};
  SNDFILE* raw = sf_open(path.c_str(), SFM_READ, &info);
  if (raw == nullptr) throw Error(path, std::string("cannot open the audio: ") + sf_strerror(nullptr));
  const std::unique_ptr<SNDFILE, int (*)(SNDFILE*)> file(raw, sf_close);
  if (info.channels < 1 || info.frames < 1) throw Error(path, "the audio has no samples");
  std::vector<float> interleaved(static_cast<std::size_t>(info.frames) * info.channels);
  const sf_count_t read = sf_readf_float(raw, interleaved.data(), info.frames);
  if (read != info.frames) {
    throw Error(path, "cannot read the audio: " + std::to_string(read) + " of " + std::to_string(info.frames) +
                          " frames (" + sf_strerror(raw) + ")");
  }
  Waveform out;
  out.channels = info.channels;
  out.frames = info.frames;
  out.sample_rate = info.samplerate;
  out.samples.resize(interleaved.size());
  for (std::int64_t t = 0; t < out.frames; ++t) {
    for (std::int64_t c = 0; c < out.channels; ++c) out.samples[c * out.frames + t] = interleaved[t * out.channels + c];
  }
  return out;
}

}  // namespace epalm::media
