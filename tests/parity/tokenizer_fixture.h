// The reference data tests/parity/make_tokenizer_fixtures.py writes from HF transformers.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "epalm/core/text/tokenizer.h"

namespace epalm::tokenizer_fixture {

inline std::string path(const std::string& name) { return std::string(EPALM_TOKENIZER_FIXTURES) + "/" + name; }

// Empty when the GPT-2 BPE files were missing (the script then writes only MISSING).
inline std::string missing_reason() {
  std::ifstream in(path("MISSING"));
  std::string reason;
  std::getline(in, reason);
  return reason;
}

#define EPALM_REQUIRE_TOKENIZER_FIXTURES()                                                  \
  do {                                                                                      \
    const std::string reason = ::epalm::tokenizer_fixture::missing_reason();               \
    if (!reason.empty()) GTEST_SKIP() << reason << " (set -DEPALM_GPT2_BPE_DIR)"; \
  } while (0)

inline std::vector<nlohmann::json> read_jsonl(const std::string& name) {
  std::ifstream in(path(name));
  EXPECT_TRUE(in) << "cannot open " << path(name);
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

inline const text::Tokenizer& opt() {
  static const text::Tokenizer tokenizer = text::Tokenizer::from_directory(path("opt"));
  return tokenizer;
}

inline std::vector<text::TokenId> ids(const nlohmann::json& value) { return value.get<std::vector<text::TokenId>>(); }

}  // namespace epalm::tokenizer_fixture
