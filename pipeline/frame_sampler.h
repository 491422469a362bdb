// FrameSampler: decides which frames go downstream.
//
// Rate gate (by presentation time, never by frame count, so variable frame rate and dropped frames do not skew
// it): time is cut into slots of 1/fps seconds starting at pts 0; the first frame whose pts falls at or after
// the start of a slot not yet served is kept, and the slots up to and including that frame's are served. At
// fps = 0 every frame is kept. A frame may be up to kPtsTolerance early for its slot (float rounding in
// container time bases).
//
// Change gate (optional, after the rate gate): a kept-by-rate frame is also dropped when its downscaled
// grey thumbnail differs from the last kept frame's by less than `change_threshold` (mean absolute difference,
// 0..255), unless `max_gap` seconds have passed since the last kept frame. A frame dropped by the change gate
// still serves its slot: the next candidate is the first frame of the next slot.
//
// want(pts) is the rate gate alone and is const: sources call it before decoding/converting a frame
// (FrameSource::read). offer(frame) applies both gates and commits the decision.
//
// Thread safety: none (one per stream, used by the thread that reads the source).
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/frame.h"

namespace yoco::pipeline {

struct SamplerOptions {
  double fps = 1.0;               // target rate; 0 keeps every frame
  double change_threshold = 0.0;  // 0 disables the change gate
  double max_gap = 10.0;          // seconds: with the change gate on, keep at least one frame this often
  int thumb_size = 32;            // change-gate thumbnails are thumb_size x thumb_size grey
};

struct SamplerStats {
  int64_t offered = 0;
  int64_t kept = 0;
  int64_t rate_dropped = 0;    // rejected by the rate gate in offer()
  int64_t change_dropped = 0;  // rejected by the change gate
};

class FrameSampler {
 public:
  static constexpr double kPtsTolerance = 1e-3;  // seconds: containers such as Matroska round to 1 ms

  explicit FrameSampler(const SamplerOptions& options = {});

  bool want(double pts) const;
  bool offer(const Frame& frame);
  // Forget the rate gate's position (e.g. after a seek backwards); the change gate's reference frame is kept.
  void reset_rate(double pts = 0.0);
  // Continue as if a frame at `pts` had just been kept by the rate gate (resuming a saved stream); the change
  // gate has no reference frame yet, so the next frame it sees is kept.
  void resume_after(double pts);
  double next_due() const { return next_due_; }
  const SamplerStats& stats() const { return stats_; }

 private:
  SamplerOptions options_;
  double next_due_ = 0.0;
  double last_kept_pts_ = -1.0;
  std::vector<uint8_t> last_thumb_, thumb_;  // sized once
  SamplerStats stats_;
  void make_thumb(const Frame& frame, std::vector<uint8_t>& out) const;
};

}  // namespace yoco::pipeline
