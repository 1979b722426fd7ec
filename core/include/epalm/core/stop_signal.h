// Stopping a run cleanly when the scheduler or the user asks (SIGTERM before
// preemption or at the time limit, SIGINT from Ctrl-C): the handler only
// records the signal; the training loop asks stop_requested() between
// optimizer steps, and when it says yes (on every rank at the same step)
// saves a checkpoint and exits with stop_exit_code() (128 + the signal, as a
// shell reports it), which tells schedulers a preemption from a failure. The
// same signal a second time ends the process at once, as its default would.
#pragma once

#include <string>

namespace epalm::parallel {
class Communicator;
}

namespace epalm {

constexpr int kExitStopped = 128 + 15;  // 128 + SIGTERM, as a shell reports it

// Installs the SIGTERM and SIGINT handler (idempotent).
void install_stop_signal_handler();
// Whether this process received SIGTERM or SIGINT since the handler was installed.
bool stop_signal_received();
// Collective: true on every rank when any rank received a signal, so all
// stop after the same step (one all_reduce of one element; call it on every
// rank at the same point). Every rank then reports the same signal.
bool stop_requested(parallel::Communicator& communicator);
// The signal that stopped the run ("SIGTERM", "SIGINT"; SIGTERM when none).
std::string stop_signal_name();
// 128 + that signal: 143 for SIGTERM, 130 for SIGINT.
int stop_exit_code();
// Forgets a received signal (tests).
void clear_stop_signal();

}  // namespace epalm
