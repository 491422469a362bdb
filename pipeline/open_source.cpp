#include "pipeline/open_source.h"

#include <unistd.h>

#include "kernels/error.h"
#include "pipeline/ffmpeg_source.h"
#include "pipeline/zmq_source.h"
#ifdef YOCO_HAVE_GSTREAMER
#include "pipeline/gstreamer_source.h"
#endif
#ifdef YOCO_HAVE_OPENCV
#include "pipeline/opencv_camera_source.h"
#endif

namespace yoco::pipeline {

bool have_gstreamer() {
#ifdef YOCO_HAVE_GSTREAMER
  return true;
#else
  return false;
#endif
}

bool have_opencv() {
#ifdef YOCO_HAVE_OPENCV
  return true;
#else
  return false;
#endif
}

std::unique_ptr<FrameSource> open_source(const SourceSpec& spec, const SourceOptions& options) {
  switch (spec.kind) {
    case SourceSpec::Kind::kFfmpeg:
      return std::make_unique<FfmpegSource>(spec.target, options);
    case SourceSpec::Kind::kCamera:
#if defined(YOCO_HAVE_OPENCV)
      return std::make_unique<OpenCvCameraSource>(spec.camera_index, options);
#elif defined(YOCO_HAVE_GSTREAMER)
      YOCO_REQUIRE(access(spec.target.c_str(), F_OK) == 0, spec.target + " does not exist");
      return std::make_unique<GstreamerSource>("v4l2src device=" + spec.target, options);
#else
      throw Error("camera sources need OpenCV or GStreamer, and this build has neither");
#endif
    case SourceSpec::Kind::kGstreamer:
#ifdef YOCO_HAVE_GSTREAMER
      return std::make_unique<GstreamerSource>(spec.target, options);
#else
      throw Error("this build has no GStreamer support (gst: sources)");
#endif
    case SourceSpec::Kind::kZmq:
      return std::make_unique<ZmqSource>(spec.target, spec.stream_id, options);
  }
  YOCO_CHECK(false);
}

}  // namespace yoco::pipeline
