#include "epalm/core/parallel/sharded_layer.h"

#include <torch/torch.h>

#include "epalm/core/parallel/communicator.h"
#include "epalm/core/parallel/sharded_unit.h"

namespace epalm::parallel {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What backward needs besides the saved tensors; the layer is owned here so
// callers may pass a temporary.
// A capsule in the context's saved data, freed with the graph even when
// backward never runs.
struct LayerState : torch::CustomClassHolder {
  LayerState(const ShardedUnit* u, Communicator* c, LayerFunction l, GatheredWeights w)
      : unit(u), communicator(c), layer(std::move(l)), backward_weights(std::move(w)) {}
  const ShardedUnit* unit;
  Communicator* communicator;
  LayerFunction layer;
  GatheredWeights backward_weights;
  // The random generators' states before forward ran the layer: backward
  // replays them, so dropout inside the layer draws the same masks.
  std::vector<at::Generator> generators;
  std::vector<at::Tensor> states;
};

std::vector<at::Generator> generators_for(const at::Tensor& input) {
  std::vector<at::Generator> out{at::detail::getDefaultCPUGenerator()};
  if (!input.device().is_cpu()) out.push_back(at::globalContext().defaultGenerator(input.device()));
  return out;
}

// Sets the generators to `states` and puts their current states back when done.
class ReplayedGenerators {
 public:
  ReplayedGenerators(const std::vector<at::Generator>& generators, const std::vector<at::Tensor>& states)
      : generators_(generators) {
    for (size_t i = 0; i < generators_.size(); ++i) {
      current_.push_back(generators_[i].get_state());
      generators_[i].set_state(states[i]);
    }
  }
  ~ReplayedGenerators() {
    for (size_t i = 0; i < generators_.size(); ++i) generators_[i].set_state(current_[i]);
  }
  ReplayedGenerators(const ReplayedGenerators&) = delete;
  ReplayedGenerators& operator=(const ReplayedGenerators&) = delete;

 private:
  std::vector<at::Generator> generators_;
  std::vector<at::Tensor> current_;
};

at::Tensor gather(const LayerState& s) {
  auto buffer = s.unit->make_buffer();
  s.unit->gather_into(*s.communicator, buffer)->wait();
  return buffer;
}

struct ShardedLayerFunction : public torch::autograd::Function<ShardedLayerFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, at::TensorList trainables,
                            const c10::intrusive_ptr<LayerState>& state,
                            const std::map<std::string, at::Tensor>* gathered) {
    ctx->saved_data["state"] = c10::IValue::make_capsule(state);
    variable_list saved{input};
    saved.insert(saved.end(), trainables.begin(), trainables.end());
    ctx->save_for_backward(saved);
    state->generators = generators_for(input);
    for (auto& g : state->generators) state->states.push_back(g.get_state());
    if (gathered != nullptr) return state->layer(*gathered, input);
    const auto buffer = gather(*state);
    return state->layer(state->unit->views(buffer), input);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto state = c10::static_intrusive_pointer_cast<LayerState>(ctx->saved_data["state"].toCapsule());
    const auto saved = ctx->get_saved_variables();
    const bool input_grad = ctx->needs_input_grad(0);
    auto x = saved[0].detach().requires_grad_(input_grad);
    at::Tensor buffer;
    const auto weights = state->backward_weights ? state->backward_weights()
                                                 : state->unit->views(buffer = gather(*state));
    at::Tensor out;
    {
      torch::AutoGradMode enable(true);
      ReplayedGenerators replayed(state->generators, state->states);
      out = state->layer(weights, x);
    }
    // Gradients for the input (when asked) and every trainable the layer read.
    variable_list wrt;
    if (input_grad) wrt.push_back(x);
    std::vector<size_t> trainable_slots;
    for (size_t i = 1; i < saved.size(); ++i) {
      if (ctx->needs_input_grad(i)) {
        wrt.push_back(saved[i]);
        trainable_slots.push_back(i);
      }
    }
    variable_list grads(saved.size() + 2);  // + the state and gathered arguments
    if (wrt.empty() || !out.requires_grad()) return grads;
    auto computed = torch::autograd::grad({out}, wrt, {grad_outputs[0]}, /*retain_graph=*/false,
                                          /*create_graph=*/false, /*allow_unused=*/true);
    size_t next = 0;
    if (input_grad) grads[0] = computed[next++];
    for (auto slot : trainable_slots) grads[slot] = computed[next++];
    return grads;
  }
};

}  // namespace

at::Tensor apply_sharded_layer(const ShardedUnit& unit, Communicator& communicator, LayerFunction layer,
                               const at::Tensor& input, const std::vector<at::Tensor>& trainables,
                               const std::map<std::string, at::Tensor>* gathered, GatheredWeights backward_weights) {
  const bool any_grad = torch::GradMode::is_enabled() &&
                        (input.requires_grad() ||
                         std::any_of(trainables.begin(), trainables.end(), [](auto& t) { return t.requires_grad(); }));
  if (!any_grad) {
    // Forward only: nothing to recompute later.
    if (gathered != nullptr) return layer(*gathered, input);
    at::Tensor buffer = unit.make_buffer();
    unit.gather_into(communicator, buffer)->wait();
    return layer(unit.views(buffer), input);
  }
  auto state = c10::make_intrusive<LayerState>(&unit, &communicator, std::move(layer), std::move(backward_weights));
  return ShardedLayerFunction::apply(input, at::TensorList(trainables), state, gathered);
}

}  // namespace epalm::parallel
