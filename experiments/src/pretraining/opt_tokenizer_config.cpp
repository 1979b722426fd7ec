// write_opt_tokenizer_config: OPT's tokenizer settings beside a byte-level BPE.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "epalm/core/error.h"
#include "epalm/experiments/pretraining.h"

namespace epalm::experiments {

void write_opt_tokenizer_config(const std::string& directory) {
  namespace fs = std::filesystem;
  const auto vocab_path = (fs::path(directory) / "vocab.json").string();
  std::ifstream in(vocab_path);
  if (!in) throw Error(vocab_path, "cannot open the vocabulary");
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number no JSON type holds
    throw Error(vocab_path, std::string("malformed JSON: ") + e.what());
  }
  for (const char* token : {"</s>", "<pad>"}) {
    if (!vocab.is_object() || !vocab.contains(token)) {
      throw Error(vocab_path, std::string("has no \"") + token + "\" token, which OPT's conventions need");
    }
  }
  if (!fs::exists(fs::path(directory) / "merges.txt")) throw Error(directory, "has no merges.txt");
  // What transformers' GPT2Tokenizer(..., bos/eos/unk "</s>", pad "<pad>",
  // add_bos_token=True).save_pretrained writes for facebook/opt-*.
  nlohmann::json special = {{"bos_token", "</s>"}, {"eos_token", "</s>"}, {"unk_token", "</s>"}, {"pad_token", "<pad>"}};
  nlohmann::json config = special;
  config["add_bos_token"] = true;
  config["add_prefix_space"] = false;
  config["errors"] = "replace";
  config["clean_up_tokenization_spaces"] = false;
  config["model_max_length"] = 1000000000000000000LL;
  config["tokenizer_class"] = "GPT2Tokenizer";
  for (const auto& [name, j] : {std::pair<const char*, const nlohmann::json&>{"tokenizer_config.json", config},
                                {"special_tokens_map.json", special}}) {
    const auto path = (fs::path(directory) / name).string();
    std::ofstream out(path);
    out << j.dump(2) << "\n";
    out.close();
    if (!out) throw Error(path, "cannot write");
  }
}

}  // namespace epalm::experiments
