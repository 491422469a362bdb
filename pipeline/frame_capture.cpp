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
      resume_after_(options.resume_after),
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
  const double skip_to = resume_after_ >= 0.0 ? resume_after_ + 1e-6 : -1.0;
  const PtsFilter want = [this, skip_to](double pts) { return pts > skip_to && sampler_.want(pts); };
  try {
    if (resume_after_ >= 0.0) {
      sampler_.resume_after(resume_after_);
      (void)source_->seek_to(resume_after_);  // not seekable: the frames up to it are read and skipped
    }
    Frame frame;
    while (source_->read(frame, want)) {
      if (frame.pts <= skip_to) continue;
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
