#include "pipeline/paced_source.h"

#include "kernels/error.h"

namespace yoco::pipeline {

PacedSource::PacedSource(std::unique_ptr<FrameSource> inner, double speed) : inner_(std::move(inner)), speed_(speed) {
  YOCO_REQUIRE(inner_ != nullptr, "PacedSource needs a source");
  YOCO_REQUIRE(speed_ > 0.0, "pace speed must be > 0");
}

bool PacedSource::read(Frame& out, const PtsFilter& want) {
  if (!inner_->read(out, want)) return false;
  const auto now = std::chrono::steady_clock::now();
  if (!started_) {
    started_ = true;
    t0_ = now - std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(out.pts / speed_));
  }
  const auto due = t0_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double>(out.pts / speed_));
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_until(lock, due, [&] { return stopped_; });
  if (stopped_) return false;
  out.wall_time = wall_clock_now();
  return true;
}

void PacedSource::interrupt() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  wake_.notify_all();
  inner_->interrupt();
}

bool PacedSource::seek_to(double pts) { return inner_->seek_to(pts); }

SourceInfo PacedSource::info() const {
  SourceInfo i = inner_->info();
  i.live = true;
  i.description += " (paced at real time)";
  return i;
}

}  // namespace yoco::pipeline
