// Persistence of a session (llm/record_file.h, llm/session_log.h), for every architecture:
// - a session recovered from its log continues with logits bit-identical to the session that was never
//   written (after pages filled, after checkpoints in the middle of a page, after evictions, f16 caches);
// - a crash at any byte of the file (the log cut at every record boundary and inside records) recovers the
//   last checkpoint before the cut, and appending after recovery works;
// - a flipped byte is detected by the checksums; another model's state, a non-state file and a file with no
//   checkpoint are refused with errors that say so;
// - compaction drops evicted pages and keeps the result identical; an export is self-contained.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "tests/llm/llm_test_util.h"
#include "kernels/error.h"
#include "llm/record_file.h"
#include "llm/session_log.h"

namespace yoco::llm {
namespace {

using testutil::random_tokens;
using testutil::bit_equal;

namespace fs = std::filesystem;
const std::string kData = YOCO_TEST_DATA;

std::vector<float> logits_after(Session& s, std::span<const int32_t> toks) {
  auto l = s.forward(toks);
  return {l.begin(), l.end()};
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("yoco-logtest-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void spit(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

TEST(RecordFile, Crc32MatchesZlib) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(crc32("", 0), 0u);
  const std::string s = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(crc32(s.data(), s.size()), 0x414FA339u);
  EXPECT_EQ(crc32(s.data() + 10, s.size() - 10, crc32(s.data(), 10)), 0x414FA339u);  // chained
}

TEST(RecordFile, TornAndCorruptRecordsStopTheWalk) {
  const fs::path dir = fresh_dir("records");
  const std::string path = (dir / "r").string();
  {
    RecordFileWriter w = RecordFileWriter::create(path, FsyncPolicy::kNone);
    for (int i = 0; i < 5; ++i) {
      std::vector<uint8_t> p(100 + i, static_cast<uint8_t>(i));
      w.append(7, {p});
    }
    EXPECT_THROW(RecordFileWriter::create(path, FsyncPolicy::kNone), Error);  // never overwrites
  }
  const std::string whole = slurp(path);
  {
    RecordFileReader rd(path);
    RecordView r;
    int n = 0;
    while (rd.next(r)) {
      EXPECT_EQ(r.type, 7u);
      EXPECT_EQ(r.size, 100u + n);
      n++;
    }
    EXPECT_EQ(n, 5);
    EXPECT_TRUE(rd.stop_reason().empty());
    EXPECT_EQ(rd.valid_end(), whole.size());
  }
  // Every cut leaves exactly the records that fit entirely before it.
  for (size_t cut = 16; cut < whole.size(); cut += 7) {
    spit(path, whole.substr(0, cut));
    RecordFileReader rd(path);
    RecordView r;
    uint64_t end = 16;
    while (rd.next(r)) end = r.end;
    EXPECT_LE(end, cut);
    EXPECT_GT(end + 24 + 104, cut) << "a whole record was dropped at cut " << cut;
    EXPECT_EQ(rd.valid_end(), end);
    if (end != cut) {
      EXPECT_FALSE(rd.stop_reason().empty());
    }
  }
  // A flipped payload byte and a flipped header byte are both caught.
  for (size_t at : {size_t{16 + 24 + 50}, size_t{16 + 124 + 9}}) {
    std::string bad = whole;
    bad[at] ^= 0x20;
    spit(path, bad);
    RecordFileReader rd(path);
    RecordView r;
    int n = 0;
    while (rd.next(r)) n++;
    EXPECT_LE(n, 1);
    EXPECT_NE(rd.stop_reason().find("damaged record"), std::string::npos) << rd.stop_reason();
  }
  spit(path, "not a state file at all");
  EXPECT_THROW(RecordFileReader{path}, Error);
  spit(path, "");
  EXPECT_THROW(RecordFileReader{path}, Error);
  EXPECT_THROW(RecordFileReader{(dir / "missing").string()}, Error);
  fs::remove_all(dir);
}

class SessionLogTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    model = Model::load(kData + "/" + GetParam());
    dir = fresh_dir(GetParam());
  }
  void TearDown() override { fs::remove_all(dir); }
  std::shared_ptr<const Model> model;
  fs::path dir;
};

TEST_P(SessionLogTest, RecoveredSessionContinuesBitIdentically) {
  const int V = model->config().vocab_size;
  SessionOptions so;
  so.page_tokens = 16;
  for (kernels::DType dt : {kernels::DType::F32, kernels::DType::F16, kernels::DType::Q8}) {
    so.cache_dtype = dt;
    Session live(model, so);
    const std::string path = (dir / ("s-" + std::string(kernels::dtype_name(dt)))).string();
    auto log = SessionLog::create(path, live, {{"stream", "cam"}}, {{"frames", 0}});
    const auto toks = random_tokens(150, V, 3);
    // Ingest in uneven chunks, checkpointing after some of them (mid-page and on page boundaries).
    size_t at = 0;
    int chunk = 0;
    for (int n : {5, 11, 16, 23, 1, 30, 14}) {
      live.prefill(std::span<const int32_t>(toks.data() + at, n));
      at += n;
      log->append_pages(live);
      if (++chunk % 2 == 0) log->checkpoint(live, {{"frames", chunk}});
    }
    log->checkpoint(live, {{"frames", 99}});
    // Pages after the last checkpoint are written but no checkpoint covers them: a crash here.
    Session ahead = live.fork();
    ahead.prefill(std::span<const int32_t>(toks.data() + at, 40));
    log->append_pages(ahead);
    log.reset();

    auto rec = SessionLog::recover(path, model, /*for_append=*/true);
    ASSERT_TRUE(rec.session);
    EXPECT_EQ(rec.session->n_tokens(), live.n_tokens());
    EXPECT_EQ(rec.state["frames"], 99);
    EXPECT_EQ(rec.meta["stream"], "cam");
    EXPECT_EQ(rec.report.checkpoints, 5);
    EXPECT_GT(rec.report.dropped_bytes, 0u);  // the uncovered pages
    EXPECT_TRUE(rec.report.damage.empty());
    const auto more = random_tokens(37, V, 4);
    EXPECT_TRUE(bit_equal(logits_after(live, more), logits_after(*rec.session, more))) << kernels::dtype_name(dt);

    // Appending after recovery, then recovering again, still matches.
    rec.log->checkpoint(*rec.session, {{"frames", 100}});
    rec.log.reset();
    auto again = SessionLog::recover(path, model, false);
    EXPECT_EQ(again.state["frames"], 100);
    const auto tail = random_tokens(9, V, 5);
    EXPECT_TRUE(bit_equal(logits_after(live, tail), logits_after(*again.session, tail)));
  }
}

TEST_P(SessionLogTest, CrashAtAnyByteRecoversTheLastCheckpointBeforeIt) {
  const int V = model->config().vocab_size;
  SessionOptions so;
  so.page_tokens = 8;
  Session live(model, so);
  const std::string path = (dir / "s").string();
  auto log = SessionLog::create(path, live, {}, {{"n", live.n_tokens()}});
  const auto toks = random_tokens(60, V, 7);
  std::vector<std::pair<uint64_t, int64_t>> ends;  // file size after each checkpoint, length then
  ends.emplace_back(log->bytes(), live.n_tokens());
  for (int i = 0; i < 6; ++i) {
    live.prefill(std::span<const int32_t>(toks.data() + i * 10, 10));
    log->checkpoint(live, {{"n", live.n_tokens()}});
    ends.emplace_back(log->bytes(), live.n_tokens());
  }
  log.reset();
  const std::string whole = slurp(path);
  const fs::path cut_path = dir / "cut";
  const uint64_t step = std::max<uint64_t>(1, whole.size() / 97);
  for (uint64_t cut = 0; cut <= whole.size(); cut += step) {
    spit(cut_path, whole.substr(0, cut));
    int64_t expect = -1;
    for (const auto& [end, n] : ends)
      if (end <= cut) expect = n;
    if (expect < 0) {
      EXPECT_THROW(SessionLog::recover(cut_path.string(), model, true), Error) << cut;
      continue;
    }
    auto rec = SessionLog::recover(cut_path.string(), model, true);
    EXPECT_EQ(rec.session->n_tokens(), expect) << "cut at " << cut;
    EXPECT_EQ(rec.state["n"], expect);
    EXPECT_EQ(fs::file_size(cut_path), rec.report.kept_bytes);  // torn tail dropped from the file
    // The recovered session equals a fresh one fed the same tokens in the same batches.
    Session ref(model, so);
    for (int64_t i = 0; i < expect; i += 10) ref.prefill(std::span<const int32_t>(toks.data() + i, 10));
    const auto q = random_tokens(3, V, 8);
    EXPECT_TRUE(bit_equal(logits_after(ref, q), logits_after(*rec.session, q))) << "cut at " << cut;
  }
}

TEST_P(SessionLogTest, EvictedStreamsCompactAndExport) {
  const int V = model->config().vocab_size;
  SessionOptions so;
  so.page_tokens = 8;
  Session live(model, so);
  const std::string path = (dir / "s").string();
  SessionLogOptions lo;
  lo.compact_slack_bytes = 0;  // compact as soon as dead bytes outweigh live ones
  auto log = SessionLog::create(path, live, {}, {}, lo);
  const auto toks = random_tokens(200, V, 11);
  for (int i = 0; i < 20; ++i) {
    live.prefill(std::span<const int32_t>(toks.data() + i * 10, 10));
    if (live.evictable_pages(1) > 4) live.evict_pages(1, live.evictable_pages(1) - 4);
    log->checkpoint(live, {{"i", i}});
  }
  EXPECT_GT(live.evicted_tokens(), 0);
  // Compaction kept the file near the live size although 20 checkpoints and evicted pages were written.
  uint64_t live_bytes = live.cache_bytes() + live.self_state_image_bytes();
  EXPECT_LT(log->bytes(), 3 * live_bytes + 64 * 1024) << log->bytes();
  const std::string exported = (dir / "export").string();
  log->export_to(exported, live, {{"i", 19}});
  log.reset();
  for (const std::string& p : {path, exported}) {
    auto rec = SessionLog::recover(p, model, false);
    EXPECT_EQ(rec.session->evicted_tokens(), live.evicted_tokens());
    const auto q = random_tokens(5, V, 12);
    Session copy = live.fork();
    EXPECT_TRUE(bit_equal(logits_after(copy, q), logits_after(*rec.session, q))) << p;
    const SessionLogInfo info = SessionLog::info(p);
    EXPECT_EQ(info.n_tokens, live.n_tokens());
    EXPECT_EQ(info.checkpoint["i"], 19);
  }
}

TEST_P(SessionLogTest, AnotherModelsStateIsRefused) {
  Session s(model, {});
  s.prefill(random_tokens(20, model->config().vocab_size, 1));
  const std::string path = (dir / "s").string();
  SessionLog::create(path, s, {}, {});
  const std::string other = std::string(GetParam()) == "yoco_gret" ? "yoco_swa" : "yoco_gret";
  auto m2 = Model::load(kData + "/" + other);
  try {
    SessionLog::recover(path, m2, true);
    FAIL() << "recovered on another model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
  }
  // The refused file is left as it was.
  EXPECT_NO_THROW(SessionLog::recover(path, model, false));
}

TEST_P(SessionLogTest, FlippedBytesAreDetected) {
  Session s(model, {{}, 8});
  const std::string path = (dir / "s").string();
  auto log = SessionLog::create(path, s, {}, {{"n", 1}});
  s.prefill(random_tokens(40, model->config().vocab_size, 2));
  log->checkpoint(s, {{"n", 2}});
  log.reset();
  const std::string whole = slurp(path);
  std::mt19937 rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    std::string bad = whole;
    const size_t at = 16 + rng() % (bad.size() - 16);
    bad[at] = static_cast<char>(bad[at] ^ (1 + rng() % 255));
    spit(dir / "bad", bad);
    try {
      auto rec = SessionLog::recover((dir / "bad").string(), model, false);
      // Only a flip in the last checkpoint can leave an earlier, intact one to recover.
      EXPECT_EQ(rec.state["n"], 1) << "flip at " << at;
      EXPECT_FALSE(rec.report.damage.empty());
    } catch (const Error& e) {
      EXPECT_GT(std::strlen(e.what()), 10u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, SessionLogTest, ::testing::Values("yoco_gret", "yoco_swa", "transformer", "cla"));

}  // namespace
}  // namespace yoco::llm
