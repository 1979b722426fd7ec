// One self-contained HTML page for a sweep: its comparison table (sortable),
// its plots as inline SVG, the cells' states and each run's settings and
// provenance behind a click. Inline CSS and a few lines of JavaScript; nothing
// is fetched from the network.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "epalm/registry/results_store.h"

namespace epalm::analysis {

struct ReportOptions {
  std::vector<std::string> values;  // compared fields; empty: every score, then metric.loss.last
  std::map<std::string, std::string> baseline;
  std::string history = "loss";  // the metric whose history is plotted
  int resamples = 10000;
  std::uint64_t seed = 0;
};

// Throws epalm::Error naming the known sweeps when there is none by that name.
std::string sweep_report_html(registry::ResultsStore& store, const std::string& sweep, const ReportOptions& options);

// One page for several sweeps (a study): a title, paragraphs of text before
// them, then each sweep's section as sweep_report_html gives it, under its
// own heading.
struct ReportSection {
  std::string heading;
  std::string sweep;
  ReportOptions options;
};
std::string sweeps_report_html(registry::ResultsStore& store, const std::string& title,
                               const std::vector<std::string>& paragraphs, const std::vector<ReportSection>& sections);

// Text safe inside HTML elements and attributes.
std::string html_escape(const std::string& text);

}  // namespace epalm::analysis
