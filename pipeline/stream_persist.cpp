// Stream persistence (pipeline/stream.h, docs/PERSISTENCE.md): the session log written as ingest goes, and
// resuming a stream from it.
#include <chrono>

#include "kernels/error.h"
#include "pipeline/stream.h"

namespace yoco::pipeline {

namespace {
double steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Ingest ended on its own (the end of a file, stop_at, the budget, an error): a resumed stream stays ended.
// "closed" is the owner stopping it (close, shutdown): a resumed stream goes on ingesting.
bool ends_for_good(const std::string& reason) { return !reason.empty() && reason != "closed"; }

class EndedSource : public FrameSource {
 public:
  explicit EndedSource(std::string description) : description_(std::move(description)) {}
  bool read(Frame&, const PtsFilter&) override { return false; }
  void interrupt() override {}
  SourceInfo info() const override {
    SourceInfo i;
    i.description = description_;
    return i;
  }
  SourceStats stats() const override { return {}; }

 private:
  std::string description_;
};
}  // namespace

std::string saved_end_reason(const nlohmann::json& state) {
  if (!state.is_object()) return "";
  const auto it = state.find("ended");
  return it != state.end() && it->is_string() ? it->get<std::string>() : "";
}

std::unique_ptr<FrameSource> make_ended_source(const std::string& description) {
  return std::make_unique<EndedSource>(description);
}

nlohmann::json Stream::saved_state(const std::string& end_reason) const {
  nlohmann::json j = {{"frames", frames_}, {"pts", last_pts_}, {"wall", last_frame_wall_}};
  j["ended"] = ends_for_good(end_reason) ? nlohmann::json(end_reason) : nlohmann::json(nullptr);
  std::lock_guard<std::mutex> lock(ins_mu_);
  j["instruction"] = instruction_ ? instruction_to_json(*instruction_) : nlohmann::json(nullptr);
  return j;
}

void Stream::persist_start() {
  if (opts_.persist.path.empty()) return;
  YOCO_REQUIRE(opts_.persist.checkpoint_every > 0.0, "checkpoint interval must be > 0 seconds");
  log_ = llm::SessionLog::create(opts_.persist.path, session_, opts_.persist.meta, saved_state(""), opts_.persist.log);
  last_checkpoint_ = steady_now();
}

void Stream::resume_from(StreamResume& r) {
  YOCO_REQUIRE(r.session != nullptr, "resume: no session");
  YOCO_REQUIRE(&r.session->model() == model_.get(), "resume: the saved session belongs to another model object");
  const nlohmann::json& st = r.state;
  try {
    frames_ = st.value("frames", int64_t{0});
    last_pts_ = st.value("pts", 0.0);
    last_frame_wall_ = st.value("wall", 0.0);
    const auto ins = st.find("instruction");
    if (ins != st.end() && ins->is_object()) instruction_ = resolved(instruction_from_json(*ins));
    else if (ins != st.end() && ins->is_string() && !ins->get<std::string>().empty())  // files before the object form
      instruction_ = resolved(parse_instruction(ins->get<std::string>()));
  } catch (const std::exception& e) {
    throw Error(std::string("resume: bad saved stream state: ") + e.what());
  }
  session_ = std::move(*r.session);
  r.session.reset();
  log_ = std::move(r.log);
  if (log_) opts_.persist.path = log_->path();
  resumed_ = true;
  recovery_ = r.report.to_json();
  recovery_["frames"] = frames_;
  recovery_["pts"] = last_pts_;
  resumed_end_ = saved_end_reason(st);
  if (resumed_end_.empty() && frames_ > 0) {
    if (!replayable_) {
      // The timeline goes on: the time the stream was down is a gap, as after a reconnect.
      pts_offset_ = last_pts_ + std::max(1e-3, last_frame_wall_ > 0.0 ? unix_now() - last_frame_wall_ : 1e-3);
      resume_gap_ = true;
    } else {
      resume_after_ = last_pts_;
    }
  }
  last_checkpoint_ = steady_now();
}

void Stream::persist(bool force_checkpoint) {
  if (!log_) return;
  try {
    const double now = steady_now();
    if (force_checkpoint || now - last_checkpoint_ >= opts_.persist.checkpoint_every) {
      bool ended;
      std::string reason;
      {
        std::lock_guard<std::mutex> lock(state_mu_);
        ended = ended_;
        reason = end_reason_;
      }
      log_->checkpoint(session_, saved_state(ended ? reason : ""));
      last_checkpoint_ = now;
    } else {
      log_->append_pages(session_);
    }
  } catch (const std::exception& e) {
    persist_error_ = std::string("persistence stopped: ") + e.what();
    log_.reset();
    emit("error", last_pts_, persist_error_);
  }
}

void Stream::persist_end(const std::string& reason) {
  if (!log_) return;
  try {
    log_->checkpoint(session_, saved_state(reason));
  } catch (const std::exception& e) {
    persist_error_ = std::string("persistence stopped: ") + e.what();
    log_.reset();
  }
}

}  // namespace yoco::pipeline
