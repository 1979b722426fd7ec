// A frozen layer whose weights are sharded across ranks, inside autograd:
// forward gathers the unit (or takes it already gathered by a prefetching
// UnitGatherer), runs the layer without recording a graph and frees the
// gathered weights; backward gathers them again, recomputes the layer and
// returns the gradients of its input and of the trainable tensors the layer
// uses (adapters inside it). Frozen weights never get gradients, so nothing
// is reduce-scattered: a unit costs two all-gathers per micro-batch when
// backward passes through it, one otherwise.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace epalm::parallel {

class Communicator;
class ShardedUnit;

using LayerFunction =
    std::function<at::Tensor(const std::map<std::string, at::Tensor>& weights, const at::Tensor& input)>;

// `unit` and `communicator` must outlive the backward pass; `layer` is kept
// until then. `trainables`: the tensors requiring gradients that `layer`
// reads besides its input (they get their gradients through this function).
// `gathered`: the unit's weights when the caller has gathered them already
// (forward). `backward_weights`: gives them to backward (a caller that
// prefetches); default: backward gathers them itself. Backward recomputes
// the layer with the random generators (CPU, and the input's device) as
// forward left them, so dropout inside it draws the same masks.
using GatheredWeights = std::function<std::map<std::string, at::Tensor>()>;
at::Tensor apply_sharded_layer(const ShardedUnit& unit, Communicator& communicator, LayerFunction layer,
                               const at::Tensor& input, const std::vector<at::Tensor>& trainables = {},
                               const std::map<std::string, at::Tensor>* gathered = nullptr,
                               GatheredWeights backward_weights = {});

}  // namespace epalm::parallel
