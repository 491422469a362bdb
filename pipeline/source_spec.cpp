#include "pipeline/source_spec.h"

#include <cctype>

#include "kernels/error.h"

namespace yoco::pipeline {

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

int parse_index(const std::string& digits, const std::string& spec) {
  YOCO_REQUIRE(!digits.empty() && digits.size() <= 4, "bad camera source '" + spec + "' (expected camera:N)");
  for (char c : digits)
    YOCO_REQUIRE(std::isdigit(static_cast<unsigned char>(c)), "bad camera source '" + spec + "' (expected camera:N)");
  return std::stoi(digits);
}

}  // namespace

SourceSpec parse_source_spec(const std::string& spec) {
  YOCO_REQUIRE(!spec.empty(), "empty source");
  SourceSpec s;
  if (starts_with(spec, "camera:")) {
    s.kind = SourceSpec::Kind::kCamera;
    s.camera_index = parse_index(spec.substr(7), spec);
    s.target = "/dev/video" + std::to_string(s.camera_index);
    s.live = true;
  } else if (starts_with(spec, "/dev/video")) {
    s.kind = SourceSpec::Kind::kCamera;
    s.camera_index = parse_index(spec.substr(10), spec);
    s.target = spec;
    s.live = true;
  } else if (starts_with(spec, "gst:")) {
    s.kind = SourceSpec::Kind::kGstreamer;
    s.target = spec.substr(4);
    YOCO_REQUIRE(s.target.find_first_not_of(" \t") != std::string::npos, "empty GStreamer pipeline in '" + spec + "'");
    // Live unless it plainly reads a file; the source refines this from the pipeline's latency query.
    s.live = s.target.find("filesrc") == std::string::npos;
  } else if (starts_with(spec, "zmq:")) {
    s.kind = SourceSpec::Kind::kZmq;
    s.target = spec.substr(4);
    if (auto hash = s.target.find('#'); hash != std::string::npos) {
      s.stream_id = s.target.substr(hash + 1);
      s.target = s.target.substr(0, hash);
    }
    const std::string ep = s.target[0] == '@' || s.target[0] == '>' ? s.target.substr(1) : s.target;
    YOCO_REQUIRE(ep.find("://") != std::string::npos,
                 "bad ZeroMQ source '" + spec + "' (expected zmq:tcp://host:port, zmq:ipc://path, ...)");
    s.live = true;
  } else {
    s.kind = SourceSpec::Kind::kFfmpeg;
    s.target = spec;
    for (const char* live : {"rtsp://", "rtsps://", "rtmp://", "rtp://", "udp://", "srt://", "tcp://"})
      if (starts_with(spec, live)) s.live = true;
  }
  return s;
}

const char* source_kind_name(SourceSpec::Kind kind) {
  switch (kind) {
    case SourceSpec::Kind::kFfmpeg: return "ffmpeg";
    case SourceSpec::Kind::kCamera: return "camera";
    case SourceSpec::Kind::kGstreamer: return "gstreamer";
    case SourceSpec::Kind::kZmq: return "zmq";
  }
  return "unknown";
}

}  // namespace yoco::pipeline
