#include "command.h"

namespace epalm::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {env_command(),     demo_command(), self_check_command(),        model_command(),
                                           bench_command(),   train_command(),       generate_command(), eval_command(),
                                           experiments_command(), sweep_command(),   runs_command(),
                                           results_command(), plan_command(),     toy_command()};
  return all;
}

}  // namespace epalm::cli
