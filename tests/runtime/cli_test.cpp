// build/bin/yoco ask / summarize on generated clips with the tiny random model: the JSON contract
// (`yoco ask --json` prints {"answer", "pts", ...}), the moment a question refers to, summary timestamps,
// WebVTT, and one-line errors with exit code 1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/runtime/runtime_fixtures.h"

namespace yoco::test {
namespace {

const VideoDirCleanup cleanup;

std::string yoco_cmd(const std::string& args) {
  return std::string(YOCO_BIN_DIR) + "/yoco " + args + " --model " + runtime_model_dir();
}

TEST(CliAsk, JsonAnswerAtAMoment) {
  const std::string out = run_capture(yoco_cmd("ask " + test_clip(4.0) + " --question 'what?' --at 2.5 --json"));
  const auto j = nlohmann::json::parse(out);
  ASSERT_TRUE(j.contains("answer")) << out;
  EXPECT_TRUE(j["answer"].is_string());
  EXPECT_DOUBLE_EQ(j["pts"].get<double>(), 2.0);
  EXPECT_EQ(j["frames"].get<int>(), 3);
  // Same answer as the runtime computes directly over the first 3 frames.
  const EncodedFrames fr = encode_clip(test_clip(4.0), 1.0);
  auto s = direct_session(fr, 3);
  const std::string want = direct_answer(*s, "what?", 24);
  EXPECT_EQ(j["answer"].get<std::string>(), nlohmann::json::parse(nlohmann::json(want).dump(
                                                 -1, ' ', false, nlohmann::json::error_handler_t::replace)).get<std::string>());
}

TEST(CliAsk, BadInputIsOneLineErrorExit1) {
  EXPECT_NE(std::system((yoco_cmd("ask /nonexistent.mp4 --question x") + " 2>/dev/null").c_str()), 0);
  // A camera that is not there: a one-line error at once, not an endless wait for it.
  const std::string cam = run_capture(yoco_cmd("ask /dev/video99 --question x") + " 2>&1");
  EXPECT_NE(cam.find("yoco ask: error:"), std::string::npos) << cam;
  const std::string err = run_capture(yoco_cmd("ask " + test_clip(2.0)) + " 2>&1");
  EXPECT_NE(err.find("yoco ask: error:"), std::string::npos) << err;
  const int rc = std::system((yoco_cmd("ask " + test_clip(2.0) + " --question x --memory-policy drop") +
                              " >/dev/null 2>&1").c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
}

TEST(CliAsk, CacheDtypeIsAStreamOption) {
  for (const char* dt : {"int8", "bf16"}) {
    const auto j = nlohmann::json::parse(run_capture(
        yoco_cmd("ask " + test_clip(3.0) + " --question 'what?' --json --cache-dtype " + dt)));
    EXPECT_TRUE(j["answer"].is_string()) << dt;
    EXPECT_EQ(j["frames"].get<int>(), 3) << dt;
  }
  const std::string err = run_capture(yoco_cmd("ask " + test_clip(3.0) + " --question x --cache-dtype int4") + " 2>&1");
  EXPECT_NE(err.find("--cache-dtype must be f32, f16, bf16 or int8 (got 'int4')"), std::string::npos) << err;
}

TEST(CliSummarize, EventsCarryStreamTimestamps) {
  const std::string clip = test_clip(6.0);
  const auto j = nlohmann::json::parse(run_capture(yoco_cmd("summarize " + clip + " --format json --every 2")));
  EXPECT_DOUBLE_EQ(j["duration"].get<double>(), 6.0);
  EXPECT_EQ(j["captions"].get<int>(), 3);  // captions at 0, 2, 4 s
  EXPECT_EQ(j["frames"].get<int>(), 6);
  double last = -1;
  for (const auto& e : j["events"]) {
    const double start = e["start"].get<double>();
    EXPECT_GT(start, last);
    EXPECT_NEAR(std::fmod(start, 2.0), 0.0, 1e-9);
    EXPECT_GT(e["end"].get<double>(), start);
    EXPECT_LE(e["end"].get<double>(), 6.0);
    last = start;
  }
  // --covers preceding: a caption at t tells of the 2 s before it; one more after the last frame covers the
  // tail, so the events tile [0, 6] without gaps.
  const auto p = nlohmann::json::parse(
      run_capture(yoco_cmd("summarize " + clip + " --format json --every 2 --covers preceding")));
  EXPECT_EQ(p["covers"], "preceding");
  EXPECT_EQ(p["captions"].get<int>(), 4);  // at 0 (the first instant, [0, 0]), 2, 4 and the end
  ASSERT_FALSE(p["events"].empty());
  double until = 0.0;
  for (size_t i = 0; i < p["events"].size(); ++i) {
    const auto& e = p["events"][i];
    EXPECT_DOUBLE_EQ(e["start"].get<double>(), until);
    if (i > 0 || e["start"].get<double>() > 0.0) {
      EXPECT_GT(e["end"].get<double>(), e["start"].get<double>());
    }
    until = e["end"].get<double>();
  }
  EXPECT_DOUBLE_EQ(until, 6.0);
  const std::string bad = run_capture(yoco_cmd("summarize " + clip + " --covers sideways") + " 2>&1");
  EXPECT_NE(bad.find("--covers must be following or preceding"), std::string::npos) << bad;
  const std::string vtt = run_capture(yoco_cmd("summarize " + clip + " --format vtt --every 2"));
  EXPECT_EQ(vtt.rfind("WEBVTT\n\n", 0), 0u) << vtt;
  const std::string md = run_capture(yoco_cmd("summarize " + clip + " --every 2"));
  EXPECT_NE(md.find("## Events"), std::string::npos);
}

TEST(CliLive, QuestionsOnStdinAreAnsweredWhileIngestContinues) {
  // A 5 s clip played at real time; two questions 1.5 s apart: the second refers to a later moment.
  const std::string out = run_capture("(sleep 1.5; echo 'what happened?'; sleep 1.5; echo 'and now?') | " +
                                      yoco_cmd("live --source " + test_clip(5.0) + " --fps 2 --json --until-end"));
  std::vector<nlohmann::json> answers;
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t nl = out.find('\n', pos);
    const std::string line = out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? out.size() : nl + 1;
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    if (j.contains("answer")) answers.push_back(j);
  }
  ASSERT_EQ(answers.size(), 2u) << out;
  EXPECT_EQ(answers[0]["question"], "what happened?");
  EXPECT_GT(answers[1]["pts"].get<double>(), answers[0]["pts"].get<double>()) << out;
  EXPECT_LT(answers[1]["pts"].get<double>(), 4.5 + 1e-9);  // asked before the clip's last frame
}

}  // namespace
}  // namespace yoco::test
