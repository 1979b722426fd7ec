// The run query language of `epalm runs list --where` and friends: fields of a
// run, comparisons, and/or/not and parentheses; plus sorting by a field.
//
//   expr    := term ('or' term)*
//   term    := factor ('and' factor)*
//   factor  := 'not' factor | '(' expr ')' | operand (op operand)?
//   op      := '=' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '~' (text contains)
//   operand := field | number | 'text' | "text" | true | false
//
// Fields: a setting by its name (`prompt-length`) or as `param.NAME`;
// `metric.KEY.SUMMARY` (SUMMARY: last, min, max, best, n, last_step,
// best_step); `score.SPLIT.METRIC`; `tag.KEY` (its value; alone: the tag is
// present); id, experiment, sweep, cell, status, seed, host, config_hash,
// exit_code, world_size, started, ended (Unix seconds; compared with a quoted
// 'YYYY-MM-DD[ HH:MM[:SS]]' UTC time), duration (seconds). `&&`, `||`, `!`
// spell and, or, not.
//
// A field a run lacks is missing: every comparison with it is false except
// `!=`; alone it is false. A bare word right of an operator is text
// (`task = vqa`); compare two settings with `a = param.b`. Settings compare as numbers when both sides are
// numbers, else as canonical text ("1e-4" = "0.0001", "True" = "true").
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "epalm/analysis/run_records.h"

namespace epalm::analysis {

struct Value {
  enum class Kind { kMissing, kNumber, kText };
  Kind kind = Kind::kMissing;
  double number = 0;
  std::string text;
  static Value missing() { return {}; }
  static Value of(double v) { return {Kind::kNumber, v, {}}; }
  static Value of(std::string v) { return {Kind::kText, 0, std::move(v)}; }
  bool is_missing() const { return kind == Kind::kMissing; }
  std::optional<double> as_number() const;  // a number, or text that is one
  std::string display() const;              // "" when missing
};

// What a set of fields needs loaded (RunSelection's key lists).
struct FieldNeeds {
  std::set<std::string> params, metrics, scores;
  bool all_params = false;
  bool run_details = false;  // a field of the run beyond id, status, started, seed
  // Sets the key lists; run_details only ever on (a listing shows them all).
  void apply(RunSelection& selection) const;
};

class Field {
 public:
  // Throws UsageError naming `option` when the name is malformed
  // (`metric.loss.bogus`).
  static Field parse(const std::string& name, const std::string& option);
  Value get(const RunRecord& run) const;
  const std::string& name() const { return name_; }
  bool is_time() const;
  bool is_metric() const { return kind_ == Kind::kMetric; }
  bool is_score() const { return kind_ == Kind::kScore; }
  bool is_tag() const { return kind_ == Kind::kTag; }
  // For metrics: the store's goal for the key in `run` (true when missing).
  bool lower_is_better(const RunRecord& run) const;
  const std::string& key() const { return key_; }
  void add_needs(FieldNeeds& needs) const;

 private:
  enum class Kind { kParam, kMetric, kScore, kTag, kRun };
  Kind kind_ = Kind::kParam;
  std::string name_, key_, part_;  // key_: setting/metric/score/tag key or run column; part_: summary
};

class Query {
 public:
  // An empty text matches every run. Errors are UsageErrors naming `option`
  // that quote the text with a caret under the offending character.
  static Query parse(const std::string& text, const std::string& option = "--where");
  Query();
  ~Query();
  Query(Query&&) noexcept;
  Query& operator=(Query&&) noexcept;
  bool matches(const RunRecord& run) const;
  void add_needs(FieldNeeds& needs) const;
  struct Node;

 private:
  std::unique_ptr<Node> root_;
};

// Drops the runs `query` does not match, in place: the kept ones stay in
// order and are not copied.
void keep_matching(std::vector<RunRecord>& runs, const Query& query);

// "field" ascending or "-field" descending; missing values sort last.
struct SortKey {
  Field field;
  bool descending = false;
};
std::vector<SortKey> parse_sort(const std::vector<std::string>& keys, const std::string& option = "--sort");
// Stable: runs equal on every key keep their order.
void sort_runs(std::vector<RunRecord>& runs, const std::vector<SortKey>& keys);

// Unix seconds of 'YYYY-MM-DD[ HH:MM[:SS]]' (or with 'T'), UTC; nullopt otherwise.
std::optional<double> parse_utc_time(const std::string& text);

}  // namespace epalm::analysis
