// The audio half of the world as AudioCaps ships it: clips
// audios/{split}/toy{N}.wav and annotation/audiocaps_caption_{train,val,test}.json
// (the training file one record per caption, the others one record per clip
// with all its captions), plus labels/audio_{split}.json.
#include <cstdio>

#include "world_model.h"
#include "world_writer.h"

namespace epalm::experiments::toy {

ModalityOutput write_audio_datasets(const WorldSpec& spec, const std::string& root) {
  const auto& sizes = spec.sizes;
  const std::vector<SplitSize> splits = {
      {"train", sizes.train_audio}, {"val", sizes.val_audio}, {"test", sizes.test_audio}};
  const std::int64_t samples = static_cast<std::int64_t>(sizes.audio_ms) * kAudioRate / 1000;
  ModalityOutput out;
  for (const auto& split : splits) {
    make_directories(root + "/audios/" + split.name);
    Json captions = Json::array();
    Json labels = {{"classes", {{"pitch", pitch_names()}, {"length", length_names()}, {"loudness", loudness_names()}}},
                   {"pitch_hertz", pitch_hertz()},
                   {"sample_rate", kAudioRate},
                   {"items", Json::array()}};
    for (int i = 0; i < split.count; ++i) {
      Rng rng(spec.seed, "audio/" + split.name, static_cast<std::uint64_t>(i));
      const auto clip = sample_tone_clip(rng);
      char name[32];
      std::snprintf(name, sizeof name, "toy%06d.wav", i);
      const std::string file = split.name + "/" + name;
      write_wav(synthesize(clip, samples), kAudioRate, root + "/audios/" + file);

      const auto described = audio_captions(clip, rng);
      if (split.name == "train") {
        for (const auto& c : described) captions.push_back({{"audio", file}, {"caption", c}});
        out.corpus.insert(out.corpus.end(), described.begin(), described.end());
        if (described.size() > 1) out.corpus.push_back(restated_corpus_line(described[1], described[0]));
      } else {
        captions.push_back({{"audio", file}, {"caption", described}});
      }
      Json tones = Json::array();
      for (const auto& t : clip.tones) {
        tones.push_back({{"pitch", pitch_names()[static_cast<std::size_t>(t.pitch)]},
                         {"length", length_names()[static_cast<std::size_t>(t.length)]},
                         {"loudness", loudness_names()[static_cast<std::size_t>(t.loudness)]},
                         {"start", t.start},
                         {"end", t.end}});
      }
      labels["items"].push_back({{"media", "audios/" + file},
                                 {"first_pitch", pitch_names()[static_cast<std::size_t>(clip.tones.front().pitch)]},
                                 {"first_pitch_id", clip.tones.front().pitch},
                                 {"tone_count", static_cast<int>(clip.tones.size())},
                                 {"tones", tones}});
    }
    write_json(root + "/annotation/audiocaps_caption_" + split.name + ".json", captions);
    write_json(root + "/labels/audio_" + split.name + ".json", labels);
    out.counts["audios/" + split.name] = split.count;
  }
  return out;
}

}  // namespace epalm::experiments::toy
