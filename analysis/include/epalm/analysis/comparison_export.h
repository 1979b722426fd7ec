// A comparison in every export format. Text, Markdown and LaTeX show one cell
// as "mean ± std (n)" with the best marked and the baseline's Δ and p-values
// in columns of their own; CSV and JSON give the numbers (17 significant
// digits, so they parse back to the same doubles), one record per cell.
#pragma once

#include <string>

#include "epalm/analysis/comparison.h"
#include "epalm/analysis/table.h"

namespace epalm::analysis {

Table comparison_table(const Comparison& comparison);
std::string export_comparison(const Comparison& comparison, TableFormat format);

}  // namespace epalm::analysis
