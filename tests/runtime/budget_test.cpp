// The stream's memory budget policies end to end (pipeline/memory_budget.h) with the tiny random model:
// - evict: ingest goes on to the end of the file within the budget, and the answer equals a direct Session
//   that drops the oldest page after the sink whenever the next frame would pass the budget;
// - spill: the answer equals the no-budget answer bit for bit, resident bytes stay within the budget, the
//   spilled bytes are reported, and the spill file is gone once ingest ends;
// - an unwritable spill directory falls back to stop with the reason in the stats; questions still work.
#include <gtest/gtest.h>

#include <filesystem>

#include "pipeline/stream_runtime.h"
#include "tests/runtime/runtime_fixtures.h"

namespace yoco::test {
namespace {

namespace fs = std::filesystem;
using pipeline::BudgetPolicy;
using pipeline::StreamOptions;
using pipeline::StreamRuntime;

const VideoDirCleanup cleanup;
constexpr int kMaxTokens = 24;

// 8 tokens a page; <s> then per frame a 7-byte tag + 4 vision rows = 11 tokens.
StreamOptions small_pages(BudgetPolicy policy, int budget_pages) {
  StreamOptions o;
  o.session.page_tokens = 8;
  llm::Session probe(runtime_model(), o.session);
  o.budget.max_bytes = probe.state_bytes() + budget_pages * probe.caches()[0].page_bytes();
  o.budget.policy = policy;
  return o;
}

TEST(StreamBudget, EvictKeepsIngestingAndAnswersOverSinkAndRecentPages) {
  const std::string clip = test_clip(8.0);
  StreamOptions o = small_pages(BudgetPolicy::kEvictOldest, 4);
  o.budget.sink_pages = 1;
  StreamRuntime rt(runtime_model());
  auto s = rt.open("e", clip, o);
  ASSERT_TRUE(s->wait_ended(60));
  const auto st = s->stats();
  EXPECT_EQ(st.end_reason, "end of stream");
  EXPECT_EQ(st.frames, 8);
  EXPECT_EQ(st.tokens, 1 + 8 * 11);
  EXPECT_GT(st.evicted_tokens, 0);
  EXPECT_EQ(st.cache_spilled_bytes, 0u);
  EXPECT_LE(st.cache_bytes + st.state_bytes, o.budget.max_bytes);
  EXPECT_EQ(st.budget_policy, "evict");
  const auto j = st.to_json();
  EXPECT_EQ(j["evicted_tokens"].get<int64_t>(), st.evicted_tokens);
  const pipeline::Answer a = s->ask("what happened?");

  // The same sequence by hand, evicting as documented: before each frame, while the frame would pass the
  // budget, drop the oldest page after the sink.
  const EncodedFrames fr = encode_clip(clip, 1.0);
  auto model = runtime_model();
  const llm::Tokenizer& tok = *model->tokenizer();
  llm::Session d(model, o.session);
  const int32_t bos = tok.bos();
  d.prefill(std::span<const int32_t>(&bos, 1));
  const size_t page = d.caches()[0].page_bytes();
  for (size_t i = 0; i < fr.pts.size(); ++i) {
    const auto tag = tok.encode_ordinary(vision::format_time_tag(fr.pts[i]));
    auto resident_after = [&] {
      const auto& c = d.caches()[0];
      const int64_t pages = (c.n_tokens() + static_cast<int64_t>(tag.size()) + 4 + 7) / 8;
      return d.state_bytes() + std::max<int64_t>(pages, c.n_pages()) * page;
    };
    while (resident_after() > o.budget.max_bytes) d.evict_pages(1, 1);
    d.prefill(tag);
    d.prefill_embeddings(fr.rows[i].data(), 4);
  }
  EXPECT_EQ(d.evicted_tokens(), st.evicted_tokens);
  EXPECT_EQ(a.text, direct_answer(d, "what happened?", kMaxTokens));
}

TEST(StreamBudget, SpillAnswersAsWithoutABudgetAndRemovesItsFile) {
  const std::string clip = test_clip(6.0);
  const fs::path dir = fs::temp_directory_path() / ("yoco-spill-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  StreamOptions o = small_pages(BudgetPolicy::kSpill, 3);
  o.budget.spill_dir = dir.string();
  StreamRuntime rt(runtime_model());
  auto s = rt.open("sp", clip, o);
  ASSERT_TRUE(s->wait_ended(60));
  const auto st = s->stats();
  EXPECT_EQ(st.end_reason, "end of stream");
  EXPECT_EQ(st.frames, 6);
  EXPECT_EQ(st.evicted_tokens, 0);
  EXPECT_GT(st.cache_spilled_bytes, 0u);
  EXPECT_EQ(st.cache_resident_bytes + st.cache_spilled_bytes, st.cache_bytes);
  EXPECT_LE(st.cache_resident_bytes + st.state_bytes, o.budget.max_bytes);
  EXPECT_TRUE(st.budget_error.empty()) << st.budget_error;
  EXPECT_TRUE(st.spill_path.empty());
  EXPECT_TRUE(fs::directory_iterator(dir) == fs::directory_iterator());  // removed once ingest ended
  const pipeline::Answer a = s->ask("what happened?");  // reads the spilled pages through their mappings
  auto direct = direct_session(encode_clip(clip, 1.0), 6);
  EXPECT_EQ(a.text, direct_answer(*direct, "what happened?", kMaxTokens));
  fs::remove_all(dir);
}

TEST(StreamBudget, UnwritableSpillDirFallsBackToStop) {
  StreamOptions o = small_pages(BudgetPolicy::kSpill, 4);
  o.budget.spill_dir = "/nonexistent-yoco-spill-dir/x";
  std::vector<std::string> errors;
  std::mutex mu;
  pipeline::RuntimeOptions ro;
  ro.on_event = [&](const pipeline::StreamEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (e.kind == "error") errors.push_back(e.text);
  };
  StreamRuntime rt(runtime_model(), ro);
  auto s = rt.open("u", test_clip(4.0), o);
  ASSERT_TRUE(s->wait_ended(60));
  const auto st = s->stats();
  EXPECT_EQ(st.end_reason, "budget");
  EXPECT_EQ(st.budget_policy, "stop");
  EXPECT_NE(st.budget_error.find("/nonexistent-yoco-spill-dir/x"), std::string::npos) << st.budget_error;
  EXPECT_EQ(st.to_json()["budget_error"].get<std::string>(), st.budget_error);
  EXPECT_EQ(st.frames, 2);  // as under stop: the third frame would need a 5th page
  EXPECT_LE(st.cache_bytes + st.state_bytes, o.budget.max_bytes);
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(errors.size(), 1u);
  }
  const pipeline::Answer a = s->ask("what happened?");  // the stream keeps answering
  EXPECT_EQ(a.frames, 2);
}

}  // namespace
}  // namespace yoco::test
