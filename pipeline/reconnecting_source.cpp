#include "pipeline/reconnecting_source.h"

#include <algorithm>
#include <chrono>

#include "kernels/error.h"

namespace yoco::pipeline {

ReconnectingSource::ReconnectingSource(Factory factory, const ReconnectOptions& options,
                                       std::unique_ptr<FrameSource> connected)
    : factory_(std::move(factory)), options_(options), backoff_(options.initial_backoff) {
  YOCO_REQUIRE(options.initial_backoff >= 0 && options.max_backoff >= options.initial_backoff &&
                   options.multiplier >= 1,
               "bad reconnect backoff settings");
  if (connected) {
    current_ = std::move(connected);
    info_ = current_->info();
    ever_connected_ = true;
  } else {
    info_.description = "reconnecting source (not connected yet)";
  }
  info_.live = true;
}

ReconnectingSource::~ReconnectingSource() = default;

static void add_stats(SourceStats& to, const SourceStats& s) {
  to.produced += s.produced;
  to.decoded += s.decoded;
  to.skipped += s.skipped;
  to.corrupt += s.corrupt;
  to.dropped += s.dropped;
  to.pts_repaired += s.pts_repaired;
  to.reconnects += s.reconnects;
  to.errors += s.errors;
}

void ReconnectingSource::close_current() {
  std::unique_ptr<FrameSource> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!current_) return;
    add_stats(totals_, current_->stats());
    old = std::move(current_);
  }
  // Destroyed outside the lock: closing a network source can take a moment.
}

bool ReconnectingSource::wait_backoff() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto wait = std::chrono::duration<double>(backoff_);
  wake_.wait_for(lock, wait, [this] { return stopped_; });
  backoff_ = std::min(options_.max_backoff, std::max(backoff_ * options_.multiplier, 0.01));
  return !stopped_;
}

bool ReconnectingSource::read(Frame& out, const PtsFilter& want) {
  for (;;) {
    FrameSource* src = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return false;
      src = current_.get();
    }
    if (!src) {
      if (ever_connected_ || failures_ > 0) {
        if (options_.max_attempts >= 0 && failures_ > options_.max_attempts)
          throw Error("giving up after " + std::to_string(failures_) + " failed attempts: " + last_error_);
        if (options_.on_outage) options_.on_outage({last_error_, failures_, backoff_, last_pts_});
        if (!wait_backoff()) return false;
      }
      try {
        auto fresh = factory_();
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_) return false;
        if (ever_connected_) totals_.reconnects++;
        current_ = std::move(fresh);
        info_ = current_->info();
        info_.live = true;
        src = current_.get();
      } catch (const Error& e) {
        last_error_ = e.what();
        ++failures_;
        std::lock_guard<std::mutex> lock(mu_);
        totals_.errors++;
        continue;
      }
      need_offset_ = ever_connected_;
      ever_connected_ = true;
    }
    bool got = false;
    try {
      PtsFilter shifted;
      if (want) shifted = [&](double pts) { return need_offset_ || want(pts + offset_); };
      got = src->read(out, shifted);
    } catch (const Error& e) {
      last_error_ = e.what();
      ++failures_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        totals_.errors++;
      }
      close_current();
      continue;
    }
    if (!got) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_) return false;
      }
      if (!options_.reconnect_on_eos) return false;
      last_error_ = "end of stream";
      ++failures_;
      close_current();
      continue;
    }
    const double now = wall_clock_now();
    if (need_offset_) {
      const double gap = std::max(now - last_wall_, info_.nominal_fps > 0 ? 1.0 / info_.nominal_fps : 0.04);
      offset_ = last_pts_ + gap - out.pts;
      need_offset_ = false;
      out.discontinuity = true;
    }
    out.pts += offset_;
    if (out.pts <= last_pts_) out.pts = last_pts_ + 1e-6;
    last_pts_ = out.pts;
    last_wall_ = now;
    failures_ = 0;
    backoff_ = options_.initial_backoff;
    return true;
  }
}

void ReconnectingSource::interrupt() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  if (current_) current_->interrupt();
  wake_.notify_all();
}

SourceInfo ReconnectingSource::info() const {
  std::lock_guard<std::mutex> lock(mu_);
  return info_;
}

SourceStats ReconnectingSource::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SourceStats s = totals_;
  if (current_) add_stats(s, current_->stats());
  return s;
}

}  // namespace yoco::pipeline
