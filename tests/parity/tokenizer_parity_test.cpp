// The OPT tokenizer against Hugging Face's GPT2TokenizerFast / GPT2Tokenizer, on the
// reference data of make_tokenizer_fixtures.py (several thousand corpus lines).
#include <gtest/gtest.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <iostream>
#include <sstream>

#include "../../core/src/text/pretokenizer.h"
#include "epalm/core/text/tokenizer.h"
#include "tokenizer_fixture.h"

namespace epalm {

namespace {

using nlohmann::json;
using tokenizer_fixture::ids;
using tokenizer_fixture::read_jsonl;

// Counts mismatches and keeps the first few, so one bug does not print thousands of lines.
class Mismatches {
 public:
  template <typename T>
  void expect_eq(const T& actual, const T& expected, const std::string& what) {
    if (actual == expected) return;
    if (count_++ < 8) {
      out_ << "\n  " << what << ": got " << json(actual).dump() << "\n  " << std::string(what.size(), ' ')
           << "  HF " << json(expected).dump();
    }
  }
  std::size_t count() const { return count_; }
  std::string report() const { return out_.str(); }

 private:
  std::size_t count_ = 0;
  std::ostringstream out_;
};

void expect_decodings(const text::Tokenizer& tok, const json& record, Mismatches& m, const std::string& what) {
  const auto token_ids = ids(record["ids"]);
  for (bool skip : {false, true}) {
    for (bool clean : {false, true}) {
      const std::string key = std::string("decode") + (skip ? "_skip" : "") + (clean ? "_clean" : "");
      m.expect_eq(tok.decode(token_ids, text::DecodeOptions{skip, clean}), record[key].get<std::string>(), key + " " + what);
    }
  }
}

// Every record's text encoded with and without BOS, and its ids decoded four ways.
void expect_corpus_parity(const text::Tokenizer& tok, const std::vector<json>& records, std::size_t limit = SIZE_MAX) {
  Mismatches m;
  for (std::size_t i = 0; i < records.size() && i < limit; ++i) {
    const auto& r = records[i];
    const auto text = r["text"].get<std::string>();
    const std::string what = json(text).dump();
    m.expect_eq(tok.encode(text), ids(r["ids"]), "encode " + what);
    m.expect_eq(tok.encode(text, false), ids(r["ids_plain"]), "encode(no special) " + what);
    expect_decodings(tok, r, m, what);
  }
  EXPECT_EQ(m.count(), 0u) << m.report();
}

}  // namespace

TEST(TokenizerParity, EncodesAndDecodesEveryCorpusLineAsHf) {
  EPALM_REQUIRE_TOKENIZER_FIXTURES();
  const auto records = read_jsonl("encode.jsonl");
  ASSERT_GT(records.size(), 3000u);
  expect_corpus_parity(tokenizer_fixture::opt(), records);
}

TEST(TokenizerParity, OptSpecialTokensAndSizes) {
  EPALM_REQUIRE_TOKENIZER_FIXTURES();
  const auto& tok = tokenizer_fixture::opt();
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.pad_id(), 1);
  EXPECT_EQ(tok.unk_id(), 2);  // unk_token is "</s>"
  EXPECT_EQ(tok.token_to_id("<s>"), 0);
  EXPECT_EQ(tok.token_to_id("<unk>"), 3);
  EXPECT_EQ(tok.vocab_size(), 50261u);  // OPT's 4 head tokens + GPT-2's 50257
  EXPECT_EQ(tok.size(), 50261u);
  EXPECT_TRUE(tok.config().add_bos_token);
  EXPECT_FALSE(tok.config().add_prefix_space);
  EXPECT_FALSE(tok.config().clean_up_tokenization_spaces);  // transformers 4.57.6 writes and reads false
  ASSERT_EQ(tok.added_tokens().size(), 2u);
  EXPECT_EQ(tok.added_tokens()[0].content, "<pad>");
  EXPECT_EQ(tok.added_tokens()[1].content, "</s>");
}

// The official facebook/opt-* files: AddedToken dicts, special_tokens_map.json, no
// added_tokens_decoder; and the two raw files with OPT's settings.
TEST(TokenizerParity, LegacyDirectoryAndRawFilesMatch) {
  EPALM_REQUIRE_TOKENIZER_FIXTURES();
  const auto records = read_jsonl("encode.jsonl");
  const auto legacy = text::Tokenizer::from_directory(tokenizer_fixture::path("opt-legacy"));
  EXPECT_EQ(legacy.pad_id(), 1);
  EXPECT_EQ(legacy.bos_id(), 2);
  expect_corpus_parity(legacy, records, 600);
  const auto raw = text::Tokenizer::from_files(tokenizer_fixture::path("opt/vocab.json"), tokenizer_fixture::path("opt/merges.txt"));
  expect_corpus_parity(raw, records, 600);
}

// add_prefix_space=True is where GPT2Tokenizer and GPT2TokenizerFast differ; this
// matches the fast one (see the fixture's disagreements.txt).
TEST(TokenizerParity, AddPrefixSpaceMatchesTheFastTokenizer) {
  EPALM_REQUIRE_TOKENIZER_FIXTURES();
  text::TokenizerOverrides overrides;
  overrides.add_prefix_space = true;
  const auto tok = text::Tokenizer::from_directory(tokenizer_fixture::path("opt"), overrides);
  const auto records = read_jsonl("prefix_space.jsonl");
  ASSERT_GT(records.size(), 400u);
  expect_corpus_parity(tok, records);
}

TEST(TokenizerParity, DecodesBrokenUtf8AndSpecialTokensAsHf) {
  EPALM_REQUIRE_TOKENIZER_FIXTURES();
  const auto records = read_jsonl("decode.jsonl");
  ASSERT_GT(records.size(), 300u);
  Mismatches m;
  for (const auto& r : records) expect_decodings(tokenizer_fixture::opt(), r, m, r["ids"].dump());
  EXPECT_EQ(m.count(), 0u) << m.report();
}

TEST(TokenizerParity, BatchPaddingAndTruncationMatchHf) {
  EPALM_REQUIRE_TOKENIZER_FIXTURES();
  const auto records = read_jsonl("batch.jsonl");
  ASSERT_EQ(records.size(), 32u);
  Mismatches m;
  for (const auto& r : records) {
    text::BatchOptions options;
    options.add_special_tokens = r["add_special_tokens"].get<bool>();
    options.padding_side = r["padding_side"] == "left" ? text::Side::kLeft : text::Side::kRight;
    options.truncation_side = r["truncation_side"] == "left" ? text::Side::kLeft : text::Side::kRight;
    options.max_length = r["max_length"].is_null() ? 0 : r["max_length"].get<std::size_t>();
    options.pad_to_max_length = r["pad_to_max_length"].get<bool>();
    const auto batch = tokenizer_fixture::opt().encode_batch(r["texts"].get<std::vector<std::string>>(), options);
    const std::string what = r["texts"].dump() + " " + r["padding_side"].get<std::string>();
    m.expect_eq(batch.input_ids, r["input_ids"].get<std::vector<std::vector<text::TokenId>>>(), "input_ids " + what);
    m.expect_eq(batch.attention_mask, r["attention_mask"].get<std::vector<std::vector<text::TokenId>>>(), "mask " + what);
  }
  EXPECT_EQ(m.count(), 0u) << m.report();
}

// Every code point's class (letter, number, white space) as the pre-tokenizer sees
// it, against the fast tokenizer's regex engine. Code points assigned after ICU's
// Unicode version are a known gap, counted and printed, not failed.
TEST(TokenizerParity, UnicodeClassesMatchTheFastTokenizer) {
  EPALM_REQUIRE_TOKENIZER_FIXTURES();
  std::ifstream in(tokenizer_fixture::path("unicode_classes.json"));
  const json classes = json::parse(in);
  auto member = [&](const char* name) {
    std::vector<bool> in_class(0x110000, false);
    for (const auto& range : classes[name]) {
      for (int c = range[0].get<int>(); c <= range[1].get<int>(); ++c) in_class[c] = true;
    }
    return in_class;
  };
  // A prefix of that class followed by c is one piece only when c is in the class.
  const std::pair<std::vector<bool>, std::string> tests[] = {
      {member("L"), "a"}, {member("N"), "1"}, {member("White_Space"), "\t"}};
  Mismatches m;
  std::size_t newer_than_icu = 0;
  for (UChar32 c = 0; c < 0x110000; ++c) {
    if (c >= 0xD800 && c < 0xE000) continue;
    const bool assigned = u_charType(c) != U_UNASSIGNED;
    for (const auto& [in_class, prefix] : tests) {
      if (!assigned) {
        newer_than_icu += in_class[c];
        continue;
      }
      std::string text = prefix;
      char utf8[4];
      int32_t length = 0;
      U8_APPEND_UNSAFE(utf8, length, c);
      text.append(utf8, length);
      int pieces = 0;
      text::detail::pretokenize(text, [&](std::string_view) { ++pieces; });
      m.expect_eq(pieces == 1, static_cast<bool>(in_class[c]), "U+" + std::to_string(c) + " after \"" + prefix + "\"");
    }
  }
  EXPECT_EQ(m.count(), 0u) << m.report();
  std::cout << newer_than_icu << " code points are letters or numbers to the fast tokenizer but unassigned in ICU "
            << U_UNICODE_VERSION << "\n";
}

}  // namespace epalm
