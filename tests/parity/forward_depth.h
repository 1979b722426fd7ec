// The longest chain of roundings to each output of our models' forward
// passes (tests/support/tolerance.h: forward_bound), from their configs: the
// parity tests and the `epalm model run` tests compare ours with the Python
// peers' outputs within 2 gamma(depth) times the output's scale.
#pragma once

#include <cstdint>

#include "../support/tolerance.h"
#include "epalm/core/models/rounding_bounds.h"

namespace epalm::testing {

// The models' rounding chains live in core (rounding_bounds.h): the
// benchmarks judge their peers by them too.
using models::ast_bf16_roundings;
using models::ast_depth;
using models::opt_bf16_roundings;
using models::opt_depth;
using models::timesformer_bf16_roundings;
using models::timesformer_depth;
using models::vit_depth;

}  // namespace epalm::testing
