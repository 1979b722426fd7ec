// The library that multiplies frozen weights on the CPU (epalm/core/cpu_matmul.h):
// what EPALM_CPU_MATMUL chooses, and that either library gives the LM head's
// product, forward and backward, as one product within the rounding of two
// summation orders, and the same bits at 1 thread as at 2 (the sharded tests
// compare ranks of one thread with a process of two bit for bit).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "epalm/core/cpu_matmul.h"
#include "epalm/core/error.h"
#include "epalm/core/models/opt.h"
#include "tolerance.h"

namespace epalm {

namespace {

// Both libraries in turn; the process's choice comes back afterwards.
class EachCpuMatmul : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    before_ = cpu_matmul();
    set_cpu_matmul(cpu_matmul_for(GetParam()));
    if (std::string(GetParam()) == "onednn" && cpu_matmul().library != CpuMatmulLibrary::kOneDnn) {
      GTEST_SKIP() << cpu_matmul().summary;
    }
  }
  void TearDown() override { set_cpu_matmul(before_); }

 private:
  CpuMatmul before_;
};

models::OptModel wide_vocabulary_decoder() {
  models::OptConfig c;
  c.vocab_size = 9000;  // above the 4096-column block of the LibTorch path
  c.hidden_size = 48;
  c.num_layers = 1;
  c.ffn_dim = 64;
  c.num_heads = 2;
  c.max_positions = 16;
  c.word_embed_proj_dim = 48;
  return models::OptModel::random(c, c10::kFloat, c10::kCPU, 5);
}

}  // namespace

TEST(CpuMatmul, TheVariableNamesTheLibrary) {
  EXPECT_EQ(cpu_matmul_for("libtorch").library, CpuMatmulLibrary::kLibTorch);
  const auto onednn = cpu_matmul_for("onednn");
  EXPECT_TRUE(onednn.library == CpuMatmulLibrary::kOneDnn || onednn.summary.find("no oneDNN") != std::string::npos)
      << onednn.summary;
  EXPECT_EQ(cpu_matmul_for(nullptr).summary, cpu_matmul_for("auto").summary);
  try {
    cpu_matmul_for("mkl");
    FAIL() << "an unknown library was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("EPALM_CPU_MATMUL"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'mkl'"), std::string::npos) << e.what();
  }
}

// Each logit is a dot product over the hidden size, each row gradient one over
// the vocabulary: two orders differ by at most 2 gamma_n sum|terms| (tolerance.h).
TEST_P(EachCpuMatmul, TheLmHeadIsOneProductWithinRounding) {
  const auto decoder = wide_vocabulary_decoder();
  const auto weight = decoder.weights().at("decoder.embed_tokens.weight");
  const auto h = weight.size(1), vocab = weight.size(0);
  torch::manual_seed(8);
  for (const std::int64_t rows : {3, 130}) {
    const auto hidden = torch::randn({rows, h}).requires_grad_(true);
    const auto logits = decoder.lm_head(hidden);
    const auto expected = torch::linear(hidden.detach(), weight);
    const auto products = torch::mm(hidden.detach().abs(), weight.abs().t());
    EXPECT_TRUE((logits.detach() - expected).abs().le(testing::two_orders(h) * products).all().item<bool>())
        << rows << " rows";
    const auto g = torch::randn({rows, vocab});
    logits.backward(g);
    const auto expected_grad = g.mm(weight);
    const auto grad_products = g.abs().mm(weight.abs());
    EXPECT_TRUE(
        (hidden.grad() - expected_grad).abs().le(testing::two_orders(vocab) * grad_products).all().item<bool>())
        << rows << " rows";
  }
}

TEST_P(EachCpuMatmul, TheThreadCountDoesNotChangeTheBits) {
  const auto decoder = wide_vocabulary_decoder();
  torch::manual_seed(9);
  const auto hidden = torch::randn({260, decoder.config().hidden_size});
  torch::NoGradGuard no_grad;
  const auto threads = at::get_num_threads();
  at::set_num_threads(2);
  const auto two = decoder.lm_head(hidden);
  at::set_num_threads(1);
  const auto one = decoder.lm_head(hidden);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(two, one));
}

INSTANTIATE_TEST_SUITE_P(Libraries, EachCpuMatmul, ::testing::Values("libtorch", "onednn"));

}  // namespace epalm
