#include "pipeline/open_source.h"

#include "kernels/error.h"
#include "pipeline/ffmpeg_source.h"
#include "pipeline/zmq_source.h"

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
      throw Error("camera sources need OpenCV or GStreamer, and this build has neither");
    case SourceSpec::Kind::kGstreamer:
      throw Error("this build has no GStreamer support (gst: sources)");
    case SourceSpec::Kind::kZmq:
      return std::make_unique<ZmqSource>(spec.target, spec.stream_id, options);
  }
  YOCO_CHECK(false);
}

}  // namespace yoco::pipeline
