// An encoder in bf16 against the peer's bf16 run, one stage at a time: each
// block gets the peer's own bf16 input to it (a layer hook replaces the
// stream), so each comparison covers one stage's roundings (tolerance.h:
// bf16_forward_bound) instead of every stage before it, where bf16's 2^-8
// per rounding would add up past any use. The stages: the embeddings (hidden
// state 0, from the inputs), each block (hidden state i, from the peer's
// hidden state i - 1), the final LayerNorm (last_hidden_state, from the
// peer's last hidden state). End to end the fp32 parity tests bound them.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "epalm/core/models/encoder.h"
#include "parity_util.h"

namespace epalm::testing {

// The chains to hidden state i (cumulative, as forward_depth.h's functions;
// -1: last_hidden_state): fp32 roundings and bf16 roundings.
struct Chains {
  std::function<double(std::int64_t)> depth, roundings;
};

// Expects every stage within its bound; returns the largest share of its
// bound any stage used (printed and recorded too).
inline double expect_bf16_stages_match(const models::Encoder& model, const at::Tensor& inputs,
                                       const std::string& expected_file, const std::string& prefix,
                                       const Chains& chains, const std::string& tag) {
  torch::NoGradGuard no_grad;
  const auto layers = model.num_layers();
  std::vector<at::Tensor> peer, ours(static_cast<std::size_t>(layers + 1));
  for (std::int64_t i = 0; i <= layers; ++i) {
    peer.push_back(load(expected_file, prefix + "hidden_state_" + std::to_string(i)).to(model.dtype()));
  }
  const auto out = model.forward(inputs, true, [&](models::LayerInput& in) {
    if (in.layer == 0) return;  // the embeddings are ours
    ours[static_cast<std::size_t>(in.layer)] = in.hidden;  // our block in.layer - 1 on the peer's input
    in.hidden = peer[static_cast<std::size_t>(in.layer)];
  });
  ours.front() = out.hidden_states.front();
  ours.back() = out.hidden_states.back();
  double worst = 0;
  auto check = [&](const at::Tensor& got, const at::Tensor& want, double depth, double roundings,
                   const std::string& name) {
    const double bound = bf16_forward_bound(want, depth, roundings);
    const double error = max_abs_diff(got, want);
    worst = std::max(worst, error / bound);
    std::ostringstream what;
    what << tag << " " << name << " (" << roundings << " bf16 roundings, fp32 depth " << depth << ")";
    EXPECT_TRUE(within(got, want, torch::tensor(bound, torch::kDouble), what.str()));
    std::ostringstream measured;
    measured << error << " of bound " << bound;
    ::testing::Test::RecordProperty(tag + " " + name, measured.str());
  };
  for (std::int64_t i = 0; i <= layers; ++i) {
    const double depth = chains.depth(i) - (i > 0 ? chains.depth(i - 1) : 0);
    const double roundings = chains.roundings(i) - (i > 0 ? chains.roundings(i - 1) : 0);
    check(ours[static_cast<std::size_t>(i)], peer[static_cast<std::size_t>(i)], depth, roundings,
          prefix + "hidden_state_" + std::to_string(i));
  }
  check(model.final_norm(peer.back()), load(expected_file, prefix + "last_hidden_state"),
        chains.depth(-1) - chains.depth(layers), chains.roundings(-1) - chains.roundings(layers),
        prefix + "last_hidden_state");
  std::cout << tag << ": largest share of a stage's bf16 bound used: " << worst << "\n";
  ::testing::Test::RecordProperty(tag + " largest share of bound", std::to_string(worst));
  return worst;
}

}  // namespace epalm::testing
