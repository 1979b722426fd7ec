// `epalm bench comm`: bus bandwidth of the communicator's collectives per
// backend and message size, measured as nccl-tests does.
#pragma once

#include <boost/program_options.hpp>

#include <string>

#include "command.h"

namespace epalm::cli {

std::string comm_bench_summary();
void add_comm_bench_settings(boost::program_options::options_description& settings);
int run_comm_bench(const Invocation& invocation);

}  // namespace epalm::cli
