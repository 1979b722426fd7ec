// The unimodal pretraining (experiments/pretraining.h) on small worlds made
// here: a grammar whose nouns follow from their colours (decoder), PNG
// pictures whose label is their dominant colour (ViT), videos of a square
// moving horizontally or vertically (TimeSformer, from make_motion_videos.py),
// and WAV tones of three pitches (AST). Each model must beat its baseline by
// far, its checkpoint must load in our loaders and in transformers with the
// same outputs (pretrained_peer.py, run here), and a seed must fix the bytes.
#include <gtest/gtest.h>
#include <png.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>

#include "epalm/core/error.h"
#include "epalm/core/media/media_inputs.h"
#include "epalm/core/models/load_encoder.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/safetensors/checkpoint.h"
#include "epalm/core/text/tokenizer.h"
#include "epalm/experiments/pretraining.h"
#include "../parity/forward_depth.h"
#include "process.h"

namespace epalm::experiments {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// ---- the decoder's world: a grammar and a word-level byte BPE ----

const std::vector<std::string> kColours = {"red", "blue", "green", "yellow"};
const std::vector<std::string> kShapes = {"ball", "cube", "cone", "ring"};  // kShapes[i] is always kColours[i]
const std::vector<std::string> kPlaces = {"above", "below", "near", "behind"};

// "a red ball is near the green cone": the shape follows from the colour,
// so a model reading the context predicts what unigram counts cannot.
std::vector<std::string> grammar_lines(std::size_t n, std::uint32_t seed) {
  std::mt19937 random(seed);
  auto pick = [&](std::size_t size) { return static_cast<std::size_t>(random() % size); };
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < n; ++i) {
    const auto a = pick(kColours.size()), b = pick(kColours.size()), p = pick(kPlaces.size());
    lines.push_back("a " + kColours[a] + " " + kShapes[a] + " is " + kPlaces[p] + " the " + kColours[b] + " " +
                    kShapes[b]);
  }
  return lines;
}

std::string utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
  return s;
}

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others
// for 256 + n in order.
std::vector<std::string> byte_symbols() {
  std::vector<std::string> symbols(256);
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    symbols[static_cast<std::size_t>(b)] = utf8(printable ? static_cast<char32_t>(b) : next++);
  }
  return symbols;
}

// A GPT-2 format byte-level BPE whose merges make each " word" one token,
// with OPT's four special tokens first and OPT's tokenizer settings.
void write_word_tokenizer(const std::string& dir) {
  fs::create_directories(dir);
  nlohmann::json vocab = {{"<s>", 0}, {"<pad>", 1}, {"</s>", 2}, {"<unk>", 3}};
  for (const auto& symbol : byte_symbols()) {
    const auto id = vocab.size();
    vocab[symbol] = id;
  }
  std::vector<std::string> merges;
  std::set<std::string> seen;
  std::vector<std::string> words = {"is", "the"};
  for (const auto* list : {&kColours, &kShapes, &kPlaces}) words.insert(words.end(), list->begin(), list->end());
  const std::string space = "\xC4\xA0";  // "Ġ", the byte symbol of a space
  for (const auto& word : words) {
    std::string merged = space;
    for (char c : word) {
      const std::string merge = merged + " " + std::string(1, c);
      merged += c;
      if (seen.insert(merge).second) {
        merges.push_back(merge);
        const auto id = vocab.size();
        vocab[merged] = id;
      }
    }
  }
  std::ofstream(dir + "/vocab.json") << vocab.dump();
  std::ofstream out(dir + "/merges.txt");
  out << "#version: 0.2\n";
  for (const auto& m : merges) out << m << "\n";
  out.close();
  write_opt_tokenizer_config(dir);
}

DecoderPretraining grammar_decoder(const TempDir& dir, std::int64_t steps, std::uint64_t seed) {
  write_word_tokenizer(dir.path() + "/tokenizer");
  DecoderPretraining s;
  s.train_lines = grammar_lines(600, 1);
  s.heldout_lines = grammar_lines(100, 2);
  s.tokenizer_directory = dir.path() + "/tokenizer";
  s.config.vocab_size = 0;
  s.config.hidden_size = 32;
  s.config.num_layers = 2;
  s.config.ffn_dim = 64;
  s.config.num_heads = 2;
  s.config.max_positions = 32;
  s.config.word_embed_proj_dim = 32;
  s.schedule.steps = steps;
  s.schedule.batch_size = 32;
  s.schedule.learning_rate = 3e-3;
  s.schedule.seed = seed;
  s.output_directory = dir.path() + "/decoder";
  return s;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

testing::ProcessResult run_peer(const std::string& kind, const std::string& checkpoint, const std::string& inputs,
                                const std::string& output) {
  return testing::run_process({EPALM_PYTHON, EPALM_PRETRAINED_PEER, kind, checkpoint, inputs, output}, 300);
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<double>();
}

// Ours and transformers run the same fp32 operations with other kernels and
// orders: each output within 2 gamma(depth) times its scale of theirs, the
// depth the longest chain of roundings to it (tests/parity/forward_depth.h).
::testing::AssertionResult within_rounding(const at::Tensor& ours, const at::Tensor& theirs, double depth,
                                           const std::string& what) {
  return testing::within(ours.to(torch::kFloat), theirs,
                         torch::tensor(testing::forward_bound(theirs, depth), torch::kDouble), what);
}

TEST(DecoderPretraining, LearnsTheGrammarBeyondUnigramsAndLoadsInOursAndTransformers) {
  TempDir dir;
  auto s = grammar_decoder(dir, 200, 0);
  std::vector<PretrainingProgress> reports;
  s.progress = [&](const PretrainingProgress& p) { reports.push_back(p); };
  const auto r = pretrain_decoder(s);
  std::cout << "decoder: held-out perplexity " << r.heldout_perplexity << ", unigram " << r.unigram_perplexity
            << ", " << r.parameters << " parameters, " << r.seconds << " s\n";

  // The grammar leaves three free words of nine predicted tokens
  // (colour, place, colour): the best perplexity is 4^(3/9) = 1.59; unigram
  // counts give about 14. The tokenizer has 313 tokens.
  EXPECT_LT(r.heldout_perplexity, 2.0);
  EXPECT_GT(r.unigram_perplexity, 6.0);
  EXPECT_LT(r.heldout_perplexity, 0.3 * r.unigram_perplexity);
  EXPECT_EQ(r.heldout_lines, 100);
  EXPECT_EQ(r.heldout_tokens, 100 * 9);

  // Progress: the preparation, then every 25 steps up to the last, with the loss falling.
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.front().phase, "preparing");
  EXPECT_EQ(reports.back().phase, "training");
  EXPECT_EQ(reports.back().step, 200);
  EXPECT_EQ(reports.back().steps, 200);
  EXPECT_EQ(reports.back().eta_seconds, 0);
  std::vector<double> losses;
  for (const auto& p : reports) {
    if (p.phase == "training") losses.push_back(p.loss);
  }
  EXPECT_EQ(losses.size(), 8u);
  EXPECT_LT(losses.back(), 0.5 * losses.front());
  EXPECT_GT(reports.back().rate, 0);

  // The checkpoint: whole, with its tokenizer and report, no staging left.
  const auto ckpt = s.output_directory;
  EXPECT_FALSE(fs::exists(ckpt + ".partial"));
  for (const char* f : {"config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json",
                        "special_tokens_map.json", "pretraining.json"}) {
    EXPECT_TRUE(fs::exists(ckpt + "/" + f)) << f;
  }
  const auto report = nlohmann::json::parse(read_bytes(ckpt + "/pretraining.json"));
  EXPECT_EQ(report["trained_on"], "text lines only");
  EXPECT_DOUBLE_EQ(report["heldout_perplexity"].get<double>(), r.heldout_perplexity);

  // Our loaders: the model and the tokenizer from the one directory.
  const auto model = models::OptModel::from_pretrained(ckpt);
  const auto tokenizer = text::Tokenizer::from_directory(ckpt);
  EXPECT_EQ(tokenizer.size(), 313u);  // 4 special, 256 bytes, 53 merges
  EXPECT_EQ(model.config().vocab_size, 320);  // a spare row, then to a multiple of 8
  EXPECT_EQ(model.config().pad_token_id, 1);
  EXPECT_EQ(model.config().bos_token_id, 2);
  const std::vector<std::string> lines = {s.heldout_lines[0], s.heldout_lines[1], "a red ball is"};
  std::vector<std::vector<text::TokenId>> ids;
  for (const auto& line : lines) {
    ids.push_back(tokenizer.encode(line));
    ids.back().push_back(2);  // EOS, as training appends it
  }
  EXPECT_EQ(ids[0].size(), 10u);  // BOS + 8 words + EOS: one token per word
  const auto t = static_cast<std::int64_t>(ids[0].size());
  auto input_ids = torch::full({3, t}, 1, torch::kLong);
  auto mask = torch::zeros({3, t}, torch::kLong);
  for (std::int64_t r_ = 0; r_ < 3; ++r_) {
    for (std::size_t c = 0; c < ids[static_cast<std::size_t>(r_)].size(); ++c) {
      input_ids[r_][static_cast<std::int64_t>(c)] = ids[static_cast<std::size_t>(r_)][c];
      mask[r_][static_cast<std::int64_t>(c)] = 1;
    }
  }
  torch::NoGradGuard no_grad;
  models::OptForwardOptions options;
  options.attention_mask = mask;
  const auto ours = model.forward(input_ids, options).logits;
  // The model completes "a red ..." with "ball".
  const auto after_red = ours[2][2].argmax().item<std::int64_t>();
  EXPECT_EQ(tokenizer.id_to_token(after_red).value_or("?"), "\xC4\xA0" "ball");

  // transformers: the same logits from the same directory, and its tokenizer the same ids.
  std::ofstream(dir.path() + "/lines.json") << nlohmann::json(lines).dump();
  safetensors::write_safetensors(dir.path() + "/inputs.safetensors",
                                 {{"input_ids", input_ids}, {"attention_mask", mask}});
  const auto peer = run_peer("opt", ckpt, dir.path() + "/inputs.safetensors", dir.path() + "/peer.safetensors");
  ASSERT_EQ(peer.exit_code, 0) << peer.out << peer.err;
  safetensors::SafetensorsFile theirs(dir.path() + "/peer.safetensors");
  const auto their_logits = theirs.load("logits");
  std::cout << "decoder logits vs transformers: max abs difference " << max_diff(ours, their_logits) << "\n";
  EXPECT_TRUE(within_rounding(ours, their_logits, testing::opt_depth(model.config(), input_ids.size(1), -1), "logits"));
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto expected = ids[i];
    expected.pop_back();  // the tokenizer adds BOS, not EOS
    const auto hf = theirs.load("token_ids_" + std::to_string(i));
    EXPECT_EQ(std::vector<std::int64_t>(hf.data_ptr<std::int64_t>(), hf.data_ptr<std::int64_t>() + hf.numel()),
              expected)
        << lines[i];
  }
}

TEST(DecoderPretraining, TheSeedFixesTheCheckpointBytes) {
  TempDir a, b, c;
  pretrain_decoder(grammar_decoder(a, 20, 5));
  pretrain_decoder(grammar_decoder(b, 20, 5));
  pretrain_decoder(grammar_decoder(c, 20, 6));
  const auto weights_a = read_bytes(a.path() + "/decoder/model.safetensors");
  EXPECT_GT(weights_a.size(), 10000u);
  EXPECT_EQ(weights_a, read_bytes(b.path() + "/decoder/model.safetensors"));
  EXPECT_NE(weights_a, read_bytes(c.path() + "/decoder/model.safetensors"));
  EXPECT_EQ(read_bytes(a.path() + "/decoder/config.json"), read_bytes(c.path() + "/decoder/config.json"));
}

TEST(DecoderPretraining, BadSettingsAreErrorsAndLeaveNoCheckpoint) {
  TempDir dir;
  auto s = grammar_decoder(dir, 5, 0);
  auto expect_usage = [&](DecoderPretraining bad, const std::string& reason) {
    try {
      pretrain_decoder(bad);
      FAIL() << "expected an error about " << reason;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(bad.output_directory));
  };
  auto bad = s;
  bad.train_lines.clear();
  expect_usage(bad, "no training lines");
  bad = s;
  bad.heldout_lines.clear();
  expect_usage(bad, "no held-out lines");
  bad = s;
  bad.config.vocab_size = 100;
  expect_usage(bad, "smaller than the tokenizer's 313 tokens");
  bad = s;
  bad.schedule.steps = 0;
  expect_usage(bad, "steps must be positive");
  bad = s;
  bad.tokenizer_directory = dir.path() + "/nowhere";
  expect_usage(bad, "nowhere");
  bad = s;
  bad.answer_token = "<nope>";
  expect_usage(bad, "the answer token '<nope>' is not one of the tokenizer's");
  bad = s;
  bad.answer_weight = 0;
  expect_usage(bad, "answer weight must be > 0");
  // A vocabulary without OPT's tokens cannot take OPT's settings.
  fs::create_directories(dir.path() + "/plain");
  std::ofstream(dir.path() + "/plain/vocab.json") << R"({"a": 0, "b": 1})";
  std::ofstream(dir.path() + "/plain/merges.txt") << "#version: 0.2\n";
  try {
    write_opt_tokenizer_config(dir.path() + "/plain");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), dir.path() + "/plain/vocab.json");
    EXPECT_NE(e.reason().find("</s>"), std::string::npos);
  }
}

// ---- the encoders' worlds ----

void write_png(const std::string& path, std::int64_t width, std::int64_t height, const std::vector<std::uint8_t>& rgb) {
  std::vector<png_bytep> rows;
  for (std::int64_t y = 0; y < height; ++y) rows.push_back(const_cast<png_bytep>(rgb.data() + y * width * 3));
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(file);
    FAIL() << "libpng failed writing " << path;
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_rows(png, info, rows.data());
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
}

// 16-bit PCM mono RIFF/WAVE.
void write_wav(const std::string& path, int rate, const std::vector<float>& samples) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](std::uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](std::uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  const auto bytes = static_cast<std::uint32_t>(samples.size() * 2);
  out << "RIFF";
  u32(36 + bytes);
  out << "WAVEfmt ";
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(static_cast<std::uint32_t>(rate));
  u32(static_cast<std::uint32_t>(rate * 2));
  u16(2);
  u16(16);
  out << "data";
  u32(bytes);
  for (float s : samples) u16(static_cast<std::uint16_t>(static_cast<std::int16_t>(std::lround(s * 32767.0f))));
}

// Pictures of noise with a rectangle covering most of them in red, green or
// blue (the label), at random places and sizes.
std::vector<LabelledMedia> colour_pictures(const std::string& dir, std::size_t n, std::uint32_t seed) {
  fs::create_directories(dir);
  std::mt19937 random(seed);
  std::vector<LabelledMedia> items;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t size = 40, label = static_cast<std::int64_t>(i % 3);
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(size * size * 3));
    for (auto& v : rgb) v = static_cast<std::uint8_t>(random() % 120);
    const std::int64_t w = 24 + random() % 12, h = 24 + random() % 12;
    const std::int64_t x0 = random() % (size - w + 1), y0 = random() % (size - h + 1);
    for (std::int64_t y = y0; y < y0 + h; ++y) {
      for (std::int64_t x = x0; x < x0 + w; ++x) {
        auto* p = &rgb[static_cast<std::size_t>((y * size + x) * 3)];
        p[0] = p[1] = p[2] = static_cast<std::uint8_t>(random() % 60);
        p[label] = static_cast<std::uint8_t>(180 + random() % 76);
      }
    }
    const auto path = dir + "/" + std::to_string(i) + ".png";
    write_png(path, size, size, rgb);
    items.push_back({path, label, {}});
  }
  return items;
}

// Half a second of a tone at 300, 900 or 2500 Hz (the label) at 16 kHz,
// random loudness and phase, with a little noise.
std::vector<LabelledMedia> pitch_tones(const std::string& dir, std::size_t n, std::uint32_t seed) {
  fs::create_directories(dir);
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> unit(0, 1);
  const double pitches[] = {300, 900, 2500};
  std::vector<LabelledMedia> items;
  for (std::size_t i = 0; i < n; ++i) {
    const auto label = static_cast<std::int64_t>(i % 3);
    const float loudness = 0.2f + 0.6f * unit(random), phase = 6.28f * unit(random);
    std::vector<float> samples(8000);
    for (std::size_t k = 0; k < samples.size(); ++k) {
      samples[k] = loudness * static_cast<float>(std::sin(2 * M_PI * pitches[label] * static_cast<double>(k) / 16000 +
                                                          phase)) +
                   0.02f * (unit(random) - 0.5f);
    }
    const auto path = dir + "/" + std::to_string(i) + ".wav";
    write_wav(path, 16000, samples);
    items.push_back({path, label, {}});
  }
  return items;
}

PretrainingSchedule encoder_schedule(std::int64_t steps) {
  PretrainingSchedule s;
  s.steps = steps;
  s.batch_size = 16;
  s.learning_rate = 2e-3;
  s.progress_every = 10;
  return s;
}

// Our loader and transformers on the same inputs: every hidden state but the
// last (transformers' AST returns it normed), the final normed state, and the
// classifier's logits (ours from the checkpoint's classifier.* tensors).
void expect_transformers_agree(const std::string& kind, const std::string& checkpoint, const at::Tensor& inputs,
                               const std::string& work) {
  safetensors::write_safetensors(work + "/inputs.safetensors", {{"inputs", inputs}});
  const auto peer = run_peer(kind, checkpoint, work + "/inputs.safetensors", work + "/peer.safetensors");
  ASSERT_EQ(peer.exit_code, 0) << peer.out << peer.err;
  safetensors::SafetensorsFile theirs(work + "/peer.safetensors");
  const auto encoder = models::load_encoder(checkpoint);
  torch::NoGradGuard no_grad;
  const auto ours = encoder->forward(inputs, /*output_hidden_states=*/true);
  const auto tokens = ours.last_hidden_state.size(1);
  // The loaded encoder runs the auto kernel: fused attention (attention_kernel.h).
  constexpr bool kFused = models::unmasked_attention_is_fused(models::AttentionKernel::kAuto);
  // The depth of hidden state `index` (-1: last_hidden_state) of this family.
  const std::function<double(std::int64_t)> depth = [&]() -> std::function<double(std::int64_t)> {
    if (kind == "vit") {
      const auto c = models::VitModel::from_pretrained(checkpoint).config();
      return [c, tokens](std::int64_t i) { return testing::vit_depth(c, tokens, i, kFused); };
    }
    if (kind == "timesformer") {
      const auto c = models::TimesformerModel::from_pretrained(checkpoint).config();
      return [c, tokens](std::int64_t i) { return testing::timesformer_depth(c, tokens, i, kFused); };
    }
    const auto c = models::AstModel::from_pretrained(checkpoint).config();
    return [c, tokens](std::int64_t i) { return testing::ast_depth(c, tokens, i, kFused); };
  }();
  double worst = 0;
  for (std::int64_t i = 0; i < encoder->num_layers(); ++i) {
    const auto name = "hidden_state_" + std::to_string(i);
    const auto& mine = ours.hidden_states[static_cast<std::size_t>(i)];
    EXPECT_TRUE(within_rounding(mine, theirs.load(name), depth(i), kind + " " + name));
    worst = std::max(worst, max_diff(mine, theirs.load(name)));
  }
  EXPECT_TRUE(within_rounding(ours.last_hidden_state, theirs.load("last_hidden_state"), depth(-1),
                              kind + " last_hidden_state"));
  worst = std::max(worst, max_diff(ours.last_hidden_state, theirs.load("last_hidden_state")));
  safetensors::Checkpoint weights(checkpoint);
  const auto& last = ours.last_hidden_state;
  const auto hidden = last.size(2);
  at::Tensor logits;
  double head_depth = 0;  // the classifier's roundings on top of last_hidden_state
  if (kind == "ast") {
    const auto pooled = (last.select(1, 0) + last.select(1, 1)) / 2;
    const auto normed = torch::layer_norm(pooled, {last.size(2)}, weights.load("classifier.layernorm.weight"),
                                          weights.load("classifier.layernorm.bias"), 1e-12);
    logits = torch::linear(normed, weights.load("classifier.dense.weight"), weights.load("classifier.dense.bias"));
    // The mean of two tokens, the LayerNorm, the linear layer (a sum over hidden, the bias).
    head_depth = 2 + testing::layer_norm_depth(hidden) + static_cast<double>(hidden + 1);
  } else {
    logits = torch::linear(last.select(1, 0), weights.load("classifier.weight"), weights.load("classifier.bias"));
    head_depth = static_cast<double>(hidden + 1);  // the linear layer on [CLS]
  }
  const auto their_logits = theirs.load("logits");
  std::cout << kind << " vs transformers: hidden states " << worst << ", logits " << max_diff(logits, their_logits)
            << "\n";
  EXPECT_TRUE(within_rounding(logits, their_logits, depth(-1) + head_depth, kind + " logits"));
}

// The checkpoint's classifier config: transformers' labels and architecture.
void expect_classifier_config(const std::string& checkpoint, const std::string& architecture, std::int64_t classes) {
  const auto config = nlohmann::json::parse(read_bytes(checkpoint + "/config.json"));
  EXPECT_EQ(config["architectures"][0], architecture);
  EXPECT_EQ(config["id2label"].size(), static_cast<std::size_t>(classes));
  const auto report = nlohmann::json::parse(read_bytes(checkpoint + "/pretraining.json"));
  EXPECT_EQ(report["trained_on"], "labelled media only");
}

TEST(EncoderPretraining, VitLearnsTheDominantColourOfPngs) {
  TempDir dir;
  EncoderPretraining s;
  models::VitConfig c;
  c.hidden_size = 32;
  c.num_layers = 2;
  c.num_heads = 2;
  c.intermediate_size = 64;
  c.image_size = 32;
  c.patch_size = 8;
  s.config = c;
  s.train = colour_pictures(dir.path() + "/train", 90, 1);
  s.heldout = colour_pictures(dir.path() + "/heldout", 45, 2);
  s.num_classes = 3;
  s.class_names = {"red", "green", "blue"};
  s.horizontal_flip = true;
  s.schedule = encoder_schedule(60);
  s.output_directory = dir.path() + "/vit";
  std::int64_t prepared = 0;
  s.progress = [&](const PretrainingProgress& p) {
    if (p.phase == "preparing") prepared = p.step;
  };
  const auto r = pretrain_encoder(s);
  std::cout << "vit: held-out accuracy " << r.heldout_accuracy << " (majority " << r.majority_accuracy << "), "
            << r.parameters << " parameters, " << r.training_seconds << " s\n";
  EXPECT_EQ(prepared, 135);
  EXPECT_EQ(r.family, "vit");
  EXPECT_NEAR(r.majority_accuracy, 1.0 / 3, 1e-9);
  EXPECT_GE(r.heldout_accuracy, 0.9);
  expect_classifier_config(s.output_directory, "ViTForImageClassification", 3);
  const auto config = nlohmann::json::parse(read_bytes(s.output_directory + "/config.json"));
  EXPECT_EQ(config["id2label"]["2"], "blue");

  // The held-out pictures as evaluation preprocesses them.
  std::vector<at::Tensor> pictures;
  media::MediaSettings settings;
  settings.image_size = 32;
  for (std::size_t i = 0; i < 4; ++i) {
    data::Sample sample;
    sample.media = s.heldout[i].path;
    pictures.push_back(media::media_input(sample, settings, 0));
  }
  expect_transformers_agree("vit", s.output_directory, torch::stack(pictures), dir.path());
}

TEST(EncoderPretraining, TimesformerLearnsTheAxisOfMotion) {
  const auto labels = nlohmann::json::parse(read_bytes(std::string(EPALM_MOTION_VIDEOS) + "/labels.json"));
  EncoderPretraining s;
  for (const auto& record : labels) {
    LabelledMedia item{record["path"].get<std::string>(), record["label"].get<std::int64_t>(), {}};
    (record["split"] == "train" ? s.train : s.heldout).push_back(item);
  }
  TempDir dir;
  models::TimesformerConfig c;
  c.hidden_size = 32;
  c.num_layers = 2;
  c.num_heads = 2;
  c.intermediate_size = 64;
  c.image_size = 32;
  c.patch_size = 8;
  c.num_frames = 4;
  s.config = c;
  s.num_classes = 2;
  s.class_names = {"horizontal", "vertical"};
  s.schedule = encoder_schedule(200);
  s.output_directory = dir.path() + "/timesformer";
  const auto r = pretrain_encoder(s);
  std::cout << "timesformer: held-out accuracy " << r.heldout_accuracy << " (majority " << r.majority_accuracy
            << "), " << r.training_seconds << " s\n";
  EXPECT_EQ(r.heldout_samples, 64);
  // Chance: 0.5. A tiny divided space-time model learns this slowly (transformers'
  // own reaches about 0.8 in these 200 steps); directions of motion (four
  // classes) take it far longer.
  EXPECT_GE(r.heldout_accuracy, 0.7);
  expect_classifier_config(s.output_directory, "TimesformerForVideoClassification", 2);

  media::MediaSettings settings;
  settings.modality = data::Modality::kVideo;
  settings.image_size = 32;
  settings.num_frames = 4;
  std::vector<at::Tensor> clips;
  for (std::size_t i = 0; i < 2; ++i) {
    data::Sample sample;
    sample.media = s.heldout[i].path;
    clips.push_back(media::media_input(sample, settings, 0));
  }
  expect_transformers_agree("timesformer", s.output_directory, torch::stack(clips), dir.path());
}

TEST(EncoderPretraining, AstLearnsThePitchOfTones) {
  TempDir dir;
  EncoderPretraining s;
  models::AstConfig c;
  c.hidden_size = 32;
  c.num_layers = 2;
  c.num_heads = 2;
  c.intermediate_size = 64;
  c.max_length = 48;  // 0.5 s at a 10 ms hop
  c.num_mel_bins = 32;
  c.frequency_stride = 8;
  c.time_stride = 16;
  s.config = c;
  s.train = pitch_tones(dir.path() + "/train", 60, 1);
  s.heldout = pitch_tones(dir.path() + "/heldout", 30, 2);
  s.num_classes = 3;
  s.schedule = encoder_schedule(60);
  s.output_directory = dir.path() + "/ast";
  const auto r = pretrain_encoder(s);
  std::cout << "ast: held-out accuracy " << r.heldout_accuracy << " (majority " << r.majority_accuracy << "), "
            << r.training_seconds << " s\n";
  EXPECT_GE(r.heldout_accuracy, 0.9);
  expect_classifier_config(s.output_directory, "ASTForAudioClassification", 3);

  media::MediaSettings settings;
  settings.modality = data::Modality::kAudio;
  settings.mel_bins = 32;
  settings.target_length = 48;
  std::vector<at::Tensor> features;
  for (std::size_t i = 0; i < 3; ++i) {
    data::Sample sample;
    sample.media = s.heldout[i].path;
    features.push_back(media::media_input(sample, settings, 0));
  }
  expect_transformers_agree("ast", s.output_directory, torch::stack(features), dir.path());
}

TEST(EncoderPretraining, BadLabelsAndSettingsAreErrors) {
  TempDir dir;
  EncoderPretraining s;
  models::VitConfig c;
  c.hidden_size = 16;
  c.num_layers = 1;
  c.num_heads = 2;
  c.intermediate_size = 16;
  c.image_size = 16;
  c.patch_size = 8;
  s.config = c;
  s.train = colour_pictures(dir.path() + "/train", 3, 1);
  s.heldout = s.train;
  s.num_classes = 3;
  s.schedule = encoder_schedule(2);
  s.output_directory = dir.path() + "/vit";
  auto bad = s;
  bad.train[1].label = 3;
  try {
    pretrain_encoder(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), bad.train[1].path);
    EXPECT_NE(e.reason().find("outside [0, 3)"), std::string::npos) << e.what();
  }
  bad = s;
  bad.train[0].path = dir.path() + "/missing.png";
  try {
    pretrain_encoder(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.png"), std::string::npos) << e.what();
  }
  bad = s;
  bad.class_names = {"red"};
  EXPECT_THROW(pretrain_encoder(bad), UsageError);
  bad = s;
  models::AstConfig audio;
  audio.hidden_size = 16;
  audio.num_heads = 2;
  audio.num_layers = 1;
  audio.intermediate_size = 16;
  bad.config = audio;
  bad.horizontal_flip = true;
  EXPECT_THROW(pretrain_encoder(bad), UsageError);
  EXPECT_FALSE(fs::exists(s.output_directory));
  EXPECT_FALSE(fs::exists(s.output_directory + ".partial"));
  pretrain_encoder(s);  // the good settings work
  EXPECT_TRUE(fs::exists(s.output_directory + "/model.safetensors"));
}

}  // namespace
}  // namespace epalm::experiments
