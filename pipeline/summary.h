// Summaries of a whole video (`yoco summarize`, `yoco eval summary`): the file streams through a runtime with a
// caption instruction every `every` seconds of stream time; the captions become events [start, end]; at the end
// an overall question is answered over the whole stream.
//
// Prompts and period default to the model's declared ones (config.json `stream`, docs/STREAM-FORMAT.md). A
// caption "covers" either the time that follows it (a description of what is on screen, the generic "what
// happened?"): an event lasts until the next caption; or the `every` seconds that precede it (a model trained to
// tell what happened in the last N seconds): the event is [previous caption, t] (the caption on the first frame,
// at 0, covers that instant: [0, 0]), and one more caption after the last frame covers the tail up to the end of
// the video. Consecutive identical captions merge into one event; empty captions are left out. A `preceding`
// caption that lists "mm:ss …" items (pipeline/caption_items.h) loses those stamped outside its window before it
// becomes an event, and the overall answer those stamped after the end (SummaryOptions::keep_stray). General:
// nothing here is tuned to any model or video.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/stream.h"

namespace yoco::llm {
class Model;
}

namespace yoco::pipeline {

struct SummaryOptions {
  std::optional<std::string> prompt;          // caption question (default: StreamFormat::caption_prompt)
  std::optional<std::string> overall_prompt;  // whole-video question (default: StreamFormat::summary_prompt)
  std::optional<double> every;                // seconds between captions (default: caption_every, else duration
                                              // / 24 clamped to 2..60, 10 when the duration is unknown)
  std::optional<bool> preceding;              // coverage (default: StreamFormat::caption_covers_preceding)
  std::optional<double> context;              // seconds a caption reads besides the sink, 0: all (default:
                                              // StreamFormat::caption_context)
  StreamOptions stream;                       // policy is forced to block (a summary loses nothing)
  // `preceding` coverage: keep the "mm:ss …" items of a caption stamped outside its window (previous caption,
  // this caption] widened by kStraySlack on each side, and those of the overall answer stamped after the end. By
  // default they are left out of the events and the overall answer (counted in Summary::stray_items and
  // overall_stray_items; Summary::captions keeps the model's words).
  bool keep_stray = false;
  // Kernel threads while the video streams (kernels::set_num_threads; 0: leave the pool as it is). The answers
  // after the last frame run with the pool's size from before. 1 suits a file: FFmpeg's decoder threads keep
  // every core busy and the captions run beside ingest, so pool workers would only spin against them.
  int ingest_threads = 0;
  std::function<void(const StreamStats&, double duration, double wall_s)> on_progress;  // ~4 times a second
};

struct SummaryEvent {
  double start = 0, end = 0;
  std::string text;
};

// Seconds an item's stamp may lie outside its caption's window and still be kept: stamps are floored to whole
// seconds like the stream's time tags, and an event on a boundary may be told by either caption.
inline constexpr double kStraySlack = 1.0;

struct Summary {
  std::vector<std::pair<double, std::string>> captions;  // (stream time, text as the model said it), sorted
  std::vector<SummaryEvent> events;                      // captions without stray items, composed
  int stray_items = 0;          // caption items left out as stamped outside their window
  int overall_stray_items = 0;  // overall-answer items left out as stamped after the end
  std::string overall;
  double duration = 0;  // the source's duration, else the last frame's pts
  double every = 0;
  double context = 0;   // seconds a caption read (0: the whole stream so far)
  bool preceding = false;
  StreamStats stats;    // at the end of ingest
  double wall_s = 0;
  // Where the wall time went: ingest to the last frame, then the captions still pending, the tail caption and
  // the overall answer.
  double ingest_s = 0, captions_s = 0, tail_s = 0, overall_s = 0;
};

// Leaves out of each `preceding` caption (sorted by time; it covers (previous caption or 0, its time]) the items
// stamped outside that window ± kStraySlack; returns how many. `following` captions are left as they are.
int drop_stray_captions(std::vector<std::pair<double, std::string>>& captions, bool preceding);

// Composes captions (sorted by time) into events; `end` is the end of the video.
std::vector<SummaryEvent> compose_events(const std::vector<std::pair<double, std::string>>& captions, double end,
                                         bool preceding);

// Streams `video` (a file path or any source spec of open_stream_source) to its end and summarises it. Throws
// yoco::Error for a source that cannot be opened, a stream error, an empty prompt or every <= 0.
Summary summarize_video(std::shared_ptr<const llm::Model> model, const std::string& video,
                        const SummaryOptions& options);

}  // namespace yoco::pipeline
