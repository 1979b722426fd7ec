#include "epalm/experiments/toy_models.h"

#include <ATen/Parallel.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>

#include "epalm/core/error.h"
#include "epalm/core/text/text_objective.h"

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

// What an encoder learns about its modality: several classification tasks
// over the world's labels (labels/<modality>_<split>.json), so that its
// [CLS] token describes the whole scene, clip or tone sequence.
struct LabelledSplit {
  std::vector<LabelTask> tasks;
  std::vector<LabelledMedia> items;
};

// A task's class names: "none" (nothing there) first when `none`, then `names`.
LabelTask named_task(const std::string& name, const nlohmann::json& names, bool none) {
  LabelTask t{name, 0, {}};
  if (none) t.class_names.push_back("none");
  for (const auto& n : names) t.class_names.push_back(n.get<std::string>());
  t.classes = static_cast<std::int64_t>(t.class_names.size());
  return t;
}

// Pictures: how many shapes (1 to 4), and for each quadrant the colour and
// the shape there (or nothing): every fact a question asks. Colour and shape
// are separate tasks: a from-scratch ViT learns them several times faster
// than their product (measured against transformers' ViT on this world).
LabelledSplit picture_labels(const WorldInfo& world, const std::string& split) {
  const auto path = world.root + "/labels/image_" + split + ".json";
  const auto j = read_json(path);
  const auto& shapes = j.at("classes").at("shape");
  const auto& colors = j.at("classes").at("color");
  const auto& positions = j.at("classes").at("position");
  LabelledSplit out;
  out.tasks.push_back(named_task("count", j.at("classes").at("count"), false));
  for (const auto& p : positions) {
    out.tasks.push_back(named_task(p.get<std::string>() + " colour", colors, true));
    out.tasks.push_back(named_task(p.get<std::string>() + " shape", shapes, true));
  }
  for (const auto& item : j.at("items")) {
    LabelledMedia m{media_path(world, item.at("media").get<std::string>()), 0, {}};
    m.labels.assign(out.tasks.size(), 0);
    m.labels[0] = item.at("count").get<std::int64_t>() - 1;
    for (const auto& o : item.at("objects")) {
      const auto quadrant = index_of(positions, o.at("position").get<std::string>(), path);
      m.labels[1 + 2 * quadrant] = 1 + index_of(colors, o.at("color").get<std::string>(), path);
      m.labels[2 + 2 * quadrant] = 1 + index_of(shapes, o.at("shape").get<std::string>(), path);
    }
    out.items.push_back(std::move(m));
  }
  return out;
}

// Clips: the moving shape's direction, speed, shape and colour, and whether
// a still shape is there too.
LabelledSplit clip_labels(const WorldInfo& world, const std::string& split) {
  const auto path = world.root + "/labels/video_" + split + ".json";
  const auto j = read_json(path);
  const auto& classes = j.at("classes");
  LabelledSplit out;
  for (const char* key : {"direction", "speed", "shape", "color"}) out.tasks.push_back(named_task(key, classes.at(key), false));
  out.tasks.push_back({"still shape", 2, {"no", "yes"}});
  for (const auto& item : j.at("items")) {
    LabelledMedia m{media_path(world, item.at("media").get<std::string>()), 0, {}};
    for (const char* key : {"direction", "speed", "shape", "color"}) {
      m.labels.push_back(index_of(classes.at(key), item.at(key).get<std::string>(), path));
    }
    m.labels.push_back(item.at("still").is_null() ? 0 : 1);
    out.items.push_back(std::move(m));
  }
  return out;
}

// Tone sequences: how many tones, and for each of the first three its pitch,
// length and loudness (or nothing).
LabelledSplit tone_labels(const WorldInfo& world, const std::string& split) {
  const auto path = world.root + "/labels/audio_" + split + ".json";
  const auto j = read_json(path);
  const auto& classes = j.at("classes");
  constexpr int kSlots = 3;
  LabelledSplit out;
  out.tasks.push_back({"tones", kSlots, {"1", "2", "3"}});
  const char* const parts[] = {"pitch", "length", "loudness"};
  for (int slot = 0; slot < kSlots; ++slot) {
    for (const char* part : parts) {
      out.tasks.push_back(named_task("tone " + std::to_string(slot + 1) + " " + part, classes.at(part), true));
    }
  }
  for (const auto& item : j.at("items")) {
    LabelledMedia m{media_path(world, item.at("media").get<std::string>()), 0, {}};
    const auto& tones = item.at("tones");
    const auto count = static_cast<std::int64_t>(tones.size());
    if (count < 1 || count > kSlots) throw Error(path, "a clip with " + std::to_string(count) + " tones");
    m.labels.push_back(count - 1);
    for (std::int64_t slot = 0; slot < kSlots; ++slot) {
      for (const char* part : parts) {
        m.labels.push_back(slot < count ? 1 + index_of(classes.at(part), tones[slot].at(part).get<std::string>(), path) : 0);
      }
    }
    out.items.push_back(std::move(m));
  }
  return out;
}

// The three encoders' common size: 4 layers of width 96, 4 heads, MLP 384.
template <class Config>
Config small_encoder() {
  Config c;
  c.hidden_size = 96;
  c.num_layers = 4;
  c.num_heads = 4;
  c.intermediate_size = 384;
  return c;
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
  // These models are tiny: one thread trains one several times faster than
  // two (measured: TimeSformer 8 s vs 157 s on a loaded 2-core machine), so
  // two lanes of one thread each train them side by side (with the intra-op
  // pool at one thread, every operation runs in its calling thread).
  struct OneThread {
    int before = at::get_num_threads();
    OneThread() { at::set_num_threads(1); }
    ~OneThread() { at::set_num_threads(before); }
  } one_thread;
  std::mutex report_mutex;  // progress lines and pretrained_now, from both lanes
  const PretrainingProgressCallback progress = [&](const PretrainingProgress& p) {
    std::lock_guard<std::mutex> lock(report_mutex);
    if (settings.progress) settings.progress(p);
  };
  auto pretrained = [&](const std::string& name) {
    std::lock_guard<std::mutex> lock(report_mutex);
    m.pretrained_now.push_back(name);
  };

  auto decoder = [&] {
    if (made(m.decoder)) return;
    // The world's language alone: every 20th line held out.
    DecoderPretraining d;
    const auto lines = lines_of(world.root + "/corpus/train.txt");
    for (std::size_t i = 0; i < lines.size(); ++i) (i % 20 == 19 ? d.heldout_lines : d.train_lines).push_back(lines[i]);
    d.tokenizer_directory = world.root + "/tokenizer";
    d.added_special_tokens = {text::TextObjective{}.answer_token};  // the world's question-answer lines use it
    // A line's answer weighs 10 tokens of its description: measured with a
    // PyTorch re-implementation on this corpus, the decoder then learns to
    // read shapes (0.72-0.74) and colours (0.54) from a description within
    // 1500 steps, where at weight 1 it read colours at the prior (0.18).
    d.answer_token = text::TextObjective{}.answer_token;
    d.answer_weight = 10;
    d.config.hidden_size = 128;
    d.config.word_embed_proj_dim = 128;
    d.config.num_layers = 4;
    d.config.num_heads = 4;
    d.config.ffn_dim = 512;
    d.config.max_positions = 64;
    d.config.vocab_size = 0;
    // 2500 steps: about two passes over the corpus, whose reading-comprehension
    // lines (a description, then a question about it) take longer to learn
    // than bare question-answer lines. Measured with transformers on the
    // checkpoint (world version 5, 618 held-out reading lines): after 1500
    // steps it read shapes (0.76) but colours at the prior (0.19); after 2500,
    // colours 0.60 and shapes 0.78. The decoder's lane still ends with the
    // encoders' (TimeSformer, then AST).
    d.schedule = schedule(2500, 32, 2e-3, settings.reduced);
    d.output_directory = m.decoder;
    d.progress = progress;
    pretrain_decoder(d);
    pretrained("decoder");
  };
  auto encoder = [&](const std::string& dir, EncoderConfig config, LabelledSplit train, LabelledSplit heldout,
                     std::int64_t steps) {
    if (made(dir)) return;
    EncoderPretraining e;
    e.config = std::move(config);
    e.tasks = std::move(train.tasks);
    e.train = std::move(train.items);
    e.heldout = std::move(heldout.items);
    e.horizontal_flip = false;  // positions and directions are part of what the questions ask
    e.schedule = schedule(steps, 32, 2e-3, settings.reduced);
    e.output_directory = dir;
    e.progress = progress;
    pretrain_encoder(e);
    pretrained(encoder_family_name(e.config));
  };
  auto vit = [&] {
    // 16-pixel patches: a quadrant is 2 x 2 of them. A one-off run of
    // transformers' ViT on this world (2000 steps, one thread) held out
    // quadrant colours 0.62-0.86 in 70 s with 16-pixel patches, 0.80-0.93 in
    // 260 s with 8-pixel ones: a quarter of the time for somewhat less.
    auto c = small_encoder<models::VitConfig>();
    c.image_size = 64;
    c.patch_size = 16;
    encoder(m.vit, c, picture_labels(world, "pretrain"), picture_labels(world, "val"), 1000);
  };
  auto timesformer = [&] {
    // 4 frames: enough to see where a shape goes, half the tokens of 8 (a
    // one-off run of transformers' TimeSformer on this world, 1000 steps:
    // colour 0.98, speed 0.96, still shape 0.98, shape 0.42, direction 0.38
    // held out).
    auto c = small_encoder<models::TimesformerConfig>();
    c.image_size = 64;
    c.patch_size = 16;
    c.num_frames = 4;
    encoder(m.timesformer, c, clip_labels(world, "pretrain"), clip_labels(world, "val"), 600);
  };
  auto ast = [&] {
    auto c = small_encoder<models::AstConfig>();
    c.num_mel_bins = 64;
    c.max_length = 160;
    encoder(m.ast, c, tone_labels(world, "pretrain"), tone_labels(world, "val"), 300);
  };
  // Two lanes of about equal length (world version 6 on a 2-core machine:
  // decoder 262 s; ViT 33 s + TimeSformer 157 s + AST 40 s).
  auto lane = std::async(std::launch::async, [&] {
    at::set_num_threads(1);  // OpenMP's thread count is per thread
    decoder();
  });
  std::exception_ptr failure;
  try {
    vit();
    timesformer();
    ast();
  } catch (...) {
    failure = std::current_exception();
  }
  lane.get();  // rethrows the other lane's error
  if (failure) std::rethrow_exception(failure);
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

analysis::Table knowledge_table(const ToyModels& m) {
  auto number = [](double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3f", v);
    return std::string(buffer);
  };
  analysis::Table table({"model", "trained on", "held-out", "baseline", "checkpoint"});
  table.add_row({"decoder", "the world's text only", "perplexity " + number(m.decoder_perplexity),
                 "unigram " + number(m.decoder_unigram_perplexity), m.decoder});
  table.add_row({"ViT", "pictures: count, each quadrant's colour and shape", "accuracy " + number(m.vit_accuracy),
                 "majority " + number(m.vit_chance), m.vit});
  table.add_row({"TimeSformer", "clips: direction, speed, shape, colour, still shape",
                 "accuracy " + number(m.timesformer_accuracy), "majority " + number(m.timesformer_chance), m.timesformer});
  table.add_row({"AST", "tones: count, each tone's pitch, length, loudness", "accuracy " + number(m.ast_accuracy),
                 "majority " + number(m.ast_chance), m.ast});
  return table;
}

}  // namespace epalm::experiments::toy
