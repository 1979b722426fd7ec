// The audio half of the world as AudioCaps ships it: clips
// audios/{split}/toy{N}.wav and annotation/audiocaps_caption_{train,val,test}.json
// (the training file one record per caption, the others one record per clip
// with all its captions), plus labels/audio_{split}.json.
#include <cstdio>

#include "world_model.h"
#include "world_writer.h"

namespace epalm::experiments::toy {

namespace {

Json tone_classes() {
  return {{"pitch", pitch_names()}, {"length", length_names()}, {"loudness", loudness_names()}};
}

// What labels/audio_<split>.json says of one clip.
Json tone_label(const ToneClip& clip, const std::string& media) {
  Json tones = Json::array();
  for (const auto& t : clip.tones) {
    tones.push_back({{"pitch", pitch_names()[static_cast<std::size_t>(t.pitch)]},
                     {"length", length_names()[static_cast<std::size_t>(t.length)]},
                     {"loudness", loudness_names()[static_cast<std::size_t>(t.loudness)]},
                     {"start", t.start},
                     {"end", t.end}});
  }
  return {{"media", media},
          {"first_pitch", pitch_names()[static_cast<std::size_t>(clip.tones.front().pitch)]},
          {"first_pitch_id", clip.tones.front().pitch},
          {"tone_count", static_cast<int>(clip.tones.size())},
          {"tones", tones}};
}

Json tone_labels_file() {
  return {{"classes", tone_classes()}, {"pitch_hertz", pitch_hertz()}, {"sample_rate", kAudioRate}, {"items", Json::array()}};
}

// The AST's own clips, as AudioSet is a real one's: labels only, no
// language, in no caption split.
void write_pretraining_tones(const WorldSpec& spec, const std::string& root, std::int64_t samples, ModalityOutput& out) {
  make_directories(root + "/pretrain/audio");
  auto labels = tone_labels_file();
  for (int i = 0; i < spec.sizes.pretrain_audio; ++i) {
    Rng rng(spec.seed, "audio/pretrain", static_cast<std::uint64_t>(i));
    const auto clip = sample_tone_clip(rng);
    char name[32];
    std::snprintf(name, sizeof name, "toy%06d.wav", i);
    const std::string relative = std::string("pretrain/audio/") + name;
    write_wav(synthesize(clip, samples), kAudioRate, root + "/" + relative);
    labels["items"].push_back(tone_label(clip, relative));
  }
  write_json(root + "/labels/audio_pretrain.json", labels);
  out.counts["audios/pretrain"] = spec.sizes.pretrain_audio;
}

}  // namespace

ModalityOutput write_audio_datasets(const WorldSpec& spec, const std::string& root) {
  const auto& sizes = spec.sizes;
  const std::vector<SplitSize> splits = {
      {"train", sizes.train_audio}, {"val", sizes.val_audio}, {"test", sizes.test_audio}};
  const std::int64_t samples = static_cast<std::int64_t>(sizes.audio_ms) * kAudioRate / 1000;
  ModalityOutput out;
  for (const auto& split : splits) {
    make_directories(root + "/audios/" + split.name);
    Json captions = Json::array();
    auto labels = tone_labels_file();
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
      } else {
        captions.push_back({{"audio", file}, {"caption", described}});
      }
      labels["items"].push_back(tone_label(clip, "audios/" + file));
    }
    write_json(root + "/annotation/audiocaps_caption_" + split.name + ".json", captions);
    write_json(root + "/labels/audio_" + split.name + ".json", labels);
    out.counts["audios/" + split.name] = split.count;
  }
  write_pretraining_tones(spec, root, samples, out);
  return out;
}

}  // namespace epalm::experiments::toy
