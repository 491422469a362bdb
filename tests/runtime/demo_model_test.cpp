// The shipped demo model (assets/models/demo) against PyTorch on a held-out world video: the C++ vision encoder on
// the decoded frames, the engine's logits over the stream + question, and the greedy answer, all compared with
// tests/data/demo/golden.safetensors (tools/train/write_demo_golden.py, float64 reference stored as f32).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/model.h"
#include "tests/kernels/test_util.h"
#include "llm/record_file.h"
#include "llm/safetensors.h"
#include "llm/session.h"
#include "pipeline/caption_items.h"
#include "pipeline/summary.h"
#include "tests/pipeline/video_fixtures.h"
#include "vision/encoder.h"

namespace yoco {
namespace {

const std::string kModel = std::string(YOCO_SOURCE_DIR) + "/assets/models/demo";
const std::string kGolden = std::string(YOCO_TEST_DATA) + "/demo/golden.safetensors";
const test::VideoDirCleanup cleanup;

using kernels::test::rel_err;

std::string file_crc32(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  const std::vector<char> raw{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", llm::crc32(raw.data(), raw.size()));
  return buf;
}

TEST(DemoModel, MatchesPyTorchOnAHeldOutWorldVideo) {
  llm::SafeTensors g(kGolden);
  const auto& meta = g.metadata();
  ASSERT_EQ(file_crc32(kModel + "/model.safetensors"), meta.at("model_crc32"))
      << "assets/models/demo changed: rerun /usr/bin/python3 tools/train/write_demo_golden.py";
  auto model = llm::Model::load(kModel);
  vision::VisionEncoder enc(*model);
  vision::VisionScratch scratch = enc.make_scratch();
  llm::Session session(model);
  const int T = enc.tokens_per_frame(), dim = enc.out_dim();
  const auto tokens = llm::to_i32(g.get("tokens"));
  const auto logits_ref = llm::to_f32(g.get("logits"));
  const int64_t vocab = model->config().vocab_size;
  const auto n_q = static_cast<int64_t>(logits_ref.size() / static_cast<size_t>(vocab));

  // stream: runs of text tokens, and T rows (-1) per frame from the C++ encoder on the decoded frame
  size_t i = 0;
  int frame = 0;
  double worst_rows = 0;
  const size_t prompt_begin = tokens.size() - static_cast<size_t>(n_q);
  while (i < prompt_begin) {
    size_t j = i;
    if (tokens[i] == -1) {
      const auto& f = g.get("frame." + std::to_string(frame));
      const int h = static_cast<int>(f.shape[0]), w = static_cast<int>(f.shape[1]);
      std::vector<float> rows(static_cast<size_t>(T) * dim);
      enc.encode(f.data, w, h, 3 * w, rows.data(), scratch);
      worst_rows = std::max(worst_rows, rel_err(rows.data(), llm::to_f32(g.get("rows." + std::to_string(frame)))));
      session.prefill_embeddings(rows.data(), T);
      ++frame;
      i += static_cast<size_t>(T);
      continue;
    }
    while (j < prompt_begin && tokens[j] != -1) ++j;
    session.prefill(std::span<const int32_t>(tokens.data() + i, j - i));
    i = j;
  }
  std::vector<float> logits(static_cast<size_t>(n_q * vocab));
  session.forward_all(std::span<const int32_t>(tokens.data() + prompt_begin, static_cast<size_t>(n_q)),
                      logits.data());
  const double e_logits = rel_err(logits.data(), logits_ref);
  std::printf("%d frames: vision rows rel %.3g, question logits rel %.3g\n", frame, worst_rows, e_logits);
  EXPECT_LE(worst_rows, 1e-4);
  EXPECT_LE(e_logits, 1e-4);

  // greedy answer: exact when the reference's smallest top-1 margin is far above the logits' error
  const auto answer_ref = llm::to_i32(g.get("answer"));
  std::vector<int32_t> answer;
  std::span<const float> last(logits.data() + (n_q - 1) * vocab, static_cast<size_t>(vocab));
  for (size_t k = 0; k < answer_ref.size(); ++k) {
    const auto next = static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    answer.push_back(next);
    if (k + 1 < answer_ref.size()) last = session.step(next);
  }
  if (std::stod(meta.at("min_margin")) > 1e-3) {
    EXPECT_EQ(answer, answer_ref) << "question: " << meta.at("question") << "; PyTorch answered "
                                  << meta.at("model_answer");
  }
}

// The fixed short video whose answers must be right: the held-out world video of the golden (seed 900, 12 s),
// written by `yoco world`, and every question the shipped model answered right in PyTorch (the golden's
// `right` list), asked through `yoco ask` — the whole path a user takes (H.264 → FFmpeg → sampler → vision →
// stream → fork → greedy answer). At most one may flip (a near-tie under another CPU's rounding).
TEST(DemoModel, AnswersAFixedWorldVideoRight) {
  llm::SafeTensors g(kGolden);
  const auto& meta = g.metadata();
  const auto right = nlohmann::json::parse(meta.at("right"));
  ASSERT_FALSE(right.empty()) << "the golden lists no question the model answers right";
  const std::string bin = std::string(YOCO_BIN_DIR) + "/yoco";
  const std::string dir = test::video_dir().string();
  const std::string video = dir + "/demo-world.mp4";
  ASSERT_EQ(std::system((bin + " world --seed " + meta.at("seed") + " --seconds " + meta.at("seconds") + " --out " +
                         video + " --truth " + dir + "/truth.json > /dev/null")
                            .c_str()),
            0);
  int ok = 0;
  for (const auto& q : right) {
    const std::string cmd = bin + " ask " + video + " --model " + kModel + " --question '" +
                            q["question"].get<std::string>() + "' --at " + std::to_string(q["at"].get<double>()) +
                            " --json";
    const auto out = nlohmann::json::parse(test::run_capture(cmd));
    const bool same = out["answer"] == q["answer"];
    ok += same;
    if (!same)
      std::printf("miss: %s at %s: %s (truth %s)\n", q["question"].get<std::string>().c_str(), q["at"].dump().c_str(),
                  out["answer"].dump().c_str(), q["answer"].dump().c_str());
  }
  std::printf("%d of %zu questions right (of %s on the video)\n", ok, right.size(), meta.at("n_questions").c_str());
  // One near-tie may flip with another BLAS kernel's rounding (f32 vs the float64 golden); a broken pipeline
  // loses many.
  EXPECT_GE(ok + 1, static_cast<int>(right.size()));
}

// Summaries against the ground truth (issue 5): `yoco summarize` with the model's declared caption prompt ("what
// happened in the last 10 seconds?" every 10 s, covering the 10 s before) on held-out world seeds 900–902, its
// "mm:ss event" items matched one to one with the truth's events within 2 s (`yoco eval summary`, the same code
// path). Measured with this model: 61 of 105 events (58 %; 72 % ignoring time) reading the last 120 s, 43 reading
// 20 s as the model declared before 2026-12-08 (the previous twelve, reading 20 s, told 47, 50, 46, 47, 43, 38, 45,
// 29, 34, 25, 22 and 11). The floor is half of that: a broken pipeline, prompt or timestamp composition tells
// none; near-tie flips cost a few.
TEST(DemoModel, SummariesTellGroundTruthEventsWithTheirTimes) {
  const std::string bin = std::string(YOCO_BIN_DIR) + "/yoco";
  const auto j = nlohmann::json::parse(test::run_capture(
      bin + " eval summary --model " + kModel + " --videos 3 --seconds 60 --seed-start 900 --quiet --json"));
  EXPECT_EQ(j["every"].get<double>(), 10.0);
  EXPECT_EQ(j["covers"], "preceding");
  EXPECT_EQ(j["events"]["truth"].get<int>(), 105);  // the world's event log for those seeds
  std::printf("summaries: %d of 105 events with their time (±2 s), %d ignoring time\n",
              j["events"]["matched"].get<int>(), j["events"]["matched_any_time"].get<int>());
  EXPECT_GE(j["events"]["matched"].get<int>(), 29);
  EXPECT_LE(j["abs_dt"]["max"].get<double>(), 2.0);

  // The command itself: captions every 10 s tile the 60 s video.
  const std::string dir = test::video_dir().string();
  const std::string video = dir + "/demo-summary.mp4";
  ASSERT_EQ(std::system((bin + " world --seed 902 --seconds 60 --out " + video + " --truth " + dir +
                         "/summary-truth.json > /dev/null").c_str()),
            0);
  const auto s = nlohmann::json::parse(test::run_capture(bin + " summarize " + video + " --model " + kModel + " --json"));
  EXPECT_EQ(s["captions"].get<int>(), 7);  // at 0 (the first instant), 10, …, 50 and after the last frame
  double until = 0.0;
  for (const auto& e : s["events"]) {
    EXPECT_DOUBLE_EQ(e["start"].get<double>(), until);
    until = e["end"].get<double>();
  }
  EXPECT_DOUBLE_EQ(until, 60.0);
  // Every item stamped in the printed events lies in its event's window (± 1 s); --keep-stray prints what the
  // model said, the filtered items included.
  auto stamps = [](const std::string& text) {  // the times of the "mm:ss …" items
    std::vector<double> out;
    for (size_t pos = 0; pos <= text.size();) {
      const size_t semi = std::min(text.find(';', pos), text.size());
      if (const auto t = pipeline::item_time(std::string_view(text).substr(pos, semi - pos))) out.push_back(*t);
      pos = semi + 1;
    }
    return out;
  };
  auto stamped_items = [&](const nlohmann::json& summary, bool in_window) {
    int n = 0;
    for (const auto& e : summary["events"]) {
      const std::string text = e["text"];
      for (double t : stamps(text)) {
        ++n;
        if (in_window) {
          EXPECT_GE(t, e["start"].get<double>() - pipeline::kStraySlack) << text;
          EXPECT_LE(t, e["end"].get<double>() + pipeline::kStraySlack) << text;
        }
      }
    }
    return n;
  };
  const int stamped = stamped_items(s, true);
  EXPECT_GT(stamped, 10);
  // The overall answer stamps nothing after the end of the video.
  EXPECT_GE(s["overall_stray_items"].get<int>(), 0);
  for (double t : stamps(s["summary"])) EXPECT_LE(t, 60.0 + pipeline::kStraySlack) << s["summary"];
  const auto kept = nlohmann::json::parse(
      test::run_capture(bin + " summarize " + video + " --model " + kModel + " --json --keep-stray"));
  EXPECT_EQ(kept["stray_items"].get<int>(), 0);
  EXPECT_EQ(kept["captions"], s["captions"]);
  EXPECT_GE(stamped_items(kept, false), stamped + s["stray_items"].get<int>() - 1);  // -1: a merge the filter made
}

}  // namespace
}  // namespace yoco
