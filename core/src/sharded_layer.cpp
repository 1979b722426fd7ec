#include "epalm/core/sharded_layer.h"

#include <torch/torch.h>

#include "epalm/core/communicator.h"
#include "epalm/core/sharded_unit.h"

namespace epalm {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct Parts {
  const ShardedUnit* unit;
  Communicator* communicator;
  const LayerFunction* layer;
};

Parts parts_of(AutogradContext* ctx) {
  return {reinterpret_cast<const ShardedUnit*>(ctx->saved_data["unit"].toInt()),
          reinterpret_cast<Communicator*>(ctx->saved_data["communicator"].toInt()),
          reinterpret_cast<const LayerFunction*>(ctx->saved_data["layer"].toInt())};
}

at::Tensor gather(const Parts& p) {
  auto buffer = p.unit->make_buffer();
  p.unit->gather_into(*p.communicator, buffer)->wait();
  return buffer;
}

// The context holds the parts' addresses: they outlive backward by contract.
struct ShardedLayerFunction : public torch::autograd::Function<ShardedLayerFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, std::int64_t unit, std::int64_t communicator,
                            std::int64_t layer) {
    ctx->saved_data["unit"] = unit;
    ctx->saved_data["communicator"] = communicator;
    ctx->saved_data["layer"] = layer;
    ctx->save_for_backward({input});
    const auto p = parts_of(ctx);
    const auto buffer = gather(p);
    return (*p.layer)(p.unit->views(buffer), input);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto p = parts_of(ctx);
    const auto input = ctx->get_saved_variables()[0];
    const auto buffer = gather(p);
    auto x = input.detach().requires_grad_(true);
    at::Tensor out;
    {
      torch::AutoGradMode enable(true);
      out = (*p.layer)(p.unit->views(buffer), x);
    }
    auto dx = torch::autograd::grad({out}, {x}, {grad_outputs[0]});
    return {dx[0], at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor apply_sharded_layer(const ShardedUnit& unit, Communicator& communicator, const LayerFunction& layer,
                               const at::Tensor& input) {
  if (!input.requires_grad() || !torch::GradMode::is_enabled()) {
    // Forward only: nothing to recompute later.
    at::Tensor buffer = unit.make_buffer();
    unit.gather_into(communicator, buffer)->wait();
    return layer(unit.views(buffer), input);
  }
  return ShardedLayerFunction::apply(input, reinterpret_cast<std::int64_t>(&unit),
                                     reinterpret_cast<std::int64_t>(&communicator),
                                     reinterpret_cast<std::int64_t>(&layer));
}

}  // namespace epalm
