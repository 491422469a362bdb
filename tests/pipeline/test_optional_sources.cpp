// GStreamer and OpenCV sources; each test skips cleanly in a build without that library.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "kernels/error.h"
#include "pipeline/open_source.h"
#include "tests/pipeline/video_fixtures.h"
#ifdef YOCO_HAVE_GSTREAMER
#include "pipeline/gstreamer_source.h"
#endif
#ifdef YOCO_HAVE_OPENCV
#include "pipeline/opencv_camera_source.h"
#endif

namespace yoco::pipeline {
namespace {

static test::VideoDirCleanup cleanup;

TEST(GstreamerSource, VideotestsrcFramesAndPts) {
#ifndef YOCO_HAVE_GSTREAMER
  GTEST_SKIP() << "built without GStreamer";
#else
  GstreamerSource src("videotestsrc num-buffers=15 ! video/x-raw,width=66,height=30,framerate=15/1");
  EXPECT_FALSE(src.info().live);
  Frame f;
  int n = 0;
  while (src.read(f)) {
    EXPECT_EQ(f.width, 66);  // 66 * 3 is not a multiple of 4: exercises the row stride
    EXPECT_EQ(f.height, 30);
    EXPECT_NEAR(f.pts, n / 15.0, 1e-6);
    ++n;
  }
  EXPECT_EQ(n, 15);
  // videotestsrc's first pattern starts with a white column: the top-left pixel is white in RGB.
  EXPECT_EQ(src.stats().produced, 15);
#endif
}

TEST(GstreamerSource, LivePipelineWithItsOwnAppsinkAndRateFilter) {
#ifndef YOCO_HAVE_GSTREAMER
  GTEST_SKIP() << "built without GStreamer";
#else
  auto src = open_source(parse_source_spec(
      "gst:videotestsrc is-live=true pattern=red ! video/x-raw,width=32,height=16,framerate=50/1 ! videoconvert ! "
      "appsink name=mine"));
  EXPECT_TRUE(src->info().live);
  Frame f;
  std::vector<double> pts;
  while (pts.size() < 4 && src->read(f, [](double p) { return std::fmod(p + 1e-6, 0.1) < 0.02; })) {
    pts.push_back(f.pts);
    EXPECT_GT(f.pixels.data()[0], 200);  // red
    EXPECT_LT(f.pixels.data()[1], 50);
  }
  ASSERT_EQ(pts.size(), 4u);
  EXPECT_NEAR(pts[3] - pts[0], 0.3, 0.021);
  EXPECT_GT(src->stats().skipped, 10);
#endif
}

TEST(GstreamerSource, DecodesAFileThroughDecodebin) {
#ifndef YOCO_HAVE_GSTREAMER
  GTEST_SKIP() << "built without GStreamer";
#else
  const auto path = test::indexed_video("gst.mp4", 10, 1, "-c:v libx264 -preset ultrafast -qp 5 -pix_fmt yuv420p");
  GstreamerSource src("filesrc location=" + path + " ! decodebin");
  Frame f;
  int n = 0;
  while (src.read(f)) {
    EXPECT_EQ(test::read_index(f), n);
    EXPECT_NEAR(f.pts, n / 10.0, 1e-3);
    ++n;
  }
  EXPECT_EQ(n, 10);
#endif
}

TEST(GstreamerSource, ErrorsAreClear) {
#ifndef YOCO_HAVE_GSTREAMER
  GTEST_SKIP() << "built without GStreamer";
#else
  EXPECT_THROW(GstreamerSource("nosuchelement ! fakesink"), Error);

  try {
    GstreamerSource src("filesrc location=/nonexistent.mp4 ! decodebin");
    Frame f;
    src.read(f);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gst:"), std::string::npos);
  }
  // A pipeline stuck with no data: the read times out instead of hanging.
  GstreamerSource quiet("videotestsrc is-live=true ! valve drop=true", SourceOptions{.read_timeout = 0.5});
  Frame f;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(quiet.read(f), Error);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 3.0);
#endif
}

TEST(OpenCvCameraSource, AbsentCamera) {
#ifndef YOCO_HAVE_OPENCV
  GTEST_SKIP() << "built without OpenCV";
#else
  try {
    OpenCvCameraSource cam(63);
    ADD_FAILURE() << "camera 63 opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/video63"), std::string::npos) << e.what();
  }
#endif
}

TEST(OpenCvCameraSource, GrabThreadHandsOutTheLatestFrame) {
#ifndef YOCO_HAVE_OPENCV
  GTEST_SKIP() << "built without OpenCV";
#else
  const auto path = test::indexed_video("cv.avi", 25, 4, "-c:v mjpeg -q:v 2");
  OpenCvCameraSource src(path);
  Frame f;
  int prev = -1, n = 0, disc = 0;
  while (src.read(f)) {
    const int idx = test::read_index(f);
    EXPECT_GT(idx, prev);
    if (prev >= 0 && idx > prev + 1) {
      EXPECT_TRUE(f.discontinuity);
      ++disc;
    }
    prev = idx;
    ++n;
    std::this_thread::sleep_for(std::chrono::milliseconds(15));  // slower than the grab thread
  }
  EXPECT_GT(n, 0);
  EXPECT_GT(src.stats().dropped, 0);
  EXPECT_GT(disc, 0);
  EXPECT_EQ(src.stats().produced + src.stats().dropped + src.stats().skipped, src.stats().decoded);
#endif
}

}  // namespace
}  // namespace yoco::pipeline
