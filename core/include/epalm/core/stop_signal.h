// Stopping a run cleanly when the scheduler asks (SIGTERM before preemption
// or at the time limit): the handler only records the signal; the training
// loop asks stop_requested() between optimizer steps, and when it says yes
// (on every rank at the same step) saves a checkpoint and exits with
// kExitStopped, which tells schedulers a preemption from a failure.
#pragma once

namespace epalm {

class Communicator;

constexpr int kExitStopped = 128 + 15;  // 128 + SIGTERM, as a shell reports it

// Installs the SIGTERM handler (idempotent).
void install_stop_signal_handler();
// Whether this process received SIGTERM since the handler was installed.
bool stop_signal_received();
// Collective: true on every rank when any rank received the signal, so all
// stop after the same step (one all_reduce of one element; call it on every
// rank at the same point).
bool stop_requested(Communicator& communicator);
// Forgets a received signal (tests).
void clear_stop_signal();

}  // namespace epalm
