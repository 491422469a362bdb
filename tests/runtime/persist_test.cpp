// Stream persistence end to end (pipeline/stream.h PersistOptions/StreamResume, docs/PERSISTENCE.md):
// - a stream killed mid-file (its state file copied as it was at that instant, torn tail and all) and resumed
//   on the same file ends with the same frames and gives the same answer as a stream that never crashed;
//   the FFmpeg path seeks, a non-seekable source skips;
// - a stream whose ingest had ended resumes ended, answers unchanged;
// - a live source resumes with its timeline continued past the saved pts and a discontinuity;
// - an unwritable or taken state path is a clear error at open; a state file removed under a running
//   stream does not disturb it.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "pipeline/stream_runtime.h"
#include "tests/pipeline/fake_source.h"
#include "tests/runtime/runtime_fixtures.h"

namespace yoco::test {
namespace {

namespace fs = std::filesystem;
using pipeline::StreamOptions;
using pipeline::StreamRuntime;

const VideoDirCleanup cleanup;

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("yoco-persist-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::shared_ptr<pipeline::StreamResume> recover(const std::string& path) {
  auto r = std::make_shared<pipeline::StreamResume>();
  auto rec = llm::SessionLog::recover(path, runtime_model(), true);
  r->session = std::move(rec.session);
  r->log = std::move(rec.log);
  r->state = rec.state;
  r->report = rec.report;
  return r;
}

bool wait_for(const std::function<bool()>& pred, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

TEST(StreamPersist, KilledMidStreamResumesToTheSameAnswer) {
  const fs::path dir = fresh_dir("kill");
  StreamRuntime rt(runtime_model());
  // The stream that never crashed: 24 frames at 2 fps, kept at 1 fps.
  auto ref = rt.open("ref", std::make_unique<FakeSource>(24, 2.0, false), StreamOptions{});
  ASSERT_TRUE(ref->wait_ended(30));
  const auto want = ref->ask("what happened?");
  ASSERT_EQ(ref->stats().frames, 12);

  // The same stream persisted, slowed down so that it can be "killed" half way: its file is copied as it is
  // at that instant (a checkpoint every 50 ms, so the copy ends anywhere, possibly inside a record).
  StreamOptions po;
  po.persist.path = (dir / "s.ystate").string();
  po.persist.checkpoint_every = 0.05;
  auto victim = rt.open("victim", std::make_unique<FakeSource>(24, 2.0, false, 0.03), po);
  ASSERT_TRUE(wait_for([&] { return victim->stats().frames >= 5; }, 30));
  fs::copy_file(po.persist.path, dir / "crash.ystate");
  rt.close("victim");

  auto resume = recover((dir / "crash.ystate").string());
  const int64_t saved = resume->state["frames"].get<int64_t>();
  EXPECT_GE(saved, 1);
  EXPECT_LT(saved, 12);
  StreamOptions ro;
  ro.resume = resume;
  auto back = rt.open("back", std::make_unique<FakeSource>(24, 2.0, false), ro);
  ASSERT_TRUE(back->wait_ended(30));
  const auto st = back->stats();
  EXPECT_TRUE(st.resumed);
  EXPECT_EQ(st.frames, 12);
  EXPECT_DOUBLE_EQ(st.pts, 11.0);
  EXPECT_EQ(st.end_reason, "end of stream");
  const auto got = back->ask("what happened?");
  EXPECT_EQ(got.text, want.text);
  EXPECT_EQ(got.position, want.position);
  EXPECT_DOUBLE_EQ(got.pts, want.pts);
  fs::remove_all(dir);
}

TEST(StreamPersist, FileSourceSeeksAndEndedStreamsStayEnded) {
  const fs::path dir = fresh_dir("file");
  const std::string clip = test_clip(6.0);
  StreamRuntime rt(runtime_model());
  auto ref = rt.open("ref", clip, StreamOptions{});
  ASSERT_TRUE(ref->wait_ended(30));
  const auto want = ref->ask("what is there?");

  // Stopped by its owner after 3 frames (as at a shutdown): saved as still running.
  StreamOptions po;
  po.persist.path = (dir / "a.ystate").string();
  po.stop_at = 2.0;
  {
    auto s = rt.open("a", clip, po);
    ASSERT_TRUE(s->wait_ended(30));
    EXPECT_EQ(s->stats().end_reason, "stop_at");
    EXPECT_GT(s->stats().checkpoints, 0);
    rt.close("a");
  }
  // stop_at is the stream's own end: it resumes ended, with its answer unchanged.
  {
    auto r = recover(po.persist.path);
    EXPECT_EQ(pipeline::saved_end_reason(r->state), "stop_at");
    StreamOptions ro;
    ro.resume = r;
    auto s = rt.open("a", pipeline::make_ended_source("ended"), ro);
    ASSERT_TRUE(s->wait_ended(10));
    EXPECT_EQ(s->stats().end_reason, "stop_at");
    EXPECT_EQ(s->stats().frames, 3);
    rt.close("a");
  }
  // The same state marked as interrupted ("closed") resumes on the file by seeking past frame 3.
  {
    auto r = recover(po.persist.path);
    r->state["ended"] = nullptr;
    StreamOptions ro;
    ro.resume = r;
    auto s = rt.open("c", clip, ro);
    ASSERT_TRUE(s->wait_ended(30));
    const auto st = s->stats();
    EXPECT_EQ(st.frames, 6);
    EXPECT_LE(st.capture.source.decoded, 60 - 20 + 10) << "the file was not sought";
    const auto got = s->ask("what is there?");
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(got.position, want.position);
  }
  fs::remove_all(dir);
}

// The standing instruction comes back with every field the service can set (kind, prompt, period, context),
// not re-parsed from its text; a state written before the object form (the text alone) still resumes.
TEST(StreamPersist, InstructionComesBackWithItsFields) {
  const fs::path dir = fresh_dir("instruction");
  const std::string clip = test_clip(3.0);
  StreamRuntime rt(runtime_model());
  StreamOptions po;
  po.persist.path = (dir / "i.ystate").string();
  po.stop_at = 1.0;
  pipeline::Instruction ins;
  ins.kind = pipeline::Instruction::Kind::kAlert;
  ins.text = "tell me about red";
  ins.prompt = "is there something red?";
  ins.every = 2.0;
  ins.context = 3.0;
  po.instruction = ins;
  {
    auto s = rt.open("i", clip, po);
    ASSERT_TRUE(s->wait_ended(30));
    rt.close("i");
  }
  auto resume = [&](const nlohmann::json& saved) {
    auto r = recover(po.persist.path);
    r->state["instruction"] = saved;
    StreamOptions ro;
    ro.resume = r;
    auto s = rt.open("j", pipeline::make_ended_source("ended"), ro);
    auto got = s->instruction();
    rt.close("j");
    return got;
  };
  const auto r = recover(po.persist.path);
  const auto back = resume(r->state["instruction"]);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->kind, pipeline::Instruction::Kind::kAlert);
  EXPECT_EQ(back->text, ins.text);
  EXPECT_EQ(back->prompt, ins.prompt);
  EXPECT_EQ(back->every, 2.0);
  EXPECT_EQ(back->context, 3.0);
  const auto old = resume("caption every 5 s");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->kind, pipeline::Instruction::Kind::kCaption);
  EXPECT_EQ(old->every, 5.0);
  EXPECT_EQ(old->prompt, "what happened?");  // the model's caption prompt
  EXPECT_EQ(old->context, 0.0);              // the model's caption_context (the test model declares none)
  nlohmann::json bad = r->state["instruction"];
  bad["kind"] = "shout";
  EXPECT_THROW(resume(bad), Error);
  bad = r->state["instruction"];
  bad["every"] = 1e-9;
  EXPECT_THROW(resume(bad), Error);
  fs::remove_all(dir);
}

TEST(StreamPersist, LiveSourceContinuesItsTimeline) {
  const fs::path dir = fresh_dir("live");
  StreamRuntime rt(runtime_model());
  StreamOptions po;
  po.persist.path = (dir / "live.ystate").string();
  {
    auto s = rt.open("cam", std::make_unique<FakeSource>(8, 2.0, true, 0.01), po);
    ASSERT_TRUE(s->wait_ended(30));
    EXPECT_EQ(s->stats().frames, 4);
    rt.close("cam");
  }
  auto r = recover(po.persist.path);
  EXPECT_DOUBLE_EQ(r->state["pts"].get<double>(), 3.0);
  r->state["ended"] = nullptr;  // a live source only "ends" here because the fake one is finite
  StreamOptions ro;
  ro.resume = r;
  auto s = rt.open("cam", std::make_unique<FakeSource>(4, 2.0, true, 0.01), ro);
  ASSERT_TRUE(s->wait_ended(30));
  const auto st = s->stats();
  EXPECT_EQ(st.frames, 6);
  EXPECT_GT(st.pts, 3.0 + 1.0);  // the new source's pts 1.0, after the saved 3.0 and the time down
  EXPECT_GE(st.discontinuities, 1);
  fs::remove_all(dir);
}

TEST(StreamPersist, BadStatePathsAreErrorsNotCrashes) {
  const fs::path dir = fresh_dir("bad");
  StreamRuntime rt(runtime_model());
  StreamOptions po;
  po.persist.path = (dir / "no-such-dir" / "s.ystate").string();
  EXPECT_THROW(rt.open("a", std::make_unique<FakeSource>(4, 1.0, false), po), Error);
  // An existing file is never overwritten.
  po.persist.path = (dir / "taken").string();
  { std::ofstream(po.persist.path) << "precious"; }
  EXPECT_THROW(rt.open("b", std::make_unique<FakeSource>(4, 1.0, false), po), Error);
  std::ifstream in(po.persist.path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
  // A state file deleted under a running stream (an operator cleaning up) does not disturb ingest.
  po.persist.path = (dir / "gone.ystate").string();
  po.persist.checkpoint_every = 0.01;
  auto s = rt.open("c", std::make_unique<FakeSource>(20, 2.0, false, 0.02), po);
  fs::remove(po.persist.path);
  ASSERT_TRUE(s->wait_ended(30));
  EXPECT_EQ(s->stats().frames, 10);
  EXPECT_TRUE(s->stats().persist_error.empty());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace yoco::test
