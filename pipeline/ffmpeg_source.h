// FfmpegSource: files and URLs through libavformat/libavcodec (every container and codec FFmpeg handles),
// including rtsp://, http(s)://, udp:// and the like.
//
// What it takes care of
// - Timestamps: the decoder's best-effort timestamp, made relative to the first frame; a missing timestamp is
//   extrapolated from the previous one by the nominal frame duration and a backwards one is replaced the same
//   way (both counted in stats().pts_repaired). Variable frame rate is preserved.
// - Rotation metadata (display matrix): frames come out upright, width/height swapped for 90/270.
// - Mid-stream resolution changes: each frame carries its own size.
// - Cost: frames rejected by `want` are never converted to RGB; a rejected frame that no other frame
//   references is not even decoded (AVDISCARD_NONREF set for that packet only, which is exact because the
//   sampler's next due time only grows). With SourceOptions::keyframes_only, only keyframes are decoded.
// - Timeouts: an AVIOInterruptCB aborts opens after open_timeout and reads after read_timeout seconds without
//   progress; interrupt() aborts both at once.
// - Bad input: unopenable, non-video, unsupported codec and oversized streams throw yoco::Error at open;
//   corrupt packets and frames are counted in stats().corrupt and skipped (the next frame is marked as a
//   discontinuity); a stream that yields nothing but errors ends with an error rather than spinning.
//
// Thread safety: as FrameSource; seek() from the reading thread only.
#pragma once

#include <memory>
#include <string>

#include "pipeline/frame_source.h"

namespace yoco::pipeline {

class FfmpegSource : public FrameSource {
 public:
  // Opens `url` (a path or any URL libavformat accepts). Throws yoco::Error on failure.
  FfmpegSource(const std::string& url, const SourceOptions& options = {});
  ~FfmpegSource() override;

  bool read(Frame& out, const PtsFilter& want = {}) override;
  void interrupt() override;
  SourceInfo info() const override;
  SourceStats stats() const override;

  // Positions the source so that the next read() returns the first frame with pts >= `seconds` (pts keeps
  // counting from the stream's start). Throws yoco::Error when the stream is not seekable.
  void seek(double seconds);
  bool seek_to(double pts) override;
  // Clockwise rotation applied to frames (0, 90, 180, 270), from the stream's display matrix.
  int rotation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sets FFmpeg's global log level from YOCO_FFMPEG_LOG (quiet, error, warning, info, debug; default: fatal),
// once per process, so that FFmpeg's own messages do not interleave with ours. Called by every FFmpeg user.
void init_ffmpeg_logging();

}  // namespace yoco::pipeline
