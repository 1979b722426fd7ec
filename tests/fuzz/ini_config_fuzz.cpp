// libFuzzer target for INI configuration files (--config, registered
// experiments' bases, sweep cells' cell.ini; registry/src/config.cpp over
// Boost.Program_options): any input must resolve or throw epalm::Error naming
// the file; a resolved value must print as text.
#include "epalm/core/error.h"
#include "epalm/registry/config.h"
#include "fuzz_input.h"

namespace po = boost::program_options;

namespace {

// Settings of every value type `epalm train` declares.
po::options_description settings() {
  po::options_description d("fuzz");
  d.add_options()                                                             //
      ("task", po::value<std::string>()->default_value("vqa"), "")            //
      ("data-root", po::value<std::string>()->default_value("data"), "")      //
      ("data-fraction", po::value<double>()->default_value(1.0), "")          //
      ("augment", po::value<bool>()->default_value(true), "")                 //
      ("levels", po::value<int>()->default_value(6), "")                      //
      ("max-steps", po::value<std::int64_t>()->default_value(0), "")          //
      ("seed", po::value<std::uint64_t>()->default_value(0), "")              //
      ("lr", po::value<double>()->default_value(2e-5), "")                    //
      ("where", po::value<std::vector<std::string>>()->composing(), "")       //
      ("output-dir", po::value<std::string>()->default_value("runs/epalm"), "");
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto description = settings();
  const auto path = epalm::fuzz::write("run.ini", std::string(reinterpret_cast<const char*>(data), size));
  try {
    po::variables_map vm;
    po::parsed_options none(&description);
    const auto resolved = epalm::registry::resolve(description, none, {path}, vm);
    for (const auto& option : description.options()) {
      if (vm.count(option->long_name())) (void)epalm::registry::value_text(vm[option->long_name()]);
    }
    (void)resolved;
  } catch (const epalm::Error& e) {
    epalm::fuzz::check(!e.where().empty(), "the error names its source");
  }
  return 0;
}
