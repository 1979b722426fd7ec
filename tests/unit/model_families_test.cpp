// The model families `epalm model` and `epalm bench` run, as a library
// (epalm/experiments/model_families.h): every preset resolves to its family,
// and a family's parameter count is the sum of the weights it lists.
#include <gtest/gtest.h>

#include "epalm/core/error.h"
#include "epalm/experiments/model_families.h"

namespace epalm::experiments {
namespace {

TEST(ModelFamilies, EveryPresetResolvesToItsFamilyAndCountsItsWeights) {
  ASSERT_EQ(model_families().size(), 4u);
  for (const auto& family : model_families()) {
    ASSERT_FALSE(family.presets.empty()) << family.model_type;
    for (const auto& preset : family.presets) {
      const auto source = resolve_model_source(preset);
      EXPECT_EQ(source.preset, preset);
      EXPECT_FALSE(source.is_directory());
      EXPECT_EQ(&family_of(source), &family) << preset;
      std::int64_t listed = 0;
      for (const auto& [name, shape] : family.tensor_shapes(source)) {
        std::int64_t n = 1;
        for (const auto d : shape) n *= d;
        listed += n;
      }
      EXPECT_EQ(family.describe(source).parameters, listed) << preset;
      EXPECT_GT(family.hidden_size(source), 0) << preset;
    }
  }
}

TEST(ModelFamilies, AnUnknownNameOrMissingFolderIsNamed) {
  try {
    resolve_model_source("opt-7b-typo");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(e.where(), "--model");
    EXPECT_NE(std::string(e.what()).find("presets: "), std::string::npos) << e.what();
  }
  try {
    resolve_model_source("./no/such/checkpoint");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "./no/such/checkpoint");
  }
}

TEST(ModelFamilies, DtypeNamesRoundTrip) {
  for (const auto* name : {"fp32", "bf16", "fp16"}) EXPECT_EQ(dtype_label(parse_dtype(name)), name);
  EXPECT_EQ(dtype_label(parse_dtype("bfloat16")), "bf16");
  EXPECT_THROW(parse_dtype("int8"), UsageError);
}

}  // namespace
}  // namespace epalm::experiments
