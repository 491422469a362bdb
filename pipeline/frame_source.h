// FrameSource: the one interface every video source implements (FFmpeg, GStreamer, OpenCV, ZeroMQ).
//
// Contract
// - read() blocks until the next frame is available, fills `out` and returns true; returns false at the end of
//   the stream (files; a live source only ends when closed or interrupted). Recoverable failures (cannot open,
//   stream broke, read timed out) throw yoco::Error with a one-line message; a corrupt frame inside an otherwise
//   readable stream is counted in stats().corrupt and skipped, never thrown.
// - No read blocks forever: every source has open and read timeouts (SourceOptions).
// - Frame pts is seconds from the stream's first frame, non-decreasing; wall_time is separate (pipeline/frame.h).
// - `want(pts)` (optional) lets the caller reject a frame by its presentation time before the source pays for
//   converting it to RGB (and, where the decoder can skip it exactly, before decoding). A source that cannot
//   tell the pts early simply converts and the caller filters afterwards; correctness never depends on it.
//
// Thread safety: one thread calls read(); interrupt() and stats() may be called from any other thread.
// After interrupt(), a blocked or later read() returns false promptly (within ~100 ms).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "pipeline/frame.h"

namespace yoco::pipeline {

using PtsFilter = std::function<bool(double pts)>;

struct SourceInfo {
  std::string description;  // e.g. "ffmpeg file clip.mp4 (h264 1280x720)"
  bool live = false;        // camera, RTSP, ZeroMQ, live GStreamer: drop rather than block when behind
  int width = 0, height = 0;  // first frame size when known at open (0 otherwise)
  double nominal_fps = 0.0;   // 0 when unknown
  double duration = 0.0;      // seconds; 0 when unknown or live
  bool replayable = false;    // a file, even paced as live: reopening it replays the same timeline
};

// Counters; all monotonic over the life of the source.
struct SourceStats {
  int64_t produced = 0;   // frames delivered by read()
  int64_t decoded = 0;    // frames decoded (or received), including those rejected by `want`
  int64_t skipped = 0;    // frames rejected by `want` (never converted)
  int64_t corrupt = 0;    // undecodable frames / packets / malformed messages, counted and dropped
  int64_t dropped = 0;    // frames lost inside the source (e.g. overwritten by a newer camera frame)
  int64_t pts_repaired = 0;  // frames whose missing or backwards timestamp was replaced
  int64_t reconnects = 0;    // successful reopenings of a live source
  int64_t errors = 0;        // stream errors seen (each may lead to a reconnect)
};

struct SourceOptions {
  double open_timeout = 10.0;  // seconds allowed to open (connect, probe) the source
  double read_timeout = 10.0;  // seconds without a frame before read() throws
  int decode_threads = 0;      // FFmpeg decoder threads; 0 = one per core (at most 16)
  int pool_buffers = 8;        // frame buffers allocated at start
  bool keyframes_only = false; // decode keyframes only (FFmpeg): fast, approximate sampling for dense GOPs
  std::string protocol_whitelist = {};  // FFmpeg: the protocols a URL may use, nested opens included ("" = all)
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  virtual bool read(Frame& out, const PtsFilter& want = {}) = 0;
  virtual void interrupt() = 0;
  virtual SourceInfo info() const = 0;
  virtual SourceStats stats() const = 0;
  // Positions the source so that the next read() returns the first frame with pts >= `pts` (resuming a
  // saved stream). False when the source cannot seek; the caller then skips frames instead.
  virtual bool seek_to(double pts) { return false; }
};

}  // namespace yoco::pipeline
