// GstreamerSource: any GStreamer pipeline description whose frames end in an appsink (`gst:` sources):
// v4l2src, rtspsrc, videotestsrc, filesrc ! decodebin, ...
//
// - If the description has no appsink, "! videoconvert ! video/x-raw,format=RGB ! appsink" is appended;
//   if it ends in one, that appsink gets RGB caps (so the pipeline must be able to produce RGB there).
// - The appsink holds at most kAppsinkBuffers buffers (no hidden buffering); for live pipelines it drops the
//   oldest when full (drop=true), for non-live ones (filesrc) it blocks the pipeline (nothing lost). sync=false:
//   frames are handed out as fast as they come, pacing is the source's business.
// - Errors posted on the bus become yoco::Error from read() (or from the constructor while starting).
// - pts: buffer PTS relative to the first buffer's; missing ones are extrapolated (counted in pts_repaired).
//
// Thread safety: as FrameSource.
#pragma once

#include <memory>
#include <string>

#include "pipeline/frame_source.h"

namespace yoco::pipeline {

class GstreamerSource : public FrameSource {
 public:
  static constexpr int kAppsinkBuffers = 3;

  GstreamerSource(const std::string& description, const SourceOptions& options = {});
  ~GstreamerSource() override;

  bool read(Frame& out, const PtsFilter& want = {}) override;
  void interrupt() override;
  SourceInfo info() const override;
  SourceStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yoco::pipeline
