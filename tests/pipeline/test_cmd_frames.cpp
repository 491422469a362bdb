// The `yoco frames` command-line contract (DESIGN.md): exact JSON lines, --fps 0, one-line errors, --help.
// Runs the built binary; skips when it was not built (the yoco target links modules other engineers own).
#include <gtest/gtest.h>

#include <filesystem>
#include <algorithm>
#include <regex>
#include <sstream>

#include "tests/pipeline/video_fixtures.h"

namespace yoco::pipeline {
namespace {

static test::VideoDirCleanup cleanup;

std::string yoco_bin() { return std::string(YOCO_BIN_DIR) + "/yoco"; }

TEST(CmdFrames, JsonLinesContract) {
  if (!std::filesystem::exists(yoco_bin())) GTEST_SKIP() << "yoco not built";
  const auto path = test::indexed_video("cli.mp4", 10, 2, "-c:v libx264 -preset ultrafast -pix_fmt yuv420p");
  const auto out = test::run_capture(yoco_bin() + " frames " + path + " --fps 2 2>&1");
  const std::regex line(R"(\{"index": (\d+), "pts": ([0-9.]+), "width": 96, "height": 64\})");
  std::istringstream in(out);
  std::string l;
  int n = 0;
  while (std::getline(in, l)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(l, m, line)) << l;
    EXPECT_EQ(std::stoi(m[1]), n);
    EXPECT_NEAR(std::stod(m[2]), n * 0.5, 1e-6);
    ++n;
  }
  EXPECT_EQ(n, 4);
  const auto all = test::run_capture(yoco_bin() + " frames " + path + " --fps 0 | wc -l");
  EXPECT_EQ(std::stoi(all), 20);
}

TEST(CmdFrames, BadInputIsOneLineAndNonZero) {
  if (!std::filesystem::exists(yoco_bin())) GTEST_SKIP() << "yoco not built";
  for (const std::string args : {"/nonexistent.mp4", "camera:x", "zmq:nothing", "--fps -1 x.mp4", "", "a.mp4 --bogus"}) {
    const auto out = test::run_capture(yoco_bin() + " frames " + args + " 2>&1; echo rc=$?");
    EXPECT_NE(out.find("rc=1"), std::string::npos) << args << ": " << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << args << ": " << out;  // error line + rc line
  }
  // --reconnect N on a server that refuses: a line per failed try, then the error, not a silent wait.
  const auto re = test::run_capture(yoco_bin() + " frames rtsp://127.0.0.1:1/none --reconnect 2 2>&1; echo rc=$?");
  EXPECT_NE(re.find("source: cannot open 'rtsp://127.0.0.1:1/none'"), std::string::npos) << re;
  EXPECT_NE(re.find("(failure 2, retrying in 0.5 s)"), std::string::npos) << re;
  EXPECT_NE(re.find("error: giving up after 3 failed attempts"), std::string::npos) << re;
  EXPECT_NE(re.find("rc=1"), std::string::npos) << re;
  const auto help = test::run_capture(yoco_bin() + " frames --help; echo rc=$?");
  EXPECT_NE(help.find("--fps"), std::string::npos);
  EXPECT_NE(help.find("rc=0"), std::string::npos);
}

}  // namespace
}  // namespace yoco::pipeline
