// ReconnectingSource: keeps a live source going. After an error or an end of stream from the wrapped source it
// waits (capped exponential backoff), opens a new one through the factory and goes on; the timeline
// continues: pts after a reconnect = the last delivered pts + the wall-clock time the outage lasted (at least
// one nominal frame duration), so pts never goes backwards, and the first frame after the outage is marked as a
// discontinuity. stats() adds up every connection's counters plus `reconnects` and `errors`.
//
// The first open happens on the first read(). `max_attempts` bounds consecutive failed opens (reset by every
// delivered frame); past it read() throws yoco::Error naming the last failure.
//
// Thread safety: as FrameSource. interrupt() also cuts a backoff wait short.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "pipeline/frame_source.h"

namespace yoco::pipeline {

struct ReconnectOptions {
  double initial_backoff = 0.25;  // seconds before the first retry
  double max_backoff = 8.0;       // cap of the exponential backoff
  double multiplier = 2.0;
  int max_attempts = -1;          // consecutive failed (re)opens before giving up; -1: never give up
  bool reconnect_on_eos = true;   // treat the end of a live stream as an outage
};

class ReconnectingSource : public FrameSource {
 public:
  using Factory = std::function<std::unique_ptr<FrameSource>()>;
  ReconnectingSource(Factory factory, const ReconnectOptions& options = {});
  ~ReconnectingSource() override;

  bool read(Frame& out, const PtsFilter& want = {}) override;
  void interrupt() override;
  SourceInfo info() const override;
  SourceStats stats() const override;

 private:
  Factory factory_;
  ReconnectOptions options_;
  mutable std::mutex mu_;  // guards current_, stopped_, totals_, info_
  std::condition_variable wake_;
  std::unique_ptr<FrameSource> current_;
  bool stopped_ = false;
  SourceStats totals_;  // closed connections' counters + reconnects/errors
  SourceInfo info_;
  int failures_ = 0;
  bool ever_connected_ = false;
  bool need_offset_ = false;  // first frame of a new connection not seen yet
  double offset_ = 0.0;       // added to the connection's pts
  double last_pts_ = -1.0;
  double last_wall_ = 0.0;    // wall time of the last delivered frame
  double backoff_ = 0.0;
  std::string last_error_;

  void close_current();
  bool wait_backoff();  // false when interrupted
};

}  // namespace yoco::pipeline
