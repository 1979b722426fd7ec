// libFuzzer target for every model family's config.json reader (OPT, ViT,
// TimeSformer, AST; core/src/models/*_config.cpp). Any input must either
// give a config that passed its validation or throw epalm::Error naming the
// file: any other exception, crash, leak or undefined behaviour is a bug.
#include "epalm/core/error.h"
#include "epalm/core/models/ast.h"
#include "epalm/core/models/opt.h"
#include "epalm/core/models/timesformer.h"
#include "epalm/core/models/vit.h"
#include "fuzz_input.h"

namespace {

template <class Read>
void try_read(const std::string& path, Read read) {
  try {
    read(path);
  } catch (const epalm::Error& e) {
    epalm::fuzz::check(e.where() == path, "the error names the config file");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = epalm::fuzz::write("config.json", std::string(reinterpret_cast<const char*>(data), size));
  try_read(path, [](const std::string& p) {
    const auto c = epalm::models::OptConfig::from_json_file(p);
    epalm::fuzz::check(c.vocab_size > 0 && c.hidden_size > 0 && c.num_layers > 0, "a read OPT config is valid");
  });
  try_read(path, [](const std::string& p) { epalm::models::VitConfig::from_json_file(p); });
  try_read(path, [](const std::string& p) { epalm::models::TimesformerConfig::from_json_file(p); });
  try_read(path, [](const std::string& p) { epalm::models::AstConfig::from_json_file(p); });
  return 0;
}
