// Matching a checkpoint's tensor names and shapes to what a model wants
// (docs/models.md): optional name prefixes ("model." on
// some OPT checkpoints, "vit." on classification ones), tied weights stored
// under either of their names, and tensors a model may leave unused.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace epalm::models {

// Name -> shape: what a model wants, or what a checkpoint holds.
using TensorShapes = std::map<std::string, std::vector<std::int64_t>>;

struct KeyMapping {
  // Prefixes a checkpoint may put before the model's names: model tensor
  // "decoder.x" is found as "decoder.x", else as "model.decoder.x", ...
  std::vector<std::string> prefixes;
  // Groups of model names for one tied tensor, stored under any of them
  // ({"decoder.embed_tokens.weight", "lm_head.weight"}); a model name in a
  // group falls back to the others, in order, when it is absent.
  std::vector<std::vector<std::string>> aliases;
  // Checkpoint tensors starting with one of these ("classifier.") are
  // expected to go unused and are not reported as unexpected.
  std::vector<std::string> ignore;
};

struct ShapeMismatch {
  std::string name;    // the model's name
  std::string source;  // the checkpoint's name
  std::vector<std::int64_t> expected;
  std::vector<std::int64_t> found;
};

struct StateDictMatch {
  std::map<std::string, std::string> source;  // model name -> checkpoint name to load it from
  std::vector<std::string> missing;           // model names the checkpoint lacks
  std::vector<std::string> unexpected;        // checkpoint names no model name uses
  std::vector<ShapeMismatch> mismatched;
  // Model names stored more than once under different prefixes
  // ("decoder.x" and "model.decoder.x"): which one to load is unclear.
  std::map<std::string, std::vector<std::string>> ambiguous;

  // Every model name resolved, once, with the right shape.
  bool complete() const { return missing.empty() && mismatched.empty() && ambiguous.empty(); }
  // One line listing every problem (long lists cut after 20 names).
  std::string describe() const;
  // Throws epalm::Error(where, describe()) unless complete(); unexpected
  // tensors are then logged as a warning, or thrown when `allow_unexpected`
  // is false.
  void require(const std::string& where, bool allow_unexpected = true) const;
};

StateDictMatch match_state_dict(const TensorShapes& expected, const TensorShapes& checkpoint,
                                const KeyMapping& mapping);

}  // namespace epalm::models
