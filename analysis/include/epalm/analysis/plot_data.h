// From runs to plots: a metric's history per run or per value of a setting
// (the mean over seeds with a ± std band), and one value against another
// (a score against trainable parameters or LM size, throughput against world
// size), the mean ± std over seeds at each x, one line per value of a setting.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "epalm/analysis/plot.h"
#include "epalm/analysis/run_records.h"

namespace epalm::analysis {

// The history of metric `key` for `runs`: one series per run, or with
// `group_by` one per value of that setting (mean ± std over the runs that
// logged each step). Throws UsageError when no run logged `key`.
PlotSpec history_plot(const registry::ResultsStore& store, const std::vector<RunRecord>& runs, const std::string& key,
                      const std::optional<std::string>& group_by);

// `y` against `x` (fields); x values that are model names ("opt-1.3b",
// "125m") count as their parameter numbers. Throws UsageError when no run
// has both.
PlotSpec xy_plot(const std::vector<RunRecord>& runs, const std::string& x, const std::string& y,
                 const std::optional<std::string>& group_by, bool log_x);

// 125e6 for "opt-125m", 1.3e9 for "opt-1.3b" / "1.3B"; nullopt otherwise.
std::optional<double> model_size(const std::string& name);

}  // namespace epalm::analysis
