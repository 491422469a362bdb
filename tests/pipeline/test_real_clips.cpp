// Real clips from Debian packages (assets/video, see LICENSES.md): timestamps against ffprobe, frame counts,
// sampling, and the OpenCV sample with a broken timestamp.
#include <gtest/gtest.h>

#include <filesystem>

#include "pipeline/ffmpeg_source.h"
#include "pipeline/frame_sampler.h"
#include "tests/pipeline/video_fixtures.h"

namespace yoco::pipeline {
namespace {

std::string clip(const char* name) { return std::string(YOCO_SOURCE_DIR) + "/assets/video/" + name; }

struct Case {
  const char* name;
  int frames, width, height;
  double fps;
};

TEST(RealClips, TimestampsWithinHalfAFrameOfFfprobe) {
  for (const Case c : {Case{"realshort.mp4", 36, 320, 240, 30000.0 / 999}, Case{"cockatoo.mp4", 280, 1280, 720, 20},
                       Case{"Megamind_bugy.avi", 270, 720, 528, 30}}) {
    const auto path = clip(c.name);
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " missing";
    const auto ref = test::ffprobe_pts(path);
    FfmpegSource src(path);
    Frame f;
    std::vector<double> pts;
    while (src.read(f)) {
      EXPECT_EQ(f.width, c.width) << c.name;
      EXPECT_EQ(f.height, c.height) << c.name;
      pts.push_back(f.pts);
    }
    ASSERT_EQ(static_cast<int>(pts.size()), c.frames) << c.name;
    // The buggy OpenCV sample has a frame without a timestamp: ffprobe lists no time for it, we extrapolate one.
    const bool buggy = std::string(c.name) == "Megamind_bugy.avi";
    if (!buggy) {
      ASSERT_EQ(ref.size(), pts.size()) << c.name;
    }
    int off = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
      if (i > 0) {
        EXPECT_GT(pts[i], pts[i - 1]) << c.name << " " << i;
      }
      off += std::abs(pts[i] - (buggy ? i / c.fps : ref[i])) > 0.5 / c.fps;
    }
    EXPECT_LE(off, buggy ? 1 : 0) << c.name;
  }
}

TEST(RealClips, OneFramePerSecond) {
  const auto path = clip("cockatoo.mp4");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " missing";
  FfmpegSource src(path);
  FrameSampler s(SamplerOptions{.fps = 1});
  Frame f;
  std::vector<double> pts;
  while (src.read(f, [&](double p) { return s.want(p); }))
    if (s.offer(f)) pts.push_back(f.pts);
  ASSERT_EQ(pts.size(), 14u);
  for (size_t i = 0; i < pts.size(); ++i) EXPECT_NEAR(pts[i], static_cast<double>(i), 1e-3);
  EXPECT_EQ(src.stats().produced, 14);
}

}  // namespace
}  // namespace yoco::pipeline
