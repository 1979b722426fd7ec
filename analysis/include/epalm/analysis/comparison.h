// A pivot of runs into rows x columns: rows by the values of some settings,
// a column per value field (score.SPLIT.METRIC, metric.KEY.SUMMARY) and per
// value of the column settings; each cell the mean ± sample std over its
// runs' seeds (n), the best per column marked, and, given a baseline, the
// difference to it with Welch's t-test and a seeded bootstrap over seeds.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "epalm/analysis/run_records.h"

namespace epalm::analysis {

struct ComparisonSpec {
  std::vector<std::string> rows;     // settings
  std::vector<std::string> columns;  // settings (may be empty)
  std::vector<std::string> values;   // fields
  // Settings that pick the baseline ("shared-connector=true,levels=1"): a
  // cell's baseline is the cell with these settings in place of its own
  // (same column); settings outside the axes restrict the baseline's runs.
  std::map<std::string, std::string> baseline;
  std::set<std::string> lower_is_better;  // fields; metrics default to their goal, scores to higher
  int resamples = 10000;
  std::uint64_t seed = 0;
};

// "k=v,k2=v2"; throws UsageError naming `option`.
std::map<std::string, std::string> parse_settings(const std::string& text, const std::string& option);

struct ComparisonCell {
  std::vector<std::string> run_ids;
  std::vector<std::optional<std::int64_t>> seeds;  // per value, one run per seed (the newest)
  std::vector<double> values;
  double mean = 0, std = 0;
  bool best = false;
  bool is_baseline = false;  // this cell is its column's baseline
  std::optional<double> diff;  // mean - baseline mean
  std::optional<double> p_welch, p_bootstrap;
  bool paired = false;  // the bootstrap paired values by seed
  size_t n() const { return values.size(); }
};

struct ComparisonColumn {
  std::string field;
  std::vector<std::string> key;  // values of the column settings
  bool lower_is_better = false;
  std::string label;  // field, then " [setting=value ...]"
};

struct Comparison {
  ComparisonSpec spec;
  std::vector<std::vector<std::string>> rows;  // values of the row settings, sorted
  std::vector<ComparisonColumn> columns;
  std::vector<std::vector<ComparisonCell>> cells;  // [row][column]
  std::size_t runs_used = 0;
  std::string footer() const;  // what the numbers and marks mean, the tests named
};

// Runs lacking a setting of an axis group under "(unset)". Throws UsageError
// when the spec is empty or the baseline matches no run.
Comparison compare_runs(const std::vector<RunRecord>& runs, const ComparisonSpec& spec);

// The fields `spec` reads (for RunSelection).
std::vector<std::string> comparison_settings(const ComparisonSpec& spec);

}  // namespace epalm::analysis
