// Frame: one decoded video frame as the pipeline hands it downstream.
//
// Units (STYLE.md): `pts` is presentation time in seconds (double) from the stream's first frame, so the first
// delivered frame of a stream has pts 0 and a reconnected live stream continues the same timeline. `wall_time`
// is the wall-clock capture time, kept separately: seconds since the Unix epoch (std::chrono::system_clock),
// taken when the frame was received/decoded — the moment it became available, not when it was filmed.
// Pixels are packed RGB24, row-major [height, width * 3], no row padding (stride == width * 3).
#pragma once

#include <cstddef>
#include <cstdint>

#include "pipeline/frame_pool.h"

namespace yoco::pipeline {

struct Frame {
  FrameBuffer pixels;  // RGB24, height * width * 3 bytes; empty for a frame that carries no pixels yet
  int width = 0;
  int height = 0;
  double pts = 0.0;        // seconds from the stream's first frame
  double wall_time = 0.0;  // seconds since the Unix epoch when the frame became available
  int64_t index = 0;       // 0-based position among the frames the source produced (before sampling)
  bool discontinuity = false;  // frames were lost right before this one (drop, decode error, reconnect)

  int stride() const { return width * 3; }
  size_t bytes() const { return static_cast<size_t>(width) * height * 3; }
  uint8_t* row(int y) { return pixels.data() + static_cast<size_t>(y) * stride(); }
  const uint8_t* row(int y) const { return pixels.data() + static_cast<size_t>(y) * stride(); }
};

// Hooks used by BoundedQueue<Frame> (pipeline/bounded_queue.h): byte accounting and drop marking.
inline size_t queue_item_bytes(const Frame& f) { return f.pixels.size(); }
inline void queue_mark_discontinuity(Frame& f) { f.discontinuity = true; }

// Seconds since the Unix epoch, for Frame::wall_time.
double wall_clock_now();

}  // namespace yoco::pipeline
