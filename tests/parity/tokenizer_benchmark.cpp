// tokenizer_benchmark DIRECTORY CORPUS.jsonl REPEATS
// Encodes every "text" of the corpus REPEATS times with the C++ tokenizer (after
// one warm-up pass, as the word cache would be in training) and prints the
// seconds per pass. tests/parity/benchmark_tokenizer.py compares it with HF's.
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "epalm/core/text/tokenizer.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: tokenizer_benchmark DIRECTORY CORPUS.jsonl REPEATS\n";
    return 2;
  }
  const auto tok = epalm::text::Tokenizer::from_directory(argv[1]);
  std::vector<std::string> texts;
  std::ifstream in(argv[2]);
  for (std::string line; std::getline(in, line);) texts.push_back(nlohmann::json::parse(line)["text"]);
  std::size_t tokens = 0;
  for (const auto& text : texts) tokens += tok.encode(text).size();
  const int repeats = std::stoi(argv[3]);
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeats; ++r) {
    for (const auto& text : texts) tokens += tok.encode(text).size();
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::cout << elapsed.count() / repeats << " " << tokens << "\n";
  return 0;
}
