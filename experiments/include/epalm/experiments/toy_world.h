// The toy world: a small multimodal world generated from a seed, written in
// the real datasets' layouts (VQA v2, COCO Karpathy captions, MSRVTT-QA and
// captions, AudioCaps) so read_dataset and the media decoders read it through
// the same code as real data, with a text corpus, unimodal label files and a
// byte-level BPE tokenizer trained on the corpus. docs/toy-world.md describes
// the world, its grammar and every file.
//
//   auto world = epalm::experiments::toy::ensure_world({/*seed*/ 7});
//   DatasetSpec spec{"vqa", world.root, "karpathy_train"};
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace epalm::experiments::toy {

// Bumped whenever the same seed and sizes would give different files.
inline constexpr int kGeneratorVersion = 6;

struct WorldSizes {
  // Images (each with captions and questions), per split.
  int train_images = 2000, val_images = 250, test_images = 250;
  // Video clips, per split.
  int train_videos = 400, val_videos = 50, test_videos = 50;
  // Audio clips, per split.
  int train_audio = 400, val_audio = 150, test_audio = 150;
  // The encoders' own labelled media (no language), as ImageNet, Kinetics and
  // AudioSet are real encoders': what the toy ViT, TimeSformer and AST
  // pretrain on, apart from every caption and question split.
  int pretrain_images = 6000, pretrain_videos = 1600, pretrain_audio = 1600;
  int image_size = 64;    // pixels per side (a multiple of 2, at least 32)
  int video_size = 64;    // pixels per side (a multiple of 2, at least 48)
  int video_frames = 16;  // frames per clip (at least 4)
  int audio_ms = 1500;    // clip length in milliseconds (at least 1300: three long tones fit)
  int vocab_size = 1024;  // the tokenizer's target vocabulary size (specials and 256 bytes included)
};

// "train-images=100,video-frames=8": the named sizes changed; names as in
// size_names(). Throws UsageError("--sizes", ...) on an unknown name or a bad value.
WorldSizes parse_sizes(const std::string& text, WorldSizes base = {});
// Every size by name, in a fixed order ("train-images" -> 2000, ...).
std::map<std::string, int> size_values(const WorldSizes& sizes);
// Throws UsageError("--sizes", ...) when a size is out of its range.
void check_sizes(const WorldSizes& sizes);

struct WorldSpec {
  std::uint64_t seed = 0;
  WorldSizes sizes;
};

// "v2-seed7" for the default sizes, "v2-seed7-<8 hex digits of the sizes>" otherwise.
std::string world_key(const WorldSpec& spec);
// $EPALM_HOME/toy-world, else ~/.cache/epalm/toy-world.
std::string default_world_home();

struct WorldInfo {
  std::string root;        // the dataset root (data-root for every task)
  std::string key;         // world_key(spec)
  bool generated = false;  // false: it was already there
  double seconds = 0;      // generation time
  std::map<std::string, int> counts;  // "vqa/karpathy_train questions" -> n, ...
};

// The world in `directory`: read when its manifest (world.json) says it is this
// spec's, else generated into a temporary sibling and renamed into place, so
// concurrent first uses (mpirun ranks, sweep workers) are safe: one rename
// wins and the others use its world. Throws epalm::Error when `directory`
// holds something else.
WorldInfo ensure_world_at(const WorldSpec& spec, const std::string& directory);
// ensure_world_at(spec, home + "/" + world_key(spec)).
WorldInfo ensure_world(const WorldSpec& spec, const std::string& home = default_world_home());

}  // namespace epalm::experiments::toy
