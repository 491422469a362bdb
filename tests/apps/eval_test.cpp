// yoco eval: the scorer, the one-pass question timing against fresh streams stopped at each moment (what
// `yoco ask --at` does), a tiny Q&A run with the random test model, the needle builder's truth and the
// heatmap.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "apps/eval/eval_heatmap.h"
#include "apps/eval/eval_needle.h"
#include "apps/eval/eval_qa.h"
#include "apps/eval/eval_score.h"
#include "apps/eval/eval_stream.h"
#include "apps/eval/eval_summary.h"
#include "apps/eval/eval_world.h"
#include "apps/world/world_render.h"
#include "llm/model.h"

#ifdef YOCO_EVAL_HAVE_IMGCODECS
#include <opencv2/imgcodecs.hpp>
#endif

namespace {

namespace fs = std::filesystem;
namespace ev = yoco::eval;
using nlohmann::json;
const std::string kModel = std::string(YOCO_TEST_DATA) + "/runtime";

// A fresh folder per test, removed afterwards.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("yoco-eval-test-" + std::to_string(::getpid()) + "-" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

TEST(EvalScore, NormalisesByTrimAndLowerCase) {
  EXPECT_EQ(ev::normalize_answer("  Red Square \n"), "red square");
  EXPECT_EQ(ev::normalize_answer("\t2\r\n"), "2");
  EXPECT_EQ(ev::normalize_answer(""), "");
  EXPECT_EQ(ev::normalize_answer("   "), "");
  EXPECT_TRUE(ev::exact_match(" No code was shown", "no code was shown"));
  EXPECT_TRUE(ev::exact_match("BLUE\n", "blue"));
  EXPECT_FALSE(ev::exact_match("blue circle", "blue"));
  EXPECT_FALSE(ev::exact_match("red.", "red"));  // only trim and case: a final period is a different answer
  EXPECT_FALSE(ev::exact_match("4 821", "4821"));
}

TEST(EvalScore, ParsesTimestampsAndPercentiles) {
  EXPECT_EQ(ev::parse_timestamp("00:12"), 12.0);
  EXPECT_EQ(ev::parse_timestamp(" 01:05\n"), 65.0);
  EXPECT_EQ(ev::parse_timestamp("1:02:03"), 3723.0);
  EXPECT_FALSE(ev::parse_timestamp("12"));
  EXPECT_FALSE(ev::parse_timestamp("00:75"));
  EXPECT_FALSE(ev::parse_timestamp("a0:12"));
  EXPECT_FALSE(ev::parse_timestamp("00:12 and 00:13"));
  EXPECT_FALSE(ev::parse_timestamp(":12"));
  EXPECT_EQ(ev::percentile({}, 50), 0.0);
  EXPECT_EQ(ev::percentile({5, 1, 3}, 50), 3.0);
  EXPECT_EQ(ev::percentile({5, 1, 3}, 100), 5.0);
  EXPECT_EQ(ev::percentile({5, 1, 3}, 0), 1.0);
  ev::Tally t;
  EXPECT_FALSE(t.accuracy());
  t.add(true);
  t.add(false);
  EXPECT_DOUBLE_EQ(*t.accuracy(), 0.5);
}

// One pass with questions at several moments gives, token for token, the answers of fresh streams that
// ingest only up to each moment (StreamOptions::stop_at, as `yoco ask --at`).
TEST(EvalStream, OnePassAnswersEqualStreamsStoppedAtEachMoment) {
  if (!yoco::world::WorldRenderer::available()) GTEST_SKIP() << "no OpenCV";
  TempDir dir("pass");
  yoco::world::WorldOptions wo;
  wo.seed = 7;
  wo.seconds = 12;
  const ev::WorldClip clip = ev::write_world_clip(wo, dir.path.string(), "clip");
  yoco::pipeline::StreamRuntime rt(yoco::llm::Model::load(kModel));
  const std::vector<ev::TimedQuestion> qs = {{7, "what is on screen now?", 0},
                                             {3, "how many objects are there?", 0},
                                             {7, "what appeared first?", 0},
                                             {11, "what happened so far?", 0},
                                             {0, "what can you see now?", 0}};
  const ev::ClipRun run = ev::run_clip(rt, "pass", clip.video, qs);
  ASSERT_EQ(run.answers.size(), qs.size());
  EXPECT_EQ(run.frames, 12);
  EXPECT_GT(run.cache_bytes, 0u);
  for (size_t i = 0; i < qs.size(); ++i) {
    SCOPED_TRACE(qs[i].question);
    EXPECT_DOUBLE_EQ(run.answers[i].pts, qs[i].at);
    EXPECT_EQ(run.answers[i].frames, static_cast<int64_t>(qs[i].at) + 1);
    yoco::pipeline::StreamOptions so;
    so.stop_at = qs[i].at;
    auto s = rt.open("ref" + std::to_string(i), clip.video, so);
    while (!s->wait_ended(60.0)) {
    }
    const yoco::pipeline::Answer ref = s->ask(qs[i].question);
    rt.close("ref" + std::to_string(i));
    EXPECT_EQ(run.answers[i].text, ref.text);
    EXPECT_EQ(run.answers[i].frames, ref.frames);
  }
}

TEST(EvalQa, WhenTimingCountsHowFarOffTheTimestampsAre) {
  ev::QaReport r;
  for (const auto& type : ev::qa_types()) r.per_type[type] = ev::Tally{};
  r.when_abs_err = {10, 0, 3, 1};
  r.when_not_timestamp = 1;
  const json j = json::parse(r.to_json().dump())["when_timing"];
  EXPECT_EQ(j["timestamps"].get<int>(), 4);
  EXPECT_EQ(j["not_timestamps"].get<int>(), 1);
  EXPECT_EQ(j["within_2s"].get<int>(), 2);
  EXPECT_EQ(j["median_abs_err_s"].get<double>(), 1.0);  // nearest rank
  EXPECT_NE(r.table().find("when: 2 of 5 answers within 2 s of the truth, median error 1 s (1 not a time)"),
            std::string::npos)
      << r.table();
  r.when_abs_err.clear();
  r.when_not_timestamp = 0;
  EXPECT_EQ(r.table().find("when:"), std::string::npos);  // no when questions: no line
  EXPECT_TRUE(json::parse(r.to_json().dump())["when_timing"]["median_abs_err_s"].is_null());
}

TEST(EvalQa, TinyRunGivesAWellFormedReport) {
  if (!yoco::world::WorldRenderer::available()) GTEST_SKIP() << "no OpenCV";
  TempDir dir("qa");
  ev::QaEvalOptions o;
  o.model = kModel;
  o.videos = 2;
  o.seconds = 40;
  o.seed_start = 3;
  o.summary_tokens = 32;
  o.misses_per_type = 1000000;  // every wrong answer
  o.work_dir = dir.path.string();
  std::vector<std::string> lines;
  o.progress = [&](const std::string& line) { lines.push_back(line); };
  const ev::QaReport r = ev::run_qa_eval(o);
  ASSERT_EQ(lines.size(), 3u);  // the run's seeds and folder, then one line a video
  EXPECT_EQ(lines[0], "yoco eval qa: seeds 3..4, videos in " + o.work_dir);
  ev::QaEvalOptions bad = o;
  bad.videos = 0;
  lines.clear();
  EXPECT_THROW(ev::run_qa_eval(bad), yoco::Error);
  EXPECT_TRUE(lines.empty());  // refused before it names any seed
  EXPECT_EQ(r.seeds, (std::vector<uint64_t>{3, 4}));

  // The questions the world asks for those seeds, by type.
  std::map<std::string, int> expected;
  for (uint64_t seed : r.seeds) {
    yoco::world::WorldOptions wo;
    wo.seed = seed;
    wo.seconds = 40;
    for (const auto& q : yoco::world::make_qa(yoco::world::make_scenario(wo))) expected[q.type]++;
  }
  // A random model answers arbitrary bytes: dump as the CLI does (invalid UTF-8 replaced).
  const json j = json::parse(r.to_json().dump(-1, ' ', false, json::error_handler_t::replace));
  ASSERT_TRUE(j["per_type"].is_object());
  int total = 0;
  for (const auto& type : ev::qa_types()) {
    SCOPED_TRACE(type);
    ASSERT_TRUE(j["per_type"].contains(type));
    const json& t = j["per_type"][type];
    EXPECT_EQ(t["n"].get<int>(), expected[type]);
    EXPECT_GT(t["n"].get<int>(), 0) << "the tiny run should ask every question type";
    const double a = t["accuracy"].get<double>();
    EXPECT_GE(a, 0.0);
    EXPECT_LE(a, 1.0);
    EXPECT_LE(t["correct"].get<int>(), t["n"].get<int>());
    total += t["n"].get<int>();
  }
  EXPECT_EQ(j["overall"]["n"].get<int>(), total);
  ASSERT_TRUE(j["misses"].is_array());
  EXPECT_EQ(static_cast<int>(j["misses"].size()), total - j["overall"]["correct"].get<int>());
  for (const auto& m : j["misses"]) EXPECT_NE(m["answer"], m["truth"]);
  EXPECT_GE(j["overall"]["accuracy"].get<double>(), 0.0);
  EXPECT_LE(j["overall"]["accuracy"].get<double>(), 1.0);
  EXPECT_EQ(j["context_mismatches"].get<int>(), 0);
  // "when" timing, recomputed from the misses (all listed): a right answer is 0 s off, a wrong one that is a
  // timestamp is |answer - truth| off, anything else is "not a time".
  int when_ts = j["per_type"]["when"]["correct"].get<int>(), when_close = when_ts, when_other = 0;
  for (const auto& m : j["misses"]) {
    if (m["type"] != "when") continue;
    const auto got = ev::parse_timestamp(m["answer"].get<std::string>());
    const auto want = ev::parse_timestamp(m["truth"].get<std::string>());
    ASSERT_TRUE(want.has_value()) << m["truth"];
    if (!got) {
      ++when_other;
      continue;
    }
    ++when_ts;
    if (std::fabs(*got - *want) <= 2.0) ++when_close;
  }
  EXPECT_EQ(j["when_timing"]["timestamps"].get<int>(), when_ts);
  EXPECT_EQ(j["when_timing"]["not_timestamps"].get<int>(), when_other);
  EXPECT_EQ(j["when_timing"]["within_2s"].get<int>(), when_close);
  EXPECT_EQ(when_ts + when_other, j["per_type"]["when"]["n"].get<int>());
  EXPECT_EQ(r.total_ms.size(), static_cast<size_t>(total));
  EXPECT_GE(j["answer_ms"]["p99"].get<double>(), j["answer_ms"]["p50"].get<double>());
  EXPECT_GT(j["answer_ms"]["p50"].get<double>(), 0.0);
  EXPECT_GT(j["cache_bytes_end"]["mean"].get<double>(), 0.0);
  EXPECT_EQ(j["frames"].get<int>(), 80);
  EXPECT_TRUE(fs::is_empty(dir.path)) << "videos are removed after use";
  const std::string table = r.table();
  for (const auto& type : ev::qa_types()) EXPECT_NE(table.find(type), std::string::npos);
  EXPECT_NE(table.find("seeds 3..4"), std::string::npos);

  o.seed_start = 99999;  // seeds 99999 and 100000: the second is a training seed
  EXPECT_THROW(ev::run_qa_eval(o), yoco::Error);
  o.seed_start = 3;
  o.misses_per_type = -1;
  EXPECT_THROW(ev::run_qa_eval(o), yoco::Error);
}

TEST(EvalSummary, ParsesEventItemsAndMatchesOneToOne) {
  int unparsed = 0;
  const auto items =
      ev::parse_event_items("00:02 Red circle enters moving up; nothing happened;01:05 flash ; 3 x; 00:07 ", &unparsed);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].t, 2.0);
  EXPECT_EQ(items[0].text, "red circle enters moving up");
  EXPECT_EQ(items[1].t, 65.0);
  EXPECT_EQ(items[1].text, "flash");
  EXPECT_EQ(unparsed, 3);  // "nothing happened", "3 x", "00:07" (no text)
  EXPECT_TRUE(ev::parse_event_items("").empty());

  const std::vector<ev::EventItem> truth = {{2, "red circle enters moving up"}, {10, "flash"}, {15, "flash"},
                                            {20, "code 123"}};
  // One flash 1 s late, one 3 s late (outside 2 s), a duplicate of the first, the code with wrong digits.
  const ev::EventMatch m = ev::match_events(
      truth, {{3, "red circle enters moving up"}, {3, "red circle enters moving up"}, {11, "flash"}, {18, "flash"},
              {20, "code 124"}},
      2.0);
  EXPECT_EQ(m.truth, 4);
  EXPECT_EQ(m.predicted, 4);  // the duplicate counts once
  EXPECT_EQ(m.matched, 2);
  EXPECT_EQ(m.matched_text, 3);  // the late flash counts when time is ignored
  EXPECT_EQ(m.abs_dt, (std::vector<double>{1.0, 1.0}));
  // One to one: two predictions of one truth event match it once.
  EXPECT_EQ(ev::match_events({{5, "flash"}}, {{5, "flash"}, {6, "flash"}}, 2.0).matched, 1);
  // Totals add up.
  ev::EventMatch total = m;
  total.add(m);
  EXPECT_EQ(total.truth, 8);
  EXPECT_EQ(total.predicted, 8);
  EXPECT_EQ(total.matched, 4);
  EXPECT_EQ(total.matched_text, 6);
  EXPECT_EQ(total.abs_dt.size(), 4u);
}

TEST(EvalSummary, TinyRunCountsTheTruthEvents) {
  if (!yoco::world::WorldRenderer::available()) GTEST_SKIP() << "no OpenCV";
  TempDir dir("summary");
  ev::SummaryEvalOptions o;
  o.model = kModel;
  o.videos = 2;
  o.seconds = 20;
  o.seed_start = 7;
  o.work_dir = dir.path.string();
  const ev::SummaryReport r = ev::run_summary_eval(o);
  ASSERT_EQ(r.videos.size(), 2u);
  int truth = 0;
  for (const auto& v : r.videos) {
    yoco::world::WorldOptions wo;
    wo.seed = v.seed;
    wo.seconds = 20;
    const auto expect = ev::parse_event_items(yoco::world::summarize(yoco::world::make_scenario(wo), -1.0, 21.0));
    EXPECT_EQ(v.match.truth, static_cast<int>(expect.size()));
    EXPECT_GT(v.match.truth, 0);
    EXPECT_LE(v.match.matched, v.match.predicted);
    EXPECT_GT(v.captions, 0);
    EXPECT_EQ(v.raw.truth, v.match.truth);  // the captions as said are scored against the same truth
    truth += v.match.truth;
  }
  EXPECT_EQ(r.total.truth, truth);
  EXPECT_EQ(r.raw_total.truth, truth);
  EXPECT_GE(r.recall(), 0.0);
  EXPECT_LE(r.recall(), 1.0);
  const json j = json::parse(r.to_json().dump(-1, ' ', false, json::error_handler_t::replace));
  EXPECT_EQ(j["events"]["truth"].get<int>(), truth);
  EXPECT_EQ(j["stray_items_dropped"].get<int>(), r.stray);
  EXPECT_EQ(j["without_stray_filter"]["matched"].get<int>(), r.raw_total.matched);
  EXPECT_NE(r.table().find("captions as said"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir.path)) << "videos are removed after use";
  o.seed_start = 99999;
  EXPECT_THROW(ev::run_summary_eval(o), yoco::Error);
}

TEST(EvalNeedle, BuilderPutsOneBoxedCodeAtTheDepth) {
  if (!yoco::world::WorldRenderer::available()) GTEST_SKIP() << "no OpenCV";
  TempDir dir("needle");
  const double seconds = 60;
  for (double depth : {0.0, 0.25, 0.5, 1.0}) {
    SCOPED_TRACE(depth);
    const std::string code = ev::needle_code_for(11);
    ASSERT_EQ(code.size(), 4u);
    const auto wo = ev::needle_options(11, seconds, depth, code, 3, false);
    const ev::WorldClip clip = ev::write_world_clip(wo, dir.path.string(), "n");
    std::ifstream in(clip.truth);
    const json truth = json::parse(in);
    int boxed = 0, yellow = 0;
    for (const auto& e : truth["events"]) {
      if (e["type"] != "code") continue;
      if (e["boxed"].get<bool>()) {
        ++boxed;
        EXPECT_EQ(e["code"], code);
        EXPECT_DOUBLE_EQ(e["at"].get<double>(), std::floor(depth * (seconds - 2)));
      } else {
        ++yellow;
        EXPECT_NE(e["code"], code);
      }
    }
    EXPECT_EQ(boxed, 1);
    EXPECT_EQ(yellow, 3);
    EXPECT_EQ(clip.needle, code);
    EXPECT_DOUBLE_EQ(clip.needle_at, ev::needle_time(seconds, depth));
    EXPECT_EQ(truth["needle"]["code"], code);
  }
  EXPECT_DOUBLE_EQ(ev::needle_time(seconds, 0.0), 0.0);
  EXPECT_DOUBLE_EQ(ev::needle_time(seconds, 1.0), 58.0);
  // The control: no boxed code, distractors still there, the truth's answer is "no code was shown".
  const ev::WorldClip ctl =
      ev::write_world_clip(ev::needle_options(12, seconds, 0.5, "4821", 3, true), dir.path.string(), "ctl");
  std::ifstream in(ctl.truth);
  const json truth = json::parse(in);
  int boxed = 0, codes = 0;
  for (const auto& e : truth["events"])
    if (e["type"] == "code") {
      ++codes;
      boxed += e["boxed"].get<bool>() ? 1 : 0;
    }
  EXPECT_EQ(boxed, 0);
  EXPECT_EQ(codes, 3);
  EXPECT_FALSE(ctl.needle);
  EXPECT_EQ(truth["qa"].back()["answer"], ev::kNoCodeAnswer);
}

TEST(EvalNeedle, HeatmapPngIsReadable) {
  if (!ev::heatmap_available()) GTEST_SKIP() << "no OpenCV imgcodecs";
  TempDir dir("png");
  ev::Heatmap h;
  h.title = "test";
  h.row_axis = "length";
  h.col_axis = "depth";
  h.rows = {"1 min", "10 min"};
  h.cols = {"0%", "50%", "100%", "absent"};
  h.cells = {{1.0, 0.5, 0.0, std::nullopt}, {0.25, 0.75, 1.0, 0.9}};
  const std::string path = (dir.path / "needle.png").string();
  ev::write_heatmap_png(h, path);
#ifdef YOCO_EVAL_HAVE_IMGCODECS
  const cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_GT(img.cols, 4 * 60);
  EXPECT_GT(img.rows, 2 * 30);
#endif
  h.cells.pop_back();
  EXPECT_THROW(ev::write_heatmap_png(h, path), yoco::Error);
}

}  // namespace
