// FrameCapture: one source's ingest thread. It reads the source, passes frames through a FrameSampler and
// pushes the kept ones into a bounded FrameQueue that the consumer (the stream runtime, `yoco frames`, a
// test) pops from. This is the "source -> sampler -> bounded queue" part of DESIGN.md's data flow.
//
// The queue's overflow policy defaults from the source: live sources drop the oldest frame (a slow consumer
// sees recent frames, with a discontinuity mark after each gap), files block (nothing is lost).
// When the source ends or fails, the queue is closed; pop() then drains and returns nullopt, and error()
// says why it ended (empty on a clean end of stream). Stats combine the source's, the sampler's and the
// queue's counters and can be read at any time.
//
// Thread safety: pop(), stats(), error() and stop() may be called from any thread. Destruction stops the
// thread (interrupting a blocked read).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "pipeline/bounded_queue.h"
#include "pipeline/frame.h"
#include "pipeline/frame_sampler.h"
#include "pipeline/frame_source.h"

namespace yoco::pipeline {

using FrameQueue = BoundedQueue<Frame>;

struct CaptureOptions {
  SamplerOptions sampler;
  size_t queue_frames = 4;      // bound by count
  size_t queue_bytes = 0;       // bound by bytes (0: none)
  std::optional<OverflowPolicy> policy;  // default: kDropOldest for live sources, kBlock for files
  // >= 0: resume after a frame of this pts was the last one delivered (a resumed stream): a seekable file is
  // sought there, frames up to it are skipped, and the sampler continues as if it had kept that frame.
  double resume_after = -1.0;
};

struct CaptureStats {
  SourceStats source;
  SamplerStats sampler;
  QueueStats queue;
  OverflowPolicy policy = OverflowPolicy::kBlock;
};

class FrameCapture {
 public:
  // Starts the thread at once. The capture owns the source.
  FrameCapture(std::unique_ptr<FrameSource> source, const CaptureOptions& options = {});
  ~FrameCapture();
  FrameCapture(const FrameCapture&) = delete;
  FrameCapture& operator=(const FrameCapture&) = delete;

  std::optional<Frame> pop() { return queue_.pop(); }
  std::optional<Frame> pop_for(double seconds) { return queue_.pop_for(seconds); }
  void stop();  // interrupts the source and closes the queue; idempotent
  bool finished() const { return finished_.load(); }
  std::string error() const;
  CaptureStats stats() const;
  SourceInfo source_info() const { return source_->info(); }

 private:
  std::unique_ptr<FrameSource> source_;
  double resume_after_ = -1.0;
  FrameSampler sampler_;  // touched by the capture thread only; stats copied under stats_mu_
  OverflowPolicy policy_;
  FrameQueue queue_;
  std::atomic<bool> finished_{false};
  mutable std::mutex mu_;
  std::string error_;
  SamplerStats sampler_stats_;
  std::thread thread_;
  void run();
};

}  // namespace yoco::pipeline
