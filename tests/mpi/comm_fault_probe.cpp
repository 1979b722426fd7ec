// A job that goes wrong on purpose, for comm_fault_test.cpp; run under mpirun.
//   comm_fault_probe stuck <timeout ms>   rank 1 never joins the 3rd all_reduce
//   comm_fault_probe killed <timeout ms>  rank 1 is killed (SIGKILL) mid-step
//   comm_fault_probe sigterm <timeout ms> rank 1 gets SIGTERM at step 3; every
//                                         rank stops after that same step
// Every rank runs steps of one all_reduce each over the MPI backend.
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "epalm/core/error.h"
#include "epalm/core/log.h"
#include "epalm/core/stop_signal.h"
#include "epalm/distributed/communicators.h"
#include "epalm/distributed/world.h"

int main(int argc, char** argv) {
  using namespace epalm;
  if (argc != 3) {
    std::fprintf(stderr, "usage: comm_fault_probe stuck|killed|sigterm <timeout ms>\n");
    return kExitUsage;
  }
  const std::string mode = argv[1];
  distributed::World world;
  log::set_rank(world.rank(), world.size(), world.topology().host);
  install_stop_signal_handler();
  distributed::CommunicatorOptions options;
  options.backend = "mpi";
  options.timeout = std::chrono::milliseconds(std::stol(argv[2]));
  auto comm = distributed::make_communicator(world, c10::kCPU, options);

  for (int step = 0; step < 20; ++step) {
    if (world.rank() == 1 && step == 2 && mode == "stuck") std::this_thread::sleep_for(std::chrono::minutes(5));
    if (world.rank() == 1 && step == 2 && mode == "killed") std::raise(SIGKILL);
    if (world.rank() == 1 && step == 3 && mode == "sigterm") std::raise(SIGTERM);
    auto t = torch::full({1024}, static_cast<float>(world.rank()));
    comm->all_reduce(t, parallel::ReduceOp::kSum)->wait();
    if (mode == "sigterm" && stop_requested(*comm)) {
      std::printf("rank %d stopped after step %d\n", world.rank(), step);
      std::fflush(stdout);
      comm.reset();
      return kExitStopped;
    }
  }
  std::printf("rank %d finished every step\n", world.rank());
  return 0;
}
