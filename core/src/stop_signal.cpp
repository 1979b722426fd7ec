#include "epalm/core/stop_signal.h"

#include <torch/torch.h>

#include <csignal>

#include "epalm/core/communicator.h"

namespace epalm {

namespace {

volatile std::sig_atomic_t received = 0;

extern "C" void on_stop_signal(int) { received = 1; }

}  // namespace

void install_stop_signal_handler() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking calls resume; the loop polls the flag
  sigaction(SIGTERM, &action, nullptr);
}

bool stop_signal_received() { return received != 0; }

void clear_stop_signal() { received = 0; }

bool stop_requested(Communicator& communicator) {
  auto flag = torch::full({1}, stop_signal_received() ? 1 : 0, torch::kInt32);
  communicator.all_reduce(flag, ReduceOp::kMax)->wait();
  return flag.item<int>() != 0;
}

}  // namespace epalm
