// One evaluation pass over a video through the real stream runtime (MP4 → FfmpegSource → FrameSampler →
// vision encoder → Session), asking each question when the stream reaches its time.
//
// How a question at stream time t sees exactly the frames with pts <= t, in one pass: the file source is
// wrapped in a gate that holds back the first frame with pts > t. Once that frame is held (or the file has
// ended) and the stream has ingested every frame the sampler kept, the session ends on the frame tagged t;
// the questions at t are asked then (Stream::ask forks at the current length, as `yoco ask --at t` does after
// ingesting up to t), and the gate opens up to the next question time. Ingest is idle while a question is
// answered, so the measured latency is the answer's alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/stream_runtime.h"

namespace yoco::eval {

struct TimedQuestion {
  double at = 0;  // stream seconds; frames with pts <= at are seen
  std::string question;
  int max_tokens = 0;  // 0: the model's stream.max_answer_tokens
};

struct TimedAnswer {
  std::string text;
  double pts = 0;      // pts of the last frame in the answer's context
  int64_t frames = 0;  // frames in the context
  double first_token_ms = 0, total_ms = 0;
};

struct ClipRun {
  std::vector<TimedAnswer> answers;  // one per question, in the input order
  int64_t frames = 0;                // frames ingested over the whole video
  double last_pts = 0;
  size_t cache_bytes = 0, state_bytes = 0;  // at the end of the video
  double ingest_s = 0;        // wall seconds the stream spent ingesting (waits for answers excluded)
  double ingest_ms_mean = 0;  // per frame: encode + prefill
  double wall_s = 0;
};

// Opens `video` as stream `id` on `rt`, asks `questions` (any order; asked in time order, those at the same
// time one after another) and ingests the rest of the video. Throws yoco::Error when the stream fails.
ClipRun run_clip(pipeline::StreamRuntime& rt, const std::string& id, const std::string& video,
                 const std::vector<TimedQuestion>& questions, const pipeline::StreamOptions& options = {});

}  // namespace yoco::eval
