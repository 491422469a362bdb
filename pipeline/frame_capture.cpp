#include "pipeline/frame_capture.h"

#include <exception>

namespace yoco::pipeline {

static QueueLimits limits_for(const CaptureOptions& o, OverflowPolicy policy) {
  QueueLimits l;
  l.max_items = o.queue_frames;
  l.max_bytes = o.queue_bytes;
  l.policy = policy;
  return l;
}

FrameCapture::FrameCapture(std::unique_ptr<FrameSource> source, const CaptureOptions& options)
    : source_(std::move(source)),
      sampler_(options.sampler),
      policy_(options.policy.value_or(source_->info().live ? OverflowPolicy::kDropOldest : OverflowPolicy::kBlock)),
      queue_(limits_for(options, policy_)) {
  thread_ = std::thread([this] { run(); });
}

FrameCapture::~FrameCapture() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void FrameCapture::stop() {
  source_->interrupt();
  queue_.close();
}

void FrameCapture::run() {
  const PtsFilter want = [this](double pts) { return sampler_.want(pts); };
  try {
    Frame frame;
    while (source_->read(frame, want)) {
      const bool keep = sampler_.offer(frame);
      {
        std::lock_guard<std::mutex> lock(mu_);
        sampler_stats_ = sampler_.stats();
      }
      if (!keep) continue;
      if (!queue_.push(std::move(frame))) break;  // closed by stop()
      frame = Frame();
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = e.what();
  }
  finished_ = true;
  queue_.close();
}

std::string FrameCapture::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

CaptureStats FrameCapture::stats() const {
  CaptureStats s;
  s.source = source_->stats();
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.sampler = sampler_stats_;
  }
  s.queue = queue_.stats();
  s.policy = policy_;
  return s;
}

}  // namespace yoco::pipeline
