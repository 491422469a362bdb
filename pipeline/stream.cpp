#include "pipeline/stream.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "kernels/error.h"
#include "llm/tokenizer.h"
#include "pipeline/reconnecting_source.h"
#include "pipeline/thread_priority.h"
#include "vision/encoder.h"

namespace yoco::pipeline {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_now() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }
double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
}  // namespace

// ---- PriorityGate ---------------------------------------------------------------------------------------
void PriorityGate::question_begin() {
  std::lock_guard<std::mutex> lock(mu_);
  active_++;
}

void PriorityGate::question_end() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    YOCO_CHECK(active_ > 0);
    active_--;
  }
  idle_.notify_all();
}

void PriorityGate::yield_to_questions(double max_wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (active_ == 0) return;
  idle_.wait_for(lock, std::chrono::duration<double>(max_wait), [&] { return active_ == 0; });
}

int PriorityGate::active() const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_;
}

// ---- StreamStats ------------------------------------------------------------------------------------------
nlohmann::json StreamStats::to_json() const {
  nlohmann::ordered_json j;
  j["state"] = state;
  j["end_reason"] = end_reason;
  if (!error.empty()) j["error"] = error;
  j["source"] = source;
  j["frames"] = frames;
  j["pts"] = pts;
  j["tokens"] = tokens;
  j["cache_bytes"] = cache_bytes;
  j["cache_resident_bytes"] = cache_resident_bytes;
  j["cache_spilled_bytes"] = cache_spilled_bytes;
  j["evicted_tokens"] = evicted_tokens;
  j["state_bytes"] = state_bytes;
  j["frames_dropped"] = frames_dropped;
  j["discontinuities"] = discontinuities;
  j["corrupt"] = corrupt;
  j["fps_in"] = fps_in;
  j["ingest_ms_last"] = ingest_ms_last;
  j["ingest_ms_mean"] = ingest_ms_mean;
  j["gate_wait_ms"] = gate_wait_ms;
  j["questions"] = questions;
  j["questions_active"] = questions_active;
  j["answer_first_token_ms_last"] = answer_first_token_ms_last;
  j["answer_total_ms_last"] = answer_total_ms_last;
  j["instruction_evals"] = instruction_evals;
  j["instruction_skipped"] = instruction_skipped;
  j["budget_bytes"] = budget_bytes;
  j["budget_policy"] = budget_policy;
  if (!budget_error.empty()) j["budget_error"] = budget_error;
  if (!spill_path.empty()) j["spill_path"] = spill_path;
  if (!state_path.empty()) {
    j["state_path"] = state_path;
    j["state_file_bytes"] = state_file_bytes;
    j["checkpoints"] = checkpoints;
    if (!persist_error.empty()) j["persist_error"] = persist_error;
  }
  if (resumed) j["resumed"] = recovery;
  j["source_stats"] = {{"produced", capture.source.produced}, {"decoded", capture.source.decoded},
                       {"corrupt", capture.source.corrupt},   {"dropped", capture.source.dropped},
                       {"reconnects", capture.source.reconnects}, {"errors", capture.source.errors}};
  j["queue"] = {{"policy", overflow_policy_name(capture.policy)}, {"pushed", capture.queue.pushed},
                {"dropped", capture.queue.dropped}, {"depth", capture.queue.depth},
                {"stalls", capture.queue.stalls}};
  return nlohmann::json(j);
}

// ---- Stream -----------------------------------------------------------------------------------------------
Stream::Stream(std::string id, std::shared_ptr<const llm::Model> model,
               std::shared_ptr<const vision::VisionEncoder> encoder, std::unique_ptr<FrameSource> source,
               const StreamOptions& options)
    : id_(std::move(id)),
      model_(std::move(model)),
      encoder_(std::move(encoder)),
      opts_(options),
      session_(model_, options.session) {
  YOCO_REQUIRE(source != nullptr, "a stream needs a source");
  tok_ = model_->tokenizer();
  YOCO_REQUIRE(tok_ != nullptr, "the model has no tokenizer (config.json `tokenizer`)");
  YOCO_REQUIRE(tok_->bos() >= 0, "the model's tokenizer has no <s> token");
  YOCO_REQUIRE(encoder_ != nullptr, "a stream needs a vision encoder");
  YOCO_REQUIRE(encoder_->out_dim() == model_->config().dim, "the vision encoder's width does not match the model");
  YOCO_REQUIRE(opts_.ingest_nice >= 0 && opts_.ingest_nice <= 19 && opts_.instruction_nice >= 0 &&
                   opts_.instruction_nice <= 19,
               "thread nice increments must be in 0..19");
  format_ = StreamFormat::from_json(model_->config().stream);
  opts_.budget.validate();
  policy_ = opts_.budget.policy;
  counters_.budget_bytes = opts_.budget.max_bytes;
  counters_.budget_policy = budget_policy_name(opts_.budget.policy);
  live_ = source->info().live;
  replayable_ = !live_ || source->info().replayable;
  instruction_ = resolved(opts_.instruction);
  if (opts_.resume) {
    resume_from(*opts_.resume);
    opts_.resume.reset();
  } else {
    const int32_t bos = tok_->bos();
    session_.prefill(std::span<const int32_t>(&bos, 1));
    YOCO_REQUIRE(!opts_.budget.exceeded(bytes_after(0)), "the memory budget is smaller than an empty stream");
    persist_start();
  }

  CaptureOptions co;
  co.sampler.fps = opts_.fps >= 0.0 ? opts_.fps : format_.fps;
  co.sampler.change_threshold = opts_.change_threshold;
  co.queue_frames = std::max<size_t>(1, opts_.queue_frames);
  co.policy = opts_.policy;
  co.resume_after = resume_after_;
  // A live source's outages (an unplugged camera, a server gone) become "error" events while it retries, so a
  // client sees why no frames come; the stream and its cache carry on when the source is back.
  if (auto* rs = dynamic_cast<ReconnectingSource*>(source.get()))
    rs->set_on_outage([this](const SourceOutage& o) {
      char wait[32];
      std::snprintf(wait, sizeof wait, "%.2g", o.retry_in);
      emit("error", std::max(0.0, o.last_pts), "source: " + o.error + " (retrying in " + wait + " s)",
           {{"source_outage", true}, {"failures", o.failures}, {"retry_in", o.retry_in}});
    });
  capture_ = std::make_unique<FrameCapture>(std::move(source), co);
  counters_.source = capture_->source_info().description;
  fps_window_t0_ = seconds_now();
  instruction_thread_ = std::thread([this] { instruction_loop(); });
  ingest_thread_ = std::thread([this] { ingest_loop(); });
}

Stream::~Stream() {
  stopping_ = true;
  capture_->stop();
  if (ingest_thread_.joinable()) ingest_thread_.join();
  {
    std::lock_guard<std::mutex> lock(ins_mu_);
    pending_.clear();
  }
  ins_cv_.notify_all();
  ins_space_cv_.notify_all();
  if (instruction_thread_.joinable()) instruction_thread_.join();
}

void Stream::emit(const std::string& kind, double pts, const std::string& text, nlohmann::json extra) {
  if (!opts_.on_event) return;
  StreamEvent e{id_, kind, pts, text, std::move(extra)};
  try {
    opts_.on_event(e);
  } catch (...) {
    // An event sink that throws must not take the stream down.
  }
}

size_t Stream::bytes_after(int64_t extra_tokens) const {
  size_t bytes = session_.state_bytes();
  for (const auto& c : session_.caches()) {
    const int64_t n = c.n_tokens() + extra_tokens;
    const int64_t pages = (n + c.page_tokens() - 1) / c.page_tokens();
    bytes += c.resident_bytes() + static_cast<size_t>(std::max<int64_t>(0, pages - c.n_pages())) * c.page_bytes();
  }
  return bytes;
}

bool Stream::make_room(int64_t extra_tokens) {
  const MemoryBudget& b = opts_.budget;
  if (!b.exceeded(bytes_after(extra_tokens))) return true;
  if (policy_ == BudgetPolicy::kEvictOldest) {
    // A page of every cache at a time, oldest after the sink first, until the frame fits.
    while (b.exceeded(bytes_after(extra_tokens))) {
      if (session_.evictable_pages(b.sink_pages) == 0) return false;
      session_.evict_pages(b.sink_pages, 1);
    }
    return true;
  }
  if (policy_ == BudgetPolicy::kSpill) {
    const size_t growth = bytes_after(extra_tokens) - session_.state_bytes() - session_.cache_resident_bytes();
    const size_t fixed = session_.state_bytes() + growth;  // what spilling cannot reduce
    if (fixed > b.max_bytes) return false;
    try {
      if (!spill_) {
        std::string prefix = "yoco-spill-";
        for (char ch : id_) prefix += std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ? ch : '_';
        spill_ = std::make_unique<llm::KvSpillFile>(b.spill_directory(), prefix);
      }
      session_.spill_pages(*spill_, b.max_bytes - fixed);
    } catch (const std::exception& e) {
      // Fall back to stop: what was spilled stays readable (its mappings outlive the file).
      policy_ = BudgetPolicy::kStop;
      budget_error_ = std::string("spill failed, fell back to stop: ") + e.what();
      if (spill_) spill_->remove();
      emit("error", last_pts_, budget_error_);
      return false;
    }
    return !b.exceeded(bytes_after(extra_tokens));
  }
  return false;  // stop
}

void Stream::ingest_loop() {
  lower_thread_priority(opts_.ingest_nice);
  std::string reason = "end of stream", error;
  try {
    const int T = encoder_->tokens_per_frame();
    const int dim = encoder_->out_dim();
    vision::VisionScratch scratch = encoder_->make_scratch();
    std::vector<float> rows(static_cast<size_t>(T) * dim);
    double last_stats = seconds_now();
    if (!resumed_end_.empty()) {  // resumed after its ingest had ended: questions only
      capture_->stop();
      finish(resumed_end_, "");
      return;
    }
    for (;;) {
      std::optional<Frame> frame = capture_->pop();
      if (!frame) {
        if (stopping_) reason = "closed";
        else if (!capture_->error().empty()) {
          reason = "error";
          error = capture_->error();
        }
        break;
      }
      if (pts_offset_ > 0.0) frame->pts += pts_offset_;
      if (resume_gap_) {
        frame->discontinuity = true;
        resume_gap_ = false;
      }
      if (opts_.stop_at >= 0.0 && frame->pts > opts_.stop_at + 1e-9) {
        reason = "stop_at";
        break;
      }
      double waited = 0.0;
      if (opts_.gate) {
        const auto g0 = Clock::now();
        opts_.gate->yield_to_questions(opts_.gate_max_wait);
        waited = ms_since(g0);
      }
      const auto t0 = Clock::now();
      if (frame->discontinuity) scratch.reset_motion();  // a motion model compares only frames in sequence
      encoder_->encode(frame->row(0), frame->width, frame->height, frame->stride(), rows.data(), scratch);
      const std::vector<int32_t> tag = encode_stream_text(*tok_, vision::format_time_tag(frame->pts));
      {
        std::lock_guard<std::mutex> lock(session_mu_);
        if (!make_room(static_cast<int64_t>(tag.size()) + T)) {
          reason = "budget";
          break;
        }
        frame_starts_.emplace_back(frame->pts, session_.n_tokens());
        session_.prefill(tag);
        session_.prefill_embeddings(rows.data(), T);
        frames_++;
        last_pts_ = frame->pts;
        last_frame_wall_ = frame->wall_time > 0.0 ? frame->wall_time : unix_now();
        maybe_queue_instruction(frame->pts);
        persist(false);
      }
      const double ms = ms_since(t0);
      {
        std::lock_guard<std::mutex> lock(state_mu_);
        counters_.frames++;
        counters_.ingest_ms_last = ms;
        counters_.ingest_ms_mean += (ms - counters_.ingest_ms_mean) / static_cast<double>(counters_.frames);
        counters_.gate_wait_ms += waited;
        if (frame->discontinuity) counters_.discontinuities++;
        fps_window_frames_++;
        const double now = seconds_now();
        if (now - fps_window_t0_ >= 1.0) {
          counters_.fps_in = fps_window_frames_ / (now - fps_window_t0_);
          fps_window_t0_ = now;
          fps_window_frames_ = 0;
        }
      }
      if (opts_.stats_every > 0.0 && seconds_now() - last_stats >= opts_.stats_every) {
        last_stats = seconds_now();
        emit("stats", frame->pts, "", stats().to_json());
      }
    }
  } catch (const std::exception& e) {
    reason = "error";
    error = e.what();
  }
  capture_->stop();
  finish(reason, error);
}

void Stream::finish(const std::string& reason, const std::string& error) {
  double pts;
  {
    std::lock_guard<std::mutex> lock(session_mu_);
    pts = last_pts_;
    if (spill_) spill_->remove();  // nothing spills any more; spilled pages stay mapped for questions
    persist_end(reason);
  }
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    ended_ = true;
    end_reason_ = reason;
    error_ = error;
  }
  if (!error.empty()) emit("error", pts, error);
  emit("ended", pts, reason, {{"reason", reason}});
  // wait_ended returns only now, so a caller that waited sees the "ended" event's callback done (its sink
  // holds the event); stats() said "ended" already while the callback ran.
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    ended_delivered_ = true;
  }
  ended_cv_.notify_all();
}

void Stream::maybe_queue_instruction(double pts) {
  std::unique_lock<std::mutex> lock(ins_mu_);
  // Frame starts older than the instruction's context are not needed for a view (none without a context).
  const double context = instruction_ ? instruction_->context : 0.0;
  while (frame_starts_.size() > 1 && frame_starts_[1].first <= pts - std::max(0.0, context)) frame_starts_.pop_front();
  if (!instruction_) return;
  if (due_reset_) {
    next_due_ = pts;
    due_reset_ = false;
  }
  if (pts + 1e-6 < next_due_) return;
  const double every = instruction_->every;
  if (every > 0.0) {
    // Straight to the first due time after pts (a long gap or a resumed timeline is one step, not many).
    if (next_due_ <= pts + 1e-6) next_due_ += std::floor((pts + 1e-6 - next_due_) / every + 1.0) * every;
    if (next_due_ <= pts + 1e-6) next_due_ += every;  // rounding
  }
  if (pending_.size() >= std::max<size_t>(1, opts_.instruction_backlog)) {
    if (live_) {
      std::lock_guard<std::mutex> slock(state_mu_);
      counters_.instruction_skipped++;
      return;
    }
    // A file loses nothing: ingest waits for the worker (the session lock is held, so questions wait too,
    // but only until one evaluation finishes).
    ins_space_cv_.wait(lock, [&] { return stopping_ || pending_.size() < std::max<size_t>(1, opts_.instruction_backlog); });
    if (stopping_) return;
  }
  PendingEval ev;
  ev.fork = std::make_unique<llm::Session>(session_.fork());
  recent_view(*ev.fork, pts, instruction_->context);
  ev.context_tokens = ev.fork->n_tokens() - ev.fork->evicted_tokens();
  ev.pts = pts;
  ev.frames = frames_;
  ev.instruction = *instruction_;
  pending_.push_back(std::move(ev));
  lock.unlock();
  ins_cv_.notify_one();
}

void Stream::recent_view(llm::Session& fork, double pts, double context) {
  // Unknown where the view starts (frames that old are forgotten): the fork keeps everything.
  if (context <= 0.0 || frame_starts_.empty() || frame_starts_.front().first > pts - context + 1e-9) return;
  // The first frame inside (pts - context, pts]: everything from its first position on stays visible.
  for (const auto& [t, pos] : frame_starts_)
    if (t > pts - context + 1e-9) {
      fork.evict_before(opts_.budget.sink_pages, pos);
      return;
    }
}

void Stream::instruction_loop() {
  lower_thread_priority(opts_.instruction_nice);
  for (;;) {
    PendingEval ev;
    {
      std::unique_lock<std::mutex> lock(ins_mu_);
      ins_cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping
      ev = std::move(pending_.front());
      pending_.pop_front();
      evaluating_ = true;
    }
    ins_space_cv_.notify_all();
    try {
      const GeneratedAnswer a =
          generate_answer(*ev.fork, *tok_, format_, ev.instruction.prompt, format_.caption_max_tokens, {}, {},
                          last_eval_tokens_);
      last_eval_tokens_ = a.tokens;  // the next evaluation drafts from this one (the same phrases recur)
      {
        std::lock_guard<std::mutex> lock(state_mu_);
        counters_.instruction_evals++;
      }
      nlohmann::json extra = {{"instruction", ev.instruction.text}, {"frames", ev.frames},
                              {"latency_ms", a.total_ms}, {"context_tokens", ev.context_tokens}};
      if (ev.instruction.kind == Instruction::Kind::kCaption) {
        emit("caption", ev.pts, a.text, extra);
      } else {
        const bool yes = answer_is_yes(a.text);
        bool rising;
        {
          std::lock_guard<std::mutex> lock(ins_mu_);
          rising = yes && !last_alert_yes_;
          last_alert_yes_ = yes;
        }
        if (rising) emit("alert", ev.pts, a.text, extra);
      }
    } catch (const std::exception& e) {
      emit("error", ev.pts, std::string("instruction: ") + e.what());
    }
    ev.fork.reset();
    {
      std::lock_guard<std::mutex> lock(ins_mu_);
      evaluating_ = false;
    }
    ins_idle_cv_.notify_all();
  }
}

std::optional<Instruction> Stream::resolved(std::optional<Instruction> ins) const {
  if (!ins) return ins;
  const bool caption = ins->kind == Instruction::Kind::kCaption;
  if (ins->prompt.empty()) ins->prompt = caption ? format_.caption_prompt : ins->text;
  if (ins->context < 0.0) ins->context = caption ? format_.caption_context : 0.0;
  return ins;
}

std::optional<Instruction> Stream::set_instruction(std::optional<Instruction> instruction) {
  std::optional<Instruction> now;
  {
    std::lock_guard<std::mutex> lock(ins_mu_);
    instruction_ = resolved(std::move(instruction));
    now = instruction_;
    due_reset_ = true;
    last_alert_yes_ = false;
  }
  std::lock_guard<std::mutex> lock(session_mu_);
  persist(true);  // the instruction is part of the saved state
  return now;
}

std::optional<Instruction> Stream::instruction() const {
  std::lock_guard<std::mutex> lock(ins_mu_);
  return instruction_;
}

void Stream::wait_instructions_idle() {
  std::unique_lock<std::mutex> lock(ins_mu_);
  ins_idle_cv_.wait(lock, [&] { return stopping_ || (pending_.empty() && !evaluating_); });
}

Answer Stream::ask(const std::string& question, const AskOptions& options, const TextFn& on_text) {
  bool blank = true;
  for (char c : question) blank = blank && (c == ' ' || c == '\t' || c == '\n' || c == '\r');
  YOCO_REQUIRE(!blank, "empty question");
  YOCO_REQUIRE(options.max_tokens >= 0 && options.max_tokens <= 4096, "max_tokens must be in 0..4096");
  YOCO_REQUIRE(options.context >= 0.0 && options.context <= 1e9, "context must be seconds in 0..1e9");
  const auto t0 = Clock::now();
  Answer ans;
  ans.question = question;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    counters_.questions_active++;
  }
  bool gate_held = false;
  if (opts_.gate) {
    opts_.gate->question_begin();
    gate_held = true;
  }
  auto release_gate = [&] {
    if (gate_held) {
      opts_.gate->question_end();
      gate_held = false;
    }
  };
  try {
    std::unique_ptr<llm::Session> fork;
    {
      std::lock_guard<std::mutex> lock(session_mu_);
      fork = std::make_unique<llm::Session>(session_.fork());
      recent_view(*fork, last_pts_, options.context);
      ans.pts = last_pts_;
      ans.frames = frames_;
      ans.position = session_.n_tokens();
    }
    ans.wait_ms = ms_since(t0);
    const GeneratedAnswer g = generate_answer(*fork, *tok_, format_, question, options.max_tokens, on_text,
                                              [&] { ans.first_token_ms = ms_since(t0); release_gate(); });
    fork.reset();
    ans.text = g.text;
    ans.n_tokens = static_cast<int>(g.tokens.size());
    ans.total_ms = ms_since(t0);
    if (options.keep_dialogue) {
      const std::vector<int32_t> ids =
          encode_stream_text(*tok_, format_.question_text(question) + g.raw + format_.answer_end);
      std::lock_guard<std::mutex> lock(session_mu_);
      session_.prefill(ids);
      persist(true);
    }
  } catch (...) {
    release_gate();
    std::lock_guard<std::mutex> lock(state_mu_);
    counters_.questions_active--;
    throw;
  }
  release_gate();
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    counters_.questions_active--;
    counters_.questions++;
    counters_.answer_first_token_ms_last = ans.first_token_ms;
    counters_.answer_total_ms_last = ans.total_ms;
  }
  emit("answer", ans.pts, ans.text,
       {{"question", question}, {"first_token_ms", ans.first_token_ms}, {"total_ms", ans.total_ms}});
  return ans;
}

void Stream::stop() {
  stopping_ = true;
  capture_->stop();
  ins_space_cv_.notify_all();
}

bool Stream::ended() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return ended_;
}

bool Stream::wait_ended(double timeout_seconds) {
  std::unique_lock<std::mutex> lock(state_mu_);
  return ended_cv_.wait_for(lock, std::chrono::duration<double>(timeout_seconds), [&] { return ended_delivered_; });
}

StreamStats Stream::stats() const {
  StreamStats s;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    s = counters_;
    s.state = ended_ ? "ended" : "running";
    s.end_reason = end_reason_;
    s.error = error_;
  }
  {
    std::lock_guard<std::mutex> lock(session_mu_);
    s.frames = frames_;
    s.pts = last_pts_;
    s.tokens = session_.n_tokens();
    s.cache_bytes = session_.cache_bytes();
    s.cache_spilled_bytes = session_.cache_spilled_bytes();
    s.cache_resident_bytes = s.cache_bytes - s.cache_spilled_bytes;
    s.evicted_tokens = session_.evicted_tokens();
    s.state_bytes = session_.state_bytes();
    s.budget_policy = budget_policy_name(policy_);
    s.budget_error = budget_error_;
    if (spill_ && !spill_->removed()) s.spill_path = spill_->path();
    s.state_path = opts_.persist.path;
    if (log_) {
      s.state_file_bytes = log_->bytes();
      s.checkpoints = log_->checkpoints_written();
    }
    s.persist_error = persist_error_;
    s.resumed = resumed_;
    s.recovery = recovery_;
  }
  s.capture = capture_->stats();
  s.frames_dropped = s.capture.queue.dropped + s.capture.source.dropped;
  s.corrupt = s.capture.source.corrupt;
  return s;
}

}  // namespace yoco::pipeline
