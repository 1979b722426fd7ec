// libFuzzer target for sweep files (registry/src/sweep.cpp): any input must
// parse or throw epalm::Error with a message; a parsed sweep of moderate
// size must expand to cells (or be refused with epalm::Error), each with a
// configuration `epalm train` accepts and a distinct hash.
#include <set>

#include "epalm/core/error.h"
#include "epalm/registry/sweep.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  epalm::registry::SweepSpec spec;
  try {
    spec = epalm::registry::parse_sweep_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
  } catch (const epalm::Error& e) {
    epalm::fuzz::check(e.what()[0] != 0, "the error says what is wrong");
    return 0;
  }
  double cells = static_cast<double>(std::max<std::size_t>(1, spec.seeds.size()));
  for (const auto& axis : spec.axes) cells *= static_cast<double>(std::max<std::size_t>(1, axis.second.size()));
  if (cells > 4096) return 0;  // the expansion itself is the same code at any size
  try {
    const auto expanded = epalm::registry::expand_sweep(spec);
    std::set<std::string> hashes;
    for (const auto& cell : expanded) hashes.insert(cell.hash);
    epalm::fuzz::check(hashes.size() == expanded.size(), "cells have distinct configurations");
  } catch (const epalm::Error&) {
  }
  return 0;
}
