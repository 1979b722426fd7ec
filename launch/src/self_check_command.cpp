// `epalm self-check`: a seeded attention block on every rank, under mpirun (it starts mpirun
// itself when run as a single plain process).
#include <spdlog/spdlog.h>

#include <iostream>

#include "command.h"
#include "epalm/analysis/table.h"
#include "epalm/core/error.h"
#include "epalm/distributed/local_launch.h"
#include "epalm/distributed/world.h"
#include "epalm/experiments/self_check.h"

namespace epalm::cli {

namespace {

int run_self_check(const Invocation& in) {
  const auto& o = in.options;
  const int ranks = o["ranks"].as<int>();
  if (ranks < 1) throw UsageError("--ranks", "must be >= 1");
  const auto format = analysis::parse_table_format(o["format"].as<std::string>());
  if (ranks > 1 && in.world.size() == 1 && !in.world.topology().launched_by_mpi()) {
    auto command = distributed::local_mpirun_command(ranks, distributed::current_executable(),
                                                     [&] {
                                                       std::vector<std::string> a{"self-check"};
                                                       a.insert(a.end(), in.arguments.begin(), in.arguments.end());
                                                       return a;
                                                     }());
    spdlog::info("self-check: starting {} ranks under {}", ranks, command.front());
    distributed::exec_command(command);
  }
  if (in.world.size() != ranks) {
    spdlog::warn("self-check: --ranks is {} but the launcher started {} ranks; using {}", ranks, in.world.size(),
                 in.world.size());
  }

  experiments::SelfCheckSettings s;
  s.device = o["device"].as<std::string>();
  s.threads = o["threads"].as<int>();
  s.seed = o["seed"].as<std::uint64_t>();
  s.batch = o["batch"].as<int>();
  s.tokens = o["tokens"].as<int>();
  s.width = o["width"].as<int>();
  s.iterations = o["iterations"].as<int>();
  const auto result = experiments::run_self_check(s, in.world);
  if (in.world.rank() != 0) return result.ranks_agree ? 0 : 1;

  std::cout << result.per_rank.render(format);
  if (format == analysis::TableFormat::kText) {
    std::cout << "\n"
              << in.world.size() << " rank(s): " << (result.ranks_agree ? "agree" : "DISAGREE")
              << " (relative checksum spread " << result.relative_spread << ")\n";
  }
  if (!result.ranks_agree) throw Error("self-check", "ranks computed different results from the same seed");
  return 0;
}

}  // namespace

Command self_check_command() {
  return {"self-check",
          "Check a machine in seconds, under mpirun: every rank runs the same seeded attention\n"
          "block on its device and the ranks check over MPI that they agree.",
          [](po::options_description& settings) {
            settings.add_options()                                                                     //
                ("ranks", po::value<int>()->default_value(2), "ranks to start under mpirun (1: no mpirun)")  //
                ("device", po::value<std::string>()->default_value("auto"), "auto, cpu, cuda or cuda:N")     //
                ("threads", po::value<int>()->default_value(0), "compute threads per rank (0: share the cores)")  //
                ("seed", po::value<std::uint64_t>()->default_value(0), "random seed")                          //
                ("batch", po::value<int>()->default_value(8), "sequences per forward pass")                   //
                ("tokens", po::value<int>()->default_value(64), "tokens per sequence")                        //
                ("width", po::value<int>()->default_value(256), "hidden width (a multiple of 8)")             //
                ("iterations", po::value<int>()->default_value(20), "timed forward passes")                   //
                ("format", po::value<std::string>()->default_value("text"), "text, csv, md or json");
          },
          run_self_check};
}

}  // namespace epalm::cli
