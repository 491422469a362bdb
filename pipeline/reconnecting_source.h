// ReconnectingSource: keeps a live source going. After an error or an end of stream from the wrapped source it
// waits (capped exponential backoff), opens a new one through the factory and goes on; the timeline
// continues: pts after a reconnect = the last delivered pts + the wall-clock time the outage lasted (at least
// one nominal frame duration), so pts never goes backwards, and the first frame after the outage is marked as a
// discontinuity. stats() adds up every connection's counters plus `reconnects` and `errors`.
//
// The first open happens on the first read(), unless the constructor is handed a source that is already open
// (open_stream_source's LiveOpen::kNow: a source that never opens is an error at once, not an endless retry).
// `max_attempts` bounds consecutive failed opens (reset by every delivered frame); past it read() throws
// yoco::Error naming the last failure. Every outage is reported to `on_outage` before its backoff wait, so an
// unplugged camera is visible (the Stream turns it into "error" events) instead of a silent wait.
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

// One failure of a live source, reported before the wait that follows it.
struct SourceOutage {
  std::string error;       // the failed open's or read's message, or "end of stream"
  int failures = 0;        // consecutive failures so far (1 at the first)
  double retry_in = 0.0;   // seconds until the next open
  double last_pts = -1.0;  // pts of the last delivered frame (-1: none yet)
};
using OutageFn = std::function<void(const SourceOutage&)>;

struct ReconnectOptions {
  double initial_backoff = 0.25;  // seconds before the first retry
  double max_backoff = 8.0;       // cap of the exponential backoff
  double multiplier = 2.0;
  int max_attempts = -1;          // consecutive failed (re)opens before giving up; -1: never give up
  bool reconnect_on_eos = true;   // treat the end of a live stream as an outage
  OutageFn on_outage;             // called on the reading thread; must not block for long
};

class ReconnectingSource : public FrameSource {
 public:
  using Factory = std::function<std::unique_ptr<FrameSource>()>;
  // `connected`: the first connection, already open (the factory makes the later ones).
  ReconnectingSource(Factory factory, const ReconnectOptions& options = {},
                     std::unique_ptr<FrameSource> connected = nullptr);
  ~ReconnectingSource() override;

  // Replaces options.on_outage; call it before the first read() (no lock guards it against a reading thread).
  void set_on_outage(OutageFn fn) { options_.on_outage = std::move(fn); }

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
