// `epalm env`: versions, devices, threads and the rank layout of this job.
#include <boost/version.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/version.h>
#include <sqlite3.h>

#include <iostream>
#include <sstream>

#include "command.h"
#include "epalm/analysis/table.h"
#include "epalm/core/cpu_matmul.h"
#include "epalm/core/host_memory.h"
#include "epalm/core/runtime_info.h"
#include "epalm/distributed/world.h"

namespace epalm::cli {

namespace {

std::string boost_version() {
  std::ostringstream s;
  s << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "." << BOOST_VERSION % 100;
  return s.str();
}

std::vector<std::pair<std::string, std::string>> version_report(const RuntimeInfo& info) {
  std::string devices = std::to_string(info.cuda_devices.size());
  for (const auto& d : info.cuda_devices) {
    std::ostringstream s;
    s << "; cuda:" << d.index << " " << d.name << " (" << static_cast<int>(d.memory_gib + 0.5) << " GiB, sm_"
      << d.compute_major << d.compute_minor << ")";
    devices += s.str();
  }
  return {
      {"epalm", info.epalm_version + " (" + info.build_type + ")"},
      {"compiler", info.compiler},
      {"libtorch", info.torch_version},
      {"threads", "intra-op " + std::to_string(info.intra_op_threads) + ", inter-op " +
                      std::to_string(info.inter_op_threads)},
      {"host memory", host_memory_policy().summary},
      {"cpu matmul", cpu_matmul().summary},
      {"cuda built", info.built_with_cuda ? "yes, toolkit " + info.cuda_toolkit_version : "no"},
      {"cuda runtime", info.cuda_runtime_version},
      {"cuda driver", info.cuda_driver_version},
      {"cuda devices", devices},
      {"nccl", distributed::nccl_version()},
      {"mpi", distributed::mpi_library_version()},
      {"sqlite", sqlite3_libversion()},
      {"boost", boost_version()},
      {"spdlog", std::to_string(SPDLOG_VER_MAJOR) + "." + std::to_string(SPDLOG_VER_MINOR) + "." +
                     std::to_string(SPDLOG_VER_PATCH)},
  };
}

int run_env(const Invocation& in) {
  const auto format = analysis::parse_table_format(in.options["format"].as<std::string>());
  const auto info = collect_runtime_info();
  const auto& t = in.world.topology();
  std::string device;
  try {
    device = resolve_device("auto", t.local_rank).str();
  } catch (const std::exception& e) {
    device = "none";
  }
  std::ostringstream row;
  row << t.rank << '\t' << t.world << '\t' << t.host << '\t' << t.local_rank << '\t' << t.local_world << '\t'
      << device << '\t' << info.intra_op_threads << '\t' << t.launcher;
  auto rows = in.world.gather_text(row.str());
  if (in.world.rank() != 0) return 0;

  analysis::Table ranks({"rank", "world", "host", "local rank", "local world", "device", "threads", "launcher"});
  for (const auto& line : rows) {
    std::vector<std::string> cells;
    std::istringstream fields(line);
    for (std::string cell; std::getline(fields, cell, '\t');) cells.push_back(cell);
    ranks.add_row(cells);
  }
  const auto versions = version_report(info);
  if (format == analysis::TableFormat::kJson) {
    nlohmann::json out;
    for (const auto& [key, value] : versions) out["versions"][key] = value;
    out["torch_parallel"] = info.torch_parallel;
    out["ranks"] = nlohmann::json::parse(ranks.render(format));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  analysis::Table table({"component", "version"});
  for (const auto& [key, value] : versions) table.add_row({key, value});
  std::cout << table.render(format) << "\n" << ranks.render(format);
  if (format == analysis::TableFormat::kText) std::cout << "\nLibTorch parallelism:\n" << info.torch_parallel;
  return 0;
}

}  // namespace

Command env_command() {
  return {"env", "Report versions (LibTorch, CUDA, NCCL, MPI, SQLite, compiler), devices, threads and ranks.",
          [](po::options_description& settings) {
            settings.add_options()("format", po::value<std::string>()->default_value("text"),
                                   "text, csv, md or json");
          },
          run_env};
}

}  // namespace epalm::cli
