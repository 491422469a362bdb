// The C++ forward pass against the PyTorch reference (tools/reference/write_golden.py): the golden logits and
// intermediates were computed in float64 and stored as f32, so the error measured here is the C++ engine's own
// fp32 rounding. Over ~4 layers of width 64 and 640 positions that is ~1e-6 relative; the bound is 1e-4.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "llm/safetensors.h"
#include "llm/session.h"

namespace yoco::llm {
namespace {

const std::string kData = YOCO_TEST_DATA;

struct Golden {
  std::shared_ptr<const Model> model;
  std::unique_ptr<SafeTensors> file;
  std::vector<int32_t> tokens;
  int64_t prefill_len = 0;
  std::vector<float> tensor(const std::string& name) const { return to_f32(file->get(name)); }
};

Golden load_case(const std::string& name) {
  Golden g;
  g.model = Model::load(kData + "/" + name);
  g.file = std::make_unique<SafeTensors>(kData + "/" + name + "/golden.safetensors");
  g.tokens = to_i32(g.file->get("tokens"));
  g.prefill_len = std::stoll(g.file->metadata().at("prefill_len"));
  return g;
}

// max over rows of ||a_r - b_r|| / ||b_r||
double max_row_rel_err(const float* a, const float* b, int64_t rows, int64_t cols) {
  double worst = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    double num = 0.0, den = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      const double d = static_cast<double>(a[r * cols + c]) - b[r * cols + c];
      num += d * d;
      den += static_cast<double>(b[r * cols + c]) * b[r * cols + c];
    }
    if (!std::isfinite(num)) return INFINITY;
    worst = std::max(worst, std::sqrt(num / std::max(den, 1e-30)));
  }
  return worst;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, FullForwardLogitsMatchReference) {
  Golden g = load_case(GetParam());
  const int64_t T = static_cast<int64_t>(g.tokens.size()), V = g.model->config().vocab_size;
  ASSERT_GE(T, 600);
  std::vector<float> logits(T * V, NAN);
  Session s(g.model);
  std::map<std::string, std::vector<float>> traced;
  s.set_trace([&](const std::string& name, int64_t pos0, const float* data, int64_t rows, int64_t cols) {
    auto& v = traced[name];
    v.resize((pos0 + rows) * cols);
    std::copy(data, data + rows * cols, v.begin() + pos0 * cols);
  });
  s.forward_all(g.tokens, logits.data());
  const std::vector<float> ref = g.tensor("logits");
  ASSERT_EQ(ref.size(), logits.size());
  const double err = max_row_rel_err(logits.data(), ref.data(), T, V);
  std::printf("  %s: full-forward logits, max row relative error %.3g\n", GetParam().c_str(), err);
  EXPECT_LE(err, 1e-4);
  // Every intermediate the reference wrote.
  for (const auto& t : g.file->tensors()) {
    if (t.name == "tokens" || t.name == "logits" || t.name == "decode_logits") continue;
    ASSERT_TRUE(traced.count(t.name)) << "engine did not produce intermediate " << t.name;
    const std::vector<float> want = to_f32(t);
    const auto& got = traced[t.name];
    ASSERT_EQ(got.size(), want.size()) << t.name;
    const int64_t cols = t.shape.back();
    EXPECT_LE(max_row_rel_err(got.data(), want.data(), T, cols), 1e-4) << t.name;
  }
}

TEST_P(GoldenTest, IncrementalDecodeMatchesReference) {
  Golden g = load_case(GetParam());
  const int64_t T = static_cast<int64_t>(g.tokens.size()), V = g.model->config().vocab_size;
  const int64_t P = g.prefill_len;
  const std::vector<float> ref = g.tensor("decode_logits");
  ASSERT_EQ(static_cast<int64_t>(ref.size()), (T - P) * V);
  Session s(g.model);
  // decode_logits row r: the logits of the step that feeds token P + r (= logits[P + r]); the P-token
  // prefill before it is early-exit (no cross-decoder).
  s.prefill(std::span<const int32_t>(g.tokens.data(), P));
  std::vector<float> got((T - P) * V, NAN);
  for (int64_t r = 0; r < T - P; ++r) {
    auto l = s.step(g.tokens[P + r]);
    std::copy(l.begin(), l.end(), got.begin() + r * V);
  }
  const double err = max_row_rel_err(got.data(), ref.data(), T - P, V);
  std::printf("  %s: decode logits, max row relative error %.3g\n", GetParam().c_str(), err);
  EXPECT_LE(err, 1e-4);
}

TEST_P(GoldenTest, EarlyExitPrefillGivesFullForwardLastLogits) {
  Golden g = load_case(GetParam());
  const int64_t T = static_cast<int64_t>(g.tokens.size()), V = g.model->config().vocab_size;
  const std::vector<float> ref = g.tensor("logits");
  Session s(g.model);
  auto l = s.forward(g.tokens);  // cross-decoder runs for the last token only
  EXPECT_LE(max_row_rel_err(l.data(), ref.data() + (T - 1) * V, 1, V), 1e-4);
  // The same through prefill (no logits) and last_logits().
  Session s2(g.model);
  s2.prefill(g.tokens);
  auto l2 = s2.last_logits();
  for (int64_t i = 0; i < V; ++i) ASSERT_EQ(l[i], l2[i]) << i;
}

TEST_P(GoldenTest, BatchChunkAndPageSizesDoNotChangeResults) {
  Golden g = load_case(GetParam());
  const int64_t T = static_cast<int64_t>(g.tokens.size()), V = g.model->config().vocab_size;
  std::vector<float> base(T * V);
  Session(g.model).forward_all(g.tokens, base.data());
  for (auto [batch, chunk, page] : std::vector<std::tuple<int, int, int>>{{1, 64, 256}, {7, 5, 3}, {97, 256, 64},
                                                                           {640, 1, 1000}}) {
    SessionOptions o;
    o.max_batch = batch;
    o.retention_chunk = chunk;
    o.page_tokens = page;
    Session s(g.model, o);
    std::vector<float> got(T * V, NAN);
    s.forward_all(g.tokens, got.data());
    EXPECT_LE(max_row_rel_err(got.data(), base.data(), T, V), 2e-5)
        << "batch " << batch << " chunk " << chunk << " page " << page;
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, GoldenTest,
                         ::testing::Values("yoco_gret", "yoco_swa", "transformer", "cla"));

}  // namespace
}  // namespace yoco::llm
