#include "pipeline/frame_sampler.h"

#include <cmath>
#include <cstdlib>

#include "kernels/error.h"

namespace yoco::pipeline {

FrameSampler::FrameSampler(const SamplerOptions& options) : options_(options) {
  YOCO_REQUIRE(options.fps >= 0 && std::isfinite(options.fps), "sampling rate must be >= 0 frames per second");
  YOCO_REQUIRE(options.change_threshold >= 0, "change threshold must be >= 0");
  YOCO_REQUIRE(options.thumb_size >= 2 && options.thumb_size <= 256, "thumbnail size must be in [2, 256]");
  const size_t n = static_cast<size_t>(options.thumb_size) * options.thumb_size;
  last_thumb_.resize(n);
  thumb_.resize(n);
}

bool FrameSampler::want(double pts) const { return options_.fps <= 0 || pts >= next_due_ - kPtsTolerance; }

void FrameSampler::reset_rate(double pts) { next_due_ = pts; }

void FrameSampler::resume_after(double pts) {
  if (options_.fps > 0) next_due_ = (std::floor((pts + kPtsTolerance) * options_.fps) + 1.0) / options_.fps;
  last_kept_pts_ = -1.0;
}

void FrameSampler::make_thumb(const Frame& f, std::vector<uint8_t>& out) const {
  const int n = options_.thumb_size;
  for (int ty = 0; ty < n; ++ty) {
    const int y = static_cast<int>((ty + 0.5) * f.height / n);
    const uint8_t* row = f.row(y);
    for (int tx = 0; tx < n; ++tx) {
      const int x = static_cast<int>((tx + 0.5) * f.width / n);
      const uint8_t* p = row + x * 3;
      out[static_cast<size_t>(ty) * n + tx] = static_cast<uint8_t>((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8);
    }
  }
}

bool FrameSampler::offer(const Frame& frame) {
  stats_.offered++;
  if (!want(frame.pts)) {
    stats_.rate_dropped++;
    return false;
  }
  if (options_.change_threshold > 0 && !frame.pixels.empty() && frame.width > 0 && frame.height > 0) {
    make_thumb(frame, thumb_);
    const bool gap_exceeded = last_kept_pts_ < 0 || frame.pts - last_kept_pts_ >= options_.max_gap;
    if (!gap_exceeded) {
      int64_t sum = 0;
      for (size_t i = 0; i < thumb_.size(); ++i) sum += std::abs(int(thumb_[i]) - int(last_thumb_[i]));
      if (static_cast<double>(sum) / thumb_.size() < options_.change_threshold) {
        // This slot was looked at: the next candidate is the next slot's first frame.
        if (options_.fps > 0) next_due_ = (std::floor((frame.pts + kPtsTolerance) * options_.fps) + 1.0) / options_.fps;
        stats_.change_dropped++;
        return false;
      }
    }
    last_thumb_.swap(thumb_);
  }
  if (options_.fps > 0) next_due_ = (std::floor((frame.pts + kPtsTolerance) * options_.fps) + 1.0) / options_.fps;
  last_kept_pts_ = frame.pts;
  stats_.kept++;
  return true;
}

}  // namespace yoco::pipeline
