// A scriptable FrameSource for tests of the pieces above the sources (capture, reconnects).
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "kernels/error.h"
#include "pipeline/frame_source.h"

namespace yoco::test {

class FakeSource : public pipeline::FrameSource {
 public:
  // Delivers `frames` frames of w x h at `fps` (pts = i / fps), sleeping `delay` seconds before each; then
  // ends, or throws when `fail_at_end`.
  FakeSource(int frames, double fps, bool live, double delay = 0, bool fail_at_end = false, int w = 8, int h = 4)
      : frames_(frames), fps_(fps), live_(live), delay_(delay), fail_(fail_at_end), w_(w), h_(h), pool_(4, 0) {}

  bool read(pipeline::Frame& out, const pipeline::PtsFilter& want) override {
    for (;;) {
      if (stop_) return false;
      if (next_ >= frames_) {
        if (fail_) throw Error("fake source broke");
        return false;
      }
      if (delay_ > 0) std::this_thread::sleep_for(std::chrono::duration<double>(delay_));
      const int i = next_++;
      stats_.decoded++;
      const double pts = i / fps_;
      if (want && !want(pts)) {
        stats_.skipped++;
        continue;
      }
      out.pixels = pool_.acquire(static_cast<size_t>(w_) * h_ * 3);
      for (size_t b = 0; b < out.pixels.size(); ++b) out.pixels.data()[b] = static_cast<uint8_t>(i);
      out.width = w_;
      out.height = h_;
      out.pts = pts;
      out.wall_time = pipeline::wall_clock_now();
      out.index = i;
      out.discontinuity = false;
      stats_.produced++;
      return true;
    }
  }
  void interrupt() override { stop_ = true; }
  pipeline::SourceInfo info() const override {
    pipeline::SourceInfo i;
    i.live = live_;
    i.nominal_fps = fps_;
    i.description = "fake";
    return i;
  }
  pipeline::SourceStats stats() const override { return stats_; }

 private:
  int frames_;
  double fps_;
  bool live_;
  double delay_;
  bool fail_;
  int w_, h_;
  int next_ = 0;
  std::atomic<bool> stop_{false};
  pipeline::FramePool pool_;
  pipeline::SourceStats stats_;
};

}  // namespace yoco::test
