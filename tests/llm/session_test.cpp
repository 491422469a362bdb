// Session state: fork, mark/rollback, cache accounting, bad input that must leave the state untouched.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tests/llm/llm_test_util.h"
#include "kernels/error.h"
#include "llm/session.h"

namespace yoco::llm {
namespace {

using testutil::random_tokens;
using testutil::copy;
using testutil::bit_equal;

const std::string kData = YOCO_TEST_DATA;

class SessionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { model = Model::load(kData + "/" + GetParam()); }
  std::shared_ptr<const Model> model;
};

TEST_P(SessionTest, ForkAndRollbackGiveBitIdenticalLogits) {
  const int V = model->config().vocab_size;
  const auto context = random_tokens(300, V, 1), question = random_tokens(21, V, 2), more = random_tokens(77, V, 3);
  SessionOptions o;
  o.page_tokens = 64;  // the fork point falls inside a page: copy-on-write of a shared partial page
  Session s(model, o);
  s.prefill(context);
  s.mark();
  const auto answer = copy(s.forward(question));
  const auto next = copy(s.step(5));

  // Rollback to the mark and ask again: the same bits.
  s.rollback(300);
  EXPECT_EQ(s.n_tokens(), 300);
  EXPECT_TRUE(bit_equal(copy(s.forward(question)), answer));
  EXPECT_TRUE(bit_equal(copy(s.step(5)), next));

  // A fork taken at the mark answers the same, and is unaffected by what the parent ingests afterwards.
  s.rollback(300);
  Session f = s.fork();
  s.prefill(more);
  EXPECT_EQ(s.n_tokens(), 377);
  EXPECT_TRUE(bit_equal(copy(f.forward(question)), answer));
  EXPECT_EQ(f.n_tokens(), 321);
  // ... and the parent is unaffected by the fork's private tail.
  Session ref(model, o);
  ref.prefill(context);
  ref.prefill(more);
  EXPECT_TRUE(bit_equal(copy(s.step(9)), copy(ref.step(9))));
}

TEST_P(SessionTest, RollbackToAnUnmarkedLengthIsAClearErrorForYoco) {
  const int V = model->config().vocab_size;
  Session s(model);
  s.prefill(random_tokens(50, V, 4));
  if (model->config().arch == Arch::Yoco) {
    EXPECT_THROW(s.rollback(20), Error);
    EXPECT_EQ(s.n_tokens(), 50);
  } else {
    s.rollback(20);
    EXPECT_EQ(s.n_tokens(), 20);
  }
  EXPECT_THROW(s.rollback(51), Error);
  s.rollback(0);
  EXPECT_EQ(s.n_tokens(), 0);
  EXPECT_EQ(s.cache_bytes(), 0u);
}

TEST_P(SessionTest, BadTokensLeaveTheStateUntouched) {
  const int V = model->config().vocab_size;
  Session s(model);
  s.prefill(random_tokens(40, V, 5));
  const auto before = copy(s.last_logits());
  std::vector<int32_t> bad = random_tokens(10, V, 6);
  bad[7] = V;  // out of range
  EXPECT_THROW(s.prefill(bad), Error);
  bad[7] = -1;
  EXPECT_THROW(s.forward(bad), Error);
  EXPECT_EQ(s.n_tokens(), 40);
  EXPECT_TRUE(bit_equal(copy(s.last_logits()), before));
}

TEST_P(SessionTest, CacheBytesEqualTheFormula) {
  const ModelConfig& c = model->config();
  for (auto dtype : {kernels::DType::F32, kernels::DType::F16, kernels::DType::Q8}) {
    SessionOptions o;
    o.cache_dtype = dtype;
    o.page_tokens = 32;
    Session s(model, o);
    const int64_t n = 320;  // a whole number of pages
    s.prefill(random_tokens(n, c.vocab_size, 7));
    // YOCO: 2·n_kv·d·b per token (int8: 2·n_kv·(d + 4)), once; Transformer: per layer; CLA: per group of
    // cla_factor layers.
    const size_t row = dtype == kernels::DType::Q8 ? c.n_attn_kv_heads * (c.head_dim() + 4ull)
                                                   : c.n_attn_kv_heads * c.head_dim() * kernels::dtype_size(dtype);
    const size_t per_token = 2ull * row * c.n_kv_caches();
    EXPECT_EQ(s.cache_bytes(), per_token * n);
    // The self-decoder state is constant: (L/2)·H·d·d (retention) or (L/2)·2·W·H·d (window), f32.
    size_t state = 0;
    if (c.arch == Arch::Yoco && c.retention())
      state = 4ull * c.n_self_layers() * c.n_self_heads * c.self_head_dim() * c.self_head_dim();
    else if (c.arch == Arch::Yoco)
      state = 4ull * c.n_self_layers() * 2 * c.sliding_window * c.dim;
    EXPECT_EQ(s.state_bytes(), state);
    s.prefill(random_tokens(1, c.vocab_size, 8));
    EXPECT_EQ(s.cache_bytes(), per_token * (n + 32));  // a new page
    EXPECT_EQ(s.state_bytes(), state);
  }
}

// ||a - b|| / ||a|| over the logits.
double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(a[i]) * a[i];
  }
  return std::sqrt(num / den);
}

TEST_P(SessionTest, F16CacheStaysCloseToF32) {
  const int V = model->config().vocab_size;
  const auto tokens = random_tokens(200, V, 9);
  SessionOptions o16;
  o16.cache_dtype = kernels::DType::F16;
  const auto a = copy(Session(model).forward(tokens));
  Session s16(model, o16);
  const auto b = copy(s16.forward(tokens));
  const double err = rel_l2(a, b);
  // f16 keeps 11 significant bits (2^-11 ≈ 5e-4 relative per element); a few layers keep it ~1e-3.
  EXPECT_LT(err, 1e-2);
}

// int8 K/V (one scale per token and head): each value within max|head| / 254, i.e. ~0.4 % of the head's
// largest value, ~0.7 % rms for Gaussian-like heads (max/rms ≈ 3); attention averages those errors over the
// keys and the cache feeds only the attention layers, so the logits move by ~0.1 %: bound 1 % (f16's bound).
TEST_P(SessionTest, Int8CacheStaysCloseToF32) {
  const int V = model->config().vocab_size;
  const auto tokens = random_tokens(200, V, 9);
  SessionOptions o8;
  o8.cache_dtype = kernels::DType::Q8;
  Session f32(model), s8(model, o8);
  const auto a = copy(f32.forward(tokens));
  const auto b = copy(s8.forward(tokens));
  const double err = rel_l2(a, b);
  EXPECT_LT(err, 1e-2);  // measured 0.9–2.0e-3 on the four test models
  EXPECT_GT(err, 0.0) << "int8 rounding should show (the cache is not int8)";
  EXPECT_LT(s8.cache_bytes(), f32.cache_bytes());
}

INSTANTIATE_TEST_SUITE_P(Archs, SessionTest, ::testing::Values("yoco_gret", "yoco_swa", "transformer", "cla"));

}  // namespace
}  // namespace yoco::llm
