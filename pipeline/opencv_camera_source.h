// OpenCvCameraSource: a capture device through OpenCV's VideoCapture (`camera:N`, `/dev/videoN`).
//
// A grab thread reads the device continuously and keeps only the latest frame, so read() always hands out
// the most recent picture and a slow consumer never sees stale frames queued inside the driver or OpenCV;
// frames overwritten before anyone read them are counted in stats().dropped and the next frame read is marked
// as a discontinuity. pts is the time since the first grabbed frame on the steady clock (device timestamps are
// unreliable across drivers).
//
// A device that does not exist or cannot be opened is a yoco::Error from the constructor; one that stops
// delivering (unplugged) makes read() throw after read_timeout seconds.
//
// The path constructor opens anything VideoCapture opens (a file, a URL) with the same latest-frame behaviour;
// tests use it to exercise the grab thread without a camera.
//
// Thread safety: as FrameSource.
#pragma once

#include <memory>
#include <string>

#include "pipeline/frame_source.h"

namespace yoco::pipeline {

class OpenCvCameraSource : public FrameSource {
 public:
  OpenCvCameraSource(int index, const SourceOptions& options = {});
  OpenCvCameraSource(const std::string& path, const SourceOptions& options = {});
  ~OpenCvCameraSource() override;

  bool read(Frame& out, const PtsFilter& want = {}) override;
  void interrupt() override;
  SourceInfo info() const override;
  SourceStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yoco::pipeline
