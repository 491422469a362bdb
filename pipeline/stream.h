// Stream: one video stream being ingested and questioned (DESIGN.md, "Data flow").
//
//   source thread (FrameCapture: source → sampler → bounded queue)
//     → ingest thread: vision encoder → Session::prefill(time tag) + prefill_embeddings(T rows)
//       (self-decoder + global cache append only: YOCO's early exit, never the cross-decoder)
//   ask() on any thread: fork the session at its current length under the session lock, then answer on the
//     fork (docs/STREAM-FORMAT.md) while ingest goes on; the answer carries the pts of the last frame in it.
//   instruction worker thread: a standing instruction (pipeline/instruction.h) is evaluated on forks taken by
//     the ingest thread at the due stream times; results become "caption" / "alert" events.
//
// The sequence is exactly: <s>, then per kept frame format_time_tag(pts) as text and its T vision rows; a
// question appends question_prefix + question + answer_prefix on its fork (docs/STREAM-FORMAT.md).
//
// Memory: the session's cache grows in pages; MemoryBudget declares what happens past the budget (checked
// before each frame, so the budget is never exceeded by ingest): stop, evict the oldest pages after a sink,
// or spill pages to a per-stream file (removed when ingest ends; a spill error falls back to stop). Priority: a shared PriorityGate makes ingest
// wait (bounded) while any question is prefilling, so the time to the first answer token does not compete
// with ingest; a live source's queue then drops its oldest frames (counted, next frame flagged) rather than
// falling behind real time.
//
// Thread safety: every public method may be called from any thread. Destruction stops the threads; callers
// must not destroy a Stream while one of its ask() calls runs (the runtime holds shared_ptrs for that).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "llm/session.h"
#include "llm/session_log.h"
#include "pipeline/frame_capture.h"
#include "pipeline/instruction.h"
#include "pipeline/memory_budget.h"
#include "pipeline/question.h"
#include "pipeline/stream_format.h"

namespace yoco::vision {
class VisionEncoder;
}

namespace yoco::pipeline {

// Something a stream reports on its own: kind is "caption", "alert", "answer", "stats", "error" or "ended".
struct StreamEvent {
  std::string stream;
  std::string kind;
  double pts = 0.0;       // stream time the event refers to
  std::string text;       // caption / answer / alert text, error message
  nlohmann::json extra;   // kind-specific fields (an object, possibly empty)
};
using EventFn = std::function<void(const StreamEvent&)>;

// Questions have priority over ingest: while any question is prefilling (the part that decides the time to
// its first token) ingest threads wait, at most `max_wait` seconds per frame. Shared by a runtime's streams.
class PriorityGate {
 public:
  void question_begin();
  void question_end();
  void yield_to_questions(double max_wait);
  int active() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable idle_;
  int active_ = 0;
};

// Persistence (docs/PERSISTENCE.md): with a `path`, the stream's state is kept in that file as it grows
// (llm/session_log.h): full cache pages as they fill, a checkpoint of the small state at least every
// `checkpoint_every` wall seconds, after a kept dialogue, and when ingest ends. An I/O error stops the
// persistence (reported in stats and as an "error" event), never the stream.
struct PersistOptions {
  std::string path;                  // empty: not persisted
  double checkpoint_every = 1.0;     // wall seconds
  llm::SessionLogOptions log;
  nlohmann::json meta = nlohmann::json::object();  // the caller's description (id, source spec, options)
};

// A stream resumed from its saved state (llm::SessionLog::recover with for_append). Its checkpoint JSON
// carries the frame count, last pts and wall time, the standing instruction and, when ingest had ended on
// its own, why. A file source resumes after the last saved frame (seeking there); a live source continues
// its timeline from the saved pts plus the wall time the stream was down (the first frame is flagged as a
// discontinuity).
struct StreamResume {
  std::unique_ptr<llm::Session> session;
  std::unique_ptr<llm::SessionLog> log;
  nlohmann::json state;
  llm::RecoveryReport report;
};

// The end reason a saved state records ("" while ingest was still running when it was written).
std::string saved_end_reason(const nlohmann::json& state);
// A source that has already ended (for resuming a stream whose ingest had ended).
std::unique_ptr<FrameSource> make_ended_source(const std::string& description);

struct StreamOptions {
  double fps = -1.0;              // frames kept per second; < 0: the model's stream.fps
  double change_threshold = 0.0;  // sampler change gate (0: off)
  double stop_at = -1.0;          // >= 0: ingest frames with pts <= stop_at only, then end
  bool realtime = false;          // pace a file at real time (then it drops like a live source)
  std::optional<OverflowPolicy> policy;  // default from the source: drop-oldest live, block files
  size_t queue_frames = 4;
  MemoryBudget budget;
  llm::SessionOptions session;
  std::shared_ptr<PriorityGate> gate;  // null: no priority
  double gate_max_wait = 0.25;         // seconds ingest may wait per frame for prefilling questions
  size_t instruction_backlog = 8;      // forks waiting for the instruction worker (files: ingest waits)
  // Nice increments (0..19; Linux, per thread) of the ingest and the instruction threads, below the source's
  // decoder threads (pipeline/thread_priority.h): batch work over a file (summarize) then fills the decoder's
  // idle time instead of preempting it. 0 (the default) keeps them equal: on a live stream an alert should
  // not wait behind other work.
  int ingest_nice = 0;
  int instruction_nice = 0;
  double stats_every = 0.0;            // wall seconds between "stats" events (0: none)
  std::optional<Instruction> instruction;  // standing instruction from the first frame on
  EventFn on_event;                    // called from the stream's threads; must not block for long
  PersistOptions persist;
  std::shared_ptr<StreamResume> resume;  // resume this saved state instead of starting empty (consumed)
};

struct AskOptions {
  bool keep_dialogue = false;  // append the question and answer to the stream's own context
  int max_tokens = 0;          // 0: the model's stream.max_answer_tokens
  // Seconds of recent stream the question reads besides the attention sink (Instruction::context); 0: all.
  // Only as far back as the stream keeps frame positions (its instruction's context): beyond, it reads all.
  double context = 0.0;
};

struct Answer {
  std::string question;
  std::string text;
  double pts = 0.0;         // pts of the last frame in the answer's context (0 before any frame)
  int64_t frames = 0;       // frames in the context
  int64_t position = 0;     // stream tokens at the fork
  int n_tokens = 0;         // generated tokens
  double wait_ms = 0.0;     // waiting for the fork (the ingest thread holds the session for one frame at most)
  double first_token_ms = 0.0;  // from ask() to the first answer token being ready
  double total_ms = 0.0;
};

struct StreamStats {
  std::string state;        // "running" or "ended"
  std::string end_reason;   // "", "end of stream", "stop_at", "budget", "closed", "error"
  std::string error;
  std::string source;       // source description
  int64_t frames = 0;       // frames ingested
  double pts = 0.0;         // pts of the last ingested frame
  int64_t tokens = 0;       // tokens in the stream's sequence
  size_t cache_bytes = 0, state_bytes = 0;  // cache: pages held, resident or spilled
  size_t cache_resident_bytes = 0, cache_spilled_bytes = 0;
  int64_t evicted_tokens = 0;  // positions dropped by the evict policy
  int64_t frames_dropped = 0;  // lost before ingest: queue drops + source drops
  int64_t discontinuities = 0; // ingested frames flagged as following a gap
  int64_t corrupt = 0;
  double fps_in = 0.0;         // frames ingested per wall second (recent)
  double ingest_ms_last = 0.0, ingest_ms_mean = 0.0;  // per frame: encode + prefill
  double gate_wait_ms = 0.0;   // total time ingest yielded to questions
  int64_t questions = 0, questions_active = 0;
  double answer_first_token_ms_last = 0.0, answer_total_ms_last = 0.0;
  int64_t instruction_evals = 0, instruction_skipped = 0;
  size_t budget_bytes = 0;
  std::string budget_policy;   // the policy in force ("stop" after a spill error)
  std::string budget_error;    // why the declared policy fell back to stop (spill I/O error)
  std::string spill_path;      // the spill file while it exists
  std::string state_path;      // the persistence file (empty: not persisted)
  uint64_t state_file_bytes = 0;
  int64_t checkpoints = 0;
  std::string persist_error;   // why persistence stopped
  bool resumed = false;        // started from a saved state
  nlohmann::json recovery;     // what recovery found (resumed streams)
  CaptureStats capture;
  nlohmann::json to_json() const;
};

class Stream {
 public:
  // Starts the capture, ingest and instruction threads. Throws yoco::Error when the model has no tokenizer,
  // its vision encoder does not match, or the options are invalid.
  Stream(std::string id, std::shared_ptr<const llm::Model> model, std::shared_ptr<const vision::VisionEncoder> encoder,
         std::unique_ptr<FrameSource> source, const StreamOptions& options);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  const std::string& id() const { return id_; }
  const StreamFormat& format() const { return format_; }

  // Answers on a fork of the stream at its current length; blocks the calling thread until done. on_text
  // receives the answer's text pieces as they are generated. Throws yoco::Error for an empty question.
  Answer ask(const std::string& question, const AskOptions& options = {}, const TextFn& on_text = {});

  // Sets (or, with nullopt, clears) the standing instruction; evaluations start at the next due stream time.
  // Returns the instruction as the stream will evaluate it (prompt and context resolved; nullopt: cleared).
  std::optional<Instruction> set_instruction(std::optional<Instruction> instruction);
  std::optional<Instruction> instruction() const;

  void stop();                            // ends ingest ("closed"); questions still work; idempotent
  bool ended() const;
  // True once ingest has ended and the "ended" event (and an "error" before it) went to on_event, whose callback
  // has returned; false on timeout. Not from inside on_event: the ingest thread would wait for itself.
  bool wait_ended(double timeout_seconds);
  void wait_instructions_idle();          // blocks until every queued instruction evaluation has finished
  StreamStats stats() const;

 private:
  struct PendingEval {
    std::unique_ptr<llm::Session> fork;
    double pts = 0.0;
    int64_t frames = 0;
    int64_t context_tokens = 0;  // positions the evaluation reads (the fork's held ones)
    Instruction instruction;
  };

  void ingest_loop();
  void instruction_loop();
  // Fills what an instruction left unset: no prompt asks the model's caption prompt (captions) or the
  // instruction's own text (alerts); no context reads the model's caption_context (captions) or everything.
  std::optional<Instruction> resolved(std::optional<Instruction> ins) const;
  void finish(const std::string& reason, const std::string& error);
  void emit(const std::string& kind, double pts, const std::string& text, nlohmann::json extra = nlohmann::json::object());
  size_t bytes_after(int64_t extra_tokens) const;  // resident session bytes once extra_tokens more are appended
  bool make_room(int64_t extra_tokens);            // applies the budget policy; false: ingest must stop
  void maybe_queue_instruction(double pts);        // ingest thread, session lock held
  // Leaves out of `fork` the whole cache pages after the sink that precede the frames of (pts - context, pts]
  // (context 0: nothing); session lock held.
  void recent_view(llm::Session& fork, double pts, double context);
  // Persistence (pipeline/stream_persist.cpp); session lock held.
  void resume_from(StreamResume& r);
  void persist_start();
  void persist(bool force_checkpoint);
  void persist_end(const std::string& reason);
  nlohmann::json saved_state(const std::string& end_reason) const;

  const std::string id_;
  std::shared_ptr<const llm::Model> model_;
  std::shared_ptr<const vision::VisionEncoder> encoder_;
  const llm::Tokenizer* tok_ = nullptr;
  StreamFormat format_;
  StreamOptions opts_;
  bool live_ = false;
  bool replayable_ = true;  // a file (paced or not): resuming seeks; a live source continues its timeline

  mutable std::mutex session_mu_;  // guards session_ and the fields below it
  llm::Session session_;
  int64_t frames_ = 0;
  double last_pts_ = 0.0;
  // (pts, first position) of the recent frames, so an evaluation can leave out what is older than its context.
  std::deque<std::pair<double, int64_t>> frame_starts_;
  BudgetPolicy policy_ = BudgetPolicy::kStop;  // in force (the declared one until a spill error)
  std::unique_ptr<llm::KvSpillFile> spill_;    // created at the first spill, removed when ingest ends
  std::string budget_error_;
  std::unique_ptr<llm::SessionLog> log_;
  double last_checkpoint_ = 0.0;  // steady seconds
  double last_frame_wall_ = 0.0;  // unix seconds of the last ingested frame
  double pts_offset_ = 0.0;       // added to a resumed live source's pts
  double resume_after_ = -1.0;    // a resumed file skips frames up to this pts
  bool resume_gap_ = false;       // flag the first frame after a resume as a discontinuity
  std::string resumed_end_;       // a resumed stream whose ingest had ended: why
  std::string persist_error_;
  bool resumed_ = false;
  nlohmann::json recovery_;

  std::unique_ptr<FrameCapture> capture_;

  mutable std::mutex state_mu_;  // guards the state and stats below
  std::condition_variable ended_cv_;
  bool ended_ = false;
  bool ended_delivered_ = false;  // the "ended" event's callback has returned (wait_ended waits for this)
  std::string end_reason_, error_;
  StreamStats counters_;  // latencies and counts (not the derived fields)
  double fps_window_t0_ = 0.0;
  int64_t fps_window_frames_ = 0;

  mutable std::mutex ins_mu_;  // guards the instruction and its queue
  std::condition_variable ins_cv_, ins_space_cv_, ins_idle_cv_;
  std::optional<Instruction> instruction_;
  double next_due_ = 0.0;
  bool due_reset_ = true;
  std::deque<PendingEval> pending_;
  bool evaluating_ = false;
  std::vector<int32_t> last_eval_tokens_;  // the last evaluation's answer (instruction thread only)
  bool last_alert_yes_ = false;

  std::atomic<bool> stopping_{false};
  std::thread ingest_thread_, instruction_thread_;
};

}  // namespace yoco::pipeline
