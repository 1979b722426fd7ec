// Which architecture a checkpoint's config.json names is decided in one
// place (core/models/architecture.h): by model_type, timm's untyped ViT
// configs, and clear errors naming the file otherwise.
#include <gtest/gtest.h>

#include <fstream>

#include "epalm/core/error.h"
#include "epalm/core/models/architecture.h"
#include "process.h"

namespace epalm::models {
namespace {

std::string error_of(const std::string& path) {
  try {
    architecture_of_config(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Architecture, ModelTypeDecides) {
  testing::TempDir dir;
  for (const auto& a : architectures()) {
    const auto path = dir.write("config.json", std::string(R"({"model_type": ")") + a.model_type + "\"}");
    EXPECT_EQ(architecture_of_config(path).id, a.id) << a.model_type;
    EXPECT_EQ(&architecture_of_directory(dir.path()), &architecture_of_config(path));
  }
  EXPECT_FALSE(architecture_info(Architecture::kOpt).is_encoder);
  EXPECT_TRUE(architecture_info(Architecture::kAst).is_encoder);
  EXPECT_EQ(known_model_types(), "opt, vit, timesformer, audio-spectrogram-transformer");
}

TEST(Architecture, TimmViTConfigsHaveNoModelType) {
  testing::TempDir dir;
  const auto path = dir.write("config.json", R"({"architecture": "vit_base_patch16_224", "num_classes": 0})");
  EXPECT_EQ(architecture_of_config(path).id, Architecture::kVit);
}

TEST(Architecture, AnythingElseIsAnErrorNamingTheFile) {
  testing::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"architecture": "resnet50"})", "no \"model_type\" (known: opt, vit"},
      {R"({"model_type": "gpt2"})", "model_type \"gpt2\" is not supported (known: "},
      {R"({"model_type": 7})", "\"model_type\" is not a string"},
      {R"({"model_type": )", "malformed JSON"},
      {R"([1, 2])", "must be a JSON object"},
  };
  for (const auto& [text, message] : cases) {
    const auto path = dir.write("config.json", text);
    const auto error = error_of(path);
    EXPECT_NE(error.find(path), std::string::npos) << error;
    EXPECT_NE(error.find(message), std::string::npos) << text << " -> " << error;
  }
  EXPECT_NE(error_of(dir.path() + "/none.json").find("cannot open"), std::string::npos);
  EXPECT_THROW(architecture_of_directory(dir.path() + "/missing"), Error);
}

}  // namespace
}  // namespace epalm::models
