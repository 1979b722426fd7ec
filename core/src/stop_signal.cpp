#include "epalm/core/stop_signal.h"

#include <torch/torch.h>

#include <csignal>

#include "epalm/core/parallel/communicator.h"

namespace epalm {

namespace {

volatile std::sig_atomic_t received = 0;  // the signal's number; 0: none

extern "C" void on_stop_signal(int signal) {
  if (received == signal) {
    // The same signal again (a second Ctrl-C) means "now": its default action
    // ends the process. Another signal (mpirun's SIGTERM after the terminal's
    // SIGINT) leaves the stop as asked.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  received = signal;
}

}  // namespace

void install_stop_signal_handler() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking calls resume; the loop polls the flag
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

bool stop_signal_received() { return received != 0; }

void clear_stop_signal() { received = 0; }

std::string stop_signal_name() { return received == SIGINT ? "SIGINT" : "SIGTERM"; }

int stop_exit_code() { return 128 + (received == SIGINT ? SIGINT : SIGTERM); }

bool stop_requested(parallel::Communicator& communicator) {
  auto flag = torch::full({1}, static_cast<int>(received), torch::kInt32);
  communicator.all_reduce(flag, parallel::ReduceOp::kMax)->wait();
  const int signal = flag.item<int>();
  if (signal != 0) received = signal;  // every rank reports the same one
  return signal != 0;
}

}  // namespace epalm
