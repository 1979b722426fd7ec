#include <gtest/gtest.h>
#include <torch/torch.h>

#include "epalm/core/text/tokenizer_tensors.h"
#include "tokenizer_fixture.h"

namespace epalm {

TEST(TokenizerTensors, LeftPaddedBatchAsHfReturnTensorsPt) {
  EPALM_REQUIRE_TOKENIZER_FIXTURES();
  text::BatchOptions options;
  options.padding_side = text::Side::kLeft;
  const auto tensors = text::encode_to_tensors(tokenizer_fixture::opt(), {"Hello world", "a", ""}, options);
  const auto batch = tokenizer_fixture::opt().encode_batch({"Hello world", "a", ""}, options);
  ASSERT_EQ(tensors.input_ids.sizes(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(tensors.input_ids.scalar_type(), torch::kInt64);
  for (int64_t row = 0; row < 3; ++row) {
    for (int64_t col = 0; col < 3; ++col) {
      EXPECT_EQ(tensors.input_ids[row][col].item<int64_t>(), batch.input_ids[row][col]);
      EXPECT_EQ(tensors.attention_mask[row][col].item<int64_t>(), batch.attention_mask[row][col]);
    }
  }
  EXPECT_EQ(tensors.input_ids[2][0].item<int64_t>(), 1);  // pad
  EXPECT_EQ(tensors.input_ids[2][2].item<int64_t>(), 2);  // BOS last: left padding
}

}  // namespace epalm
