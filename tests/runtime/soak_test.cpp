// `yoco bench soak --quick` in CI: ~20 s of load and faults against the real `yoco serve` (docs/RELIABILITY.md).
// It fails on a crash, a hang, a lost frame, unbounded RSS growth, or (in an ASan/LSan build) a leak reported
// when the service exits. Skipped where ffmpeg (the clip generator) is missing.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

namespace yoco::test {
namespace {

TEST(Soak, QuickRunPassesEveryCheck) {
  if (std::system("ffmpeg -version >/dev/null 2>&1") != 0) GTEST_SKIP() << "ffmpeg is not installed";
  const std::string cmd = std::string(YOCO_BIN_DIR) + "/yoco bench soak --quick --json --model " +
                          YOCO_SOURCE_DIR + "/assets/models/demo 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  ASSERT_TRUE(WIFEXITED(st)) << "the soak program itself crashed:\n" << out;
  EXPECT_EQ(WEXITSTATUS(st), 0) << out;
  // The JSON report is the first '{' to the end, before the FAIL lines on stderr.
  const auto open = out.find('{');
  ASSERT_NE(open, std::string::npos) << out;
  const auto report = nlohmann::json::parse(out.substr(open, out.rfind("\n}") + 2 - open), nullptr, false);
  ASSERT_TRUE(report.is_object()) << out;
  EXPECT_GT(report["questions"]["answered"].get<int64_t>(), 0);
  EXPECT_GT(report["garbage"]["sent"].get<int64_t>(), 0);
  EXPECT_EQ(report["garbage"]["unanswered"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace yoco::test
