// The tokenizer on small hand-made vocabularies: the BPE procedure, added tokens,
// batching, and the errors bad files produce. Parity with Hugging Face on the real
// vocabulary is in tests/parity/tokenizer_parity_test.cpp.
#include <gtest/gtest.h>

#include <thread>

#include "../../core/src/text/byte_unicode.h"
#include "epalm/core/error.h"
#include "epalm/core/text/tokenizer.h"
#include "process.h"

namespace epalm {

namespace {

using Ids = std::vector<text::TokenId>;

// "Ġ" is the byte-level symbol of a space.
const char* kVocab = R"({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "a": 4, "b": 5, "c": 6, "Ġ": 7,
                         "ab": 8, "abc": 9, "Ġa": 10, "Ġab": 11, "aa": 12, "!": 13})";
const char* kMerges = "#version: 0.2\nĠ a\na b\nab c\nĠa b\na a\n";

struct Files {
  testing::TempDir dir;
  std::string vocab, merges;
  Files(const std::string& vocab_json = kVocab, const std::string& merges_txt = kMerges)
      : vocab(dir.write("vocab.json", vocab_json)), merges(dir.write("merges.txt", merges_txt)) {}
  text::Tokenizer load() const { return text::Tokenizer::from_files(vocab, merges); }
};

// The message of the epalm::Error `load` throws.
template <typename Load>
std::string error_of(Load load) {
  try {
    load();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(Tokenizer, MergesByRankAndPrependsOptsBos) {
  const auto tok = Files().load();
  EXPECT_EQ(tok.encode("abc ab"), (Ids{2, 9, 11}));
  EXPECT_EQ(tok.encode("abc ab", false), (Ids{9, 11}));
  EXPECT_EQ(tok.tokenize("abc ab"), (std::vector<std::string>{"abc", "Ġab"}));
  // "a a" merges all non-overlapping occurrences left to right: aaa -> aa a.
  EXPECT_EQ(tok.encode("aaa", false), (Ids{12, 4}));
  EXPECT_EQ(tok.encode("", true), (Ids{2}));
  EXPECT_EQ(tok.decode({2, 9, 11}), "</s>abc ab");
  EXPECT_EQ(tok.decode({2, 9, 11, 1}, text::DecodeOptions{true, std::nullopt}), "abc ab");
}

TEST(Tokenizer, OptSpecialTokens) {
  const auto tok = Files().load();
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.unk_id(), 2);  // OPT's unk_token is "</s>"; "<unk>" is an ordinary entry
  EXPECT_EQ(tok.pad_id(), 1);
  EXPECT_EQ(tok.token_to_id("<unk>"), 3);
  EXPECT_EQ(tok.size(), 14u);
  // Matched before BPE; "<s>" is not special for OPT and goes through BPE.
  EXPECT_EQ(tok.encode("a</s>b<pad>", false), (Ids{4, 2, 5, 1}));
  ASSERT_EQ(tok.added_tokens().size(), 2u);
  EXPECT_EQ(tok.added_tokens()[0].content, "<pad>");
}

TEST(Tokenizer, MissingByteSymbolsBecomeUnk) {
  const auto tok = Files().load();
  EXPECT_EQ(tok.encode("ax", false), (Ids{4, 2}));
}

TEST(Tokenizer, MergesWithoutFinalNewlineLoseTheLastMergeAsHfDoes) {
  const auto tok = Files(kVocab, "#version: 0.2\na b\nab c").load();  // no "\n" after the last
  EXPECT_EQ(tok.encode("abc", false), (Ids{8, 6}));
}

TEST(Tokenizer, SpecialTokensMissingFromTheVocabularyTakeTheNextIds) {
  text::TokenizerConfig config = text::TokenizerConfig::opt();
  config.pad_token = "<PAD>";
  config.additional_special_tokens = {"<image>"};
  Files files;
  const auto tok = text::Tokenizer::from_files(files.vocab, files.merges, config);
  EXPECT_EQ(tok.pad_id(), 14);
  EXPECT_EQ(tok.token_to_id("<image>"), 15);
  EXPECT_EQ(tok.size(), 16u);
  EXPECT_EQ(tok.encode("a<image>", false), (Ids{4, 15}));
  EXPECT_EQ(tok.decode({4, 15, 14}), "a<image><PAD>");
  EXPECT_EQ(tok.decode({4, 15, 14}, text::DecodeOptions{true, std::nullopt}), "a");
}

TEST(Tokenizer, DirectoryConfigAndLstripRstrip) {
  testing::TempDir dir;
  dir.write("vocab.json", kVocab);
  dir.write("merges.txt", kMerges);
  dir.write("tokenizer_config.json", R"({"add_bos_token": false, "bos_token": "</s>", "pad_token": "<pad>",
      "unk_token": "</s>", "eos_token": "</s>", "added_tokens_decoder": {
        "14": {"content": "<mask>", "lstrip": true, "rstrip": true, "special": true}}})");
  const auto tok = text::Tokenizer::from_directory(dir.path());
  EXPECT_FALSE(tok.config().add_bos_token);
  EXPECT_EQ(tok.encode("a  <mask> \tb"), (Ids{4, 14, 5}));
  EXPECT_EQ(tok.encode("a</s>"), (Ids{4, 2}));
  text::TokenizerOverrides overrides;
  overrides.add_bos_token = true;
  overrides.add_prefix_space = true;
  const auto prefixed = text::Tokenizer::from_directory(dir.path(), overrides);
  EXPECT_EQ(prefixed.encode("ab</s>a"), (Ids{2, 11, 2, 10}));
}

TEST(Tokenizer, DecodeReplacesBrokenUtf8AndCleansUpOnRequest) {
  const auto tok = Files(R"({"Ã": 0, "©": 1, "Ġ": 2, ".": 3, "a": 4})", "#version: 0.2\n").load();
  EXPECT_EQ(tok.decode({0, 1}), "\xC3\xA9");      // bytes C3 A9: é
  EXPECT_EQ(tok.decode({0}), "\xEF\xBF\xBD");     // a lone lead byte
  EXPECT_EQ(tok.decode({4, 2, 3}), "a .");
  EXPECT_EQ(tok.decode({4, 2, 3}, text::DecodeOptions{false, true}), "a.");
  EXPECT_EQ(tok.decode({4, 999}), "a");           // unknown ids are dropped, as the fast tokenizer does
}

TEST(Tokenizer, CleanUpTokenizationMatchesHf) {
  EXPECT_EQ(text::Tokenizer::clean_up_tokenization("Hello , world . isn't it ? yes ! I 'm he 's we 've you 're a ' b"),
            "Hello, world. isn't it? yes! I'm he's we've you're a'b");
  EXPECT_EQ(text::Tokenizer::clean_up_tokenization("do n't"), "don't");
}

TEST(Tokenizer, ByteAlphabetAndLossyUtf8) {
  std::string symbols;
  text::detail::append_byte_symbols(std::string("\x00\x09\x0A\x20\x7F\xA0\xAD!", 8), symbols);
  EXPECT_EQ(symbols, "ĀĉĊĠġłŃ!");
  std::string bytes;
  text::detail::append_symbol_bytes(symbols, bytes);
  EXPECT_EQ(bytes, std::string("\x00\x09\x0A\x20\x7F\xA0\xAD!", 8));
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(text::detail::decode_utf8_lossy("\xE2\x82"), fffd);
  EXPECT_EQ(text::detail::decode_utf8_lossy("\xED\xA0\x80"), fffd + fffd + fffd);
  EXPECT_EQ(text::detail::decode_utf8_lossy("\xF0\x9F\x98" "a"), fffd + "a");
  EXPECT_EQ(text::detail::decode_utf8_lossy("\xC0\xAF"), fffd + fffd);
}

TEST(Tokenizer, BatchPadsLeftOrRightAndTruncates) {
  const auto tok = Files().load();
  text::BatchOptions options;
  auto batch = tok.encode_batch({"abc ab", "a"}, options);
  EXPECT_EQ(batch.input_ids, (std::vector<Ids>{{2, 9, 11}, {2, 4, 1}}));
  EXPECT_EQ(batch.attention_mask, (std::vector<Ids>{{1, 1, 1}, {1, 1, 0}}));
  options.padding_side = text::Side::kLeft;
  batch = tok.encode_batch({"abc ab", "a"}, options);
  EXPECT_EQ(batch.input_ids, (std::vector<Ids>{{2, 9, 11}, {1, 2, 4}}));
  EXPECT_EQ(batch.attention_mask, (std::vector<Ids>{{1, 1, 1}, {0, 1, 1}}));
  options.max_length = 2;
  options.truncation_side = text::Side::kLeft;
  batch = tok.encode_batch({"abc ab", "a"}, options);
  EXPECT_EQ(batch.input_ids, (std::vector<Ids>{{2, 11}, {2, 4}}));
  options.max_length = 1;
  EXPECT_NE(error_of([&] { tok.encode_batch({"a"}, options); }).find("no room for text"), std::string::npos);
}

TEST(Tokenizer, CopiesShareOneVocabularyAndEncodeConcurrently) {
  const auto tok = Files().load();
  std::vector<std::thread> threads;
  std::vector<Ids> results(4);
  for (std::size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([copy = tok, &results, t] {
      for (int i = 0; i < 200; ++i) results[t] = copy.encode("abc ab aaa b" + std::string(i % 7, 'a'), false);  // last: 3
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& ids : results) EXPECT_EQ(ids, tok.encode("abc ab aaa baaa", false));
}

TEST(Tokenizer, InvalidUtf8InputIsAnError) {
  const auto tok = Files().load();
  EXPECT_EQ(error_of([&] { tok.encode("ab\xFF"); }), "tokenizer input: not valid UTF-8 at byte 2");
}

TEST(TokenizerErrors, NameTheFileAndTheProblem) {
  {
    Files f;
    EXPECT_EQ(error_of([&] { text::Tokenizer::from_files(f.dir.path() + "/none.json", f.merges); }),
              f.dir.path() + "/none.json: file not found");
  }
  EXPECT_EQ(error_of([] { text::Tokenizer::from_directory("/nonexistent/tok"); }),
            "/nonexistent/tok: not a tokenizer directory (no such directory)");
  struct Case {
    std::string vocab, merges, message;
  };
  const Case cases[] = {
      {"{\"a\": 0,", kMerges, "vocab.json: not valid JSON"},
      {"[1, 2]", kMerges, "vocab.json: expected a JSON object, got array"},
      {"{}", kMerges, "vocab.json: the vocabulary is empty"},
      {R"({"a": "zero"})", kMerges, "vocab.json: token \"a\": id must be an integer, got \"zero\""},
      {R"({"a": 0, "b": 0})", kMerges, "\" share id 0"},
      {R"({"a": -4})", kMerges, "vocab.json: token \"a\" has id -4, outside"},
      {kVocab, "#version: 0.2\na b\na b c\n", "merges.txt:3: expected two symbols separated by a space, got \"a b c\""},
      {kVocab, "#version: 0.2\na b\nb z\n", "merges.txt:3: merge \"b z\" needs \"z\", which is not in "},
      {kVocab, "#version: 0.2\nb c\n", "merges.txt:2: merge \"b c\" needs \"bc\", which is not in "},
      {kVocab, "#version: 0.2\na \xFF\n", "merges.txt: not UTF-8 (byte 16)"},
  };
  for (const auto& c : cases) {
    Files files(c.vocab, c.merges);
    const std::string error = error_of([&] { files.load(); });
    EXPECT_NE(error.find(c.message), std::string::npos) << error;
    EXPECT_EQ(error.rfind(files.dir.path(), 0), 0u) << error;  // names the file
  }
}

TEST(TokenizerErrors, DirectoryConfigFiles) {
  auto directory_error = [](const std::string& name, const std::string& content) {
    testing::TempDir dir;
    dir.write("vocab.json", kVocab);
    dir.write("merges.txt", kMerges);
    dir.write(name, content);
    return error_of([&] { text::Tokenizer::from_directory(dir.path()); }).substr(dir.path().size() + 1);
  };
  EXPECT_EQ(directory_error("tokenizer_config.json", "{").rfind("tokenizer_config.json: not valid JSON: ", 0), 0u);
  EXPECT_EQ(directory_error("tokenizer_config.json", R"({"add_bos_token": "yes"})"),
            "tokenizer_config.json: \"add_bos_token\" must be true or false");
  EXPECT_EQ(directory_error("tokenizer_config.json", R"({"errors": "strict"})"),
            "tokenizer_config.json: \"errors\": only \"replace\" is supported, got \"strict\"");
  const auto conflict = directory_error("tokenizer_config.json", R"({"added_tokens_decoder": {"4": {"content": "<x>"}}})");
  EXPECT_EQ(conflict.rfind("tokenizer_config.json: added token \"<x>\" has id 4, which ", 0), 0u) << conflict;
  EXPECT_NE(conflict.find("vocab.json gives to \"a\""), std::string::npos) << conflict;
  EXPECT_EQ(directory_error("tokenizer_config.json", R"({"added_tokens_decoder": {"x": {"content": "<x>"}}})"),
            "tokenizer_config.json: added token key \"x\" is not a token id");
  EXPECT_EQ(directory_error("special_tokens_map.json", R"({"pad_token": 5})"),
            "special_tokens_map.json: \"pad_token\" must be a string or an object with a \"content\" string");
  EXPECT_EQ(directory_error("added_tokens.json", R"({"<x>": 20, "<y>": 20})"),
            "added_tokens.json: tokens \"<x>\" and \"<y>\" share id 20");
}

}  // namespace epalm
