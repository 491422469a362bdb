// SourceSpec: the SOURCE/SPEC strings of the command line (DESIGN.md), parsed once.
//
//   path or URL          a file or anything libavformat opens (http://, udp://, ...)       -> kFfmpeg
//   rtsp://... rtsps://  an RTSP stream (FFmpeg)                                            -> kFfmpeg, live
//   camera:N, /dev/videoN  capture device N (OpenCV; GStreamer v4l2src without OpenCV)      -> kCamera, live
//   gst:<description>    a GStreamer pipeline description (an appsink is appended if absent) -> kGstreamer
//   zmq:<endpoint>[#id]  frames published over ZeroMQ (docs/PIPELINE.md), optional stream id -> kZmq, live
//                        (endpoint "@tcp://*:5555" binds instead of connecting)
#pragma once

#include <string>

namespace yoco::pipeline {

struct SourceSpec {
  enum class Kind { kFfmpeg, kCamera, kGstreamer, kZmq };
  Kind kind = Kind::kFfmpeg;
  std::string target;     // path/URL, GStreamer description or ZeroMQ endpoint
  int camera_index = -1;  // kCamera
  std::string stream_id;  // kZmq: only frames whose header names this stream (empty: all)
  bool live = false;      // live sources drop instead of blocking and reconnect after errors
};

// Throws yoco::Error with a one-line message for an empty or malformed spec.
SourceSpec parse_source_spec(const std::string& spec);
const char* source_kind_name(SourceSpec::Kind kind);

}  // namespace yoco::pipeline
