// PacedSource: plays a file source at real time (frame with pts p is delivered no earlier than p seconds
// after the first one), so that a file behaves like a live source: `options.pace = "realtime"` in the
// service, `yoco live` on a file. info().live is true, so the capture queue drops the oldest frames when
// ingest falls behind instead of slowing the clock. pts and wall_time are kept as the wrapped source gives
// them, except wall_time, which is the delivery time.
//
// Thread safety: as FrameSource; interrupt() cuts a wait short.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "pipeline/frame_source.h"

namespace yoco::pipeline {

class PacedSource : public FrameSource {
 public:
  explicit PacedSource(std::unique_ptr<FrameSource> inner, double speed = 1.0);
  bool read(Frame& out, const PtsFilter& want = {}) override;
  void interrupt() override;
  SourceInfo info() const override;
  bool seek_to(double pts) override;  // the file's; pacing restarts from the first frame read after it
  SourceStats stats() const override { return inner_->stats(); }

 private:
  std::unique_ptr<FrameSource> inner_;
  double speed_;
  bool started_ = false;
  std::chrono::steady_clock::time_point t0_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopped_ = false;
};

}  // namespace yoco::pipeline
