// Sampling: greedy, determinism per seed, and the distributions of temperature / top-k / top-p draws by
// counting (each bin within 5 standard deviations of its expected count; excluded tokens never drawn).
#include <algorithm>
#include <cmath>
#include <map>

#include "kernels/ops.h"
#include "test_util.h"

namespace yoco::kernels {
namespace {

std::vector<int> draw(const SamplingParams& sp, const std::vector<float>& logits, int n,
                      std::vector<int32_t> history = {}) {
  Sampler s(sp);
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    out.push_back(s.sample(l.data(), static_cast<int64_t>(l.size()), history));
  }
  return out;
}

// Counts of each token over the draws vs expected probabilities (0 for tokens that must never appear).
void expect_distribution(const std::vector<int>& draws, const std::vector<double>& p) {
  std::vector<int64_t> count(p.size(), 0);
  for (int t : draws) {
    ASSERT_GE(t, 0);
    ASSERT_LT(t, static_cast<int>(p.size()));
    ++count[static_cast<size_t>(t)];
  }
  const double n = static_cast<double>(draws.size());
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0.0) {
      EXPECT_EQ(count[i], 0) << "token " << i << " must be excluded";
    } else {
      const double sd = std::sqrt(n * p[i] * (1 - p[i]));
      EXPECT_NEAR(static_cast<double>(count[i]), n * p[i], 5 * sd + 1) << "token " << i;
    }
  }
}

std::vector<double> softmax_d(const std::vector<float>& l, double t = 1.0) {
  double mx = -1e300;
  for (float x : l) mx = std::max(mx, static_cast<double>(x));
  std::vector<double> p;
  double z = 0.0;
  for (float x : l) z += std::exp((x - mx) / t);
  for (float x : l) p.push_back(std::exp((x - mx) / t) / z);
  return p;
}

TEST(Sampling, ArgmaxFirstOfTiesIgnoringNaN) {
  const float x[] = {1.0f, 3.0f, test::kNaN, 3.0f, -2.0f};
  EXPECT_EQ(argmax(x, 5), 1);
  const float y[] = {test::kNaN, -1.0f};
  EXPECT_EQ(argmax(y, 2), 1);
}

TEST(Sampling, GreedyIsArgmax) {
  const auto logits = test::randn(1001, 3);
  SamplingParams sp;
  sp.greedy = true;
  const int want = argmax(logits.data(), 1001);
  for (int t : draw(sp, logits, 5)) EXPECT_EQ(t, want);
  sp.greedy = false;
  sp.top_k = 1;
  for (int t : draw(sp, logits, 20)) EXPECT_EQ(t, want);
}

TEST(Sampling, DeterministicPerSeed) {
  const auto logits = test::randn(5003, 4, 2.0f);
  SamplingParams sp;
  sp.greedy = false;
  sp.temperature = 0.8f;
  sp.top_p = 0.95f;
  sp.top_k = 500;
  sp.seed = 1234;
  const auto a = draw(sp, logits, 200), b = draw(sp, logits, 200);
  EXPECT_EQ(a, b);
  sp.seed = 1235;
  EXPECT_NE(draw(sp, logits, 200), a);
}

TEST(Sampling, TemperatureDistribution) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f};
  SamplingParams sp;
  sp.greedy = false;
  sp.temperature = 2.0f;
  sp.seed = 7;
  expect_distribution(draw(sp, logits, 20000), softmax_d(logits, 2.0));
}

TEST(Sampling, TopKKeepsTheKLargest) {
  const std::vector<float> logits = {0.3f, 2.0f, -1.0f, 1.5f, 0.9f, 1.0f, -3.0f};
  SamplingParams sp;
  sp.greedy = false;
  sp.top_k = 3;
  sp.seed = 8;
  // Kept: 2.0, 1.5, 1.0 (ids 1, 3, 5), renormalised.
  std::vector<float> kept(logits.size(), -1e30f);
  for (int i : {1, 3, 5}) kept[static_cast<size_t>(i)] = logits[static_cast<size_t>(i)];
  auto p = softmax_d(kept);
  for (double& x : p) x = x < 1e-12 ? 0.0 : x;
  expect_distribution(draw(sp, logits, 20000), p);
}

TEST(Sampling, TopPKeepsTheSmallestNucleus) {
  // Probabilities 0.5, 0.25, 0.15, 0.1.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.25f), std::log(0.15f), std::log(0.1f)};
  SamplingParams sp;
  sp.greedy = false;
  sp.seed = 9;
  sp.top_p = 0.74f;  // 0.5 < 0.74 <= 0.75: keeps the first two
  expect_distribution(draw(sp, logits, 20000), {2.0 / 3, 1.0 / 3, 0.0, 0.0});
  sp.top_p = 0.76f;  // needs the third
  expect_distribution(draw(sp, logits, 20000), {0.5 / 0.9, 0.25 / 0.9, 0.15 / 0.9, 0.0});
  sp.top_p = 0.4f;  // the first alone reaches it
  expect_distribution(draw(sp, logits, 2000), {1.0, 0.0, 0.0, 0.0});
}

TEST(Sampling, TopPOverALargeFlatVocabulary) {
  // 5000 tokens: 4000 equally likely, 1000 much less likely; the nucleus at 0.9 needs > 256 candidates and
  // must exclude every low token.
  std::vector<float> logits(5000, 0.0f);
  for (size_t i = 4000; i < 5000; ++i) logits[i] = -20.0f;
  SamplingParams sp;
  sp.greedy = false;
  sp.top_p = 0.9f;
  sp.seed = 10;
  const auto draws = draw(sp, logits, 1000);
  std::map<int, int> seen;
  for (int t : draws) {
    ASSERT_LT(t, 3601) << "outside the nucleus (ties keep the lowest ids)";
    ++seen[t];
  }
  EXPECT_GT(seen.size(), 600u);  // spread over the nucleus, not stuck on a few ids
}

TEST(Sampling, TopKThenTopP) {
  const std::vector<float> logits = {std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)};
  SamplingParams sp;
  sp.greedy = false;
  sp.top_k = 3;     // renormalised 4/9, 3/9, 2/9
  sp.top_p = 0.7f;  // 4/9 + 3/9 = 0.78 >= 0.7
  sp.seed = 11;
  expect_distribution(draw(sp, logits, 20000), {4.0 / 7, 3.0 / 7, 0.0, 0.0});
}

TEST(Sampling, RepetitionPenaltyCtrl) {
  SamplingParams sp;
  sp.greedy = true;
  sp.repetition_penalty = 2.0f;
  sp.repetition_window = 3;
  Sampler s(sp);
  std::vector<float> l = {2.0f, -2.0f, 1.0f, 4.0f, 1.5f};
  // Window = last 3 tokens {0, 1, 0}: token 3 (outside the window) is not penalised, token 0 only once.
  const std::vector<int32_t> history = {3, 0, 1, 0};
  const int t = s.sample(l.data(), 5, history);
  EXPECT_EQ(l, (std::vector<float>{1.0f, -4.0f, 1.0f, 4.0f, 1.5f}));
  EXPECT_EQ(t, 3);
  // A penalty that flips the choice.
  std::vector<float> l2 = {3.0f, 2.0f};
  const std::vector<int32_t> h2 = {0};
  EXPECT_EQ(s.sample(l2.data(), 2, h2), 1);
}

}  // namespace
}  // namespace yoco::kernels
