// libFuzzer target for the tokenizer's files (core/src/text/tokenizer_files.cpp,
// bpe_model.cpp): an input is vocab.json, merges.txt, tokenizer_config.json
// and special_tokens_map.json separated by "\n----\n" lines. A tokenizer that
// loads must encode and decode text; anything else must be epalm::Error.
#include "epalm/core/error.h"
#include "epalm/core/text/tokenizer.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = epalm::fuzz::split(data, size, 4);
  const auto vocab = epalm::fuzz::write("tok/vocab.json", parts[0]);
  const auto merges = epalm::fuzz::write("tok/merges.txt", parts[1]);
  epalm::fuzz::write("tok/tokenizer_config.json", parts[2]);
  epalm::fuzz::write("tok/special_tokens_map.json", parts[3]);
  for (int directory = 0; directory < 2; ++directory) {
    try {
      const auto tokenizer = directory ? epalm::text::Tokenizer::from_directory(epalm::fuzz::folder() + "/tok")
                                       : epalm::text::Tokenizer::from_files(vocab, merges);
      // Text the vocabulary may not cover: unknown bytes must be handled, not crash.
      for (const char* text : {"What is on the table?", " caption </s> \xc3\xa9\xe2\x82\xac x"}) {
        const auto ids = tokenizer.encode(text);
        (void)tokenizer.decode(ids);
      }
    } catch (const epalm::Error&) {
    }
  }
  return 0;
}
