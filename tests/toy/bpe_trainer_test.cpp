// The BPE vocabulary trainer: GPT-2's pre-tokenizer on ASCII, deterministic
// files, its errors, and the trained tokenizer against Hugging Face's
// (GPT2TokenizerFast on the same vocab.json + merges.txt, AutoTokenizer and
// GPT2Tokenizer on the directory) on the toy world's whole corpus.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "epalm/core/error.h"
#include "epalm/core/text/tokenizer.h"
#include "epalm/experiments/bpe_trainer.h"
#include "process.h"
#include "toy_world_support.h"

namespace epalm {
namespace {

using experiments::BpeTrainerOptions;
using experiments::pretokenize_ascii;
using experiments::train_bpe;
using experiments::write_opt_tokenizer;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// ASCII text the GPT-2 pattern splits in every way it can.
const std::vector<std::string> kTricky = {
    "", " ", "  ", "\t", "\n", "\r\n", " \n ", "a", "a  b", "a \t b", "x\n\ny", "end with space ", "end  ",
    "   leading", "trailing   ", "tabs\tand\nnewlines\r\nmixed \t \n end", "don't won't it's we've I'm you're he'd",
    "'s 't 're 've 'm 'll 'd", "'S 'T", " 's", "' s", "'", "''", "'''s", "''quoted'' 'single' \"double\"",
    "abc123def", "123abc", "3.14159", "$100.00", "1,000,000", "-17", "?!?!", "...", " .", " ?", "a.b.c",
    "Hello, world!", "What color is the circle? red", "How many shapes are there? 3", "\x0b\x0c vertical",
    "x\x7f y", "a\x01b", "__init__", "(){}[]<>", "  ?  ", "word   ?", "2 3  4   5",
};

text::DecodeOptions skipping_specials() {
  text::DecodeOptions options;
  options.skip_special_tokens = true;
  return options;
}

std::string byte_symbol(unsigned char b) {  // GPT-2's alphabet, ASCII part
  if (b >= '!' && b <= '~') return std::string(1, static_cast<char>(b));
  const unsigned code = b < '!' ? 256u + b : 256u + 33u;  // 0..32 -> U+0100..U+0120, 127 -> U+0121
  return {static_cast<char>(0xC0 | (code >> 6)), static_cast<char>(0x80 | (code & 0x3F))};
}

TEST(BpeTrainer, PreTokenizesAsciiAsGpt2) {
  EXPECT_EQ(pretokenize_ascii("What color is it? red"),
            (std::vector<std::string>{"What", " color", " is", " it", "?", " red"}));
  EXPECT_EQ(pretokenize_ascii("a  b"), (std::vector<std::string>{"a", " ", " b"}));
  EXPECT_EQ(pretokenize_ascii("x\n\ny"), (std::vector<std::string>{"x", "\n", "\n", "y"}));  // the last newline is left to "y", which will not take it
  EXPECT_EQ(pretokenize_ascii("it's 3.5 ''q"), (std::vector<std::string>{"it", "'s", " 3", ".", "5", " ''", "q"}));
  EXPECT_EQ(pretokenize_ascii("end  "), (std::vector<std::string>{"end", "  "}));
  EXPECT_EQ(pretokenize_ascii(""), std::vector<std::string>{});
}

TEST(BpeTrainer, SameTextsSameFiles) {
  // Twice each: every piece occurs at least twice, so merges go on to the target.
  const std::vector<std::string> texts = {"a red circle", "a blue circle", "the red square", "a red circle moves",
                                          "a red circle", "a blue circle", "the red square", "a red circle moves"};
  BpeTrainerOptions options;
  options.vocab_size = 280;
  const auto v = train_bpe(texts, options);
  EXPECT_EQ(v.tokens.size(), 280u);
  EXPECT_EQ(v.merges.size(), 20u);
  EXPECT_EQ(v.tokens[0], "<s>");
  EXPECT_EQ(v.tokens[2], "</s>");
  EXPECT_EQ(v.tokens[4 + ' '], "\xC4\xA0");  // 'Ġ'
  testing::TempDir dir;
  write_opt_tokenizer(v, dir.path() + "/a");
  write_opt_tokenizer(train_bpe(texts, options), dir.path() + "/b");
  for (const char* name : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
    EXPECT_EQ(read_file(dir.path() + "/a/" + name), read_file(dir.path() + "/b/" + name)) << name;
  }
  write_opt_tokenizer(train_bpe({"other words entirely", "other words"}, options), dir.path() + "/c");
  EXPECT_NE(read_file(dir.path() + "/a/merges.txt"), read_file(dir.path() + "/c/merges.txt"));
  // Our tokenizer loads it, and every text round-trips.
  const auto tok = text::Tokenizer::from_directory(dir.path() + "/a");
  EXPECT_EQ(tok.vocab_size(), 280u);
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.pad_id(), 1);
  for (const auto& t : texts) {
    const auto ids = tok.encode(t);
    EXPECT_EQ(ids.front(), 2);
    EXPECT_LT(ids.size(), t.size()) << t;  // merges apply
    EXPECT_EQ(tok.decode(ids, skipping_specials()), t);
  }
}

TEST(BpeTrainer, StopsWhenNoPairRepeatsAndRejectsBadInput) {
  BpeTrainerOptions options;
  options.vocab_size = 5000;
  const auto v = train_bpe({"abab"}, options);  // "ab" x2, then "abab" once: below min_frequency
  EXPECT_EQ(v.merges.size(), 1u);
  EXPECT_EQ(v.tokens.size(), 261u);
  options.vocab_size = 100;
  try {
    train_bpe({"x"}, options);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(e.where(), "vocab-size");
  }
  options.vocab_size = 300;
  options.source = "corpus.txt";
  try {
    train_bpe({"fine", "caf\xC3\xA9"}, options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "corpus.txt:2");
    EXPECT_NE(std::string(e.what()).find("ASCII"), std::string::npos);
  }
}

// The toy world's tokenizer (trained on its corpus) against Hugging Face's, on
// every distinct corpus line and the tricky strings: the same ids, pieces and
// decodings.
TEST(BpeTrainer, TheWorldsTokenizerMatchesHuggingFace) {
  const auto& world = testing::default_world();
  const auto directory = world.root + "/tokenizer";
  std::vector<std::string> texts = kTricky;
  {
    std::ifstream corpus(world.root + "/corpus/train.txt");
    std::set<std::string> seen;
    for (std::string line; std::getline(corpus, line);) {
      if (seen.insert(line).second) texts.push_back(line);
    }
  }
  ASSERT_GT(texts.size(), 1000u);
  testing::TempDir dir;
  const auto input = dir.write("texts.json", nlohmann::json(texts).dump());
  const auto output = dir.path() + "/hf.json";
  const auto r = testing::run_process({EPALM_PYTHON, HF_TOKENIZE, directory, input, output}, 300);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto hf = testing::read_json_file(output);

  const auto ours = text::Tokenizer::from_directory(directory);
  const auto plain = text::Tokenizer::from_files(directory + "/vocab.json", directory + "/merges.txt");
  EXPECT_EQ(hf["auto_class"], "GPT2TokenizerFast");
  EXPECT_EQ(hf["vocab_size"].get<std::size_t>(), ours.vocab_size());
  EXPECT_EQ(hf["vocab_size"].get<int>(), world.counts.at("tokenizer vocabulary"));
  EXPECT_EQ(hf["len"].get<std::size_t>(), ours.size());
  EXPECT_EQ(hf["bos"].get<text::TokenId>(), *ours.bos_id());
  EXPECT_EQ(hf["eos"].get<text::TokenId>(), *ours.eos_id());
  EXPECT_EQ(hf["pad"].get<text::TokenId>(), *ours.pad_id());
  std::size_t tokens = 0, characters = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto& t = texts[i];
    const auto ids = ours.encode(t);
    ASSERT_EQ(ids, hf["auto"][i].get<std::vector<text::TokenId>>()) << "'" << t << "'";
    ASSERT_EQ(ids, hf["slow"][i].get<std::vector<text::TokenId>>()) << "'" << t << "'";
    ASSERT_EQ(plain.encode(t, false), hf["plain"][i].get<std::vector<text::TokenId>>()) << "'" << t << "'";
    ASSERT_EQ(ours.decode(ids, skipping_specials()), hf["decoded"][i].get<std::string>()) << "'" << t << "'";
    ASSERT_EQ(ours.decode(ids, skipping_specials()), t);
    // The trainer's pre-tokenizer is GPT-2's: the same pieces as tokenizers' ByteLevel.
    std::vector<std::string> pieces;
    for (const auto& piece : pretokenize_ascii(t)) {
      std::string mapped;
      for (const char c : piece) mapped += byte_symbol(static_cast<unsigned char>(c));
      pieces.push_back(mapped);
    }
    ASSERT_EQ(pieces, hf["pieces"][i].get<std::vector<std::string>>()) << "'" << t << "'";
    if (i >= kTricky.size()) tokens += ids.size() - 1, characters += t.size();
  }
  // Trained on this corpus, the vocabulary holds its words whole: under 4 characters a token.
  EXPECT_GT(static_cast<double>(characters) / tokens, 4.0);
}

}  // namespace
}  // namespace epalm
