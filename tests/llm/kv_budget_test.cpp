// The memory-budget policies of the paged cache and the session (llm/kv_cache.h, llm/kv_spill.h):
// - evict: the span after an eviction holds exactly the kept pages' bytes, and attention over it with the
//   shifted query position equals a double-precision attention written here over exactly those keys with the
//   causal mask taken on absolute positions; cache bytes drop page by page; YOCO eviction commutes with ingest
//   (the self-decoder never reads the cache); forks taken before or during evictions keep working; rollback
//   into the gap is a clear error; many evictions in a row stay bounded.
// - spill: logits bit-identical to a session that never spilled (also after more ingest, forks, and a rollback
//   that reopens a spilled page), bytes resident vs spilled, the file removed, an unwritable directory a clear
//   yoco::Error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "tests/llm/llm_test_util.h"
#include "kernels/error.h"
#include "llm/kv_cache.h"
#include "llm/kv_spill.h"
#include "llm/session.h"

namespace yoco::llm {
namespace {

using testutil::random_tokens;
using testutil::copy;
using testutil::bit_equal;

namespace fs = std::filesystem;
const std::string kData = YOCO_TEST_DATA;

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("yoco-kvtest-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// ---- PagedKvCache -----------------------------------------------------------------------------------------

TEST(KvEvict, AttentionOverKeptPagesEqualsAReferenceOverThoseKeys) {
  const int KV = 2, HD = 8, H = 4, P = 4;
  const int64_t n_ctx = 40, n_q = 3;  // 10 full pages, then the question's own 3 keys
  PagedKvCache c(KV, HD, kernels::DType::F32, P);
  const int64_t row = KV * HD;
  const auto k = randn((n_ctx + n_q) * row, 1), v = randn((n_ctx + n_q) * row, 2);
  c.append(k.data(), row, v.data(), row, n_ctx);
  std::vector<std::vector<uint8_t>> before;
  for (int64_t i = 0; i < c.n_pages(); ++i)
    before.emplace_back(c.page_data(i), c.page_data(i) + c.page_bytes());

  EXPECT_EQ(c.evict_pages(1, 2), 8);  // positions 4..11
  EXPECT_EQ(c.evict_pages(1, 1), 4);  // 12..15: the gap grows after the same sink
  EXPECT_EQ(c.n_evicted(), 12);
  EXPECT_EQ(c.gap_begin(), 4);
  EXPECT_EQ(c.gap_end(), 16);
  EXPECT_EQ(c.n_tokens(), 28);
  EXPECT_EQ(c.bytes(), 7 * c.page_bytes());
  // The kept pages are the original ones, in order: page 0, then pages 4..9.
  const std::vector<int> kept = {0, 4, 5, 6, 7, 8, 9};
  for (size_t i = 0; i < kept.size(); ++i)
    EXPECT_EQ(std::memcmp(c.page_data(static_cast<int64_t>(i)), before[kept[i]].data(), c.page_bytes()), 0) << i;

  c.append(k.data() + n_ctx * row, row, v.data() + n_ctx * row, row, n_q);  // positions 40..42
  EXPECT_EQ(c.end_position(), n_ctx + n_q);
  const auto q = randn(n_q * H * HD, 3);
  kernels::AttentionParams ap;
  ap.n_heads = H;
  ap.scale = 1.0f / std::sqrt(static_cast<float>(HD));
  std::vector<kernels::KvBlock> blocks;
  const kernels::KvSpan span = c.span(blocks);
  std::vector<float> out(n_q * H * HD, std::nanf(""));
  kernels::attention(q.data(), H * HD, n_q, n_ctx - c.n_evicted(), span, ap, out.data(), H * HD);

  // Reference: the keys at absolute positions [0, 4) and [16, 43); query i at position 40 + i sees the keys
  // at positions <= 40 + i.
  std::vector<int64_t> pos;
  for (int64_t p = 0; p < n_ctx + n_q; ++p)
    if (p < 4 || p >= 16) pos.push_back(p);
  for (int64_t i = 0; i < n_q; ++i) {
    for (int h = 0; h < H; ++h) {
      const int g = h / (H / KV);
      std::vector<double> s;
      double mx = -1e300;
      for (int64_t p : pos) {
        double dot = 0;
        for (int e = 0; e < HD; ++e) dot += double(q[(i * H + h) * HD + e]) * k[p * row + g * HD + e];
        s.push_back(p <= n_ctx + i ? dot * ap.scale : -1e300);
        mx = std::max(mx, s.back());
      }
      double den = 0;
      for (auto& x : s) den += (x = x <= -1e299 ? 0.0 : std::exp(x - mx));
      for (int e = 0; e < HD; ++e) {
        double o = 0;
        for (size_t j = 0; j < pos.size(); ++j) o += s[j] / den * v[pos[j] * row + g * HD + e];
        EXPECT_NEAR(out[(i * H + h) * HD + e], o, 1e-5 * (1 + std::fabs(o))) << i << " " << h << " " << e;
      }
    }
  }
}

TEST(KvEvict, RefusalsLeaveTheCacheAsItWas) {
  PagedKvCache c(1, 4, kernels::DType::F32, 4);
  const auto kv = randn(2 * 4 * 18, 4);
  c.append(kv.data(), 8, kv.data() + 4, 8, 18);  // 4 full pages + 2 tokens
  EXPECT_THROW(c.evict_pages(1, 4), Error);        // would take the partial last page
  EXPECT_THROW(c.evict_pages(-1, 1), Error);
  c.evict_pages(1, 1);
  EXPECT_THROW(c.evict_pages(2, 1), Error);  // a different sink would split the gap
  EXPECT_EQ(c.n_tokens(), 14);
  EXPECT_EQ(c.n_evicted(), 4);
  // Truncation works in absolute positions, never inside the gap.
  EXPECT_THROW(c.truncate(6), Error);
  c.truncate(10);  // the gap's end + 2: held 0..3 and 8..9
  EXPECT_EQ(c.n_tokens(), 6);
  EXPECT_EQ(c.n_evicted(), 4);
  c.truncate(3);  // before the gap: it closes
  EXPECT_EQ(c.n_tokens(), 3);
  EXPECT_EQ(c.n_evicted(), 0);
  EXPECT_EQ(c.end_position(), 3);
}

TEST(KvSpill, SpilledPagesReadTheSameBytesAndTheFileGoes) {
  const fs::path dir = fresh_dir("spill");
  PagedKvCache c(2, 16, kernels::DType::F16, 8);
  const auto kv = randn(2 * 32 * 30, 5);
  c.append(kv.data(), 64, kv.data() + 32, 64, 30);  // 3 full pages + 6 tokens
  PagedKvCache fork = c.fork();
  std::vector<std::vector<uint8_t>> before;
  for (int64_t i = 0; i < c.n_pages(); ++i) before.emplace_back(c.page_data(i), c.page_data(i) + c.page_bytes());
  std::string path;
  {
    KvSpillFile f(dir.string(), "t");
    path = f.path();
    EXPECT_TRUE(fs::exists(path));
    EXPECT_EQ(c.spill_pages(f, 2), 2 * c.page_bytes());
    EXPECT_EQ(c.spill_pages(f, 100), c.page_bytes());  // the third full page; the partial one stays
    EXPECT_EQ(c.spilled_bytes(), 3 * c.page_bytes());
    EXPECT_EQ(c.resident_bytes(), c.page_bytes());
    EXPECT_EQ(c.bytes(), 4 * c.page_bytes());
    EXPECT_EQ(fork.spilled_bytes(), 0u);  // the fork keeps its own (resident) pages
  }
  EXPECT_FALSE(fs::exists(path));  // removed; the mappings outlive the name
  for (int64_t i = 0; i < c.n_pages(); ++i) {
    EXPECT_EQ(std::memcmp(c.page_data(i), before[i].data(), c.page_bytes()), 0) << i;
    EXPECT_EQ(std::memcmp(fork.page_data(i), before[i].data(), c.page_bytes()), 0) << i;
  }
  // Truncating into a spilled page and appending copies it back to memory first.
  c.truncate(20);
  EXPECT_EQ(c.spilled_bytes(), 3 * c.page_bytes());
  c.append(kv.data(), 64, kv.data() + 32, 64, 1);
  EXPECT_EQ(c.spilled_bytes(), 2 * c.page_bytes());
  EXPECT_FALSE(c.page_spilled(2));
  EXPECT_EQ(std::memcmp(c.page_data(2), before[2].data(), 4 * 2 * 16 * 2), 0);  // tokens 16..19 of K
  EXPECT_THROW(KvSpillFile("/nonexistent-yoco-dir/x", "t"), Error);
  fs::remove_all(dir);
}

// ---- Session ---------------------------------------------------------------------------------------------

class SessionBudgetTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { model = Model::load(kData + "/" + GetParam()); }
  bool yoco() const { return model->config().arch == Arch::Yoco; }
  std::shared_ptr<const Model> model;
};

TEST_P(SessionBudgetTest, EvictDropsBytesKeepsPositionsAndMasksInCacheSpace) {
  const int V = model->config().vocab_size;
  SessionOptions o;
  o.page_tokens = 16;
  Session s(model, o);
  s.prefill(random_tokens(100, V, 1));  // 6 full pages + 4 tokens
  const size_t before = s.cache_bytes();
  const size_t page_all = before / 7;  // one page of every cache
  EXPECT_EQ(s.evictable_pages(1), 5);
  EXPECT_EQ(s.evict_pages(1, 3), 48);
  EXPECT_EQ(s.evicted_tokens(), 48);
  EXPECT_EQ(s.n_tokens(), 100);
  EXPECT_EQ(s.cache_bytes(), before - 3 * page_all);
  for (const auto& c : s.caches()) EXPECT_EQ(c.n_tokens(), 52);
  EXPECT_EQ(s.evictable_pages(1), 2);
  EXPECT_EQ(s.evictable_pages(2), 0);  // another sink cannot continue this gap
  EXPECT_THROW(s.evict_pages(2, 1), Error);
  EXPECT_THROW(s.evict_pages(1, 3), Error);
  EXPECT_EQ(s.cache_bytes(), before - 3 * page_all);

  // Causality in the shifted index space: the logits at each position of a question equal those of the
  // question cut after that position.
  const auto q = random_tokens(5, V, 2);
  Session a = s.fork();
  std::vector<float> all(5 * V);
  a.forward_all(q, all.data());
  for (int i = 0; i < 5; ++i) {
    Session b = s.fork();
    const auto l = copy(b.forward(std::span<const int32_t>(q.data(), i + 1)));
    for (int j = 0; j < V; ++j) EXPECT_NEAR(all[i * V + j], l[j], 1e-4 * (1 + std::fabs(l[j]))) << i;
  }
  // ... and eviction changed what the question reads.
  Session full(model, o);
  full.prefill(random_tokens(100, V, 1));
  EXPECT_FALSE(bit_equal(copy(full.forward(q)), copy(Session(s.fork()).forward(q))));
}

TEST_P(SessionBudgetTest, YocoEvictionCommutesWithIngest) {
  if (!yoco()) GTEST_SKIP() << "Transformer/CLA layers read their caches while ingesting";
  const int V = model->config().vocab_size;
  SessionOptions o;
  o.page_tokens = 16;
  const auto c1 = random_tokens(70, V, 3), c2 = random_tokens(45, V, 4), q = random_tokens(9, V, 5);
  Session early(model, o), late(model, o);
  early.prefill(c1);
  early.evict_pages(2, 2);
  early.prefill(c2);
  late.prefill(c1);
  late.prefill(c2);
  late.evict_pages(2, 2);
  EXPECT_EQ(early.cache_bytes(), late.cache_bytes());
  EXPECT_TRUE(bit_equal(copy(early.forward(q)), copy(late.forward(q))));
}

TEST_P(SessionBudgetTest, ForksAndRollbackAroundEvictions) {
  const int V = model->config().vocab_size;
  SessionOptions o;
  o.page_tokens = 8;
  const auto ctx = random_tokens(60, V, 6), q = random_tokens(7, V, 7);
  Session s(model, o);
  s.prefill(ctx);
  s.mark();  // at 60, after the gap to come
  Session before = s.fork();
  Session ref(model, o);
  ref.prefill(ctx);
  const auto want_full = copy(ref.forward(q));
  s.evict_pages(1, 4);  // positions 8..39
  Session after = s.fork();
  const auto want_evicted = copy(s.fork().forward(q));
  s.prefill(random_tokens(30, V, 8));
  s.evict_pages(1, 2);
  EXPECT_TRUE(bit_equal(copy(before.forward(q)), want_full));     // taken before: sees everything
  EXPECT_TRUE(bit_equal(copy(after.forward(q)), want_evicted));   // taken after: unaffected by later ones
  EXPECT_THROW(s.rollback(20), Error);  // inside the gap (8..56 by now)
  s.rollback(60);                       // a mark after the gap: the first eviction's state
  EXPECT_EQ(s.evicted_tokens(), 48);
  if (!yoco()) {
    s.rollback(5);  // before the gap (Transformer/CLA rewind anywhere): the gap closes
    EXPECT_EQ(s.evicted_tokens(), 0);
    Session r(model, o);  // the same batches, never evicted
    r.prefill(ctx);
    r.rollback(5);
    EXPECT_TRUE(bit_equal(copy(s.forward(q)), copy(r.forward(q))));
  }
}

TEST_P(SessionBudgetTest, ManyEvictionsStayBoundedWithForksInFlight) {
  const int V = model->config().vocab_size;
  SessionOptions o;
  o.page_tokens = 4;
  Session s(model, o);
  s.prefill(random_tokens(12, V, 9));
  const size_t page_all = s.cache_bytes() / 3;
  const auto q = random_tokens(3, V, 10);
  std::vector<std::pair<Session, std::vector<float>>> forks;
  for (int i = 0; i < 60; ++i) {
    s.prefill(random_tokens(5, V, 100 + i));
    while (s.cache_bytes() > 6 * page_all) s.evict_pages(2, 1);
    EXPECT_LE(s.cache_bytes(), 6 * page_all);
    if (i % 15 == 0) {  // a fork now answers later, after more evictions of its parent, as it would now
      Session probe = s.fork();
      forks.emplace_back(s.fork(), copy(probe.forward(q)));
    }
  }
  EXPECT_EQ(s.n_tokens(), 12 + 300);
  EXPECT_GT(s.evicted_tokens(), 250);
  for (auto& [f, want] : forks) EXPECT_TRUE(bit_equal(copy(f.forward(q)), want));
  for (float x : s.forward(q)) ASSERT_TRUE(std::isfinite(x));
}

TEST_P(SessionBudgetTest, SpillIsBitIdentical) {
  const int V = model->config().vocab_size;
  const fs::path dir = fresh_dir("session-" + GetParam());
  SessionOptions o;
  o.page_tokens = 16;
  o.cache_dtype = kernels::DType::BF16;
  const auto ctx = random_tokens(90, V, 11), more = random_tokens(40, V, 12), q = random_tokens(6, V, 13);
  Session ref(model, o), s(model, o);
  ref.prefill(ctx);
  s.prefill(ctx);
  s.mark();
  ref.mark();
  const size_t page_all = s.cache_bytes() / 6;
  {
    KvSpillFile f(dir.string(), "s");
    EXPECT_EQ(s.spill_pages(f, 2 * page_all), 4 * page_all);  // oldest first, down to 2 pages resident
    EXPECT_EQ(s.cache_resident_bytes(), 2 * page_all);
    EXPECT_EQ(s.cache_spilled_bytes(), 4 * page_all);
    EXPECT_EQ(s.cache_bytes(), ref.cache_bytes());
    EXPECT_EQ(s.spill_pages(f, 0), page_all);  // the last full page; the partial one cannot go
    EXPECT_TRUE(bit_equal(copy(s.fork().forward(q)), copy(ref.fork().forward(q))));
    s.prefill(more);
    ref.prefill(more);
    EXPECT_TRUE(bit_equal(copy(s.forward(q)), copy(ref.forward(q))));
    EXPECT_EQ(s.spill_pages(f, 0), 3 * page_all);  // pages 5..7 (tokens 80..127)
    s.rollback(90);  // reopens spilled page 5 for writing: copied back to memory first
    ref.rollback(90);
    EXPECT_TRUE(bit_equal(copy(s.forward(q)), copy(ref.forward(q))));
    EXPECT_EQ(fs::directory_iterator(dir) == fs::directory_iterator(), false);
  }
  EXPECT_TRUE(fs::directory_iterator(dir) == fs::directory_iterator());  // the file is gone
  EXPECT_TRUE(bit_equal(copy(s.forward(q)), copy(ref.forward(q))));     // the mappings are not
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Archs, SessionBudgetTest, ::testing::Values("yoco_gret", "yoco_swa", "transformer", "cla"));

}  // namespace
}  // namespace yoco::llm
