#include "epalm/experiments/toy_models.h"

#include <ATen/Parallel.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "epalm/core/error.h"
#include "epalm/core/text_objective.h"

namespace epalm::experiments::toy {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot read");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path, std::string("not JSON: ") + e.what());
  }
}

std::string media_path(const WorldInfo& world, const std::string& media) {
  return fs::path(media).is_absolute() ? media : (fs::path(world.root) / media).string();
}

std::int64_t index_of(const nlohmann::json& names, const std::string& name, const std::string& where) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].get<std::string>() == name) return static_cast<std::int64_t>(i);
  }
  throw Error(where, "unknown class '" + name + "'");
}

// Pictures: the colour and shape of the object in the first occupied
// quadrant (reading order), colour x shape classes: what a questioner asks.
std::vector<LabelledMedia> picture_labels(const WorldInfo& world, const std::string& split, std::int64_t& classes) {
  const auto path = world.root + "/labels/image_" + split + ".json";
  const auto j = read_json(path);
  const auto& shapes = j.at("classes").at("shape");
  const auto& colors = j.at("classes").at("color");
  const auto& positions = j.at("classes").at("position");
  classes = static_cast<std::int64_t>(shapes.size() * colors.size());
  std::vector<LabelledMedia> out;
  for (const auto& item : j.at("items")) {
    const nlohmann::json* first = nullptr;
    std::int64_t best = 1 << 30;
    for (const auto& o : item.at("objects")) {
      const auto p = index_of(positions, o.at("position").get<std::string>(), path);
      if (p < best) best = p, first = &o;
    }
    if (first == nullptr) throw Error(path, "a picture without objects");
    const auto label = index_of(colors, first->at("color").get<std::string>(), path) *
                           static_cast<std::int64_t>(shapes.size()) +
                       index_of(shapes, first->at("shape").get<std::string>(), path);
    out.push_back({media_path(world, item.at("media").get<std::string>()), label});
  }
  return out;
}

// Clips: the direction of motion; tones: the pitch of the first tone.
std::vector<LabelledMedia> labels_by(const WorldInfo& world, const std::string& file, const std::string& field,
                                     const std::string& classes_key, std::int64_t& classes) {
  const auto path = world.root + "/labels/" + file;
  const auto j = read_json(path);
  classes = static_cast<std::int64_t>(j.at("classes").at(classes_key).size());
  std::vector<LabelledMedia> out;
  for (const auto& item : j.at("items")) {
    out.push_back({media_path(world, item.at("media").get<std::string>()), item.at(field).get<std::int64_t>()});
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot read the world's corpus");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

bool made(const std::string& directory) {
  return fs::exists(fs::path(directory) / "config.json") && fs::exists(fs::path(directory) / "pretraining.json");
}

PretrainingSchedule schedule(std::int64_t steps, std::int64_t batch, double lr, bool reduced) {
  PretrainingSchedule s;
  s.steps = reduced ? std::max<std::int64_t>(10, steps / 10) : steps;
  s.batch_size = batch;
  s.learning_rate = lr;
  s.seed = 0;
  return s;
}

}  // namespace

ToyModels ensure_toy_models(const WorldInfo& world, const std::string& home, const ToyModelSettings& settings) {
  ToyModels m;
  m.directory = (fs::path(home) / "toy-models" / (world.key + (settings.reduced ? "-reduced" : ""))).string();
  m.decoder = m.directory + "/decoder";
  m.vit = m.directory + "/vit";
  m.timesformer = m.directory + "/timesformer";
  m.ast = m.directory + "/ast";
  fs::create_directories(m.directory);
  // These models are tiny: one thread trains them several times faster than
  // two (measured: TimeSformer 8 s vs 157 s on a loaded 2-core machine).
  struct OneThread {
    int before = at::get_num_threads();
    OneThread() { at::set_num_threads(1); }
    ~OneThread() { at::set_num_threads(before); }
  } one_thread;

  if (!made(m.decoder)) {
    // The world's language alone: every 20th line held out.
    DecoderPretraining d;
    const auto lines = lines_of(world.root + "/corpus/train.txt");
    for (std::size_t i = 0; i < lines.size(); ++i) (i % 20 == 19 ? d.heldout_lines : d.train_lines).push_back(lines[i]);
    d.tokenizer_directory = world.root + "/tokenizer";
    d.added_special_tokens = {TextObjective{}.answer_token};  // the world's question-answer lines use it
    d.config.hidden_size = 128;
    d.config.word_embed_proj_dim = 128;
    d.config.num_layers = 4;
    d.config.num_heads = 4;
    d.config.ffn_dim = 512;
    d.config.max_positions = 64;
    d.config.vocab_size = 0;
    d.schedule = schedule(600, 32, 2e-3, settings.reduced);
    d.output_directory = m.decoder;
    d.progress = settings.progress;
    pretrain_decoder(d);
    m.pretrained_now.push_back("decoder");
  }
  auto encoder = [&](const std::string& dir, EncoderConfig config, std::vector<LabelledMedia> train,
                     std::vector<LabelledMedia> heldout, std::int64_t classes, bool flip, std::int64_t steps) {
    if (made(dir)) return;
    EncoderPretraining e;
    e.config = std::move(config);
    e.train = std::move(train);
    e.heldout = std::move(heldout);
    e.num_classes = classes;
    e.horizontal_flip = flip;
    e.schedule = schedule(steps, 32, 1e-3, settings.reduced);
    e.output_directory = dir;
    e.progress = settings.progress;
    pretrain_encoder(e);
    m.pretrained_now.push_back(encoder_family_name(e.config));
  };
  {
    std::int64_t classes = 0;
    auto train = picture_labels(world, "train", classes);
    auto heldout = picture_labels(world, "val", classes);
    models::VitConfig c;
    c.image_size = 64;
    c.patch_size = 8;
    c.hidden_size = 96;
    c.num_layers = 4;
    c.num_heads = 4;
    c.intermediate_size = 384;
    // No flips: positions are part of what the questions ask.
    encoder(m.vit, c, std::move(train), std::move(heldout), classes, false, 500);
  }
  {
    std::int64_t classes = 0;
    auto train = labels_by(world, "video_train.json", "direction_id", "direction", classes);
    auto heldout = labels_by(world, "video_val.json", "direction_id", "direction", classes);
    models::TimesformerConfig c;
    c.image_size = 64;
    c.patch_size = 16;
    c.num_frames = 8;
    c.hidden_size = 96;
    c.num_layers = 4;
    c.num_heads = 4;
    c.intermediate_size = 384;
    encoder(m.timesformer, c, std::move(train), std::move(heldout), classes, false, 300);
  }
  {
    std::int64_t classes = 0;
    auto train = labels_by(world, "audio_train.json", "first_pitch_id", "pitch", classes);
    auto heldout = labels_by(world, "audio_val.json", "first_pitch_id", "pitch", classes);
    models::AstConfig c;
    c.num_mel_bins = 64;
    c.max_length = 160;
    c.hidden_size = 96;
    c.num_layers = 4;
    c.num_heads = 4;
    c.intermediate_size = 384;
    encoder(m.ast, c, std::move(train), std::move(heldout), classes, false, 300);
  }
  auto report = [](const std::string& dir) { return read_json(dir + "/pretraining.json"); };
  const auto d = report(m.decoder);
  m.decoder_perplexity = d.value("heldout_perplexity", 0.0);
  m.decoder_unigram_perplexity = d.value("unigram_perplexity", 0.0);
  const auto v = report(m.vit), t = report(m.timesformer), a = report(m.ast);
  m.vit_accuracy = v.value("heldout_accuracy", 0.0);
  m.vit_chance = v.value("majority_accuracy", 0.0);
  m.timesformer_accuracy = t.value("heldout_accuracy", 0.0);
  m.timesformer_chance = t.value("majority_accuracy", 0.0);
  m.ast_accuracy = a.value("heldout_accuracy", 0.0);
  m.ast_chance = a.value("majority_accuracy", 0.0);
  return m;
}

}  // namespace epalm::experiments::toy
