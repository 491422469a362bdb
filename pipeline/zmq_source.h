// ZmqSource: frames published by another process over ZeroMQ (a SUB socket), in the two-part frame message
// of pipeline/frame_message.h. The endpoint is connected to; prefix it with '@' to bind instead
// ("@tcp://*:5555", "@ipc:///tmp/cam.sock"). With a stream id, frames of other streams are ignored.
//
// - Live: the receive high-water mark is a few messages, so a slow reader loses old frames inside ZeroMQ
//   rather than buffering without bound (counted as they show up: gaps in the publisher's "index" add to
//   stats().dropped and mark a discontinuity).
// - pts: the header's pts minus the first received frame's; a pts that goes backwards is repaired (counted).
// - Malformed messages are counted in stats().corrupt and dropped; read() throws only when nothing valid
//   arrived for read_timeout seconds.
//
// Thread safety: as FrameSource.
#pragma once

#include <memory>
#include <string>

#include "pipeline/frame_source.h"

namespace yoco::pipeline {

class ZmqSource : public FrameSource {
 public:
  ZmqSource(const std::string& endpoint, const std::string& stream_id = "", const SourceOptions& options = {});
  ~ZmqSource() override;

  bool read(Frame& out, const PtsFilter& want = {}) override;
  void interrupt() override;
  SourceInfo info() const override;
  SourceStats stats() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yoco::pipeline
