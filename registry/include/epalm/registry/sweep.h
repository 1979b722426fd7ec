// Sweep files: a registered experiment, axes x seeds, fixed settings and
// per-cell overrides, expanded to cells whose canonical configuration hash is
// their identity. The format (JSON) is described in docs/results-store.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "epalm/registry/experiments.h"

namespace epalm::registry {

struct SweepSpec {
  std::string name;
  std::string experiment;
  Config set;  // on top of the experiment's base configuration
  // Variants: named sets of settings compared with each other (a baseline, the
  // method, its ablations) where they are no product of axes; each variant
  // is crossed with the axes and seeds. Empty: one variant, no settings.
  std::vector<Config> variants;
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;  // in file order
  std::vector<std::int64_t> seeds;
  std::vector<ConditionalOverride> overrides;
  int max_retries = 1;        // a failed cell runs at most 1 + max_retries times
  double lease_seconds = 120;  // a cell whose worker stops renewing this long is failed
  // Each cell's command; {epalm} {config} {results} {output_dir} {cell} {sweep}
  // {attempt} are replaced. Default: {epalm} train --config {config}.
  std::vector<std::string> command;
  std::vector<std::string> launcher;  // a prefix such as mpirun -np 4 (default none)
  std::string output_dir;             // cells' folders (default: beside the results database)
  // Cells record into a spool file in their folder (EPALM_SPOOL), which the
  // worker ingests when the cell ends: for cells launched onto other hosts.
  bool spool = false;
  std::string source;                 // the file it came from
  std::string spec_json;              // canonical text, stored with the sweep
  std::string spec_hash;
};

// Throws epalm::UsageError naming the file (and line:column for JSON syntax)
// for anything malformed: unknown fields, wrong types, an unknown experiment.
SweepSpec parse_sweep_file(const std::string& path);
SweepSpec parse_sweep_json(const std::string& text, const std::string& where);

struct SweepCell {
  std::int64_t index = 0;
  Config config;  // fully resolved
  Config axes;    // this cell's axis values (and seed)
  std::string hash;
};

// The settings that tell cells apart: the variants' keys (first seen first),
// then the axes, then "seed" when `seeds` is given.
std::vector<std::string> sweep_dimensions(const SweepSpec& spec);

// The cells, in a stable order (variants outermost, then axes in file order,
// seeds innermost). Throws
// UsageError for conflicting settings: a key both fixed and an axis (or in a variant), two
// overrides of one cell disagreeing, an override matching no cell, two cells
// with one configuration, or a resolved configuration `epalm train` rejects.
std::vector<SweepCell> expand_sweep(const SweepSpec& spec);

}  // namespace epalm::registry
