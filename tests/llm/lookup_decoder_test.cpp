// Greedy decoding with looked-up drafts (llm/lookup_decoder.h) and the recent view of a fork
// (Session::evict_before):
// - drafts change the number of forward passes, never the tokens: the same tokens as one step() per token,
//   when every draft is right (the lookup text is the answer itself), when most are wrong (a lookup text of
//   other tokens) and when the answer repeats itself; the session ends at the same length with the same logits;
//   no mark is left behind; drafts never run past max_tokens;
// - evict_before drops exactly the whole pages after the sink that end at or before the position, on a fork
//   only, and the fork's logits equal those of evict_pages with the same count.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/llm/llm_test_util.h"
#include "kernels/error.h"
#include "kernels/ops.h"
#include "llm/lookup_decoder.h"
#include "llm/session.h"

namespace yoco::llm {
namespace {

using testutil::random_tokens;
using testutil::copy;

const std::string kData = YOCO_TEST_DATA;

class LookupDecoderTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { model = Model::load(kData + "/" + GetParam()); }
  std::shared_ptr<const Model> model;
};

// Plain greedy decoding: one step() per token.
std::vector<int32_t> plain_greedy(Session& s, std::span<const float> logits, int n) {
  std::vector<int32_t> out;
  std::vector<float> l = copy(logits);
  for (int i = 0; i < n; ++i) {
    out.push_back(kernels::argmax(l.data(), static_cast<int64_t>(l.size())));
    if (i + 1 < n) l = copy(s.step(out.back()));
  }
  return out;
}

TEST_P(LookupDecoderTest, DraftsChangePassesNotTokens) {
  const int V = model->config().vocab_size;
  const int n = 60;
  Session base(model);
  base.prefill(random_tokens(50, V, 1));
  const auto prompt = random_tokens(7, V, 2);

  Session ref = base.fork();
  const std::vector<int32_t> expected = plain_greedy(ref, ref.forward(prompt), n);

  // Lookup texts: the answer itself (drafts right), the answer with every 7th token changed (drafts cut short
  // and rolled back), none (the answer's own repeats only).
  std::vector<int32_t> spoilt = expected;
  for (size_t i = 3; i < spoilt.size(); i += 7) spoilt[i] = (spoilt[i] + 1) % V;
  const std::vector<std::vector<int32_t>> lookups = {expected, spoilt, {}};
  for (size_t k = 0; k < lookups.size(); ++k) {
    Session s = base.fork();
    const auto first = copy(s.forward(prompt));
    LookupDecoder dec(s, first, lookups[k], n);
    std::vector<int32_t> got;
    for (int i = 0; i < n; ++i) got.push_back(dec.next());
    EXPECT_EQ(got, expected) << "lookup " << k;
    EXPECT_LE(dec.stats().accepted, dec.stats().drafted);
    if (k == 0) {
      EXPECT_GT(dec.stats().accepted, n / 2) << "the answer as lookup text gives right drafts";
      EXPECT_LT(dec.stats().passes, n / 2);
    }
    if (k == 1) {
      EXPECT_GT(dec.stats().accepted, 0);
      EXPECT_LT(dec.stats().accepted, dec.stats().drafted) << "some drafts were cut short";
    }
    // The session holds the returned tokens, the last one perhaps still pending: its logits after the last
    // token equal the plain decoder's.
    ASSERT_TRUE(s.n_tokens() == ref.n_tokens() || s.n_tokens() == ref.n_tokens() + 1) << "lookup " << k;
    const auto a = copy(s.n_tokens() == ref.n_tokens() ? s.step(got.back()) : s.last_logits());
    const auto b = copy(Session(ref.fork()).step(expected.back()));
    for (int j = 0; j < V; ++j) ASSERT_NEAR(a[j], b[j], 1e-4 * (1 + std::fabs(b[j]))) << "lookup " << k;
    // No mark is left: rolling back to the prompt's end is refused for YOCO (only marks can be returned to).
    if (model->config().arch == Arch::Yoco) {
      EXPECT_THROW(s.rollback(base.n_tokens() + 7), Error);
    }
  }
}

// The automatic draft cap: 4 tokens while the session reads a short context, 16 from kLongContext tokens on;
// with the answer itself as lookup text, drafts grow to the cap and no further. Same tokens either way.
TEST_P(LookupDecoderTest, AutoDraftCapFollowsTheContextRead) {
  const int V = model->config().vocab_size;
  const int n = 80;
  for (const int64_t context : {int64_t{50}, LookupOptions::kLongContext + 100}) {
    Session base(model);
    base.append_random_context(context - 10, 9);
    base.prefill(random_tokens(10, V, 10));
    const auto prompt = random_tokens(7, V, 11);
    Session ref = base.fork();
    const std::vector<int32_t> expected = plain_greedy(ref, ref.forward(prompt), n);
    Session s = base.fork();
    LookupDecoder dec(s, copy(s.forward(prompt)), expected, n);
    std::vector<int32_t> got;
    for (int i = 0; i < n; ++i) got.push_back(dec.next());
    EXPECT_EQ(got, expected) << context;
    const bool long_context = context >= LookupOptions::kLongContext;
    EXPECT_EQ(dec.max_draft(), long_context ? 16 : 4) << context;
    EXPECT_LE(dec.stats().longest, dec.max_draft()) << context;
    EXPECT_GT(dec.stats().longest, long_context ? 4 : 2) << context;
  }
}

TEST_P(LookupDecoderTest, DraftsStopAtMaxTokensAndBadOptionsAreErrors) {
  const int V = model->config().vocab_size;
  Session s(model);
  s.prefill(random_tokens(20, V, 4));
  const auto first = copy(s.forward(random_tokens(3, V, 5)));
  const int64_t before = s.n_tokens();
  // A lookup text made of the token that comes next, over and over: long drafts, capped by max_tokens.
  Session probe = s.fork();
  const auto expected = plain_greedy(probe, first, 5);
  std::vector<int32_t> lookup;
  for (int i = 0; i < 20; ++i) lookup.insert(lookup.end(), expected.begin(), expected.end());
  LookupDecoder dec(s, first, lookup, 5);
  std::vector<int32_t> got;
  for (int i = 0; i < 5; ++i) got.push_back(dec.next());
  EXPECT_EQ(got, expected);
  EXPECT_LE(s.n_tokens(), before + 5);
  EXPECT_LE(dec.stats().drafted, 4);

  LookupOptions bad;
  bad.max_draft = -2;
  EXPECT_THROW(LookupDecoder(s, first, {}, 5, bad), Error);
  bad.max_draft = 256;
  EXPECT_THROW(LookupDecoder(s, first, {}, 5, bad), Error);
  bad = {};
  bad.min_ngram = 0;
  EXPECT_THROW(LookupDecoder(s, first, {}, 5, bad), Error);
  EXPECT_THROW(LookupDecoder(s, std::span<const float>(first.data(), 3), {}, 5), Error);
}

TEST_P(LookupDecoderTest, EvictBeforeKeepsTheSinkAndTheRecentPagesOfAFork) {
  const int V = model->config().vocab_size;
  SessionOptions o;
  o.page_tokens = 16;
  Session s(model, o);
  s.prefill(random_tokens(100, V, 6));  // 6 full pages + 4 tokens
  const auto q = random_tokens(4, V, 7);

  Session view = s.fork();
  // Position 70 lies in page 4 (64..79): pages 1..3 (16..63) end before it and go; the sink (page 0) stays.
  EXPECT_EQ(view.evict_before(1, 70), 48);
  EXPECT_EQ(view.evicted_tokens(), 48);
  EXPECT_EQ(s.evicted_tokens(), 0);  // the parent keeps every page
  EXPECT_EQ(view.evict_before(1, 70), 0);  // nothing more before 70
  EXPECT_EQ(view.evict_before(1, 10), 0);  // inside the sink
  EXPECT_EQ(view.evict_before(1, 1000), 32);  // pages 4 and 5; the partial last page stays
  EXPECT_EQ(view.evict_before(2, 1000), 0);   // another sink cannot continue the gap: nothing, no throw

  Session a = s.fork(), b = s.fork();
  a.evict_before(1, 70);
  b.evict_pages(1, 3);
  const auto la = copy(a.forward(q)), lb = copy(b.forward(q));
  for (int j = 0; j < V; ++j) EXPECT_EQ(la[j], lb[j]);
  Session none = s.fork();
  EXPECT_EQ(none.evict_before(1, -5), 0);
  EXPECT_EQ(none.evict_before(0, 16), 16);  // no sink: page 0 ends at 16
}

INSTANTIATE_TEST_SUITE_P(Archs, LookupDecoderTest, ::testing::Values("yoco_gret", "yoco_swa", "transformer", "cla"));

}  // namespace
}  // namespace yoco::llm
