// open_source: the one place that turns a SourceSpec into a FrameSource (FFmpeg, GStreamer, OpenCV, ZeroMQ).
// Throws yoco::Error when the source cannot be opened or its kind was not built in (e.g. a camera without
// OpenCV or GStreamer). Live sources are returned as is; wrap them in ReconnectingSource to survive errors.
#pragma once

#include <memory>

#include "pipeline/frame_source.h"
#include "pipeline/source_spec.h"

namespace yoco::pipeline {

std::unique_ptr<FrameSource> open_source(const SourceSpec& spec, const SourceOptions& options = {});

// Which optional sources this build has (for --help texts and tests).
bool have_gstreamer();
bool have_opencv();

}  // namespace yoco::pipeline
