#include "command.h"

namespace epalm::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {env_command(), demo_command(), model_command(), bench_command(), plan_command()};
  return all;
}

}  // namespace epalm::cli
