// A frozen layer whose weights are sharded across ranks, inside autograd:
// forward gathers the unit, runs the layer without recording a graph and
// frees the gathered weights; backward gathers them again, recomputes the
// layer for its input only and returns the input's gradient. Frozen weights
// never get gradients, so nothing is reduce-scattered: a unit costs two
// all-gathers per micro-batch when backward passes through it, one otherwise.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <string>

namespace epalm {

class Communicator;
class ShardedUnit;

using LayerFunction =
    std::function<at::Tensor(const std::map<std::string, at::Tensor>& weights, const at::Tensor& input)>;

// `unit`, `communicator` and `layer` must outlive the backward pass.
at::Tensor apply_sharded_layer(const ShardedUnit& unit, Communicator& communicator, const LayerFunction& layer,
                               const at::Tensor& input);

}  // namespace epalm
